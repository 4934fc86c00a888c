# tests/demo.sh - the README's `make demo` job, run in a private sandbox:
# it must finish, queue exactly the two good messages and refuse the bad one.
. "$POSTERN_TOP/tests/lib.sh"
out=$(SANDBOX=$T/sandbox "$TOP/tools/demo" 2>&1)
rc=$?
is "demo exits 0" 0 "$rc"
n=$(ls "$T/sandbox/spool/new" | wc -l)
is "demo queues two messages" 2 "$n"
case "$out" in *"554 5.6.0 Invalid envelope"*) ok "demo shows the refused envelope" ;;
  *) fail "demo shows the refused envelope" "$out" ;; esac
missing=""
for e in "$T"/sandbox/spool/new/*; do
  id=$(basename "$e")
  [ -f "$T/sandbox/spool/mess/$id" ] || missing="$missing $id"
done
is "every demo envelope has its body" "" "$missing"
