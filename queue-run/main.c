/* queue-run - postern's scheduler: picks up committed mail, routes each
 * recipient, runs deliveries in parallel, retries with back-off, bounces,
 * expires (queue-run.8).
 *   queue-run [-C config] --daemon | --once [--all] | --list [--machine]
 *             | --flush [ID] | --delete ID | --bounce ID | --hold DEST
 *             | --release DEST | --purge DEST | --bounce-destination DEST
 *             | --route ADDRESS...
 * fd 1: the listing.  fd 2: log lines (key=value, queue id first).
 * Exit codes: 0 done; 64 usage; 66 no such message; 77 not root or the
 * queue owner; 75 the spool is unusable or another scheduler runs
 * (--daemon); 78 config (queue-run.8). */
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
  char **route;             /* --route: the addresses (the rest of argv) */
  unsigned int nroute;
};

_Noreturn static void usage(void)
{
  die(EX_USAGE, "usage: queue-run [-C config] --daemon | --once [--all] | --list [--machine] | --flush [ID]"
      " | --delete ID | --bounce ID | --hold DEST | --release DEST | --purge DEST | --bounce-destination DEST"
      " | --route ADDRESS...");
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
    else if (!str_diff(s, "--route") && !a->mode && i + 1 < argc) {
      a->mode = "route"; a->route = argv + i + 1; a->nroute = (unsigned int)(argc - i - 1);
      break;
    } else if (str_start(s, "--") && !a->mode) {
      a->mode = s + 2;
      if (takes_arg(a->mode) || (!str_diff(a->mode, "flush") && i + 1 < argc && argv[i + 1][0] != '-')) {
        if (i + 1 >= argc) usage();
        a->arg = argv[++i];
      }
    } else usage();
  }
  if (!a->mode) usage();
  if (str_diff(a->mode, "daemon") && str_diff(a->mode, "once") && str_diff(a->mode, "list")
      && str_diff(a->mode, "flush") && str_diff(a->mode, "route") && !takes_arg(a->mode)) usage();
  if ((a->all && str_diff(a->mode, "once")) || (a->machine && str_diff(a->mode, "list"))) usage();
}

/* poke - wake the scheduler that holds the lock */
static void poke(char c)
{
  int fd = open(SPOOL_TRIGGER, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1) return;
  if (write(fd, &c, 1) < 0) { /* the request is on disk: it is seen anyway */ }
  close(fd);
}

/* request - what a mode other than --daemon asks of the scheduler.  The
 * request is made durable first: a control command (and a flush of
 * everything asked for while another scheduler runs) as a file in state/,
 * a hold list edit in state/hold; plain --once needs nothing, the mail
 * waiting in new/ is its request.  Then, when another process holds the
 * lock, it is poked through the trigger and the lock tried once more: a
 * --once holder gives the lock up before it looks for requests, so
 * either we get the lock now or it sees ours (DESIGN.md invariant 5).
 * 1: we hold the lock and run the pass ourselves. */
static int request(const struct args *a, int lockfd, int locked)
{
  int once = !str_diff(a->mode, "once");
  int hold = !str_diff(a->mode, "hold") || (!str_diff(a->mode, "release") && !spool_id_valid(a->arg));
  int flush_all = (once && a->all) || (!str_diff(a->mode, "flush") && !a->arg);
  if (!once || (flush_all && !locked)) {
    if (control_command(flush_all ? "flush" : a->mode, flush_all ? 0 : a->arg) == -1)
      diesys(EX_IOERR, "unable to record the command in state/");
  }
  if (locked) return 1;
  poke(hold ? 'H' : once && !flush_all ? '!' : 'C');
  if (flock(lockfd, LOCK_EX | LOCK_NB) == 0) return 1;
  if (!once) log_event(a->arg, "status", "requested", "command", a->mode, "by", "the running queue-run", (char *)0);
  return 0;
}

/* check_id - a message a command names must be in the queue */
static void check_id(const struct args *a)
{
  static stralloc fn;
  if (!a->arg || (str_diff(a->mode, "delete") && str_diff(a->mode, "bounce") && str_diff(a->mode, "flush")
                  && (str_diff(a->mode, "release") || !spool_id_valid(a->arg)))) return;
  if (!spool_id_valid(a->arg)) die(EX_USAGE, "not a queue id: ", a->arg);
  if (!spool_path(&fn, SPOOL_QUEUE, a->arg)) die(EX_OSERR, "out of memory");
  if (access(fn.s, F_OK) == 0) return;
  if (!spool_path(&fn, SPOOL_NEW, a->arg)) die(EX_OSERR, "out of memory");
  if (access(fn.s, F_OK) == 0) return;
  die(EX_NOINPUT, "no such message in the queue: ", a->arg);
}

int main(int argc, char **argv)
{
  struct args a = { 0, 0, 0, 0, 0, 0, 0 };
  int lockfd, locked, lsock, rsock, daemon;
  errmsg_iam("queue-run");
  parse(argc, argv, &a);
  config_load(&qr_cfg, a.conf);
  log_init("queue-run", a.nroute ? LOGTO_STDERR : qr_cfg.log);
  if (a.nroute) return verify_route(a.route, a.nroute);   /* sendmail -bv: any user, no spool */
  if (chdir(qr_cfg.spool) == -1) diesys(EX_TEMPFAIL, "unable to enter the spool ", qr_cfg.spool);
  if (!privs_allowed()) die(EX_NOPERM, "permission denied: only root and the owner of the queue may list or run it");
  if (!str_diff(a.mode, "list")) return control_list(a.machine);
  check_id(&a);
  if ((lockfd = open(SPOOL_QUEUE, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) diesys(EX_TEMPFAIL, "unable to open queue/");
  locked = flock(lockfd, LOCK_EX | LOCK_NB) == 0;
  daemon = !str_diff(a.mode, "daemon");
  if (daemon && !locked) die(EX_TEMPFAIL, "another queue-run holds the lock on queue/");
  if (!daemon && !request(&a, lockfd, locked)) return 0;
  qr_once = !daemon;
  privs_start_helpers(&lsock, &rsock);
  privs_drop();
  return loop_run(daemon, a.all || (!str_diff(a.mode, "flush") && !a.arg), lsock, rsock, lockfd);
}
