/* serve.c - what every session process does once its configuration is
 * read: check the smtpd_* settings, find the client, read a PROXY header,
 * and talk.  smtp-receive (main.c) runs it once per exec, smtp-listen
 * (main_listen.c) in each forked session. */
#include <unistd.h>
#include "str.h"
#include "log.h"
#include "resolve.h"
#include "smtp.h"

#define DNS_SECONDS 10          /* the longest one DNS question may take */

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

/* serve_settings - the smtpd_* values config.c stores as text, checked
 * once: 0, or -1 with the reason in *why and the value at fault (or 0)
 * in *what.  Zero command and error limits become 1. */
int serve_settings(struct config *cfg, struct settings *set, const char **why, const char **what)
{
  const char *bad;
  *what = 0;
  set->delay_checks = cfg->smtpd_delay_checks;     /* yes/no: checked by config.c */
  set->verify_recipients = cfg->smtpd_verify_recipients;
  set->sender_dns_check = cfg->smtpd_sender_dns_check;
  set->name_lookup = cfg->smtpd_client_name_lookup;
  if (load_average(cfg->smtpd_max_load, &set->max_load) == -1) { *why = "smtpd_max_load is not a number"; return -1; }
  /* checked once here: a typo must not silently untrust the balancer or
   * turn every AUTH into a temporary failure */
  if ((bad = proxy_list_bad(cfg->smtpd_proxy_trusted))) { *why = "smtpd_proxy_trusted: not an address or prefix: "; *what = bad; return -1; }
  if ((bad = proxy_list_bad(cfg->smtpd_limit_exempt))) { *why = "smtpd_limit_exempt: not an address or prefix: "; *what = bad; return -1; }
  if (cfg->smtpd_auth_program[0] && !auth_program_ok(cfg->smtpd_auth_program)) {
    *why = "smtpd_auth_program: no program, or too many words";
    return -1;
  }
  if (!policy_dnsbl_zones_ok(cfg->smtpd_dnsbl_zones)) {
    *why = "smtpd_dnsbl_zones: want zone or zone=127.0.0.2,127.0.0.4 (at most 8 codes)";
    return -1;
  }
  /* last: it sets the resolver's servers for this process and the
   * sessions forked from it */
  if ((bad = resolve_servers(cfg->dns_servers, cfg->dns_domain_servers))) { *why = bad; return -1; }
  if (cfg->smtpd_error_limit == 0) cfg->smtpd_error_limit = 1;
  if (cfg->smtpd_command_limit == 0) cfg->smtpd_command_limit = 1;
  return 0;
}

/* serve_session - the session on fds 0 and 1 with s->cfg, s->set and
 * s->mode set; never returns */
_Noreturn void serve_session(struct session *s)
{
  int proxied = 0;
  resolve_timeout(DNS_SECONDS);    /* client name and sender domain questions */
  client_address(s);
  io_init(0, 1);
  if (s->mode != MODE_LOCAL && s->cfg->smtpd_proxy_trusted[0]) proxied = proxy_read(s, s->cfg->smtpd_proxy_trusted);
  if (proxied == -1) {
    smtp_log(s, "reject", "bad or missing PROXY header");
    _exit(0);
  }
  s->proxied = proxied;
  smtp_session(s);
  _exit(0);
}
