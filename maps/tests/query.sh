# maps/tests/query.sh - postern-maps query, dump and check: exit codes 0
# (found), 1 (not found) and sysexits for errors, the warning about a text
# map newer than its .cdb, and dump output that compiles back to the same map.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.bash"

PM=$B/postern-maps
cd "$T" || exit 1

run() { "$@" >"$T/.out" 2>"$T/.err"; rc=$?; out=$(cat "$T/.out"); err=$(cat "$T/.err"); }
has() { case "$3" in *"$2"*) ok "$1" ;; *) fail "$1" "expected to contain: $2" "actual: $3" ;; esac; }

printf 'alice@example.org /srv/mail/alice/Maildir/\n@example.org catchall@example.net\nempty.example -\n' >virtual
"$PM" compile virtual >/dev/null
touch -d '2020-01-01 00:00' virtual   # older than its .cdb

run "$PM" query virtual alice@example.org
is "found: exit 0, value and LF" "0 /srv/mail/alice/Maildir/" "$rc $out"
is "found: stdout is the value and one LF" "$(printf '/srv/mail/alice/Maildir/\n' | od -c)" "$(od -c <"$T/.out")"
is "found: nothing on stderr" "" "$err"
run "$PM" query virtual @EXAMPLE.org
is "found case-insensitively" "0 catchall@example.net" "$rc $out"
run "$PM" query virtual bob@example.org
is "not found: exit 1, no output" "1 " "$rc $out"
is "not found: nothing on stderr" "" "$err"
run "$PM" query virtual.cdb alice@example.org
is "FILE.cdb works as well as FILE" "0 /srv/mail/alice/Maildir/" "$rc $out"
run "$PM" query virtual ''
is "empty key: not found" 1 "$rc"
run "$PM" query virtual "$(head -c 1025 /dev/zero | tr '\0' k)"
is "key over 1024 bytes: exit 65" 65 "$rc"
has "key over 1024 bytes: says so" "key too long" "$err"

run "$PM" query nosuch key
is "missing map: exit 66" 66 "$rc"
has "missing map: names the .cdb" "unable to open nosuch.cdb" "$err"
printf 'not a cdb\n' >junk.cdb
run "$PM" query junk key
is "not a cdb: exit 65" 65 "$rc"
has "not a cdb: says so" "junk.cdb: not a cdb file, or a damaged one" "$err"
cp virtual.cdb cut.cdb
truncate -s 2100 cut.cdb
run "$PM" query cut.cdb alice@example.org
is "truncated cdb: exit 65" 65 "$rc"
mkdir dir.cdb
run "$PM" query dir key
is "a directory: exit 66" 66 "$rc"
has "a directory: says so" "dir.cdb: not a regular file" "$err"
run "$PM" query virtual
is "query without KEY: exit 64" 64 "$rc"

# a text map edited after the last compile
touch virtual
run "$PM" query virtual alice@example.org
is "stale map: still answers" "0 /srv/mail/alice/Maildir/" "$rc $out"
has "stale map: warning on stderr" "warning: virtual is newer than virtual.cdb: run postern-maps compile virtual" "$err"
touch -d '2020-01-01 00:00' virtual
run "$PM" query virtual alice@example.org
is "fresh map: no warning" "" "$err"

# dump prints what compiles back to the same records
run "$PM" dump virtual
is "dump: exit 0" 0 "$rc"
is "dump: key value lines in file order" \
  "$(printf 'alice@example.org /srv/mail/alice/Maildir/\n@example.org catchall@example.net\nempty.example -')" "$out"
cp "$T/.out" virtual2
"$PM" compile virtual2 >/dev/null
is "dump: compiles back to the same records" "$("$PM" dump virtual)" "$("$PM" dump virtual2)"
printf 'root: alice, "|/bin/prog -x"\npostmaster: root\n' >aliases
"$PM" compile aliases >/dev/null
run "$PM" dump aliases
is "dump of aliases: alias syntax" "$(printf 'root: alice, "|/bin/prog -x"\npostmaster: root')" "$out"
printf 'example.com\n' >local-domains
"$PM" compile local-domains >/dev/null
run "$PM" dump local-domains
is "dump of a set: keys only" "example.com" "$out"
run "$PM" dump -t generic aliases.cdb
is "dump -t overrides the type" "$(printf 'root alice, "|/bin/prog -x"\npostmaster root')" "$out"

# check: which access key matches
printf '192.0.2 REJECT\n2001:db8 ERROR:450 4.7.1 later\nexample.com OK\nuser@ RELAY\n' >access
"$PM" compile access >/dev/null
run "$PM" check access ip 192.0.2.1
is "check ip: most specific key that exists" "0 192.0.2 REJECT" "$rc $out"
run "$PM" check access ip 2001:db8:0:0:1::5
is "check ipv6: prefix key" "0 2001:db8 ERROR:450 4.7.1 later" "$rc $out"
run "$PM" check access host mx.example.com
is "check host: parent domain" "0 example.com OK" "$rc $out"
run "$PM" check access address User@elsewhere.test
is "check address: user@" "0 user@ RELAY" "$rc $out"
run "$PM" check access ip 999.1.1.1
is "check of a malformed IP: exit 65" 65 "$rc"
run "$PM" check access colour red
is "check of an unknown kind: exit 64" 64 "$rc"
