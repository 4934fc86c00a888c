/* smtp-receive - the ESMTP server of postern, one process per connection.
 * fd 0: the client (read), fd 1: the client (write): the same socket under
 * inetd, tcpserver and systemd-socket-activate --inetd, or stdin/stdout
 * with -bs.  Under the shipped units smtp-listen (main_listen.c) forks
 * the same session (serve.c) instead.
 * fd 2: log lines (see postern.conf's log key).
 * Usage: smtp-receive [-C config] [-m mx|submission|smtps] [-bs]
 * Exit codes: 0 after every session (the client got its replies), 64
 * usage, 78 configuration error; see smtp-receive.8. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include "errmsg.h"
#include "str.h"
#include "exitcode.h"
#include "log.h"
#include "smtp.h"

static struct config cfg;      /* postern.conf */
static struct session sess;    /* the one session of this process */

_Noreturn static void die_usage(void)
{
  errmsg_warn("usage: smtp-receive [-C config] [-m mx|submission|smtps] [-bs]", (char *)0);
  _exit(EX_USAGE);
}

/* die_config - tell the client and the log why (and, if not 0, the
 * value at fault), then stop (temporary) */
_Noreturn static void die_config2(const char *why, const char *what)
{
  log_event(0, "status", "tempfail", "detail", "configuration error", "reason", why,
            what ? "value" : (char *)0, what, (char *)0);
  if (write(1, "421 4.3.5 Configuration error; try again later\r\n", 48) < 0) _exit(EX_CONFIG);
  _exit(EX_CONFIG);
}
_Noreturn static void die_config(const char *why) { die_config2(why, 0); }

/* args - -C file, -m mode, -bs */
static const char *args(int argc, char **argv, int *mode)
{
  const char *conf = 0;
  int i;
  for (i = 1; i < argc; i++) {
    if (!str_diff(argv[i], "-bs")) *mode = MODE_LOCAL;
    else if (!str_diff(argv[i], "-C") && i + 1 < argc) conf = argv[++i];
    else if (!str_diff(argv[i], "-m") && i + 1 < argc) {
      const char *m = argv[++i];
      if (!str_diff(m, "mx")) *mode = MODE_MX;
      else if (!str_diff(m, "submission")) *mode = MODE_SUBMISSION;
      else if (!str_diff(m, "smtps")) *mode = MODE_SMTPS;
      else die_usage();
    } else die_usage();
  }
  return conf;
}

/* fds - fd 2 must exist, or a pipe could land there */
static void fds(void)
{
  if (fcntl(2, F_GETFD) == -1 && open("/dev/null", O_WRONLY) != 2) _exit(EX_OSERR);
}

int main(int argc, char **argv)
{
  stralloc err = {0};
  const char *conf, *why, *what;
  errmsg_iam("smtp-receive");
  fds();
  log_init("smtp-receive", LOGTO_AUTO);
  conf = args(argc, argv, &sess.mode);
  signal(SIGPIPE, SIG_IGN);        /* a vanished client or injector is an error return */
  if (config_try(&cfg, conf, &err) == -1) die_config(stralloc_0(&err) ? err.s : "out of memory");
  if (cfg.file && setenv("POSTERN_CONF", cfg.file, 1) == -1) die_config("out of memory");   /* for the injector */
  log_init("smtp-receive", cfg.log);
  sess.cfg = &cfg;
  if (serve_settings(&cfg, &sess.set, &why, &what) == -1) die_config2(why, what);
  serve_session(&sess);
}
