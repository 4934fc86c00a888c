# maps/tests/interop.sh - the cdb files are the standard format: tinycdb's
# cdb tool reads what postern-maps writes, and postern-maps reads what
# "cdb -c" makes from cdbmake input.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.bash"

PM=$B/postern-maps
cd "$T" || exit 1
if ! command -v cdb >/dev/null; then
  skip "tinycdb interop" "tinycdb's cdb is not installed (apt-get install tinycdb)"
  exit 0
fi

# ours, read by cdb
printf 'Alpha one\nbeta two words\ngamma x\n' >virtual
"$PM" compile virtual >/dev/null
is "cdb -q reads our value" "one" "$(cdb -q virtual.cdb alpha)"
is "cdb -q: a value with blanks" "two words" "$(cdb -q virtual.cdb beta)"
cdb -q virtual.cdb nosuch >/dev/null 2>&1
is "cdb -q: missing key exits 100" 100 "$?"
is "cdb -d lists our records in order" \
  "$(printf '+5,3:alpha->one\n+4,9:beta->two words\n+5,1:gamma->x\n')" "$(cdb -d virtual.cdb)"
cdb -s virtual.cdb >/dev/null 2>&1
is "cdb -s finds our file consistent" 0 "$?"

# theirs, read by postern-maps
printf '+3,5:key->value\n+5,0:empty->\n+4,8:k2 x->with\ttab\n\n' | cdb -c made.cdb
is "cdb -c made a file" yes "$([ -s made.cdb ] && echo yes)"
"$PM" query made.cdb key >out 2>err
is "postern-maps query reads cdb -c output" "0 value" "$? $(cat out)"
is "and warns about nothing" "" "$(cat err)"
"$PM" query made.cdb empty >out
is "an empty value" "0 " "$? $(cat out)"
"$PM" query made.cdb 'K2 X' >out
is "key with a blank, queried in upper case" "$(printf 'with\ttab')" "$(cat out)"
"$PM" query made.cdb nokey >/dev/null
is "missing key exits 1" 1 "$?"
is "dump of a cdb -c file" "$(printf 'key value\nempty\nk2 x with\ttab')" "$("$PM" dump made.cdb)"

# both ways: dump -> cdbmake format -> cdb -c -> same answers
"$PM" dump virtual.cdb | awk '{k=$1; v=substr($0, length(k) + 2); printf "+%d,%d:%s->%s\n", length(k), length(v), k, v} END {print ""}' | cdb -c again.cdb
is "round trip through cdb -c" "$("$PM" dump virtual.cdb)" "$("$PM" dump again.cdb)"
