# tests/install-examples.sh - every example in the maps `make install` puts
# into /etc/postern compiles and does what its comment says.  An example is
# a commented-out entry ("#key value": no blank after the "#"), below a
# comment line "# Example: ... (check MAP KIND SUBJECT says WORD)" or
# "(query MAP KEY says VALUE)"; WORD is the first word of the value that
# decides (OK, RELAY, REJECT, ERROR, ...), or "none" when no key may.
# The maps are installed into a scratch DESTDIR: nothing of the system is
# touched, no root needed.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/.." && pwd)}/tests/lib.bash"

D=$T/root
if ! DESTDIR=$D BUILD=$B "$TOP/tools/install" install >"$T/install.out" 2>&1; then
  fail "install into a scratch DESTDIR" "$(cat "$T/install.out")"; exit 0
fi
ok "install into a scratch DESTDIR"
PM=$B/postern-maps
E=$T/examples
mkdir -p "$E"

for f in "$D"/etc/postern/*; do
  m=$(basename "$f")
  case "$m" in *.cdb|*.conf|programs) continue ;; esac
  # the installed map as it is compiles
  if "$PM" compile "$f" >"$T/c.out" 2>&1; then ok "$m: installed map compiles"
  else fail "$m: installed map compiles" "$(cat "$T/c.out")"; fi
  grep -q '^#[^ #!]' "$f" || continue
  # every example uncommented, together, compiles
  sed 's/^#\([^ #!]\)/\1/' "$f" >"$E/$m"
  if "$PM" compile "$E/$m" >"$T/c.out" 2>&1; then ok "$m: every example compiles"
  else fail "$m: every example compiles" "$(cat "$T/c.out")"; continue; fi
  n=0
  while IFS= read -r line; do
    said=${line##*(}; said=${said%)*}
    set -- $said
    case "$1" in
      check) [ $# = 6 ] && [ "$5" = says ] || { fail "$m: example comment readable" "$line"; continue; }
             got=$("$PM" check "$E/$2" "$3" "$4" 2>&1); rc=$?
             word=none; [ $rc = 0 ] && { word=${got#* }; word=${word%%[: ]*}; }
             is "$m example: $3 $4 -> $6" "$6" "$(echo "$word" | tr a-z A-Z | sed 's/^NONE$/none/')" ;;
      query) [ $# -ge 5 ] && [ "$4" = says ] || { fail "$m: example comment readable" "$line"; continue; }
             want=${said#* says }
             got=$("$PM" query "$E/$2" "$3" 2>&1)
             is "$m example: $3 -> $want" "$want" "$got" ;;
      *) fail "$m: example comment names a check or a query" "$line"; continue ;;
    esac
    n=$((n + 1))
  done < <(grep '^# Example:.*(\(check\|query\) .* says [^)]*)' "$f")
  examples=$(grep -c '^#[^ #!]' "$f")
  is "$m: every example has its check" "$examples" "$n"
done
