# spool-inject/tests/crash.sh - crashes never commit half a message
# (DESIGN.md invariant 1): many injections killed with SIGKILL at random
# moments, then every envelope in new/ must be complete, valid and have its
# byte-exact body, and none may belong to a run that never wrote its end
# line; SIGTERM and friends before the commit leave nothing at all.
# The driver is crash.py; ITERATIONS and SEED may be set in the environment.
. "${POSTERN_TOP:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/lib.bash"

here=$TOP/spool-inject/tests
iterations=${ITERATIONS:-200}
seed=${SEED:-$(( $(date +%s) % 100000 ))}
if ! command -v python3 >/dev/null; then
  skip "kill -9 during injections" "python3 is not installed"
  exit 0
fi

mkspool "$T/spool"
mkconf "$T/conf" spool_reserve=0
timeout -k 5 200 python3 "$here/crash.py" kill9 "$B/spool-inject" "$T/conf" "$T/spool" "$iterations" "$seed"
rc=$?
is "kill -9 driver finished" 0 "$rc"

mkspool "$T/spool2"
sed "s|^spool = .*|spool = $T/spool2|" "$T/conf" >"$T/conf2"
chmod 644 "$T/conf2"
timeout -k 5 100 python3 "$here/crash.py" signals "$B/spool-inject" "$T/conf2" "$T/spool2"
rc=$?
is "signal driver finished" 0 "$rc"
