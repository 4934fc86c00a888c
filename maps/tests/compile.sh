# maps/tests/compile.sh - postern-maps compile: text to cdb round trips for
# the generic, set and access formats, every syntax error with its line
# number, duplicates, the bounds, the atomic replacement (a failed compile
# leaves the old .cdb and no temporary file), and the permissions carried
# from the text file to the .cdb.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.bash"

PM=$B/postern-maps
cd "$T" || exit 1

# run CMD...: stdout in $out, stderr in $err, exit code in $rc
run() { "$@" >"$T/.out" 2>"$T/.err"; rc=$?; out=$(cat "$T/.out"); err=$(cat "$T/.err"); }
# has NAME NEEDLE HAYSTACK: HAYSTACK contains NEEDLE
has() { case "$3" in *"$2"*) ok "$1" ;; *) fail "$1" "expected to contain: $2" "actual: $3" ;; esac; }
# tmp_left: temporary files compile may have left in $T
tmp_left() { ls -A "$T" | grep '\.tmp\.' ; }

# --- generic round trip -----------------------------------------------
printf '# mailertable\nExample.COM   smtp:[mx.example.net]:25  \n\n   # indented comment\n\t.Sub.example.com\terror:5.1.1 no such   domain\nlast.example lmtp:unix:/run/lmtp' >routes
run "$PM" compile routes
is "generic: compile exits 0" 0 "$rc"
is "generic: summary line" "postern-maps: routes.cdb: 3 keys" "$out"
is "generic: nothing on stderr" "" "$err"
run "$PM" query routes example.com
is "generic: value, trailing blanks trimmed" "smtp:[mx.example.net]:25" "$out"
run "$PM" query routes EXAMPLE.com
is "generic: keys are case-insensitive" "0 smtp:[mx.example.net]:25" "$rc $out"
run "$PM" query routes.cdb .sub.example.com
is "generic: inner blanks kept, query by .cdb name" "error:5.1.1 no such   domain" "$out"
run "$PM" query routes last.example
is "generic: last line without LF is read" "lmtp:unix:/run/lmtp" "$out"
run "$PM" query routes '#'
is "generic: comments are not keys" 1 "$rc"

# --- syntax errors, each with its line number ---------------------------
# err_case NAME FILE-CONTENT(printf format) EXPECTED-MESSAGE [TYPE]
err_case() {
  printf "$2" >virtual
  run "$PM" compile ${4:+-t "$4"} virtual
  if [ "$rc" = 65 ] && [[ "$err" == *"postern-maps: virtual: $3"* ]] && [ ! -e virtual.cdb ] && [ -z "$(tmp_left)" ]; then
    ok "$1"
  else
    fail "$1" "exit $rc (want 65)" "stderr: $err" "want: postern-maps: virtual: $3" "files: $(ls -A)"
  fi
}
err_case "missing value" 'a b\nkeyonly\n' "line 2: key 'keyonly' has no value"
err_case "carriage return" 'a b\nc d\r\n' "line 2: carriage return (DOS line end?)"
err_case "NUL byte" 'a b\n\nc d\0e\n' "line 3: NUL byte"
err_case "control character" 'a \001b\n' "line 1: control character"
err_case "DEL character" 'a b\nc d\177\n' "line 2: control character"
err_case "duplicate key, both lines" 'a 1\nb 2\n# c\nA 3\n' "line 4: duplicate key 'a' (first at line 1)"
err_case "error count" 'a\nb 1\nc\n' "2 errors, virtual.cdb left unchanged"
err_case "every error reported" 'a\nb 1\nc\n' "line 3: key 'c' has no value"
run "$PM" compile -t bogus virtual
is "unknown -t type: usage exit" 64 "$rc"

# --- bounds -------------------------------------------------------------
k1024=$(head -c 1024 /dev/zero | tr '\0' k)
v65536=$(head -c 65536 /dev/zero | tr '\0' v)
printf '%s %s\n' "$k1024" "$v65536" >virtual
run "$PM" compile virtual
is "key of 1024 and value of 65536 bytes compile" 0 "$rc"
run "$PM" query virtual "$k1024"
is "and read back whole" 65536 "${#out}"
printf 'a b\n%sk c\n' "$k1024" >virtual
run "$PM" compile virtual
has "key of 1025 bytes: error with line" "virtual: line 2: key too long (over 1024 bytes)" "$err"
printf 'a b\nc %sv\n' "$v65536" >virtual
run "$PM" compile virtual
has "value of 65537 bytes: error with line" "virtual: line 2: value too long (over 65536 bytes)" "$err"
{ echo "a b"; echo "c d"; printf 'e %s%s\n' "$v65536" "$k1024"; echo "f g"; } >virtual
run "$PM" compile virtual
has "overlong line: error with line" "virtual: line 3: line too long" "$err"
is "overlong line: exit 65" 65 "$rc"
rm -f virtual virtual.cdb

# --- set-like maps: value optional, stored empty --------------------------
printf 'Example.COM\nexample.net  anything here\n' >local-domains
run "$PM" compile local-domains
is "set: compiles" "0 postern-maps: local-domains.cdb: 2 keys" "$rc $out"
run "$PM" query local-domains example.com
is "set: found, empty value" "0 " "$rc $out"
run "$PM" query local-domains example.net
is "set: a value is not stored" "0 " "$rc $out"
printf 'a.example\nb.example\na.example\n' >relay-domains
run "$PM" compile relay-domains
has "set: duplicates are errors too" "relay-domains: line 3: duplicate key 'a.example' (first at line 1)" "$err"

# --- access: values checked, IP keys in one spelling ------------------------
printf '192.0.2 REJECT\n2001:DB8::0:1 ERROR:550 5.7.1 go away\n2001:0db8:0:1 RELAY\nSpammer@Example.com DISCARD\n::ffff:198.51.100.7 OK\n' >access
run "$PM" compile access
is "access: compiles" "0 postern-maps: access.cdb: 5 keys" "$rc $out"
run "$PM" query access 2001:db8::1
is "access: IPv6 key stored in inet_ntop form" "ERROR:550 5.7.1 go away" "$out"
run "$PM" query access 2001:db8:0:1
is "access: IPv6 prefix stored without leading zeros" "RELAY" "$out"
run "$PM" query access 198.51.100.7
is "access: IPv4-mapped key stored as IPv4" "OK" "$out"
run "$PM" check access ip 192.0.2.99
is "access: check shows the matching key" "0 192.0.2 REJECT" "$rc $out"
run "$PM" check access address spammer@EXAMPLE.com
is "access: check of an address" "0 spammer@example.com DISCARD" "$rc $out"
run "$PM" check access ip 203.0.113.1
is "access: check without a match exits 1" "1 " "$rc $out"
printf 'a.example OK\nb.example MAYBE\nc.example ERROR:250 fine\n192.0.02 OK\n' >access
run "$PM" compile access
has "access: invalid value, line 2" "access: line 2: invalid access value for key 'b.example'" "$err"
has "access: ERROR:2xx refused, line 3" "access: line 3: invalid access value for key 'c.example'" "$err"
has "access: bad IP key, line 4" "access: line 4: key '192.0.02' can never match: neither an IPv4 address nor an IPv4 prefix" "$err"
has "access: old access.cdb kept" "left unchanged" "$err"
run "$PM" query access 2001:db8::1
is "access: old map still answers" "0 ERROR:550 5.7.1 go away" "$rc $out"
printf 'a.example MAYBE\n' >table
# --- routes: a mailertable, checked and stored in queue-run's spelling -------
printf '%s\n' '# sendmail mailertable' 'example.com esmtp:[mail.example.com]' '.example.com relay:hub.example.com:2525' \
  'Local.Example local:' 'alias.example local:bob' 'gone.example error:5.1.1:550 No such domain' \
  'old.example error:550 Moved' '. smtp:[smarthost.example.net]' 'lmtp.example lmtp:unix:/run/dovecot/lmtp' >routes
run "$PM" compile routes
is "routes: mailertable forms compile" "0 postern-maps: routes.cdb: 8 keys" "$rc $out"
run "$PM" query routes example.com
is "routes: esmtp: stored as smtp:" "smtp:[mail.example.com]" "$out"
run "$PM" query routes .example.com
is "routes: relay: stored as smtp:" "smtp:hub.example.com:2525" "$out"
run "$PM" query routes local.example
is "routes: local:" "local:" "$out"
run "$PM" query routes gone.example
is "routes: error:D.S.N:NNN text stored as error:D.S.N text" "error:5.1.1 No such domain" "$out"
run "$PM" query routes old.example
is "routes: error:NNN text gets the class's status" "error:5.0.0 Moved" "$out"
run "$PM" query routes .
is "routes: the . default" "smtp:[smarthost.example.net]" "$out"
printf '%s\n' 'a.example esmtp8:[x]' 'b.example bogus:host' 'user@c.example smtp:[x]' '*.d.example smtp:[x]' \
  'e.example smtps:host.example' 'f.example error:hello' 'g.example smtp:[x]:99999' 'h.example lmtp:unix:run/x' \
  'i.example smtp:%1.relay.example' 'j.example local:bob@k.example' >routes
run "$PM" compile routes
has "routes: unknown method refused" "line 1: bad route for key 'a.example': unknown method" "$err"
has "routes: unknown method refused (2)" "line 2: bad route for key 'b.example': unknown method" "$err"
has "routes: an address key can never match" "line 3: key 'user@c.example' can never match" "$err"
has "routes: a wildcard key can never match" "line 4: key '*.d.example' can never match" "$err"
has "routes: smtps: needs [host]" "line 5: bad route for key 'e.example': smtps: takes [host]" "$err"
has "routes: error: needs a status" "line 6: bad route for key 'f.example': error: needs" "$err"
has "routes: bad port" "line 7: bad route for key 'g.example'" "$err"
has "routes: relative lmtp socket" "line 8: bad route for key 'h.example': lmtp:unix: needs an absolute" "$err"
has "routes: no %1 substitution" "line 9: bad route for key 'i.example'" "$err"
has "routes: local: takes a user name" "line 10: bad route for key 'j.example': local: takes a user name" "$err"
has "routes: every error counted, old cdb kept" "10 errors, routes.cdb left unchanged" "$err"

# --- access: sendmail's role tags and CIDR prefixes ---------------------------
printf '%s\n' '# sendmail 8.12 access, as its papers write it' \
  'Connect:192.0.2.0/24 RELAY' 'Connect:192.0.2.128/25 REJECT' '192.0.2.192/26 OK' \
  'From:spammer@example.com ERROR:"550 go away"' 'To:postmaster@example.com OK' \
  'Connect:2001:db8::/36 ERROR:4.7.1:450 later' 'example.org SKIP' >access
run "$PM" compile access
is "access tags and prefixes: compiles" 0 "$rc"
run "$PM" check access ip 192.0.2.5
is "Connect: /24 prefix" "0 connect:192.0.2 RELAY" "$rc $out"
run "$PM" check access ip 192.0.2.130
is "a /25 inside it wins" "0 connect:192.0.2.130 REJECT" "$rc $out"
run "$PM" check access ip 192.0.2.200
is "an untagged /26 inside that wins again" "0 192.0.2.200 OK" "$rc $out"
run "$PM" check access ip 2001:db8:abc::1
is "an IPv6 /36" "0 connect:2001:db8:abc ERROR:4.7.1:450 later" "$rc $out"
run "$PM" check access ip 2001:db8:1000::1
is "outside the IPv6 /36" 1 "$rc"
run "$PM" check access from spammer@example.com
is "From: key for the sender" "0 from:spammer@example.com ERROR:\"550 go away\"" "$rc $out"
run "$PM" check access to spammer@example.com
is "From: key not for a recipient" 1 "$rc"
run "$PM" check access from postmaster@example.com
is "To: key not for the sender" 1 "$rc"
run "$PM" check access from x@sub.example.org
is "SKIP: no decision" 1 "$rc"
printf '%s\n' 'Spam:example.com OK' 'From:192.0.2.1 OK' 'Connect:user@example.com OK' '192.0.2.1/24 OK' \
  '2001:db8::/33 REJECT' '*.example.com REJECT' '192.0.2.0/24 OK' '192.0.2 OK' '10.0.0.0/9 OK' '10.0.0.0/9 REJECT' >access
run "$PM" compile access
has "unknown tag refused" "line 1: key 'Spam:example.com' can never match: unknown tag" "$err"
has "From: with an IP refused" "line 2: key 'From:192.0.2.1' can never match: an IP address key only matches clients" "$err"
has "Connect: with an address refused" "line 3: key 'Connect:user@example.com' can never match: Connect: matches client addresses" "$err"
has "host bits set refused" "line 4: key '192.0.2.1/24' can never match: bits set after the prefix length" "$err"
has "too many keys refused" "line 5: key '2001:db8::/33' can never match: prefix expands to over 4096 keys" "$err"
has "a wildcard refused" "line 6: key '*.example.com' can never match" "$err"
has "a /24 and its octet key are duplicates" "line 8: duplicate key '192.0.2' (first at line 7)" "$err"
has "the same prefix twice" "line 10: duplicate prefix (first at line 9)" "$err"
has "every error counted" "8 errors" "$err"

run "$PM" compile -t access table
is "-t access checks values of any file name" 65 "$rc"
printf 'root: alice\n' >table
run "$PM" compile -t aliases table
is "-t aliases uses the alias syntax" "0 postern-maps: table.cdb: 1 alias" "$rc $out"

# --- a failed compile leaves the old map and no temporary file --------------
printf 'k old\n' >virtual
"$PM" compile virtual >/dev/null
cp virtual.cdb old.cdb
ino=$(stat -c %i virtual.cdb)
printf 'k new\nbroken\n' >virtual
run "$PM" compile virtual
is "failed compile: exit 65" 65 "$rc"
same_file "failed compile: old .cdb untouched" old.cdb virtual.cdb
is "failed compile: same inode" "$ino" "$(stat -c %i virtual.cdb)"
is "failed compile: no temporary file" "" "$(tmp_left)"
printf 'k new\n' >virtual
run "$PM" compile virtual
is "good compile: new value" "new" "$("$PM" query virtual k 2>&1)"
[ "$ino" != "$(stat -c %i virtual.cdb)" ] && ok "good compile: replaced by rename (new inode)" \
  || fail "good compile: replaced by rename (new inode)" "inode unchanged: $ino"
is "good compile: no temporary file" "" "$(tmp_left)"
printf 'k v\n' >blocked2
mkdir blocked2.cdb
run "$PM" compile blocked2
is "rename onto a directory fails: exit 73" 73 "$rc"
has "rename failure names the files" "unable to rename" "$err"
is "rename failure: no temporary file" "" "$(tmp_left)"
rmdir blocked2.cdb; rm blocked2
run "$PM" compile nosuchfile
is "missing text file: exit 66" 66 "$rc"
has "missing text file: says why" "unable to open nosuchfile: No such file or directory" "$err"
mkfifo fifo
run timeout 5 "$PM" compile fifo
is "a FIFO is refused, not read" 66 "$rc"

# interrupted compiles: whatever the moment, no temporary file and a whole map
seq 1 200000 | sed 's/.*/key& value&/' >big
"$PM" compile big >/dev/null
for delay in 0.01 0.03 0.06 0.1; do
  timeout -s TERM "$delay" "$PM" compile big >/dev/null 2>&1
  r=$?
  left=$(tmp_left)
  v=$("$PM" query big key199999 2>&1)
  if [ -z "$left" ] && [ "$v" = value199999 ] && { [ $r = 0 ] || [ $r = 75 ] || [ $r = 124 ]; }; then
    ok "SIGTERM after ${delay}s: no temporary file, map whole (exit $r)"
  else
    fail "SIGTERM after ${delay}s: no temporary file, map whole" "exit $r" "left: $left" "value: $v"
  fi
done
rm -f big big.cdb

# --- permissions and owner carried to the .cdb -------------------------------
printf 'smarthost.example user:secret\n' >relay-auth
chmod 600 relay-auth
umask 022
"$PM" compile relay-auth >/dev/null
is "0600 text map gives a 0600 .cdb" 600 "$(stat -c %a relay-auth.cdb)"
chmod 640 relay-auth
"$PM" compile relay-auth >/dev/null
is "0640 text map gives a 0640 .cdb" 640 "$(stat -c %a relay-auth.cdb)"
chmod 644 relay-auth
umask 077
"$PM" compile relay-auth >/dev/null
is "the umask does not narrow the .cdb" 644 "$(stat -c %a relay-auth.cdb)"
umask 022
if is_root; then
  chown 4242:4343 relay-auth
  "$PM" compile relay-auth >/dev/null
  is "as root: owner and group carried" "4242:4343" "$(stat -c %u:%g relay-auth.cdb)"
else
  skip "as root: owner and group carried" "not root"
fi
# sendmail's safe-file rule: maps others may write are refused
chmod 666 relay-auth
run "$PM" compile relay-auth
is "world-writable text map: refused (exit 77)" 77 "$rc"
has "world-writable text map: the message names it" "relay-auth is writable by group or others, or its directory is: refused" "$err"
chmod 620 relay-auth
run "$PM" compile relay-auth
is "group-writable text map: refused" 77 "$rc"
chmod 600 relay-auth
mkdir -p opendir && chmod 777 opendir && printf 'k v\n' >opendir/m && chmod 644 opendir/m
run "$PM" compile opendir/m
is "a map in a world-writable directory: refused" 77 "$rc"
chmod 1777 opendir
run "$PM" compile opendir/m
is "a sticky directory (like /tmp) is safe" 0 "$rc"
chmod 755 opendir
chmod 664 opendir/m.cdb
run "$PM" query opendir/m k
is "a group-writable database: refused when read" 77 "$rc"
has "a group-writable database: the message names it" "opendir/m.cdb: refused: it or its directory is writable by group or others" "$err"
chmod 644 opendir/m.cdb

# --- usage -----------------------------------------------------------------
run "$PM"
is "no arguments: exit 64" 64 "$rc"
is "no arguments: one usage line" 1 "$(printf '%s\n' "$err" | wc -l)"
run "$PM" compile
is "compile without FILE: exit 64" 64 "$rc"
run "$PM" compile a b
is "compile with two files: exit 64" 64 "$rc"
run "$PM" frobnicate x
is "unknown subcommand: exit 64" 64 "$rc"

# --- a full disk is an error, never a truncated map -----------------------------
# (libowfat's buffer_flush loses write errors; lib/wbuf.h keeps them)
if is_root; then
  mkdir -p "$T/full"
  if mount -t tmpfs -o size=64k tmpfs "$T/full"; then
    at_exit "umount '$T/full' 2>/dev/null"
    for i in $(seq 900); do echo "key$i value-$i-xxxxxxxxxxxxxxxxxxxxxxxx"; done >"$T/full/virtual"
    run "$PM" compile "$T/full/virtual"
    is "full disk: exit 74" 74 "$rc"
    has "full disk: says so" "No space left on device" "$err"
    is "full disk: no cdb, no temporary file" "virtual" "$(ls "$T/full")"
    umount "$T/full"
  else
    fail "full disk: mount a small tmpfs"
  fi
else
  skip "full disk: exit 74" "needs root to mount a small tmpfs"
fi
