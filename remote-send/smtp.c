/* smtp.c - one SMTP or LMTP session for one message (RFC 5321, 2033):
 * greeting, EHLO (HELO if refused; LHLO for LMTP), STARTTLS by policy,
 * AUTH, then MAIL, RCPT..., DATA, pipelined when the server offers
 * PIPELINING (RFC 2920), and QUIT.
 *
 * Before MAIL is sent, any failure (a 4xx/5xx greeting, a lost
 * connection, TLS that is required but missing or broken, AUTH refused)
 * means "try the next address".  From MAIL on, the server's replies are
 * the recipients' results; a recipient without a reply is deferred.  For
 * SMTP the reply after the final dot holds for every accepted recipient;
 * for LMTP each accepted recipient gets its own reply, in order.  Nothing
 * is reported sent unless the server said 2xx after the final dot.
 *
 * With s->keep a connection that ends in a known state (every reply read,
 * no 421) stays open for the next message to the same destination:
 * smtp_again sends RSET and, if the server still answers 250, the next
 * transaction; otherwise the caller connects afresh, as it does when the
 * kept connection fails or says 421 before MAIL is answered. */
#include <errno.h>
#include <arpa/inet.h>
#include "byte.h"
#include "case.h"
#include "getln.h"
#include "num.h"
#include "str.h"
#include "log.h"
#include "rs.h"

enum { DONE = 0, NEXT = 1, GO = 2 };
#define STALE (-2)        /* envelope_replies: a kept connection went away */
#define QUIT_SECONDS 10   /* the reply to QUIT changes nothing: wait briefly */

/* say - why = "a b c"; NEXT */
static int say(stralloc *why, const char *a, const char *b, const char *c)
{
  if (stralloc_copys(why, a) && stralloc_cats(why, b)) stralloc_cats(why, c);
  return NEXT;
}

/* io_error - why for a failed read or write during stage; -1 */
static int io_error(struct session *s, stralloc *why, int g, const char *stage)
{
  const char *what = g == GETLN_LONG ? "4.5.0 reply line too long from " :
                     g == GETLN_ERROR && errno == ETIMEDOUT ? "4.4.2 timeout talking to " :
                     "4.4.2 connection lost with ";
  s->broken = 1;
  say(why, what, s->where, " during ");
  if (!stralloc_cats(why, stage)) return -1;
  return -1;
}

/* get_reply - one whole reply; with e, its EHLO keywords too.  0, or -1
 * with why set */
static int get_reply(struct session *s, struct reply *r, struct ehlo *e, const char *stage, stralloc *why)
{
  char line[RS_REPLY_LINE_MAX];
  reply_init(r);
  for (;;) {
    size_t len;
    int g = net_getline(line, sizeof line, &len), x;
    if (g != GETLN_LINE) return io_error(s, why, g, stage);
    if ((x = reply_line(r, line, len)) == -1) {
      s->broken = 1;            /* where the server is in the dialogue is unknown */
      say(why, "4.5.0 malformed reply from ", s->where, " during ");
      stralloc_cats(why, stage);
      return -1;
    }
    if (len && line[len - 1] == '\r') len--;
    if (e && r->lines > 1 && len > 4) ehlo_line(e, line + 4, len - 4);
    if (x == 1) {
      if (r->code == 421) s->closing = 1;
      return 0;
    }
  }
}

/* command - send line and CRLF, read the reply; 0, or -1 (why set) */
static int command(struct session *s, const char *line, struct reply *r, struct ehlo *e, const char *stage, stralloc *why)
{
  net_timeout(s->cfg->smtp_command_timeout);
  if (net_puts(line) == -1 || net_put("\r\n", 2) == -1 || net_flush() == -1)
    return io_error(s, why, GETLN_ERROR, stage);
  return get_reply(s, r, e, stage, why);
}

/* refused - why from a reply that was not the one wanted; NEXT */
static int refused(struct session *s, const struct reply *r, const char *stage, stralloc *why)
{
  char t[RS_TEXT_MAX + 1];
  reply_format(r, t, sizeof t);
  say(why, t, " (", s->where);
  if (stralloc_cats(why, " after ") && stralloc_cats(why, stage)) stralloc_cats(why, ")");
  return NEXT;
}

/* names_us - does the first word of an SMTP reply name our host? */
static int names_us(const struct session *s, const struct reply *r)
{
  size_t n = byte_chr(r->text, r->len, ' ');
  if (s->d->proto != PROTO_SMTP) return 0;
  return n == str_len(s->cfg->hostname) && !case_diffb(r->text, n, s->cfg->hostname);
}

/* hello - EHLO (LHLO), falling back to HELO for SMTP; DONE or NEXT */
static int hello(struct session *s, stralloc *why)
{
  static stralloc cmd;
  struct reply r;
  ehlo_init(&s->e);
  if (!stralloc_copys(&cmd, s->d->proto == PROTO_LMTP ? "LHLO " : "EHLO ") ||
      !stralloc_cats(&cmd, s->cfg->hostname) || !stralloc_0(&cmd)) return say(why, "4.3.0 out of memory", "", "");
  if (command(s, cmd.s, &r, &s->e, "EHLO", why) == -1) return NEXT;
  if (r.code / 100 == 2) { s->looped = names_us(s, &r); return DONE; }
  if (r.code / 100 != 5 || s->d->proto == PROTO_LMTP) return refused(s, &r, "EHLO", why);
  byte_copy(cmd.s, 4, "HELO");
  ehlo_init(&s->e);
  if (command(s, cmd.s, &r, 0, "HELO", why) == -1) return NEXT;
  return r.code / 100 == 2 ? DONE : refused(s, &r, "HELO", why);
}

/* greet - the 220 (a server that greets with our name is ourselves) */
static int greet(struct session *s, stralloc *why)
{
  struct reply r;
  net_timeout(s->cfg->smtp_greeting_timeout);
  if (get_reply(s, &r, 0, "the greeting", why) == -1) return NEXT;
  if (r.code != 220) return refused(s, &r, "the greeting", why);
  s->looped = names_us(s, &r);
  return s->looped ? DONE : hello(s, why);
}

/* smtp_tls - the handshake, by the route's policy; DONE or NEXT.  The
 * certificate must name d->match if set, else the host connected to. */
int smtp_tls(struct session *s, stralloc *why)
{
  const char *err, *name = s->d->match[0] ? s->d->match : s->t->name;
  unsigned char a[16];
  int is_ip = inet_pton(AF_INET, s->t->name, a) == 1 || inet_pton(AF_INET6, s->t->name, a) == 1;
  net_timeout(s->cfg->smtp_command_timeout);
  if (net_tls(is_ip ? 0 : s->t->name, s->cfg->smtp_tls_ca_file, s->d->tls == TLSP_VERIFY ? name : 0,
              s->d->tls == TLSP_VERIFY, &s->ci, &err) == -1) {
    say(why, s->d->tls == TLSP_VERIFY ? "4.7.5 TLS with " : "4.7.0 TLS with ", s->where, " failed: ");
    stralloc_cats(why, err);
    log_event(s->j->id, "relay", s->where, "tls", "failed", "reason", err, (char *)0);
    s->broken = 1;
    return NEXT;
  }
  s->tls_on = 1;
  log_event(s->j->id, "relay", s->where, "tls", s->ci.tls, "verified", s->ci.verified ? "yes" : "no",
            "verify", s->ci.verify_why, (char *)0);
  return DONE;
}

/* starttls - STARTTLS when the policy wants it and the server offers it */
static int starttls(struct session *s, stralloc *why)
{
  struct reply r;
  if (s->tls_on || s->d->tls == TLSP_NONE) return DONE;
  if (!s->e.starttls) {
    if (s->d->tls == TLSP_MAY) return DONE;
    return say(why, "4.7.4 TLS is required, but ", s->where, " does not offer STARTTLS");
  }
  if (command(s, "STARTTLS", &r, 0, "STARTTLS", why) == -1) return NEXT;
  /* refused before any handshake: TLS was not possible, plain may do */
  if (r.code != 220) return s->d->tls == TLSP_MAY ? DONE : refused(s, &r, "STARTTLS", why);
  if (smtp_tls(s, why) != DONE) return NEXT;
  return hello(s, why);
}

/* auth_step - one line of an AUTH exchange holding a secret: sent, the
 * output buffer wiped, the reply read */
static int auth_step(struct session *s, const char *line, struct reply *r, stralloc *why)
{
  int x = command(s, line, r, 0, "AUTH", why);
  net_wipe();
  return x;
}

/* auth_login - AUTH LOGIN: 334, user, 334, password */
static int auth_login(struct session *s, struct reply *r, stralloc *why)
{
  char b[700];
  int x;
  if (command(s, "AUTH LOGIN", r, 0, "AUTH", why) == -1) return -1;
  if (r->code != 334) return 0;
  auth_base64(b, s->cred->user, str_len(s->cred->user));
  if (auth_step(s, b, r, why) == -1) return -1;
  if (r->code != 334) return 0;
  auth_base64(b, s->cred->pass, str_len(s->cred->pass));
  x = auth_step(s, b, r, why);
  explicit_bzero(b, sizeof b);
  return x;
}

/* authenticate - AUTH PLAIN (else LOGIN) when we hold credentials; only
 * over TLS unless the route allows plain text; success only on 235 */
static int authenticate(struct session *s, stralloc *why)
{
  struct reply r;
  char line[720];
  const char *mech = s->e.auth_plain ? "PLAIN" : "LOGIN";
  int x;
  if (!s->cred) return DONE;
  if (!s->tls_on && !s->d->plaintext_auth)
    return say(why, "4.7.0 not sending credentials to ", s->where, " without TLS");
  if (!s->e.auth_plain && !s->e.auth_login)
    return say(why, "4.7.0 ", s->where, " offers no AUTH mechanism we use (PLAIN, LOGIN)");
  if (s->e.auth_plain) {
    size_t n = str_copy(line, "AUTH PLAIN ");
    auth_plain(line + n, s->cred);
    x = auth_step(s, line, &r, why);
    explicit_bzero(line, sizeof line);
  } else x = auth_login(s, &r, why);
  if (x == -1) return NEXT;
  log_event(s->j->id, "relay", s->where, "auth", mech, "user", s->cred->user,
            "status", r.code == 235 ? "ok" : "refused", (char *)0);
  return r.code == 235 ? DONE : refused(s, &r, "AUTH", why);
}

/* smtp_utf8_needed - does the message need SMTPUTF8 (RFC 6531)?  A UTF-8
 * address does; so does a header section with 8-bit bytes in a message
 * submitted with SMTPUTF8.  A request for it without either (plain ASCII
 * headers and addresses) is met by sending the message as it is. */
int smtp_utf8_needed(const struct job *j, const struct message *m)
{
  return j->utf8_addr || (j->smtputf8 && m->eightbit_head);
}

/* fits - can this server take the message at all?  GO, or DONE with every
 * recipient failed: a SIZE the server refuses, SMTPUTF8 it lacks */
static int fits(struct session *s)
{
  char t[RS_TEXT_MAX], num[NUM_ULONG];
  size_t n;
  if (s->e.size && s->m->wire > s->e.size) {
    n = str_copy(t, "5.3.4 message too big for ");
    n += str_copy(t + n, s->where);
    n += str_copy(t + n, ": its limit is ");
    n += str_copy(t + n, num_str(num, s->e.size));
    str_copy(t + n, " bytes");
    result_all(s->j, RES_FAIL, t);
    return DONE;
  }
  if (smtp_utf8_needed(s->j, s->m) && !s->e.smtputf8) {
    n = str_copy(t, "5.6.7 the message needs SMTPUTF8, which ");
    n += str_copy(t + n, s->where);
    str_copy(t + n, " does not offer");
    result_all(s->j, RES_FAIL, t);
    return DONE;
  }
  if ((s->m->eightbit || (s->j->body && !case_diffs(s->j->body, "8BITMIME"))) && !s->e.eightbit)
    log_event(s->j->id, "relay", s->where, "8bitmime", "missing", "action", "sent as is", (char *)0);
  return GO;
}

/* mail_line - "MAIL FROM:<sender>" with the parameters the server takes */
static int mail_line(struct session *s, stralloc *c)
{
  const struct job *j = s->j;
  char num[NUM_ULONG];
  int eight = s->e.eightbit && (s->m->eightbit || (j->body && !case_diffs(j->body, "8BITMIME")));
  if (!stralloc_copys(c, "MAIL FROM:<") || !stralloc_cats(c, j->sender) || !stralloc_cats(c, ">")) return -1;
  if (s->e.size_given && (!stralloc_cats(c, " SIZE=") || !stralloc_cats(c, num_str(num, s->m->wire)))) return -1;
  if (eight && !stralloc_cats(c, " BODY=8BITMIME")) return -1;
  if ((j->smtputf8 || j->utf8_addr) && s->e.smtputf8 && !stralloc_cats(c, " SMTPUTF8")) return -1;
  if (s->e.dsn && j->ret && (!stralloc_cats(c, " RET=") || !stralloc_cats(c, j->ret))) return -1;
  if (s->e.dsn && j->envid && (!stralloc_cats(c, " ENVID=") || !stralloc_cats(c, j->envid))) return -1;
  return stralloc_cats(c, "\r\n") ? 0 : -1;
}

/* rcpt_line - "RCPT TO:<rcpt>" with DSN parameters when the server takes them */
static int rcpt_line(struct session *s, const struct rcpt *r, stralloc *c)
{
  if (!stralloc_copys(c, "RCPT TO:<") || !stralloc_cats(c, r->addr) || !stralloc_cats(c, ">")) return -1;
  if (s->e.dsn && r->notify && (!stralloc_cats(c, " NOTIFY=") || !stralloc_cats(c, r->notify))) return -1;
  if (s->e.dsn && r->orcpt && (!stralloc_cats(c, " ORCPT=") || !stralloc_cats(c, r->orcpt))) return -1;
  return stralloc_cats(c, "\r\n") ? 0 : -1;
}

/* where - "name[ip]:port after STAGE" */
static const char *where(struct session *s, const char *stage)
{
  static char w[sizeof s->where + 40];
  size_t n = str_copy(w, s->where);
  n += str_copy(w + n, " after ");
  str_copy(w + n, stage);
  return w;
}

/* send_all - put every command of the transaction out (MAIL, the RCPTs
 * without a result, DATA), for pipelining; 0 or -1 */
static int send_all(struct session *s, stralloc *c)
{
  unsigned int i;
  if (mail_line(s, c) == -1 || net_put(c->s, c->len) == -1) return -1;
  for (i = 0; i < s->j->n; i++)
    if (s->j->r[i].state == RES_NONE && (rcpt_line(s, &s->j->r[i], c) == -1 || net_put(c->s, c->len) == -1)) return -1;
  return net_puts("DATA\r\n") == -1 || net_flush() == -1 ? -1 : 0;
}

/* envelope_replies - MAIL's reply, then each RCPT's: the recipients
 * accepted, -1 when the connection failed (why set), or STALE when a
 * kept connection failed before MAIL was answered or MAIL got 421 (why
 * set): nothing is said about the recipients, a new connection will */
static int envelope_replies(struct session *s, int pipelined, stralloc *c, stralloc *why)
{
  struct reply mail, r;
  unsigned int i, accepted = 0;
  net_timeout(s->cfg->smtp_command_timeout);
  if (!pipelined && (mail_line(s, c) == -1 || net_put(c->s, c->len) == -1)) {
    io_error(s, why, GETLN_ERROR, "MAIL FROM");
    return s->sent ? STALE : -1;
  }
  if (get_reply(s, &mail, 0, "MAIL FROM", why) == -1) return s->sent ? STALE : -1;
  if (mail.code == 421 && s->sent) {
    s->broken = 1;              /* the server is closing: no QUIT */
    refused(s, &mail, "MAIL FROM", why);
    return STALE;
  }
  for (i = 0; i < s->j->n; i++) {
    struct rcpt *rc = &s->j->r[i];
    if (rc->state != RES_NONE) continue;
    if (!pipelined && mail.code / 100 != 2) { result_reply(rc, &mail, where(s, "MAIL FROM")); continue; }
    net_timeout(s->cfg->smtp_command_timeout);
    if (!pipelined && (rcpt_line(s, rc, c) == -1 || net_put(c->s, c->len) == -1)) return io_error(s, why, GETLN_ERROR, "RCPT TO");
    if (get_reply(s, &r, 0, "RCPT TO", why) == -1) return -1;
    if (mail.code / 100 != 2) result_reply(rc, &mail, where(s, "MAIL FROM"));
    else if (r.code / 100 == 2) { rc->accepted = 1; rc->dsn = s->e.dsn; accepted++; }
    else result_reply(rc, &r, where(s, "RCPT TO"));
  }
  return (int)accepted;
}

/* accepted_get - the reply r for every accepted recipient without a result */
static void accepted_get(struct session *s, const struct reply *r, const char *stage)
{
  unsigned int i;
  for (i = 0; i < s->j->n; i++)
    if (s->j->r[i].accepted && s->j->r[i].state == RES_NONE) result_reply(&s->j->r[i], r, where(s, stage));
}

/* final_replies - after the dot: one reply (SMTP) or one per accepted
 * recipient (LMTP); a recipient whose reply never came stays without a
 * result, so it is deferred: nothing is reported sent without its 2xx */
static void final_replies(struct session *s, stralloc *why)
{
  struct reply r;
  unsigned int i;
  if (s->d->proto == PROTO_SMTP) {
    net_timeout(s->cfg->smtp_data_done_timeout);
    if (get_reply(s, &r, 0, "the end of data", why) == 0) accepted_get(s, &r, "end of data");
    return;
  }
  for (i = 0; i < s->j->n; i++) {
    struct rcpt *rc = &s->j->r[i];
    if (!rc->accepted || rc->state != RES_NONE) continue;
    net_timeout(s->cfg->smtp_data_done_timeout);
    if (get_reply(s, &r, 0, "the end of data", why) == -1) return;
    result_reply(rc, &r, where(s, "end of data"));
  }
}

/* unexpected - a 2xx or 3xx reply where another was due (250 to DATA:
 * no message went out, and where the server stands is unknown): no
 * result from it, the connection is given up; why says what came */
static void unexpected(struct session *s, const struct reply *r, const char *stage, stralloc *why)
{
  char t[RS_TEXT_MAX + 1];
  reply_format(r, t, sizeof t);
  s->broken = 1;
  say(why, "4.5.0 unexpected reply to ", stage, " from ");
  if (stralloc_cats(why, s->where) && stralloc_cats(why, ": ")) stralloc_cats(why, t);
}

/* transaction - MAIL, RCPT..., DATA and the message; results set.  DONE,
 * or NEXT when a kept connection turned out stale before MAIL's reply
 * (no result set: the message wants a new connection) */
static int transaction(struct session *s, stralloc *why)
{
  static stralloc c;
  struct reply r;
  int pipelined = s->e.pipelining, accepted;
  net_timeout(s->cfg->smtp_command_timeout);
  if (pipelined && send_all(s, &c) == -1) {
    io_error(s, why, GETLN_ERROR, "MAIL FROM");
    return s->sent ? NEXT : DONE;
  }
  if ((accepted = envelope_replies(s, pipelined, &c, why)) == STALE) return NEXT;
  if (accepted == -1 || (!pipelined && accepted == 0)) return DONE;
  net_timeout(s->cfg->smtp_data_init_timeout);
  if (!pipelined && net_puts("DATA\r\n") == -1) { io_error(s, why, GETLN_ERROR, "DATA"); return DONE; }
  if (get_reply(s, &r, 0, "DATA", why) == -1) return DONE;
  if (r.code / 100 >= 4) { accepted_get(s, &r, "DATA"); return DONE; }
  if (r.code != 354) { unexpected(s, &r, "DATA", why); return DONE; }
  net_timeout_each(s->cfg->smtp_data_block_timeout);
  /* a server that says 354 with no recipient gets an empty message */
  if (data_write(&net_out, accepted ? s->m->s : "", accepted ? s->m->len : 0) == -1 || net_flush() == -1)
    io_error(s, why, GETLN_ERROR, "the message data");
  else final_replies(s, why);
  return DONE;
}

/* quit - QUIT, its reply awaited briefly; errors do not matter now */
static void quit(struct session *s)
{
  struct reply r;
  stralloc why = { 0 };
  if (s->broken) return;
  net_timeout(s->cfg->smtp_command_timeout < QUIT_SECONDS ? s->cfg->smtp_command_timeout : QUIT_SECONDS);
  if (net_puts("QUIT\r\n") == 0 && net_flush() == 0) get_reply(s, &r, 0, "QUIT", &why);
  stralloc_free(&why);
}

/* loops - every recipient fails: the server is ourselves */
static int loops(struct session *s)
{
  char t[RS_TEXT_MAX];
  size_t n = str_copy(t, "5.4.6 mail loops back to myself (");
  n += str_copy(t + n, s->where);
  str_copy(t + n, ")");
  result_all(s->j, RES_FAIL, t);
  log_event(s->j->id, "relay", s->where, "status", "loop", (char *)0);
  return DONE;
}

/* finish - after a transaction: keep a clean connection for the next
 * message, or QUIT and close it */
static void finish(struct session *s)
{
  if (s->keep && !s->broken && !s->looped && !s->closing && s->sent < RS_REUSE_MESSAGES_MAX
      && net_clock_ms() - s->since < RS_REUSE_AGE_SECONDS * 1000LL) {
    s->open = 1;
    return;
  }
  quit(s);
  net_close();
}

/* fresh - a new connection's state */
static void fresh(struct session *s)
{
  unsigned int i;
  for (i = 0; i < s->j->n; i++) s->j->r[i].accepted = 0;
  s->tls_on = s->looped = s->broken = s->closing = s->open = 0;
  s->sent = 0;
  s->since = net_clock_ms();
}

int smtp_session(struct session *s, stralloc *why)
{
  int r;
  fresh(s);
  if (s->d->implicit_tls && smtp_tls(s, why) != DONE) { net_close(); return NEXT; }
  r = greet(s, why);
  if (r == DONE && !s->looped) r = starttls(s, why);
  if (r == DONE && s->looped) r = loops(s);
  else if (r == DONE && (r = authenticate(s, why)) == DONE) {
    if (fits(s) == GO) transaction(s, why);
    s->sent = 1;
    finish(s);
    return DONE;
  }
  quit(s);
  net_close();
  return r;
}

int smtp_again(struct session *s, stralloc *why)
{
  struct reply r;
  unsigned int i;
  unsigned long t = s->cfg->smtp_command_timeout;
  for (i = 0; i < s->j->n; i++) s->j->r[i].accepted = 0;
  s->open = 0;
  net_timeout(t < RS_RSET_SECONDS ? t : RS_RSET_SECONDS);
  if (net_puts("RSET\r\n") == -1 || net_flush() == -1) io_error(s, why, GETLN_ERROR, "RSET");
  else if (get_reply(s, &r, 0, "RSET", why) == 0 && r.code != 250) refused(s, &r, "RSET", why);
  else if (!s->broken && (fits(s) != GO || transaction(s, why) == DONE)) {
    s->sent++;
    finish(s);
    return DONE;
  }
  if (!s->broken) quit(s);
  net_close();
  return NEXT;
}

void smtp_quit(struct session *s)
{
  if (!s->open) return;
  s->open = 0;
  quit(s);
  net_close();
}

/* smtp_open - a new connection up to the transaction, for probe.c:
 * implicit TLS, the greeting, EHLO, STARTTLS by the route's policy,
 * never AUTH.  DONE (s->looped: the server is ourselves) with the
 * connection open for smtp_command and smtp_quit, or NEXT (closed) */
int smtp_open(struct session *s, stralloc *why)
{
  int r;
  fresh(s);
  if (s->d->implicit_tls && smtp_tls(s, why) != DONE) { net_close(); return NEXT; }
  r = greet(s, why);
  if (r == DONE && !s->looped) r = starttls(s, why);
  if (r != DONE) { quit(s); net_close(); return NEXT; }
  s->open = 1;
  return DONE;
}

/* smtp_command - one command line (no CRLF) and its whole reply; 0, or
 * -1 with why set and the connection marked broken */
int smtp_command(struct session *s, const char *line, struct reply *r, const char *stage, stralloc *why)
{
  return command(s, line, r, 0, stage, why);
}
