#!/bin/bash
# bench/profile.sh - where the CPU goes on postern's SMTP -> Maildir path as
# deployed (the booted root of bench/deployed.sh): perf record -a over N
# messages of 4 KiB, one per connection, 5 sessions, then the top symbols
# per program (comm) and overall.  A profile, not a benchmark.
#   bench/profile.sh [MESSAGES]     (default 2000)
. "$(dirname "$0")/lib.bash"
trap 'exit 143' TERM INT HUP
N=${1:-2000}
command -v perf >/dev/null || { echo "bench: perf is not installed (apt-get install linux-perf)" >&2; exit 1; }
[ -x "$B/smtp-receive" ] || { echo "bench: build postern first (make)" >&2; exit 1; }
postern_root || exit 1
port25_up || exit 1
md_send 50; md_wait 50 120; find "$R/home/box/Maildir/new" -maxdepth 1 -type f -delete
perf record -a -g -o "$T/perf.data" 2>"$T/perf.err" &
ppid=$!; pids+=($ppid)
sleep 1
md_send "$N"
md_wait "$N" $((300 + N / 10)) || echo "WARNING: only $(md_count) of $N delivered"
kill -INT "$ppid"; wait "$ppid" 2>/dev/null
echo "== by program (comm), share of all samples"
perf report -i "$T/perf.data" --no-children --sort comm -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 25
echo "== top symbols"
perf report -i "$T/perf.data" --no-children --sort sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 40
for c in smtp-listen spool-inject queue-run local-spawn systemd-journal; do
  echo "== top symbols of $c (share of all samples)"
  perf report -i "$T/perf.data" --no-children --comm "$c" --sort sym -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 25
done
echo "== top symbols with callers (kernel)"
perf report -i "$T/perf.data" --no-children --sort comm,sym -g caller,0.5,callee --percent-limit 2 2>/dev/null | grep -v '^#' | grep -v '^$' | head -n 150
