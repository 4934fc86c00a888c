# maps/tests/aliases.sh - the aliases map: continuation lines, comments,
# the four item types stored in their normalized text, syntax errors and
# duplicates with line numbers, and newaliases (postern-maps newaliases,
# -C, POSTERN_CONF, and the program called as "newaliases").
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.bash"

PM=$B/postern-maps
cd "$T" || exit 1

run() { "$@" >"$T/.out" 2>"$T/.err"; rc=$?; out=$(cat "$T/.out"); err=$(cat "$T/.err"); }
has() { case "$3" in *"$2"*) ok "$1" ;; *) fail "$1" "expected to contain: $2" "actual: $3" ;; esac; }

cat >aliases <<'EOF'
# /etc/postern/aliases
MAILER-DAEMON: postmaster
postmaster:	root
root: alice, Bob@Example.ORG

# a list over several lines, with a comment and a blank line inside
staff: alice,
	bob@example.org,
    # carol left
	dave@example.org ,

   "|/usr/local/bin/archive -d /srv/archive",
   /var/log/staff.mbox, "/srv/mail/with space/",
   :include:/etc/postern/staff.list
"quoted-name-less": "john smith"@example.org
EOF
# the last line is deliberately wrong: quoted alias names are refused
run "$PM" compile aliases
is "bad alias file: exit 65" 65 "$rc"
has "bad alias file: error with line number" "aliases: line 15: quoted alias names are not supported" "$err"
is "bad alias file: no .cdb written" "no" "$([ -e aliases.cdb ] && echo yes || echo no)"
sed -i '$d' aliases
echo 'smith: "john smith"@example.org' >>aliases
run "$PM" compile aliases
is "alias file compiles" 0 "$rc"
is "summary counts aliases" "postern-maps: aliases.cdb: 5 aliases" "$out"
run "$PM" query aliases mailer-daemon
is "names are case-insensitive" "0 postmaster" "$rc $out"
run "$PM" query aliases root
is "addresses kept as written" "alice, Bob@Example.ORG" "$out"
run "$PM" query aliases staff
is "continuations joined, comments and blank lines skipped, items normalized" \
  'alice, bob@example.org, dave@example.org, "|/usr/local/bin/archive -d /srv/archive", /var/log/staff.mbox, "/srv/mail/with space/", :include:/etc/postern/staff.list' "$out"
run "$PM" query aliases smith
is "quoted local part kept" '"john smith"@example.org' "$out"
if command -v cdb >/dev/null; then
  is "cdb -q reads the normalized value" "postmaster" "$(cdb -q aliases.cdb mailer-daemon)"
else
  skip "cdb -q reads the normalized value" "tinycdb's cdb is not installed"
fi

# syntax errors, one per case, with the line
# err_case NAME CONTENT(printf format) EXPECTED
err_case() {
  printf "$2" >aliases.bad
  run "$PM" compile -t aliases aliases.bad
  if [ "$rc" = 65 ] && [[ "$err" == *"postern-maps: aliases.bad: $3"* ]] && [ -z "$(ls -A | grep '\.tmp\.')" ]; then
    ok "$1"
  else
    fail "$1" "exit $rc (want 65)" "stderr: $err" "want: $3"
  fi
}
err_case "missing colon" 'root: a\npostmaster root\n' "line 2: missing ':' after the alias name"
err_case "duplicate alias, both lines" 'root: a\n# x\nstaff: b,\n  c\nROOT: d\n' "line 5: duplicate alias 'root' (first at line 1)"
err_case "continuation without alias" '# top\n  alice\nroot: a\n' "line 2: continuation line without an alias before it"
err_case "error in a continuation: entry's first line" 'root: a\nstaff: b,\n  c d\n' "line 2: alias 'staff': blank inside an item (quote the item)"
err_case "unquoted command with arguments" 'x: |/bin/prog -a\n' "line 1: alias 'x': blank inside an item (quote the item)"
err_case "unterminated quote" 'x: "|/bin/prog\n' "line 1: alias 'x': unterminated quote"
err_case "empty item" 'x: a,,b\n' "line 1: alias 'x': empty item"
err_case "no items" 'ok: a\nx:\n' "line 2: alias 'x': no items"
err_case "relative include" 'x: :include:staff\n' "line 1: alias 'x': :include: needs an absolute path"
err_case "bad address" 'x: alice@\n' "line 1: alias 'x': empty domain"
err_case "name with @" 'a@example.org: b\n' "line 1: alias names are local parts: no '@'"
err_case "carriage return" 'root: a\r\n' "line 1: carriage return (DOS line end?)"
err_case "control character in a continuation" 'root: a,\n  b\033\n' "line 2: control character"
err_case "NUL byte" 'root: a\0b\n' "line 1: NUL byte"
printf 'a: x\nb: y\nc: z z\nd: w\ne:\n' >aliases.bad
run "$PM" compile -t aliases aliases.bad
is "every error reported, then the count" \
  "$(printf 'postern-maps: aliases.bad: line 3: alias %sc%s: blank inside an item (quote the item)\npostern-maps: aliases.bad: line 5: alias %se%s: no items\npostern-maps: aliases.bad: 2 errors, aliases.bad.cdb left unchanged' "'" "'" "'" "'")" "$err"
long=$(head -c 70000 /dev/zero | tr '\0' a)
printf 'a: b\nc: %s\n' "$long" >aliases.bad
run "$PM" compile -t aliases aliases.bad
has "overlong line" "aliases.bad: line 2: line too long" "$err"

# newaliases: map_dir from the configuration
mkdir -p "$T/maps"
mkconf "$T/postern.conf"
printf 'root: admin@example.org\npostmaster: root\n' >"$T/maps/aliases"
run "$PM" newaliases -C "$T/postern.conf"
is "newaliases -C: compiles map_dir/aliases" "0 postern-maps: $T/maps/aliases.cdb: 2 aliases" "$rc $out"
is "newaliases -C: value" "admin@example.org" "$("$PM" query "$T/maps/aliases" root 2>/dev/null)"
printf 'root: other@example.org\n' >"$T/maps/aliases"
run env POSTERN_CONF="$T/postern.conf" "$PM" newaliases
is "newaliases with POSTERN_CONF" "0 other@example.org" "$rc $("$PM" query "$T/maps/aliases" root 2>/dev/null)"
ln -s "$PM" "$T/newaliases"
printf 'root: third@example.org\n' >"$T/maps/aliases"
run "$T/newaliases" -C "$T/postern.conf"
is "called as newaliases" "0 third@example.org" "$rc $("$PM" query "$T/maps/aliases" root 2>/dev/null)"
printf 'root: x\nroot: y\n' >"$T/maps/aliases"
run "$T/newaliases" -C "$T/postern.conf"
is "newaliases: errors exit 65, old map kept" "65 third@example.org" "$rc $("$PM" query "$T/maps/aliases" root 2>/dev/null)"
has "newaliases: error names the file and line" "$T/maps/aliases: line 2: duplicate alias 'root' (first at line 1)" "$err"
run "$T/newaliases" -x
is "newaliases: bad option exits 64" 64 "$rc"
rm "$T/maps/aliases"
run "$PM" newaliases -C "$T/postern.conf"
is "newaliases without an aliases file: exit 66" 66 "$rc"
run "$PM" newaliases -C "$T/nonexistent.conf"
is "newaliases with a missing config: exit 78" 78 "$rc"
