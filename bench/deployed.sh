#!/bin/bash
# bench/deployed.sh - postern as users deploy it next to a whole Postfix,
# same machine, same run, interleaved, medians of ROUNDS.
#
# postern: `make install` + `make install-hub` into a fresh Debian 12 root
# (tools/systemd-root), booted with systemd as PID 1, shipped units and
# shipped postern.conf except hostname (the local domain), the relay
# maps (relay-domains, routes, one access REJECT) and that REJECTed
# client's exemption from the per-source connection rate limit.  Whatever units install
# ships are measured: the harness knows only port 25 and the program name
# queue-run (to stop the queue daemon for the accept-only figures).
# Postfix 3.7: a private instance (Debian's master.cf.dist and main.cf,
# chroot as shipped) with its whole MTA (master, smtpd, cleanup,
# trivial-rewrite, qmgr, virtual to a Maildir, smtp for relay, postlogd
# for its log, as postern's log goes to the root's journald), in the booted
# root's network namespace on 127.0.0.1:2525, in a cgroup of its own.
# Clients (smtp-source, bench/smtp-client.py) run on the host in that
# network namespace, outside both cgroups.
#
# CPU per message: the cgroup's cpu.stat over the run (postern: the whole
# booted root, systemd and journald included; Postfix: every process of
# the instance), and the whole machine from /proc/stat (meaningful only on
# an otherwise idle machine).  Every figure line says which.
#
#   bench/deployed.sh            environment: BENCH_N (messages per run,
#                                1000), BENCH_ROUNDS (3), BENCH_SESSIONS (5),
#                                BENCH_LAT_N (300), BENCH_LAT_RATE (half the
#                                slower side's rate), BENCH_REFUSE_N (500),
#                                BENCH_SENDMAIL_N (200), BENCH_ONLY (a list
#                                of: maildir accept relay refuse latency
#                                sendmail nosm; default all), BENCH_FS (host:
#                                the host's own file system; ext4: a fresh
#                                ext4 image with a journal, bench/lib.bash)
# A benchmark, not a test: it prints figures.  Needs root, the postfix
# package and the root cache (tools/systemd-root cache).  The root is
# stopped and removed, Postfix stopped, every helper process killed at exit.
. "$(dirname "$0")/lib.bash"
trap 'exit 143' TERM INT HUP
N=${BENCH_N:-1000}
ROUNDS=${BENCH_ROUNDS:-3}
S=${BENCH_SESSIONS:-5}
LAT_N=${BENCH_LAT_N:-300}
REF_N=${BENCH_REFUSE_N:-500}
SM_N=${BENCH_SENDMAIL_N:-200}
ONLY=" ${BENCH_ONLY:-maildir accept relay refuse latency sendmail nosm} "
SINK_PORT=2526
PF_PORT=2525
HZ=$(getconf CLK_TCK)
want() { case "$ONLY" in *" $1 "*) return 0 ;; esac; return 1; }
say() { echo "# $*" >&2; }
now() { date +%s.%N; }

[ -x "$B/smtp-receive" ] && [ -x "$B/queue-run" ] && [ -x "$B/postern-maps" ] || { echo "bench: build postern first (make)" >&2; exit 1; }

# --- postern: install into a fresh root and boot it ----------------------------
# relay and access maps: a route to the sink, one REJECTed client address
maps() {
  echo "remote.test" >>"$R/etc/postern/relay-domains"
  echo "remote.test smtp:[127.0.0.1]:$SINK_PORT" >>"$R/etc/postern/routes"
  echo "127.0.0.2 REJECT" >>"$R/etc/postern/access"
  # the REJECTed client makes ROUNDS x BENCH_REFUSE_N connections within a
  # minute or two: exempt from the per-source rate limit (600 a minute), or
  # the later rounds would measure the listener's 421, not the access map
  # (Postfix's anvil rate limit is off as shipped)
  echo "smtpd_limit_exempt = 127.0.0.1 127.0.0.2 ::1" >>"$R/etc/postern/postern.conf"
  local m; for m in relay-domains routes access; do
    chmod 644 "$R/etc/postern/$m"; "$B/postern-maps" compile "$R/etc/postern/$m" >/dev/null || return 1
  done
}
postern_root maps || exit 1

# --- Postfix: a private instance in the root's network, in its own cgroup --------
PF=$T/pf
mkdir -p "$PF/etc" "$PF/queue/etc" "$PF/data" "$T/pfmail/box/Maildir/new" "$T/pfmail/box/Maildir/cur" "$T/pfmail/box/Maildir/tmp"
chown postfix "$PF/data"; chown -R nobody:nogroup "$T/pfmail"
# what Debian's configure-instance.sh copies into the chroot
for f in localtime services resolv.conf hosts host.conf nsswitch.conf; do [ -f /etc/$f ] && cp /etc/$f "$PF/queue/etc/"; done
(cd / && for f in /lib/*/libgcc_s*.so* /lib/*/libnss*.so* /lib/*/libresolv*.so* /dev/random /dev/urandom; do
   [ -e "$f" ] && echo "${f#/}"; done | cpio -pdL --quiet "$PF/queue" 2>/dev/null)
{ cat /usr/share/postfix/main.cf.debian
  cat <<EOC
# --- the bench instance: its directories, listener, domains, mailbox, routes
queue_directory = $PF/queue
data_directory = $PF/data
myhostname = pf.bench.test
mydestination = \$myhostname, localhost
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
virtual_mailbox_domains = bench.test
virtual_mailbox_base = $T/pfmail
virtual_mailbox_maps = texthash:$PF/etc/vmailbox
virtual_uid_maps = static:$(id -u nobody)
virtual_gid_maps = static:$(getent group nogroup | cut -d: -f3)
relay_domains = remote.test
transport_maps = texthash:$PF/etc/transport
smtpd_client_restrictions = check_client_access texthash:$PF/etc/access
maillog_file = $PF/maillog
maillog_file_prefixes = $T
EOC
} >"$PF/etc/main.cf"
echo "box@bench.test box/Maildir/" >"$PF/etc/vmailbox"
echo "remote.test smtp:[127.0.0.1]:$SINK_PORT" >"$PF/etc/transport"
echo "127.0.0.2 REJECT" >"$PF/etc/access"
sed "s/^smtp      inet .*/127.0.0.1:$PF_PORT inet n - y - - smtpd/" /usr/share/postfix/master.cf.dist >"$PF/etc/master.cf"
grep -q "^127.0.0.1:$PF_PORT inet" "$PF/etc/master.cf" || { echo "bench: unexpected master.cf.dist" >&2; exit 1; }
PF_CG=$(dirname "$ROOT_CG")/postern-bench-pf-$$
mkdir "$PF_CG" || exit 1
pfctl() { postfix -c "$PF/etc" "$@" >>"$T/pf.log" 2>&1; }
exit_hooks=("postfix -c '$PF/etc' stop >/dev/null 2>&1; for i in \$(seq 50); do [ -s '$PF_CG/cgroup.procs' ] || break; sleep 0.1; done; rmdir '$PF_CG' 2>/dev/null" "${exit_hooks[@]}")
( echo $BASHPID >"$PF_CG/cgroup.procs" && exec nsenter -t "$PID1" -n postfix -c "$PF/etc" start ) >>"$T/pf.log" 2>&1 ||
  { echo "bench: postfix did not start" >&2; cat "$T/pf.log" "$PF/maillog" >&2 2>/dev/null; exit 1; }

# the sink for the relay scenario, in the root's network
inns smtp-sink -u nobody -c "127.0.0.1:$SINK_PORT" 256 >"$T/sink.out" 2>&1 &
pids+=($!)

up() { inns python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',int(sys.argv[1])),timeout=2).recv(100)" "$1" 2>/dev/null; }
for p in 25 $PF_PORT $SINK_PORT; do
  for i in $(seq 100); do up "$p" && break; sleep 0.2; done
  up "$p" || { echo "bench: nothing answers on port $p" >&2; exit 1; }
done

# --- the two sides -----------------------------------------------------------------
declare -A PORT=([postern]=25 [postfix]=$PF_PORT) CG=([postern]=$ROOT_CG [postfix]=$PF_CG) \
  MD=([postern]=$R/home/box/Maildir/new [postfix]=$T/pfmail/box/Maildir/new)
QUNIT=$(inroot sh -c 'ps -o unit= -p "$(pgrep -o -x queue-run)"' | tr -d ' ')
[ -n "$QUNIT" ] || { echo "bench: no queue-run runs in the root" >&2; exit 1; }

cg_us() { sed -n 's/^usage_usec //p' "$1/cpu.stat"; }
busy() { awk '/^cpu /{print $2+$3+$4+$7+$8+$9}' /proc/stat; }
count() { find "$1" -maxdepth 1 -type f | wc -l; }
sink_count() { tr '\r' '\n' <"$T/sink.out" | sed -n 's/.*mesg=\([0-9]*\).*/\1/p' | tail -n 1; }
# wait_for SECONDS CMD... WANT: until CMD prints at least WANT
wait_for() {
  local end=$(( $(date +%s) + $1 )) want=${*: -1} c; shift
  set -- "${@:1:$#-1}"
  while :; do
    c=$("$@"); [ "${c:-0}" -ge "$want" ] && return 0
    [ "$(date +%s)" -ge "$end" ] && { say "timed out waiting: $* at ${c:-0} of $want"; return 1; }
    sleep 0.05
  done
}
# a measurement window on SIDE: win_start SIDE; ...; win_end SIDE COUNT [END]
#   prints: per-second rate (until END, a time from now, if given: the
#   load's end, before a pause that lets the server finish its work), cgroup
#   CPU ms per item, whole-machine CPU ms per item
win_start() { w_t=$(now); w_c=$(cg_us "${CG[$1]}"); w_b=$(busy); }
win_end() {
  local t c b; t=${3:-$(now)}; c=$(cg_us "${CG[$1]}"); b=$(busy)
  python3 -c "import sys; n=$2; print('%.1f %.3f %.3f' % (n / ($t - $w_t), ($c - $w_c) / 1000 / n, ($b - $w_b) * 1000 / $HZ / n))"
}
clear_md() { find "${MD[$1]}" -maxdepth 1 -type f -delete; }
qlistener=
exit_hooks=('[ -z "$qlistener" ] || kill "$qlistener" 2>/dev/null' "${exit_hooks[@]}")
queue_stop() {
  if [ "$1" = postern ]; then inroot systemctl stop "$QUNIT"; return; fi
  postconf -c "$PF/etc" -e in_flow_delay=0 && postconf -c "$PF/etc" -M# qmgr/unix && pfctl reload
  local i; for i in $(seq 100); do pgrep -f '^qmgr ' -P "$(tr -d ' ' <"$PF/queue/pid/master.pid")" >/dev/null || break; sleep 0.1; done
  # cleanup wakes qmgr through public/qmgr after each message: while qmgr
  # is away, a listener that takes each wake-up and drops it
  rm -f "$PF/queue/public/qmgr"
  timeout 3600 python3 -c '
import os, socket, sys
s = socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666); s.listen(64)
while True: s.accept()[0].close()' "$PF/queue/public/qmgr" & qlistener=$!
  for i in $(seq 50); do [ -S "$PF/queue/public/qmgr" ] && break; sleep 0.1; done
}
queue_start() {
  if [ "$1" = postern ]; then inroot systemctl start "$QUNIT"; return; fi
  kill "$qlistener" 2>/dev/null; wait "$qlistener" 2>/dev/null; qlistener=
  postconf -c "$PF/etc" -X in_flow_delay; postconf -c "$PF/etc" -M qmgr/unix="qmgr unix n - n 300 1 qmgr"; pfctl reload
}
source_run() {   # source_run SIDE RCPT [smtp-source flags]: N messages
  local side=$1 rcpt=$2; shift 2
  bg_wait inns timeout 900 smtp-source "$@" -s "$S" -l 4096 -m "$N" -f a@b.test -t "$rcpt" "127.0.0.1:${PORT[$side]}" 2>>"$T/source.$side.err" >/dev/null
}
res() { echo "$3" >>"$T/res.$RES$1.$2"; }      # res SCENARIO SIDE "figures..."
RES=
# order ROUND [A B]: the two sides, their order alternating by round
order() { local a=${2:-postern} b=${3:-postfix}; if [ $(( $1 % 2 )) = 1 ]; then echo "$a $b"; else echo "$b $a"; fi; }

# --- scenarios (each: one run of one side) ------------------------------------------
sc_maildir() {   # SMTP -> Maildir, one message per connection, until the last file lands
  local side=$1
  clear_md "$side"
  win_start "$side"
  source_run "$side" box@bench.test
  wait_for $((120 + N)) count "${MD[$side]}" "$N" || res maildir-short "$side" "$(count "${MD[$side]}")"
  res maildir "$side" "$(win_end "$side" "$N")"
  clear_md "$side"
}
sc_accept() {    # accept only (queue daemon stopped), one per connection, then connections kept
  local side=$1 te
  clear_md "$side"
  queue_stop "$side"
  win_start "$side"; source_run "$side" box@bench.test; te=$(now); sleep 0.2; res accept "$side" "$(win_end "$side" "$N" "$te")"
  win_start "$side"; source_run "$side" box@bench.test -d; te=$(now); sleep 0.2; res kept "$side" "$(win_end "$side" "$N" "$te")"
  queue_start "$side"
  wait_for $((120 + 2 * N)) count "${MD[$side]}" $((2 * N)) || res accept-short "$side" "$(count "${MD[$side]}")"
  clear_md "$side"
}
sc_relay() {     # SMTP in -> relayed to smtp-sink, until the sink has them all
  local side=$1 c0; c0=$(sink_count)
  win_start "$side"
  source_run "$side" x@remote.test
  wait_for $((120 + N)) sink_count $(( ${c0:-0} + N )) || res relay-short "$side" "$(sink_count)"
  res relay "$side" "$(win_end "$side" "$N")"
}
sc_refuse() {    # connections refused at once: greeting + QUIT, and an access-map REJECT
  local side=$1 out
  win_start "$side"
  bg_wait inns timeout 900 python3 "$top/bench/smtp-client.py" refuse "${PORT[$side]}" "$REF_N" 5 quit >"$T/out"; out=$(cat "$T/out")
  sleep 0.5; res quit "$side" "$(win_end "$side" "$REF_N") ${out#* }"
  [ -z "${2:-}" ] || return 0
  win_start "$side"
  bg_wait inns timeout 900 python3 "$top/bench/smtp-client.py" refuse "${PORT[$side]}" "$REF_N" 5 reject 127.0.0.2 >"$T/out"; out=$(cat "$T/out")
  sleep 0.5; res reject "$side" "$(win_end "$side" "$REF_N") ${out#* }"
}
sc_latency() {   # connect -> file in the Maildir at the same offered load
  local side=$1 out
  clear_md "$side"
  win_start "$side"
  bg_wait inns timeout 900 python3 "$top/bench/smtp-client.py" paced "${PORT[$side]}" "$LAT_RATE" "$LAT_N" "$(dirname "${MD[$side]}")" box@bench.test "lat$2" >"$T/out"
  out=$(cat "$T/out")
  res latency "$side" "$out $(win_end "$side" "$LAT_N")"
  clear_md "$side"
}
sc_sendmail() {  # one sendmail call (as root), wall and CPU from wait4
  local side=$1 out
  clear_md "$side"
  if [ "$side" = postern ]; then bg_wait inroot /usr/local/bin/bench-drive "$SM_N" 20 /root/bench-msg /usr/sbin/sendmail -i box@bench.test >"$T/out"
  else bg_wait "$T/drive" "$SM_N" 20 "$T/msg" "$PF_SENDMAIL" -C "$PF/etc" -i box@bench.test >"$T/out"; fi
  out=$(cat "$T/out")
  res sendmail "$side" "$out"
  wait_for 300 count "${MD[$side]}" $((SM_N + 20)) || res sendmail-short "$side" "$(count "${MD[$side]}")"
  clear_md "$side"
}

# the sendmail driver: static, so that its own size does not count
if want sendmail; then
  cat >"$T/drive.c" <<'EOC'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
/* drive N WARMUP MSGFILE ARGV...: prints p50 mean p99 cpu_ms failures */
int main(int argc, char **argv)
{
  int n = atoi(argv[1]), warm = atoi(argv[2]), i, bad = 0;
  double *wall = calloc(n, sizeof *wall), cpu = 0, sum = 0;
  if (argc < 5) return 64;
  for (i = -warm; i < n; i++) {
    struct timespec t0, t1;
    struct rusage ru;
    int status, fd = open(argv[3], O_RDONLY), null = open("/dev/null", O_WRONLY);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = vfork();
    if (pid == 0) { dup2(fd, 0); dup2(null, 1); dup2(null, 2); execv(argv[4], argv + 4); _exit(127); }
    wait4(pid, &status, 0, &ru);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    close(fd); close(null);
    if (i < 0) continue;
    wall[i] = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
    sum += wall[i];
    cpu += (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
    bad += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  qsort(wall, n, sizeof *wall, cmp);
  printf("%.3f %.3f %.3f %.3f %d\n", wall[n / 2], sum / n, wall[(int)(n * 0.99)], cpu / n, bad);
  return 0;
}
EOC
  cc -O2 -static -o "$T/drive" "$T/drive.c" || { echo "bench: cannot compile the sendmail driver" >&2; exit 1; }
  mkdir -p "$R/usr/local/bin"; cp "$T/drive" "$R/usr/local/bin/bench-drive"
  { printf 'From: root\nTo: box@bench.test\nSubject: bench\n\n'
    for i in $(seq 30); do printf 'line %02d of the report: all services running, nothing to do today\n' "$i"; done; } >"$T/msg"
  cp "$T/msg" "$R/root/bench-msg"
  PF_SENDMAIL=$(dpkg-divert --truename /usr/sbin/sendmail 2>/dev/null || echo /usr/sbin/sendmail)
  [ -L "$R/usr/sbin/sendmail" ] || [ -x "$R/usr/sbin/sendmail" ] || { say "postern's sendmail is not installed in the root: no sendmail scenario"; ONLY=${ONLY/ sendmail / }; }
fi

# --- the run -------------------------------------------------------------------------
say "root booted (systemd PID $PID1 on the host), queue daemon unit $QUNIT; Postfix on 127.0.0.1:$PF_PORT in the same network"
# warm-up: a few messages each way, so that first-run costs (map opening,
# page cache, Postfix's process pool) do not land in the first round
for side in postern postfix; do
  inns smtp-source -s 2 -l 4096 -m 20 -f a@b.test -t box@bench.test "127.0.0.1:${PORT[$side]}" >/dev/null 2>&1
  wait_for 60 count "${MD[$side]}" 20; clear_md "$side"
done
# issue 11's comparison: the same installed programs with no service
# manager between connections.  Port 25's socket unit and the service it
# starts are read from systemd (Accept=yes: its template; Accept=no: the
# service it triggers); that service's ExecStart runs under
# systemd-socket-activate (--inetd -a for Accept=yes) on 127.0.0.1:2500,
# as the service's user, group, supplementary groups and ambient
# capabilities, in one transient
# unit (systemd-run) for the whole run, without the sandbox settings.
nosm_start() {
  local sock acc svc argv u g sg amb
  sock=$(inroot systemctl list-sockets --all --no-legend --no-pager | awk '$1 ~ /(^|:)25$/ { print $2; exit }')
  [ -n "$sock" ] || { say "no socket unit listens on port 25"; return 1; }
  acc=$(inroot systemctl show -p Accept --value "$sock")
  if [ "$acc" = yes ]; then svc=${sock%.socket}@bench.service
  else svc=$(inroot systemctl show -p Triggers --value "$sock" | awk '{ print $1 }'); fi
  argv=$(inroot systemctl show -p ExecStart --value "$svc" | sed -n 's/.*argv\[\]=\([^;]*\) ;.*/\1/p' | head -n 1)
  u=$(inroot systemctl show -p User --value "$svc"); g=$(inroot systemctl show -p Group --value "$svc")
  sg=$(inroot systemctl show -p SupplementaryGroups --value "$svc")
  amb=$(inroot systemctl show -p AmbientCapabilities --value "$svc")
  [ -n "$argv" ] || { say "cannot read the ExecStart of $svc"; return 1; }
  NOSM_DESC="$sock (Accept=$acc) -> $svc: $argv, user ${u:-root}"
  local sa=(systemd-socket-activate -l 127.0.0.1:2500); [ "$acc" = yes ] && sa+=(--inetd -a)
  # shellcheck disable=SC2086
  inroot systemd-run -q --unit=bench-nosm ${u:+-p User=$u} ${g:+-p Group=$g} ${sg:+-p "SupplementaryGroups=$sg"} ${amb:+-p "AmbientCapabilities=$amb"} \
    "${sa[@]}" $argv || return 1
  for i in $(seq 50); do up 2500 && return 0; sleep 0.2; done
  say "nothing answers on 127.0.0.1:2500 ($NOSM_DESC)"; return 1
}
PORT[nosm]=2500; CG[nosm]=$ROOT_CG; MD[nosm]=${MD[postern]}
if want nosm && nosm_start; then
  say "no service manager in between: $NOSM_DESC"
  RES=nosm-
  for r in $(seq "$ROUNDS"); do
    for side in $(order "$r" postern nosm); do say "nosm round $r: $side"; sc_maildir "$side"; sc_refuse "$side" quit-only; done
  done
  RES=
  inroot systemctl stop bench-nosm
  echo "$NOSM_DESC" >"$T/nosm.desc"
fi

for sc in maildir accept relay refuse; do
  want "$sc" || continue
  for r in $(seq "$ROUNDS"); do
    for side in $(order "$r"); do say "$sc round $r: $side"; "sc_$sc" "$side"; done
  done
done
if want latency; then
  if [ -z "${BENCH_LAT_RATE:-}" ] && [ -s "$T/res.maildir.postern" ] && [ -s "$T/res.maildir.postfix" ]; then
    LAT_RATE=$(python3 -c "
import statistics as s
m = min(s.median(float(l.split()[0]) for l in open('$T/res.maildir.' + x)) for x in ('postern', 'postfix'))
print('%.1f' % max(1, m / 2))")
  else LAT_RATE=${BENCH_LAT_RATE:-20}; fi
  for r in $(seq "$ROUNDS"); do
    for side in $(order "$r"); do say "latency round $r: $side at $LAT_RATE msgs/s"; sc_latency "$side" "$r"; done
  done
fi
if want sendmail; then
  for r in $(seq "$ROUNDS"); do
    for side in $(order "$r"); do say "sendmail round $r: $side"; sc_sendmail "$side"; done
  done
fi

# --- the report -------------------------------------------------------------------------
errs=$(cat "$T"/source.*.err 2>/dev/null | sort | uniq -c | sort -rn | head -n 5)
export T N ROUNDS S LAT_N REF_N SM_N BENCH_FS LAT_RATE=${LAT_RATE:-}
python3 "$top/bench/deployed-report.py"
[ -z "$errs" ] || { echo "smtp-source complained (count, line):"; echo "$errs"; }
for f in "$T"/res.*-short.*; do [ -e "$f" ] && echo "WARNING: incomplete run ${f##*/res.}: $(tr '\n' ' ' <"$f")(of the expected count): figures not comparable"; done
echo "log: Postfix maillog warnings $(grep -c 'warning:' "$PF/maillog" 2>/dev/null), postern journal lines at warning or worse $(inroot journalctl -q --no-pager -p warning 2>/dev/null | wc -l)"
grep 'warning:' "$PF/maillog" 2>/dev/null | sed 's/^.*warning:/  postfix warning:/' | sort | uniq -c | sort -rn | head -n 3
inroot journalctl -q --no-pager -p warning -o cat 2>/dev/null | sort | uniq -c | sort -rn | head -n 3 | sed 's/^/  postern journal: /'
exit 0
