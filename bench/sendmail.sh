#!/bin/bash
# bench/sendmail.sh - the cost of one sendmail invocation: postern's
# sendmail (-> spool-inject, a durable commit) next to Postfix's sendmail
# (-> postdrop into maildrop/, then pickup woken) on the same machine in
# the same run, with the ratio.  Per invocation: wall time (mean, p50,
# p99), CPU time, and peak RSS (the largest process of the invocation:
# sendmail, spool-inject or postdrop, from wait4's rusage).  A benchmark,
# not a test: it prints figures.  Needs root (Postfix) and the postfix
# package; the Postfix instance lives in a temporary directory with its
# own configuration and queue, runs no listener (pickup and cleanup only),
# and is stopped at the end.  Both sides must queue every message, or the
# figures are flagged as not comparable.
#   bench/sendmail.sh [MESSAGES]     (default 1000)
. "$(dirname "$0")/lib.bash"
N=${1:-1000}
[ -x "$B/sendmail" ] || { echo "bench: build postern first (make)" >&2; exit 1; }
# Postfix's own sendmail, even when postern's took over /usr/sbin/sendmail
PF_SENDMAIL=$(dpkg-divert --truename /usr/sbin/sendmail 2>/dev/null || echo /usr/sbin/sendmail)
"$PF_SENDMAIL" -bV >/dev/null 2>&1 </dev/null || true

# the message: a typical cron/monitoring mail of about 2 KiB
{ printf 'From: root\nTo: admin@bench.test\nSubject: bench\n\n'
  for i in $(seq 30); do printf 'line %02d of the report: all services running, nothing to do today\n' "$i"; done; } >"$T/msg"

# postern: a spool and config of its own
"$top/tools/mkspool" "$T/spool" >/dev/null
mkdir "$T/maps"
printf 'hostname = bench.test\nspool = %s\nmap_dir = %s\nlibexec_dir = %s\nlog = syslog\n' \
  "$T/spool" "$T/maps" "$B" >"$T/postern.conf"
chmod 644 "$T/postern.conf"

# Postfix: its own config and queue; master with pickup and cleanup, no
# listener, no qmgr (cleanup's wake-up FIFO gets a reader that never reads)
pf_main
cat >>"$T/pf/etc/main.cf" <<EOC
mydestination = bench.test
inet_interfaces = loopback-only
inet_protocols = ipv4
alias_maps =
alias_database =
in_flow_delay = 0s
maillog_file = $T/pf/maillog
maillog_file_prefixes = $T
EOC
pf_services >"$T/pf/etc/master.cf"
postfix -c "$T/pf/etc" check >/dev/null 2>&1
postfix -c "$T/pf/etc" start >/dev/null 2>&1 || { echo "bench: postfix did not start" >&2; cat "$T/pf/maillog" >&2 2>/dev/null; exit 1; }
for i in $(seq 50); do [ -p "$T/pf/queue/public/pickup" ] && break; sleep 0.1; done
mkfifo -m 622 "$T/pf/queue/public/qmgr" 2>/dev/null && chown postfix:postdrop "$T/pf/queue/public/qmgr"
sleep 3600 <>"$T/pf/queue/public/qmgr" &
pids+=($!)

# The driver is a small static C program: the peak RSS wait4 reports for a
# child includes the memory of whoever spawned it until its exec (the
# parent's, with vfork), so the spawner must be tiny for the figure to be
# the invocation's own.
cat >"$T/drive.c" <<'EOC'
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return x < y ? -1 : x > y; }
static int cmpl(const void *a, const void *b) { long x = *(const long *)a, y = *(const long *)b; return x < y ? -1 : x > y; }
/* drive N WARMUP MSGFILE ARGV...: prints mean p50 p99 cpu_ms rss_max rss_median failures */
int main(int argc, char **argv)
{
  int n = atoi(argv[1]), warm = atoi(argv[2]), i, bad = 0;
  double *wall = calloc(n, sizeof *wall), cpu = 0, sum = 0;
  long *rss = calloc(n, sizeof *rss);
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
    rss[i] = ru.ru_maxrss;
    bad += !WIFEXITED(status) || WEXITSTATUS(status) != 0;
  }
  qsort(wall, n, sizeof *wall, cmp);
  qsort(rss, n, sizeof *rss, cmpl);
  printf("%.3f %.3f %.3f %.3f %ld %ld %d\n", sum / n, wall[n / 2], wall[(int)(n * 0.99) < n ? (int)(n * 0.99) : n - 1],
         cpu / n, rss[n - 1], rss[n / 2], bad);
  return 0;
}
EOC
${CC:-cc} -O2 -static -o "$T/drive" "$T/drive.c" 2>/dev/null || ${CC:-cc} -O2 -o "$T/drive" "$T/drive.c" ||
  { echo "bench: cannot compile the driver" >&2; exit 1; }
WARM=$(( N < 50 ? N : 50 ))
# run ARGV...: N invocations with the message on stdin, after WARM warm-up runs
run() { "$T/drive" "$N" "$WARM" "$T/msg" "$@"; }
read -r m1 p1 q1 c1 r1 s1 f1 < <(run "$B/sendmail" -C "$T/postern.conf" -i admin@bench.test)
read -r m2 p2 q2 c2 r2 s2 f2 < <(run "$PF_SENDMAIL" -C "$T/pf/etc" -i admin@bench.test)
sleep 1
n1=$(ls "$T/spool/new" | wc -l)
n2=$(find "$T/pf/queue/maildrop" "$T/pf/queue/incoming" "$T/pf/queue/active" "$T/pf/queue/hold" -type f 2>/dev/null | wc -l)
want=$((N + WARM))
echo "NOT AS DEPLOYED (parts only): the build's sendmail on the host, Postfix with pickup and cleanup only"
echo "sendmail: $N invocations each, one recipient, a $(wc -c <"$T/msg")-byte message (after $((want - N)) warm-up runs)"
printf '%-36s %9s %9s %9s %9s %11s %11s\n' "" "mean ms" "p50 ms" "p99 ms" "CPU ms" "peak RSS" "median RSS"
printf '%-36s %9s %9s %9s %9s %8s KiB %8s KiB\n' "postern sendmail -> spool-inject" "$m1" "$p1" "$q1" "$c1" "$r1" "$s1"
printf '%-36s %9s %9s %9s %9s %8s KiB %8s KiB\n' "Postfix sendmail -> postdrop" "$m2" "$p2" "$q2" "$c2" "$r2" "$s2"
python3 -c "print('ratio (Postfix / postern): wall %.1fx, CPU %.1fx, peak RSS %.1fx; postern takes %.0f%% of Postfix time (aim: 20%% or less)' % ($m2 / $m1, $c2 / max($c1, 0.001), $r2 / max($r1, 1), 100 * $m1 / $m2))"
echo "queued: postern $n1, Postfix $n2 (of $want each); failed invocations: postern $f1, Postfix $f2"
if [ "$n1" -ne "$want" ] || [ "$n2" -ne "$want" ] || [ "$f1" -ne 0 ] || [ "$f2" -ne 0 ]; then
  echo "WARNING: not every message was queued on both sides: the figures are not comparable"
  tail -5 "$T/pf/maillog" 2>/dev/null
fi
