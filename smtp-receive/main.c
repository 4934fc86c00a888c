/* smtp-receive - the ESMTP server of postern, one process per connection.
 * fd 0: the client (read), fd 1: the client (write): the same socket under
 * systemd (Accept=yes), inetd and tcpserver, or stdin/stdout with -bs.
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
#include "resolve.h"
#include "smtp.h"

#define DNS_SECONDS 10          /* the longest one DNS question may take */

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

/* load_average - "4" or "4.5" into *out (0 when empty); -1 if malformed */
static int load_average(const char *v, double *out)
{
  double x = 0, scale = 0;
  *out = 0;
  if (!*v) return 0;
  for (; *v; v++) {
    if (*v == '.' && scale == 0) { scale = 1; continue; }
    if (*v < '0' || *v > '9') return -1;
    if (scale) { scale /= 10; x += (*v - '0') * scale; }
    else x = x * 10 + (*v - '0');
    if (x > 1e6) return -1;
  }
  *out = x;
  return 0;
}

/* settings - the smtpd_* values config.c stores as text, checked here */
static void settings(struct settings *set)
{
  const char *bad;
  set->delay_checks = cfg.smtpd_delay_checks;     /* yes/no: checked by config.c */
  set->verify_recipients = cfg.smtpd_verify_recipients;
  set->sender_dns_check = cfg.smtpd_sender_dns_check;
  set->name_lookup = cfg.smtpd_client_name_lookup;
  if (load_average(cfg.smtpd_max_load, &set->max_load) == -1) die_config("smtpd_max_load is not a number");
  /* checked once here: a typo must not silently untrust the balancer or
   * turn every AUTH into a temporary failure */
  if ((bad = proxy_list_bad(cfg.smtpd_proxy_trusted))) die_config2("smtpd_proxy_trusted: not an address or prefix: ", bad);
  if (cfg.smtpd_auth_program[0] && !auth_program_ok(cfg.smtpd_auth_program))
    die_config("smtpd_auth_program: no program, or too many words");
  if ((bad = resolve_servers(cfg.dns_servers, cfg.dns_domain_servers))) die_config(bad);
  if (!policy_dnsbl_zones_ok(cfg.smtpd_dnsbl_zones))
    die_config("smtpd_dnsbl_zones: want zone or zone=127.0.0.2,127.0.0.4 (at most 8 codes)");
  if (cfg.smtpd_error_limit == 0) cfg.smtpd_error_limit = 1;
  if (cfg.smtpd_command_limit == 0) cfg.smtpd_command_limit = 1;
}

/* fds - fd 2 must exist, or a pipe could land there */
static void fds(void)
{
  if (fcntl(2, F_GETFD) == -1 && open("/dev/null", O_WRONLY) != 2) _exit(EX_OSERR);
}

int main(int argc, char **argv)
{
  stralloc err = {0};
  const char *conf;
  int proxied = 0;
  errmsg_iam("smtp-receive");
  fds();
  log_init("smtp-receive", LOGTO_AUTO);
  conf = args(argc, argv, &sess.mode);
  signal(SIGPIPE, SIG_IGN);        /* a vanished client or injector is an error return */
  if (config_try(&cfg, conf, &err) == -1) die_config(stralloc_0(&err) ? err.s : "out of memory");
  if (cfg.file && setenv("POSTERN_CONF", cfg.file, 1) == -1) die_config("out of memory");   /* for the injector */
  log_init("smtp-receive", cfg.log);
  sess.cfg = &cfg;
  settings(&sess.set);
  resolve_timeout(DNS_SECONDS);    /* client name and sender domain questions */
  client_address(&sess);
  io_init(0, 1);
  if (sess.mode != MODE_LOCAL && cfg.smtpd_proxy_trusted[0]) proxied = proxy_read(&sess, cfg.smtpd_proxy_trusted);
  if (proxied == -1) {
    smtp_log(&sess, "reject", "bad or missing PROXY header");
    _exit(0);
  }
  sess.proxied = proxied;
  smtp_session(&sess);
  return 0;
}
