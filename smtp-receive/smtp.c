/* smtp.c - one SMTP session: greeting, the command loop, the commands
 * without a transaction (HELO, EHLO, RSET, NOOP, QUIT, HELP, VRFY, EXPN,
 * STARTTLS) and the limits: commands and errors per session, line length,
 * deadlines.  MAIL, RCPT, DATA and BDAT are in txn.c, AUTH in auth.c.
 * Replies go through smtp_reply, which counts the refusals. */
#include <errno.h>
#include <signal.h>
#include <unistd.h>
#include "byte.h"
#include "case.h"
#include "str.h"
#include "getln.h"
#include "log.h"
#include "smtp.h"

/* smtp_reply - one reply line; 4xx and 5xx count as errors */
void smtp_reply(struct session *s, const char *line)
{
  io_puts(line);
  io_put("\r\n", 2);
  if (line[0] == '4' || line[0] == '5') s->errors++;
}

/* smtp_quit - last words, then the end of the session */
_Noreturn void smtp_quit(struct session *s, const char *line)
{
  if (line) smtp_reply(s, line);
  io_flush();
  txn_reset(s);
  _exit(0);   /* the maps: the kernel unmaps and closes them */
}

/* angle - "<addr>" for the log */
static const char *angle(stralloc *sa, const char *a)
{
  if (!stralloc_copys(sa, "<") || !stralloc_cats(sa, a ? a : "") || !stralloc_cats(sa, ">") ||
      !stralloc_0(sa)) return "<?>";
  return sa->s;
}

/* smtp_log_reject - a refused MAIL or RCPT, with the recipient */
void smtp_log_reject(struct session *s, const char *rcpt, const char *reply)
{
  static stralloc from, to;
  log_event(0, "status", "reject", "client", s->ip[0] ? s->ip : "local", "name", s->name,
            "helo", s->helo, "from", s->in_mail ? angle(&from, s->sender) : "",
            "to", rcpt ? angle(&to, rcpt) : "", "reply", reply, (char *)0);
}

/* smtp_log - an event of the session without a message */
void smtp_log(struct session *s, const char *status, const char *detail)
{
  log_event(0, "status", status, "client", s->ip[0] ? s->ip : "local", "name", s->name,
            "detail", detail, (char *)0);
}

/* lost - the client went away or timed out */
_Noreturn void smtp_lost(struct session *s)
{
  if (errno == ETIMEDOUT) {
    smtp_log(s, "timeout", s->bdat || s->in_data ? "in message data" : "waiting for a command");
    smtp_quit(s, "421 4.4.2 Timeout; closing the connection");
  }
  if (s->bdat || s->in_data) smtp_log(s, "lost", "connection lost in message data");
  txn_reset(s);
  _exit(0);   /* the maps: the kernel unmaps and closes them */
}

/* helo - HELO and EHLO: the name, one word of printable ASCII (it goes
 * into Received: and the envelope); not checked further, as many clients
 * send no real host name */
static void helo(struct session *s, const char *arg, size_t len, int esmtp)
{
  size_t i;
  if (len == 0) { smtp_reply(s, esmtp ? "501 5.5.4 Syntax: EHLO hostname" : "501 5.5.4 Syntax: HELO hostname"); return; }
  if (len > SMTP_HELO_MAX) { smtp_reply(s, "501 5.5.4 HELO argument too long"); return; }
  for (i = 0; i < len; i++)
    if ((unsigned char)arg[i] <= 32 || (unsigned char)arg[i] >= 127) { smtp_reply(s, "501 5.5.4 Invalid HELO argument"); return; }
  txn_reset(s);
  byte_copy(s->helo, len, arg);
  s->helo[len] = 0;
  s->helo_seen = 1;
  s->esmtp = esmtp;
  if (!esmtp) {
    io_puts("250 ");
    io_puts(s->cfg->hostname);
    io_put("\r\n", 2);
    return;
  }
  txn_ehlo_reply(s);
}

/* starttls - RFC 3207; the state learnt before is forgotten */
static void starttls(struct session *s, size_t arglen)
{
  const char *why;
  if (s->tls) { smtp_reply(s, "503 5.5.1 Error: TLS already active"); return; }
  if (s->mode == MODE_LOCAL || !tls_offered(s->cfg)) {
    smtp_reply(s, "502 5.5.1 Error: command not implemented");
    return;
  }
  if (arglen) { smtp_reply(s, "501 5.5.4 Syntax: STARTTLS"); return; }
  if (!s->helo_seen) { smtp_reply(s, "503 5.5.1 Error: send EHLO first"); return; }
  /* load OpenSSL before promising TLS: a failure leaves a plain session
   * (RFC 3207), not one cut after "220" */
  if (!tls_load(s->cfg->libexec_dir, &why)) {
    smtp_log(s, "tls-failed", why);
    smtp_reply(s, "454 4.7.0 TLS not available due to temporary reason");
    return;
  }
  smtp_reply(s, "220 2.0.0 Ready to start TLS");
  if (io_tls_start(s->cfg, s->tls_info, sizeof s->tls_info, &why) == -1) {
    smtp_log(s, "tls-failed", why);
    txn_reset(s);
    _exit(0);
  }
  s->tls = 1;
  txn_reset(s);
  s->helo_seen = s->esmtp = 0;
  s->helo[0] = 0;
}

/* simple - the commands that need no state; 1 if cmd was one of them */
static int simple(struct session *s, int cmd, size_t arglen)
{
  switch (cmd) {
  case CMD_NOOP: smtp_reply(s, "250 2.0.0 Ok"); return 1;
  case CMD_QUIT: smtp_quit(s, "221 2.0.0 Bye");
  case CMD_RSET:
    if (arglen) smtp_reply(s, "501 5.5.4 Syntax: RSET");
    else { txn_reset(s); smtp_reply(s, "250 2.0.0 Ok"); }
    return 1;
  case CMD_HELP:
    io_puts("214-2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT HELP\r\n");
    io_puts("214 2.0.0 VRFY STARTTLS AUTH; see RFC 5321\r\n");
    return 1;
  case CMD_VRFY:   /* disclose nothing (the seeds' novrfy) */
    smtp_reply(s, arglen ? "252 2.5.2 Cannot VRFY user, but will accept message and attempt delivery"
                         : "501 5.5.4 Syntax: VRFY address");
    return 1;
  case CMD_EXPN: smtp_reply(s, "502 5.5.1 EXPN not available"); return 1;
  case CMD_HTTP:
    smtp_log(s, "reject", "HTTP request on the SMTP port");
    smtp_quit(s, "421 4.7.0 This is an SMTP server; closing the connection");
  }
  return 0;
}

/* dispatch - one command line */
static void dispatch(struct session *s, const char *line, size_t len)
{
  size_t arg;
  int cmd = parse_verb(line, len, &arg);
  const char *a = line + arg;
  size_t alen = len - arg;
  if (simple(s, cmd, alen)) return;
  switch (cmd) {
  case CMD_HELO: helo(s, a, alen, 0); return;
  case CMD_EHLO: helo(s, a, alen, 1); return;
  case CMD_STARTTLS: starttls(s, alen); return;
  case CMD_AUTH: auth_command(s, a, alen); return;
  case CMD_MAIL: txn_mail(s, a, alen); return;
  case CMD_RCPT: txn_rcpt(s, a, alen); return;
  case CMD_DATA: txn_data(s, alen); return;
  case CMD_BDAT: txn_bdat(s, a, alen); return;
  default: smtp_reply(s, "500 5.5.2 Error: command not recognized");
  }
}

/* greet - load, implicit TLS, the client's name, early talkers, the
 * client's standing, then 220 */
static void greet(struct session *s)
{
  const struct config *c = s->cfg;
  const char *why;
  if (policy_overloaded(s->set.max_load)) {
    smtp_log(s, "reject", "load average above smtpd_max_load");
    smtp_quit(s, "421 4.3.2 System overloaded, try again later");
  }
  if (s->mode == MODE_SMTPS && io_tls_start(c, s->tls_info, sizeof s->tls_info, &why) == -1) {
    smtp_log(s, "tls-failed", why);
    smtp_quit(s, 0);
  }
  s->tls = s->mode == MODE_SMTPS;
  client_name(s);
  if (s->mode != MODE_LOCAL && io_wait_input(c->smtpd_greet_pause * 1000)) {
    if (buffer_feed(&io_in) <= 0) {       /* it left: nobody to refuse */
      smtp_log(s, "lost", "connection lost before the greeting");
      smtp_quit(s, 0);
    }
    smtp_log(s, "reject", "client talked before the greeting");
    smtp_quit(s, "554 5.5.1 Error: you talk too soon");
  }
  policy_connect(s);
  io_puts("220 ");
  io_puts(c->hostname);
  io_puts(" ESMTP");
  if (c->smtpd_banner[0]) { io_puts(" "); io_puts(c->smtpd_banner); }
  io_put("\r\n", 2);
}

/* Stopping (smtp-listen's sessions, SIGTERM): a session waiting for a
 * command with every reply sent says 421 and ends at once (without the
 * reply under TLS, which a signal handler cannot write); any other
 * finishes what it is doing and says 421 instead of the next reply. */
#define STOP_REPLY "421 4.3.2 Service shutting down; closing the connection"
static volatile sig_atomic_t stopping;
static volatile sig_atomic_t idle;      /* 1: waiting for a command, nothing pending */
static volatile sig_atomic_t idle_plain; /* and no TLS */

/* smtp_stop - the SIGTERM handler of a listener's session */
void smtp_stop(int sig)
{
  static const char reply[] = STOP_REPLY "\r\n";
  (void)sig;
  stopping = 1;
  if (!idle) return;
  if (idle_plain && write(1, reply, sizeof reply - 1) < 0) _exit(0);
  _exit(0);
}

/* stop - asked to stop: the last words */
_Noreturn static void stop(struct session *s)
{
  smtp_log(s, "stop", "service shutting down");
  smtp_quit(s, STOP_REPLY);
}

/* command - read one command line; its length, or -1 if it was refused.
 * The whole line must arrive within smtpd_timeout, however it is split. */
static long command(struct session *s, char *line)
{
  size_t len;
  io_timeout(s->cfg->smtpd_timeout);
  if (stopping) stop(s);
  if (!io_input_pending()) {
    io_flush();
    idle_plain = !s->tls;
    idle = 1;
    if (stopping) stop(s);
  }
  io_command_deadline(s->cfg->smtpd_timeout);
  int r = getln(&io_in, line, SMTP_LINE_MAX, &len);
  idle = 0;
  if (stopping) stop(s);
  if (r == GETLN_EOF || r == GETLN_PARTIAL || r == GETLN_ERROR) smtp_lost(s);
  if (r == GETLN_LONG) {
    if (getln_skip(&io_in) == -1) smtp_lost(s);
    smtp_reply(s, "500 5.5.2 Error: line too long");
    return -1;
  }
  if (len && line[len - 1] == '\r') len--;
  if (byte_chr(line, len, 0) != len) { smtp_reply(s, "500 5.5.2 Error: NUL in command"); return -1; }
  return (long)len;
}

/* smtp_session - the whole conversation */
void smtp_session(struct session *s)
{
  static char line[SMTP_LINE_MAX];
  greet(s);
  for (;;) {
    long len = command(s, line);
    if (len >= 0) {
      if (++s->commands > s->cfg->smtpd_command_limit) {
        smtp_log(s, "reject", "too many commands");
        smtp_quit(s, "421 4.7.0 Too many commands; closing the connection");
      }
      dispatch(s, line, (size_t)len);
    }
    if (s->errors >= s->cfg->smtpd_error_limit) {
      smtp_log(s, "reject", "too many errors");
      smtp_quit(s, "421 4.7.0 Too many errors; closing the connection");
    }
  }
}
