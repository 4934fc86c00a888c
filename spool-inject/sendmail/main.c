/* sendmail - the sendmail(8) front end, also run as mailq and newaliases.
 * Runs as its caller: reads the message on fd 0, builds the envelope
 * (arguments, or the header with -t), fixes the header and runs the
 * injector (spool-inject); the other modes run queue-run, postern-maps or
 * smtp-receive.  Exit codes: sysexits(3), listed in sendmail.8. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "errmsg.h"
#include "exitcode.h"
#include "log.h"
#include "sendmail.h"

static struct config cfg;   /* postern.conf */

/* std_fds - fds 0, 1 and 2 open (on /dev/null if closed), so that no file
 * we open becomes a child's stdin, stdout or stderr by accident */
static void std_fds(void)
{
  int fd;
  while ((fd = open("/dev/null", O_RDWR)) != -1 && fd <= 2) ;
  if (fd > 2) close(fd);
}

/* usage_error - one line naming what is wrong, one usage line, exit 64 */
_Noreturn static void usage_error(const struct args *a)
{
  run_say(a->error, " ", a->error_arg ? a->error_arg : "");
  run_say("usage: sendmail [-t] [-i] [-f sender] [-F name] [-B type] [-N dsn] [-R ret] [-V envid] [-C config]",
         " [-o x] [-O opt=val] [-v] [--] [recipient ...] | -bp [--json|--machine] | -bi | -bs | -bv address ... | -bh [--machine] | -bH",
         " | -q [Iid|Rrcpt|Ssender] (see sendmail(8))");
  exit(EX_USAGE);
}

/* load_config - -C, else $POSTERN_CONF, else the default; the file read
 * (absolute: the programs we run change directory) is passed on to them
 * in $POSTERN_CONF */
static void load_config(const char *conf)
{
  stralloc err = { 0 };
  if (config_try(&cfg, conf, &err) == 0) {
    if (cfg.file && setenv("POSTERN_CONF", cfg.file, 1) == -1) die(EX_OSERR, "out of memory");
    return;
  }
  if (!stralloc_0(&err)) die(EX_CONFIG, "out of memory");
  die(EX_CONFIG, "configuration error: ", err.s);
}

int main(int argc, char **argv)
{
  static struct args a;
  int code;
  std_fds();
  errmsg_iam(argc > 0 && argv[0] ? args_base(argv[0]) : "sendmail");
  if (args_parse(&a, argc, argv) == -1) usage_error(&a);
  load_config(a.conf);
  log_init(a.label ? a.label : "sendmail", cfg.log);
  switch (a.mode) {
  case SM_LIST: code = modes_list(&a, &cfg); break;
  case SM_ALIASES: code = modes_aliases(&a, &cfg); break;
  case SM_SMTP: code = modes_smtp(&a, &cfg); break;
  case SM_VERIFY: code = modes_verify(&a, &cfg); break;
  case SM_DAEMON: code = modes_daemon(&a); break;
  case SM_FLUSH: code = modes_flush(&a, &cfg); break;
  case SM_INTERVAL: code = modes_interval(&a, &cfg); break;
  case SM_HOSTSTAT: case SM_PURGESTAT: case SM_STATS: code = modes_ops(&a, &cfg); break;
  default: code = mail_send(&a, &cfg); break;
  }
  args_free(&a);
  config_free(&cfg);
  return code;
}
