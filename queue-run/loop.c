/* loop.c - the event loop of both modes.
 *
 * --daemon: woken at once by inotify on new/ (spool-inject's commit
 * rename) and by the trigger fifo (lib/spool.h's SPOOL_POKE_*: new mail,
 * flush everything, control commands waiting, hold list changed); timers only for
 * what has a time: the next retry, housekeeping, load rechecks, the
 * systemd watchdog.  Nothing polls on an interval.  SIGTERM: no new
 * deliveries, running ones get queue_shutdown_timeout, then we exit with
 * what they reported saved; what has not finished stays pending (a
 * repeat, never a loss).
 * --once: one pass over what is due (everything with --all), including
 * mail that arrives during the pass, then exit. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include "scan.h"
#include "log.h"
#include "num.h"
#include "qr.h"

#define POLL_MAX 256          /* fds in one poll: ours plus running jobs */

/* struct loop - the loop's fds and timers */
struct loop {
  int sig, ino, trig, lsock, rsock;
  int stopping;               /* SIGTERM seen */
  unsigned long stop_at;      /* give up on running jobs then */
  unsigned long housekeeping; /* next housekeeping */
  unsigned long load_check;   /* next load average check */
  int load_paused;
  unsigned long long watchdog_usec;
  unsigned long long watchdog_sent, status_sent, status_due;   /* mono_ms() */
};

/* mono_ms - CLOCK_MONOTONIC in milliseconds */
static unsigned long long mono_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (unsigned long long)t.tv_sec * 1000 + (unsigned long long)t.tv_nsec / 1000000;
}

/* notify - sd_notify only under systemd (main.c holds the libsystemd calls) */
static void notify(const char *s)
{
  if (getenv("NOTIFY_SOCKET")) qr_notify(s);
}

/* signals - TERM, INT and HUP through a signalfd; PIPE ignored, and XFSZ:
 * a file size limit is a write error (the state file is not replaced) */
static int signals(void)
{
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN);
  if (sigprocmask(SIG_BLOCK, &set, 0) == -1) return -1;
  return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* wakeups - inotify on new/ and the trigger fifo (daemon only) */
static void wakeups(struct loop *l)
{
  l->ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (l->ino != -1 && inotify_add_watch(l->ino, SPOOL_NEW, IN_MOVED_TO | IN_CLOSE_WRITE) == -1) {
    log_event(0, "status", "warning", "reason", "unable to watch new/: relying on the trigger", (char *)0);
    close(l->ino);
    l->ino = -1;
  }
  /* O_RDWR: we hold a writer ourselves, so the fifo never reports hang-up */
  l->trig = open(SPOOL_TRIGGER, O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (l->trig == -1) log_event(0, "status", "warning", "reason", "unable to open the trigger fifo", (char *)0);
}

/* trigger - the bytes written to the fifo */
static void trigger(struct loop *l)
{
  char buf[256];
  ssize_t n, i;
  int scan = 0, flush = 0, ctl = 0, hold = 0;
  while ((n = read(l->trig, buf, sizeof buf)) > 0)
    for (i = 0; i < n; i++) {
      if (buf[i] == SPOOL_POKE_FLUSH) flush = 1;
      else if (buf[i] == SPOOL_POKE_CONTROL) ctl = 1;
      else if (buf[i] == SPOOL_POKE_HOLD) hold = 1;
      else scan = 1;
    }
  if (ctl) control_apply();
  if (hold) { hold_reload(); table_wake(); }   /* released mail goes now, back-off kept */
  if (scan || flush) pickup_new();
  if (flush) table_flush(0);
}

/* load_whole - the whole part of the one-minute load average from
 * /proc/loadavg (getloadavg(3) as a fallback); -1 unknown */
static long load_whole(void)
{
  char buf[64];
  unsigned long v;
  double avg[1];
  int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  ssize_t n = fd == -1 ? -1 : read(fd, buf, sizeof buf - 1);
  if (fd != -1) close(fd);
  if (n > 0) {
    buf[n] = 0;
    if (scan_ulong(buf, &v) > 0) return (long)v;
  }
  return getloadavg(avg, 1) == 1 ? (long)avg[0] : -1;
}

/* load_shedding - pause deliveries while the load average is at or above
 * queue_load_limit (a whole number, so the whole part decides) */
static void load_shedding(struct loop *l, unsigned long now)
{
  long load;
  int over;
  if (!qr_cfg.queue_load_limit || now < l->load_check) return;
  l->load_check = now + QR_LOAD_RECHECK_SECONDS;
  load = load_whole();
  over = load >= 0 && (unsigned long)load >= qr_cfg.queue_load_limit;
  if (over != l->load_paused)
    log_event(0, "status", over ? "paused" : "resumed", "reason", "load average and queue_load_limit", (char *)0);
  l->load_paused = over;
}

/* timeout - milliseconds until the next timed event, -1 none */
static int timeout(struct loop *l, unsigned long now)
{
  unsigned long next = (unsigned long)-1, t;
  if (!job_paused() && (t = table_next_due()) < next) next = t;
  if (l->ino != -1 || l->trig != -1) { if (l->housekeeping < next) next = l->housekeeping; }
  if (l->load_paused && l->load_check < next) next = l->load_check;
  if (l->stopping && l->stop_at < next) next = l->stop_at;
  if (job_running() && now + 60 < next) next = now + 60;        /* overdue deliverers */
  if ((t = stats_next_save()) && t < next) next = t;            /* counters changed */
  if (l->watchdog_usec) {
    unsigned long ms = l->watchdog_usec / 2000;
    return ms < 1 ? 1 : (next == (unsigned long)-1 || (next - now) * 1000 > ms) ? (int)ms : (int)((next > now ? next - now : 0) * 1000);
  }
  if (next == (unsigned long)-1) return -1;
  if (next <= now) return 0;
  return next - now > 86400 ? 86400000 : (int)((next - now) * 1000);
}

/* wait_ms - timeout(), or less when a STATUS= waits for its second */
static int wait_ms(struct loop *l, unsigned long now)
{
  int ms = timeout(l, now), due;
  unsigned long long t;
  if (!l->status_due) return ms;
  t = mono_ms();
  due = l->status_due > t ? (int)(l->status_due - t) : 0;
  return ms == -1 || ms > due ? due : ms;
}

/* fds - the poll set: signals, wakeups, helpers, job pipes */
static unsigned int fds(struct loop *l, struct pollfd *p)
{
  unsigned int n = 0;
  int mine[5] = { l->sig, l->ino, l->trig, l->lsock, l->rsock };
  unsigned int i;
  for (i = 0; i < 5; i++) { p[n].fd = mine[i]; p[n].events = POLLIN; p[n].revents = 0; n++; }
  job_poll_fds(p, &n, POLL_MAX);
  return n;
}

/* on_signal - TERM/INT stop; HUP reloads the configuration and the maps
 * (reload.c), then flushes */
static void on_signal(struct loop *l)
{
  struct signalfd_siginfo si;
  char num[NUM_ULONG];
  while (read(l->sig, &si, sizeof si) == sizeof si) {
    if (si.ssi_signo == SIGHUP) { reload_config(); table_flush(0); continue; }
    if (!l->stopping) {
      l->stopping = 1;
      l->stop_at = clock_now() + qr_cfg.queue_shutdown_timeout;
      log_event(0, "status", "stopping", "running", num_str(num, job_running()), (char *)0);
      notify("STOPPING=1");
    }
  }
}

/* events - act on what poll reported; -1 a helper is gone */
static int events(struct loop *l, struct pollfd *p, unsigned int n)
{
  char buf[4096];
  if (p[0].revents) on_signal(l);
  if (p[1].revents) { while (read(l->ino, buf, sizeof buf) > 0) {} pickup_new(); }
  if (p[2].revents) trigger(l);
  /* an answer first (a helper's last answers come before its end), then
   * the end itself: EOF, or a hang-up without data, means it died */
  if (p[3].revents & POLLIN) { if (job_answers(l->lsock) == -1) return -1; }
  else if (p[3].revents) return -1;
  if (p[4].revents & POLLIN) { if (job_answers(l->rsock) == -1) return -1; }
  else if (p[4].revents) return -1;
  job_events(p + 5, n - 5);
  return 0;
}

/* watchdog - WATCHDOG=1 at most every quarter of WatchdogSec, not on
 * every turn of the loop (each sd_notify is a socket, a message and ten
 * more system calls); timeout() wakes us at least every half of it */
static void watchdog(struct loop *l)
{
  unsigned long long now;
  if (!l->watchdog_usec) return;
  now = mono_ms();
  if (l->watchdog_sent && now - l->watchdog_sent < l->watchdog_usec / 4000) return;
  l->watchdog_sent = now;
  notify("WATCHDOG=1");
}

/* status - STATUS= for systemd: running deliveries and queued messages,
 * sent when either changes, at most once a second (a change within the
 * second is sent when it ends: wait_ms() wakes us for it) */
static void status(struct loop *l)
{
  static unsigned int last_run = (unsigned int)-1, last_queued = (unsigned int)-1;   /* what systemd was told */
  char num[NUM_ULONG];
  stralloc s = { 0 };
  unsigned long long now;
  l->status_due = 0;
  if (!getenv("NOTIFY_SOCKET") || (job_running() == last_run && table_count() == last_queued)) return;
  now = mono_ms();
  if (l->status_sent && now - l->status_sent < 1000) { l->status_due = l->status_sent + 1000; return; }
  l->status_sent = now;
  last_run = job_running();
  last_queued = table_count();
  if (stralloc_copys(&s, "STATUS=") && stralloc_cats(&s, num_str(num, last_run))
      && stralloc_cats(&s, " deliveries running, ") && stralloc_cats(&s, num_str(num, last_queued))
      && stralloc_cats(&s, " messages queued") && stralloc_0(&s)) qr_notify(s.s);
  stralloc_free(&s);
}

/* start - set up and read the spool */
static void start(struct loop *l, int daemon, int lsock, int rsock)
{
  l->sig = signals();
  l->ino = l->trig = -1;
  l->lsock = lsock; l->rsock = rsock;
  if (daemon) wakeups(l);
  l->watchdog_usec = getenv("NOTIFY_SOCKET") ? qr_watchdog_usec() : 0;
  table_open(lsock, rsock);
  if (stats_load() == -1) log_event(0, "status", "error", "reason", "unable to read state/stats", (char *)0);
  if (hoststat_load() == -1) log_event(0, "status", "error", "reason", "unable to read state/hoststat", (char *)0);
  pickup_housekeeping();
  hold_reload();
  if (pickup_queue() == -1) log_event(0, "status", "error", "reason", "unable to read queue/", (char *)0);
  pickup_new();
  control_apply();
  l->housekeeping = clock_now() + QR_HOUSEKEEPING_SECONDS;
  log_event(0, "status", "started", "mode", daemon ? "daemon" : "once", (char *)0);
  notify("READY=1");
}

/* another_pass - --once at the end of its pass lets the lock go, then
 * looks for requests that came while it held it (main.c's request(): a
 * process that found the lock taken left its request on disk and tried
 * the lock once more).  1: we have the lock again and make another pass;
 * 0: nothing waits, or the next holder has it and will see it. */
static int another_pass(int lockfd)
{
  if (flock(lockfd, LOCK_UN) == -1) return 0;
  if (!control_waiting() && !pickup_waiting()) return 0;
  if (flock(lockfd, LOCK_EX | LOCK_NB) == -1) return 0;
  table_resync();
  /* the due times another scheduler left: pickup_queue reads each state file */
  if (pickup_queue() == -1) log_event(0, "status", "error", "reason", "unable to read queue/", (char *)0);
  hold_reload();
  control_apply();
  pickup_new();
  log_event(0, "status", "another-pass", "reason", "requests came during the pass", (char *)0);
  return 1;
}

int loop_run(int daemon, int flush_all, int lsock, int rsock, int lockfd)
{
  static struct pollfd p[POLL_MAX];
  static struct loop l;
  char num[NUM_ULONG];
  start(&l, daemon, lsock, rsock);
  if (flush_all && !daemon) table_flush(0);   /* --once --all: back-off ignored in its pass */
  for (;;) {
    unsigned long now = clock_now();
    unsigned int n;
    load_shedding(&l, now);
    job_pause(l.stopping || l.load_paused);
    if (l.stopping) job_abandon();
    table_tick();
    if (job_helper_gone()) {
      log_event(0, "status", "error", "reason", "a spawn helper died", (char *)0);
      table_checkpoint();
      return 71;
    }
    if (l.stopping && (job_running() == 0 || now >= l.stop_at)) break;
    if (!daemon && job_running() == 0 && (l.load_paused || (table_idle() && pickup_new() == 0))) {
      if (l.load_paused || l.stopping || !another_pass(lockfd)) break;
      continue;
    }
    if (daemon && now >= l.housekeeping) { pickup_housekeeping(); l.housekeeping = now + QR_HOUSEKEEPING_SECONDS; }
    watchdog(&l);
    job_kill_overdue();
    n = fds(&l, p);
    if (poll(p, n, wait_ms(&l, now)) == -1 && errno != EINTR) { table_checkpoint(); return 71; }
    if (events(&l, p, n) == -1) {
      log_event(0, "status", "error", "reason", "a spawn helper died", (char *)0);
      table_checkpoint();
      return 71;
    }
    status(&l);
    stats_save(clock_now(), 0);
  }
  if (job_running()) log_event(0, "status", "abandoned", "running", num_str(num, job_running()),
                                 "reason", "still running at the end of queue_shutdown_timeout: they stay pending", (char *)0);
  table_checkpoint();
  stats_save(clock_now(), 1);
  log_event(0, "status", daemon ? "stopped" : "pass-done", (char *)0);
  return 0;
}
