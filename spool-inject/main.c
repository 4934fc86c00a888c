/* spool-inject - put one message into the spool.
 * fd 0: message (LF line ends, read to EOF).  fd 1: envelope (envelope.5),
 * read after the message.  fd 2: log lines, then one SMTP reply line last.
 * Exit codes: sysexits(3), lib/exitcode.c; see spool-inject.8. */
#include <sys/auxv.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include "errmsg.h"
#include "num.h"
#include "str.h"
#include "spool.h"
#include "config.h"
#include "exitcode.h"
#include "log.h"
#include "inject.h"

static struct config cfg;   /* postern.conf */

/* __asan_default_options - only read by the sanitizer build (make asan):
 * LeakSanitizer cannot stop the world in a set-id process (it is not
 * dumpable) and would turn a queued message's exit 0 into a failure, so
 * leak checking is off when the kernel says we run set-id. */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
  return getauxval(AT_SECURE) ? "detect_leaks=0" : "";
}

_Noreturn static void die_usage(void)
{
  inject_reply("554 5.5.4 usage: spool-inject [-C config]", 0);
  _exit(EX_USAGE);
}

/* load_config - the config, or a temporary failure with the reason */
static void load_config(const char *arg)
{
  stralloc err = {0};
  if (config_try(&cfg, arg, &err) == 0) return;
  if (!stralloc_0(&err)) inject_fail(EX_CONFIG, "451 4.3.5 Configuration error", 0);
  inject_fail(EX_CONFIG, "451 4.3.5 Configuration error: ", err.s);
}

/* poke - -q: ask the queue daemon to run the queue now, for callers who
 * may not run queue-run --flush themselves (sendmail -q by an ordinary
 * user).  The trigger fifo takes the group only this program lends; one
 * byte, never blocking, and nothing else of the spool is touched. */
_Noreturn static void poke(void)
{
  int fd;
  load_config(0);
  if (chdir(cfg.spool) == -1) inject_fail(EX_TEMPFAIL, "451 4.3.0 unable to reach the spool", 0);
  fd = open(SPOOL_TRIGGER, O_WRONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC);
  if (fd == -1 && errno == ENXIO)
    inject_fail(EX_UNAVAILABLE, "no queue daemon is running: the queue runs at the next postern-flush.timer "
                "(or ask root to run sendmail -q)", 0);
  if (fd == -1 || write(fd, "F", 1) != 1) inject_fail(EX_TEMPFAIL, "unable to wake the queue daemon", 0);
  {
    char uid[NUM_ULONG];
    log_event(0, "status", "flush-requested", "uid", num_str(uid, (unsigned long)getuid()), (char *)0);
  }
  _exit(0);
}

int main(int argc, char **argv)
{
  const char *conf = 0;
  errmsg_iam("spool-inject");
  log_init("spool-inject", LOGTO_AUTO);
  if (argc == 2 && !str_diff(argv[1], "-q")) poke();
  if (argc == 3 && argv[1][0] == '-' && argv[1][1] == 'C' && !argv[1][2]) conf = argv[2];
  else if (argc != 1) die_usage();
  inject_signals();
  load_config(conf);
  log_init("spool-inject", cfg.log);
  inject_run(&cfg, 0);   /* chdir, size and room checks, body, envelope, commit, reply */
  return 0;
}
