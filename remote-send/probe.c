/* probe.c - remote-send -V destination address: would the destination
 * take mail for address?  smtp-receive asks this at RCPT for a
 * relay-domains recipient (smtpd_relay_verify, smtp-receive.8).
 *
 * The same destination syntax, TLS policy (tls-policy map,
 * smtp_tls_policy, relayhost_tls_policy), address list and connection
 * code as a delivery; then, on the first address whose session gets as
 * far as the transaction: MAIL FROM:<>, RCPT TO:<address>, RSET, QUIT.
 * No DATA, so nothing is ever delivered.  relay-auth is never read (the
 * caller runs as postern-smtpd, which must not hold relay passwords): a
 * destination that wants AUTH refuses MAIL and the answer is "defer".
 *
 * One line on fd 1 in the delivery protocol's format, "address TAB
 * ok|defer|fail TAB text": ok and fail only for a 2xx or 5xx reply to the
 * RCPT; every other outcome (no address, a connection or TLS failure, a
 * refused MAIL, a 4xx, a timeout) is defer, never fail.  The text is the
 * server's reply without where it came from (smtp-receive passes it to
 * the client; the log line has the server).  Exit codes as remote-send. */
#include <signal.h>
#include <unistd.h>
#include <sys/random.h>
#include "dns.h"
#include "errmsg.h"
#include "str.h"
#include "address.h"
#include "exitcode.h"
#include "log.h"
#include "resolve.h"
#include "rs.h"

#define PROBE_SLACK_SECONDS 5     /* past smtpd_relay_verify_timeout: the caller has given up */

static struct config cfg;
static struct job job;
static struct rcpt rcpt;
static struct dest dest;
static struct session sess;
static stralloc why;
static char relay[RS_HOST_MAX + 64] = "none";

/* why_z - the reason, NUL-terminated */
static const char *why_z(void)
{
  if (!stralloc_0(&why)) die(EX_TEMPFAIL, "out of memory");
  why.len--;
  return why.s;
}

/* route - destination and TLS policy; 0, or -1 with the recipient deferred */
static int route(void)
{
  static stralloc v;
  const char *bad = dest_parse(&dest, job.dest, cfg.relayhost);
  int r;
  dest.has_cred = 0;              /* relay-auth is not ours to read */
  if (!bad) {
    r = dest_lookup_policy(&dest, cfg.map_dir, &v);
    if (r == -1) bad = "unable to read tls-policy.cdb";
    else if (stralloc_0(&v)) bad = dest_policy(&dest, &cfg, r == 1 ? v.s : 0);
    else bad = "out of memory";
  }
  if (!bad) return 0;
  if (!stralloc_copys(&why, "4.3.5 bad route ") || !stralloc_cats(&why, job.dest) ||
      !stralloc_cats(&why, ": ") || !stralloc_cats(&why, bad)) die(EX_TEMPFAIL, "out of memory");
  result_set(&rcpt, RES_DEFER, why_z());
  return -1;
}

/* mail_line - "MAIL FROM:<>", with SMTPUTF8 for a UTF-8 address */
static const char *mail_line(void)
{
  return job.utf8_addr && sess.e.smtputf8 ? "MAIL FROM:<> SMTPUTF8" : "MAIL FROM:<>";
}

/* ask - MAIL, RCPT, RSET on the open connection: 0 the recipient has its
 * answer (or a defer that another address would not change), -1 the
 * connection failed before the RCPT reply: try the next address */
static int ask(void)
{
  static stralloc c;
  struct reply r;
  if (smtp_command(&sess, mail_line(), &r, "MAIL FROM", &why) == -1) return -1;
  if (r.code / 100 != 2) {
    char t[RS_TEXT_MAX + 1];
    reply_format(&r, t, sizeof t);
    if (!stralloc_copys(&why, "4.7.0 probe refused at MAIL FROM:<> (")
        || !stralloc_cats(&why, t) || !stralloc_cats(&why, ")")) die(EX_TEMPFAIL, "out of memory");
    result_set(&rcpt, RES_DEFER, why_z());
    return 0;
  }
  if (!stralloc_copys(&c, "RCPT TO:<") || !stralloc_cats(&c, rcpt.addr) || !stralloc_cats(&c, ">") ||
      !stralloc_0(&c)) die(EX_TEMPFAIL, "out of memory");
  if (smtp_command(&sess, c.s, &r, "RCPT TO", &why) == -1) return -1;
  result_reply(&rcpt, &r, "");
  if (smtp_command(&sess, "RSET", &r, "RSET", &why) == -1) sess.broken = 1;
  return 0;
}

/* probe - the addresses in turn until one answers the RCPT */
static void probe(void)
{
  static struct targets ts;
  unsigned int next = 0, won;
  int r;
  sess.cfg = &cfg; sess.d = &dest; sess.j = &job; sess.cred = 0; sess.keep = 0;
  if ((r = mx_targets(&ts, &dest, cfg.hostname, &why)) != MX_OK) {
    result_set(&rcpt, RES_DEFER, why_z());   /* even a permanent one: not about the address */
    return;
  }
  while (next < ts.n && rcpt.state == RES_NONE) {
    int fd = net_connect(&ts, &next, &won, dest.port, cfg.smtp_connect_timeout, &why);
    if (fd == -1) break;
    net_use(fd);
    sess.t = &ts.t[won];
    net_describe(sess.t, dest.port, sess.where, sizeof sess.where);
    str_copy(relay, sess.where);
    if (smtp_open(&sess, &why) != 0) continue;
    if (sess.looped) {
      if (!stralloc_copys(&why, "4.4.6 the probe loops back to myself")) die(EX_TEMPFAIL, "out of memory");
      result_set(&rcpt, RES_DEFER, why_z());
    } else if (ask() == -1) sess.broken = 1;
    smtp_quit(&sess);
  }
  if (rcpt.state == RES_NONE) result_set(&rcpt, RES_DEFER, why_z());
}

/* seed - libowfat's DNS query ids and the MX tie-breaks from the kernel */
static void seed(void)
{
  char s[128];
  if (getrandom(s, sizeof s - 1, 0) != (ssize_t)sizeof s - 1) die(EX_OSERR, "unable to get random bytes");
  s[sizeof s - 1] = 0;
  dns_random_init(s);
}

/* probe_main - remote-send -V destination address */
int probe_main(int argc, char **argv)
{
  static const char *const word[] = { "deferred", "deliverable", "deferred", "undeliverable" };
  const char *bad;
  char to[ADDR_MAX + 3];
  size_t n;
  if (argc != 4 || str_diff(argv[1], "-V")) die(EX_USAGE, "usage: remote-send -V destination address");
  if (str_len(argv[3]) > ADDR_MAX || address_check(argv[3], str_len(argv[3]), ADDR_UTF8))
    die(EX_USAGE, "bad address ", argv[3]);
  rcpt.addr = argv[3];
  job.dest = argv[2];
  job.sender = "";
  job.r = &rcpt;
  job.n = 1;
  for (n = 0; argv[3][n]; n++) if ((unsigned char)argv[3][n] > 127) job.utf8_addr = 1;
  config_load(&cfg, 0);
  log_init("remote-send", cfg.log);
  resolve_timeout(cfg.dns_timeout);
  if ((bad = net_source(cfg.smtp_address_family, cfg.smtp_bind_address, cfg.smtp_bind_address6))
      || (bad = resolve_servers(cfg.dns_servers, cfg.dns_domain_servers)))
    die(EX_CONFIG, bad);
  seed();
  alarm(cfg.smtpd_relay_verify_timeout + PROBE_SLACK_SECONDS);
  if (!stralloc_copys(&why, "4.4.0 no address to try")) die(EX_TEMPFAIL, "out of memory");
  if (route() == 0) probe();
  n = str_copy(to, "<");
  n += str_copy(to + n, rcpt.addr);
  str_copy(to + n, ">");
  log_event(0, "to", to, "dest", job.dest, "relay", relay, "status", word[rcpt.state], "probe", "yes",
            "reply", rcpt.text, (char *)0);
  if (result_write(&job, 1) == -1) diesys(EX_IOERR, "unable to write the result");
  return 0;
}
