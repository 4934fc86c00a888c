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
  const char *conf, *arg;
  enum qr_mode mode;
  int all, machine;
  char **route;             /* --route: the addresses (the rest of argv) */
  unsigned int nroute;
};

_Noreturn static void usage(void)
{
  die(EX_USAGE, "usage: queue-run [-C config] --daemon | --once [--all] | --list [--machine] | --flush [ID]"
      " | --delete ID | --bounce ID | --hold DEST | --release DEST | --purge DEST | --bounce-destination DEST"
      " | --route ADDRESS... | --hoststat [--machine] | --purgestat [DEST] | --stats [--machine]");
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
      a->mode = MODE_ROUTE; a->route = argv + i + 1; a->nroute = (unsigned int)(argc - i - 1);
      break;
    } else if (str_start(s, "--") && !a->mode) {
      if ((a->mode = admin_mode(s + 2)) == MODE_NONE || a->mode == MODE_ROUTE) usage();
      if (admin_takes_arg(a->mode) || ((a->mode == MODE_FLUSH || a->mode == MODE_PURGESTAT) && i + 1 < argc && argv[i + 1][0] != '-')) {
        if (i + 1 >= argc) usage();
        a->arg = argv[++i];
      }
    } else usage();
  }
  if (!a->mode) usage();
  if ((a->all && a->mode != MODE_ONCE)
      || (a->machine && a->mode != MODE_LIST && a->mode != MODE_HOSTSTAT && a->mode != MODE_STATS)) usage();
}

int main(int argc, char **argv)
{
  struct args a = { 0, 0, MODE_NONE, 0, 0, 0, 0 };
  int lockfd, locked, lsock, rsock, daemon;
  errmsg_iam("queue-run");
  parse(argc, argv, &a);
  config_load(&qr_cfg, a.conf);
  log_init("queue-run", a.nroute ? LOGTO_STDERR : qr_cfg.log);
  if (a.nroute) return verify_route(a.route, a.nroute);   /* sendmail -bv: any user, no spool */
  if (chdir(qr_cfg.spool) == -1) diesys(EX_TEMPFAIL, "unable to enter the spool ", qr_cfg.spool);
  if (!privs_allowed()) die(EX_NOPERM, "permission denied: only root and the owner of the queue may list or run it");
  if (a.mode == MODE_LIST) return admin_list(a.machine);
  if (a.mode == MODE_HOSTSTAT) return hoststat_show(a.machine);
  if (a.mode == MODE_STATS) return stats_show(a.machine);
  admin_check_id(a.mode, a.arg);
  if ((lockfd = open(SPOOL_QUEUE, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) diesys(EX_TEMPFAIL, "unable to open queue/");
  locked = flock(lockfd, LOCK_EX | LOCK_NB) == 0;
  daemon = a.mode == MODE_DAEMON;
  if (daemon && !locked) die(EX_TEMPFAIL, "another queue-run holds the lock on queue/");
  if (!daemon && !admin_request(a.mode, a.arg, a.all, lockfd, locked)) return 0;
  qr_once = !daemon;
  privs_start_helpers(&lsock, &rsock);
  privs_drop();
  return loop_run(daemon, a.all || ((a.mode == MODE_FLUSH || a.mode == MODE_PURGESTAT) && !a.arg), lsock, rsock, lockfd);
}
