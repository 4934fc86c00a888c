/* queue-run - postern's scheduler: picks up committed mail, routes each
 * recipient, runs deliveries in parallel, retries with back-off, bounces,
 * expires (queue-run.8).
 *   queue-run [-C config] --daemon | --once [--all] | --list [--machine]
 *             | --flush [ID] | --delete ID | --bounce ID | --hold DEST
 *             | --release DEST | --purge DEST | --bounce-destination DEST
 * fd 1: the listing.  fd 2: log lines (key=value, queue id first).
 * Exit codes: 0 done; 64 usage; 77 not root or the queue owner; 75 the
 * spool is unusable or another scheduler runs (--daemon); 78 config. */
#include <fcntl.h>
#include <stdint.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/file.h>
#include <systemd/sd-daemon.h>
#include "errmsg.h"
#include "str.h"
#include "log.h"
#include "qr.h"

struct config qr_cfg;     /* postern.conf */
int qr_once;              /* --once: one pass per message */

/* qr_notify - sd_notify(3); the only libsystemd calls are here, so that
 * the logic files link without it (unit tests, fuzz targets) */
void qr_notify(const char *s)
{
  sd_notify(0, s);
}

/* qr_watchdog_usec - WatchdogSec= in microseconds, 0 if none */
unsigned long long qr_watchdog_usec(void)
{
  uint64_t usec = 0;
  return sd_watchdog_enabled(0, &usec) > 0 ? (unsigned long long)usec : 0;
}

/* struct args - the command line */
struct args {
  const char *conf, *mode, *arg;
  int all, machine;
};

_Noreturn static void usage(void)
{
  die(EX_USAGE, "usage: queue-run [-C config] --daemon | --once [--all] | --list [--machine] | --flush [ID]"
      " | --delete ID | --bounce ID | --hold DEST | --release DEST | --purge DEST | --bounce-destination DEST");
}

/* takes_arg - modes with a required argument */
static int takes_arg(const char *m)
{
  return !str_diff(m, "delete") || !str_diff(m, "bounce") || !str_diff(m, "hold") || !str_diff(m, "release")
      || !str_diff(m, "purge") || !str_diff(m, "bounce-destination");
}

/* parse - fill a from argv */
static void parse(int argc, char **argv, struct args *a)
{
  int i;
  for (i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (!str_diff(s, "-C") && i + 1 < argc) a->conf = argv[++i];
    else if (!str_diff(s, "--all")) a->all = 1;
    else if (!str_diff(s, "--machine")) a->machine = 1;
    else if (str_start(s, "--") && !a->mode) {
      a->mode = s + 2;
      if (takes_arg(a->mode) || (!str_diff(a->mode, "flush") && i + 1 < argc && argv[i + 1][0] != '-')) {
        if (i + 1 >= argc) usage();
        a->arg = argv[++i];
      }
    } else usage();
  }
  if (!a->mode) usage();
  if (str_diff(a->mode, "daemon") && str_diff(a->mode, "once") && str_diff(a->mode, "list")
      && str_diff(a->mode, "flush") && !takes_arg(a->mode)) usage();
  if ((a->all && str_diff(a->mode, "once")) || (a->machine && str_diff(a->mode, "list"))) usage();
}

/* poke - wake the scheduler that holds the lock */
static void poke(char c)
{
  int fd = open(SPOOL_TRIGGER, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1) return;
  if (write(fd, &c, 1) < 0) { /* it rescans anyway */ }
  close(fd);
}

/* command - queue an administrator's command; 1 when we must run a pass */
static int command(const struct args *a, int locked)
{
  int hold = !str_diff(a->mode, "hold") || !str_diff(a->mode, "release");
  int flush_all = !str_diff(a->mode, "flush") && !a->arg;
  if (!flush_all && control_command(a->mode, a->arg) == -1) diesys(EX_IOERR, "unable to record the command in state/");
  if (locked) return 1;
  poke(flush_all ? 'F' : hold ? 'H' : 'C');
  log_event(a->arg, "status", "requested", "command", a->mode, "by", "the running queue-run", (char *)0);
  return 0;
}

int main(int argc, char **argv)
{
  struct args a = { 0, 0, 0, 0, 0 };
  int lockfd, locked, lsock, rsock, daemon;
  errmsg_iam("queue-run");
  parse(argc, argv, &a);
  config_load(&qr_cfg, a.conf);
  log_init("queue-run", qr_cfg.log);
  if (chdir(qr_cfg.spool) == -1) diesys(EX_TEMPFAIL, "unable to enter the spool ", qr_cfg.spool);
  if (!privs_allowed()) die(EX_NOPERM, "permission denied: only root and the owner of the queue may list or run it");
  if (!str_diff(a.mode, "list")) return control_list(a.machine);
  if ((lockfd = open(SPOOL_QUEUE, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) diesys(EX_TEMPFAIL, "unable to open queue/");
  locked = flock(lockfd, LOCK_EX | LOCK_NB) == 0;
  daemon = !str_diff(a.mode, "daemon");
  if (!daemon && str_diff(a.mode, "once") && !command(&a, locked)) return 0;
  if (!locked && daemon) die(EX_TEMPFAIL, "another queue-run holds the lock on queue/");
  if (!locked) { poke(a.all ? 'F' : '!'); return 0; }
  qr_once = !daemon;
  privs_start_helpers(&lsock, &rsock);
  privs_drop();
  return loop_run(daemon, a.all || (!str_diff(a.mode, "flush") && !a.arg), lsock, rsock);
}
