/* txn.c - the mail transaction: MAIL, RCPT, then DATA or BDAT chunks, and
 * the EHLO keyword list that announces them.
 *
 * The envelope is built as the commands arrive (lib/envelope.c checks
 * every value as it is set), the injector is started when the data
 * begins and fed while it arrives, and the reply to the end of the data
 * is the injector's own: 250 only after it exited 0.  Whatever ends the
 * transaction early (RSET, EHLO, STARTTLS, a lost client, a refused
 * message) abandons the injector without the envelope's end line, so
 * nothing reaches the spool. */
#include <errno.h>
#include "address.h"
#include "byte.h"
#include "exitcode.h"
#include "log.h"
#include "num.h"
#include "str.h"
#include "smtp.h"

static struct injector inj;          /* the injector of the message under way */
static int inj_running;              /* 1 while inj is a live child */
static struct data dat;              /* the data reader of that message */
static char rid[SPOOL_ID_MAX];       /* our id for it, in Received: and the log */
static char bdat_refusal[SMTP_REPLY_MAX];   /* why the BDAT chunks are thrown away */

/* txn_reset - forget the transaction; a running injector commits nothing */
void txn_reset(struct session *s)
{
  if (inj_running) { inject_abort(&inj); inj_running = 0; }
  io_data_deadline(0);
  filter_reset(s);
  envelope_free(&s->env);
  s->in_mail = s->in_data = s->bdat = s->bdat_failed = 0;
  s->nrcpt = 0;
  s->discard = 0;
  s->smtputf8 = 0;
  s->sender_reject[0] = 0;
  s->sender[0] = 0;
}

/* auth_offered - AUTH only on submission ports, only under TLS */
static int auth_offered(const struct session *s)
{
  return (s->mode == MODE_SUBMISSION || s->mode == MODE_SMTPS) && s->tls;
}

/* txn_ehlo_reply - the EHLO keywords (RFC 5321 4.1.1.1) */
void txn_ehlo_reply(struct session *s)
{
  const char *k[12];
  char size[NUM_ULONG + 8] = "SIZE";
  unsigned int n = 0, i;
  if (s->cfg->message_size_limit) {
    size[4] = ' ';
    size[5 + num_fmt(size + 5, s->cfg->message_size_limit)] = 0;
  }
  k[n++] = "PIPELINING"; k[n++] = size; k[n++] = "8BITMIME";
  k[n++] = "ENHANCEDSTATUSCODES"; k[n++] = "SMTPUTF8"; k[n++] = "DSN"; k[n++] = "CHUNKING";
  if (!s->tls && s->mode != MODE_LOCAL && tls_offered(s->cfg)) k[n++] = "STARTTLS";
  if (auth_offered(s)) k[n++] = "AUTH PLAIN LOGIN";
  io_puts("250-");
  io_puts(s->cfg->hostname);
  io_put("\r\n", 2);
  for (i = 0; i < n; i++) {
    io_puts(i + 1 < n ? "250-" : "250 ");
    io_puts(k[i]);
    io_put("\r\n", 2);
  }
}

/* addr_refusal - why an address fails address_check: UTF-8 without
 * SMTPUTF8 gets its own code (RFC 6531 3.5) */
static const char *addr_refusal(const char *a, size_t len, int utf8, const char *bad)
{
  size_t i;
  if (!utf8)
    for (i = 0; i < len; i++)
      if ((unsigned char)a[i] >= 0x80 && !address_check(a, len, ADDR_UTF8))
        return "553 5.6.7 Address requires SMTPUTF8";
  return bad;
}

/* client_text - the I tag: "[ip] name", or "local" */
static int client_text(const struct session *s, stralloc *sa)
{
  if (s->mode == MODE_LOCAL) return stralloc_copys(sa, "local") ? 0 : -1;
  return stralloc_copys(sa, "[") && stralloc_cats(sa, s->ip) && stralloc_cats(sa, "] ") &&
         stralloc_cats(sa, s->name) ? 0 : -1;
}

/* tag - set a message tag if v is non-empty */
static const char *tag(struct envelope *e, char t, const char *v, size_t len)
{
  return len ? envelope_set_tag(e, t, v, len, ENV_INPUT) : 0;
}

/* begin_envelope - sender and message tags */
static const char *begin_envelope(struct session *s, const char *a, size_t len, const struct mail_params *p)
{
  stralloc client = {0};
  const char *why;
  const char *body = p->body == 8 ? "8BITMIME" : p->body == 7 ? "7BIT" : "";
  envelope_free(&s->env);
  if ((why = envelope_set_sender(&s->env, a, len))) return why;
  if (p->smtputf8 && (why = envelope_set_tag(&s->env, 'U', "", 0, ENV_INPUT))) return why;
  if ((why = tag(&s->env, 'B', body, str_len(body))) || (why = tag(&s->env, 'R', p->ret, p->retlen)) ||
      (why = tag(&s->env, 'E', p->envid, p->envidlen)) ||
      (why = tag(&s->env, 'A', s->user, str_len(s->user))) ||
      (why = tag(&s->env, 'H', s->helo, str_len(s->helo)))) return why;
  if (client_text(s, &client) == -1) return "out of memory";
  why = tag(&s->env, 'I', client.s, client.len);
  stralloc_free(&client);
  return why;
}

/* mail_refusal - the sequence and syntax checks of MAIL; 0 if it passes */
static const char *mail_refusal(struct session *s, const char *arg, size_t len,
                                char *addr, size_t *alen, struct mail_params *p)
{
  size_t rest;
  const char *why;
  if (!s->helo_seen) return "503 5.5.1 Error: send HELO/EHLO first";
  if (s->in_mail) return "503 5.5.1 Error: nested MAIL command";
  if ((s->mode == MODE_SUBMISSION || s->mode == MODE_SMTPS) && !s->user[0])
    return s->tls ? "530 5.7.0 Authentication required" : "530 5.7.0 Must issue a STARTTLS command first";
  if ((why = parse_path(arg, len, "FROM:", addr, alen, &rest))) return why;
  if ((why = parse_mail_params(arg + rest, len - rest, p))) return why;
  if (!s->esmtp && rest < len) return "555 5.5.4 Parameters need EHLO";
  if (*alen && address_check(addr, *alen, p->smtputf8 ? ADDR_UTF8 : 0))
    return addr_refusal(addr, *alen, p->smtputf8, "553 5.1.7 Bad sender address syntax");
  if (s->cfg->message_size_limit && p->size > s->cfg->message_size_limit)
    return "552 5.3.4 Message size exceeds fixed limit";
  return 0;
}

/* txn_mail - MAIL FROM:<sender> [parameters] */
void txn_mail(struct session *s, const char *arg, size_t len)
{
  char addr[ADDR_PATH_MAX + 1], reply[SMTP_REPLY_MAX];
  struct mail_params p;
  size_t alen;
  const char *why = mail_refusal(s, arg, len, addr, &alen, &p);
  if (why) { smtp_reply(s, why); return; }
  byte_copy(s->sender, alen + 1, addr);
  if (auth_sender(s, addr, alen, reply) || policy_sender(s, addr, alen, reply)) {
    s->in_mail = 1;                /* for the log line's from= */
    smtp_log_reject(s, 0, reply);
    txn_reset(s);
    smtp_reply(s, reply);
    return;
  }
  if ((why = begin_envelope(s, addr, alen, &p))) {
    stralloc r = {0};
    txn_reset(s);
    if (!stralloc_copys(&r, "501 5.5.4 Invalid parameter: ") || !stralloc_cats(&r, why) || !stralloc_0(&r))
      smtp_reply(s, "451 4.3.0 Out of memory");
    else smtp_reply(s, r.s);
    stralloc_free(&r);
    return;
  }
  s->in_mail = 1;
  if (filter_mail(s, arg, len, reply)) { smtp_log_reject(s, 0, reply); txn_reset(s); smtp_reply(s, reply); return; }
  s->smtputf8 = p.smtputf8;
  smtp_reply(s, "250 2.1.0 Ok");
}

/* rcpt_tags - NOTIFY and ORCPT, checked on a scratch envelope first so
 * that a bad value leaves the real one untouched */
static const char *rcpt_tags(struct envelope *e, const char *a, size_t len, const struct mail_params *p)
{
  struct envelope t;
  const char *why;
  envelope_init(&t);
  why = envelope_set_sender(&t, "", 0);
  if (!why) why = envelope_add_rcpt(&t, a, len);
  if (!why && p->notify) why = envelope_set_rcpt_tag(&t, 'N', p->notify, p->notifylen);
  if (!why && p->orcpt) why = envelope_set_rcpt_tag(&t, 'O', p->orcpt, p->orcptlen);
  envelope_free(&t);
  if (why) return why;
  if ((why = envelope_add_rcpt(e, a, len))) return why;
  if (p->notify && (why = envelope_set_rcpt_tag(e, 'N', p->notify, p->notifylen))) return why;
  if (p->orcpt && (why = envelope_set_rcpt_tag(e, 'O', p->orcpt, p->orcptlen))) return why;
  return 0;
}

/* rcpt_refusal - the sequence and syntax checks of RCPT */
static const char *rcpt_refusal(struct session *s, const char *arg, size_t len,
                                char *addr, size_t *alen, struct mail_params *p)
{
  size_t rest;
  const char *why;
  if (!s->in_mail) return "503 5.5.1 Error: need MAIL command";
  if (s->bdat) return "503 5.5.1 Error: BDAT in progress";
  if ((why = parse_path(arg, len, "TO:", addr, alen, &rest))) return why;
  if ((why = parse_rcpt_params(arg + rest, len - rest, p))) return why;
  if (!s->esmtp && rest < len) return "555 5.5.4 Parameters need EHLO";
  if (*alen == 0) return "501 5.1.3 Bad recipient address syntax";
  if (address_check(addr, *alen, s->smtputf8 ? ADDR_UTF8 : 0))
    return addr_refusal(addr, *alen, s->smtputf8, "553 5.1.3 Bad recipient address syntax");
  if (s->nrcpt >= s->cfg->smtpd_recipient_limit) return "452 4.5.3 Error: too many recipients";
  return 0;
}

/* txn_rcpt - RCPT TO:<recipient> [parameters] */
void txn_rcpt(struct session *s, const char *arg, size_t len)
{
  char addr[ADDR_PATH_MAX + 1], reply[SMTP_REPLY_MAX];
  struct mail_params p;
  size_t alen;
  const char *why = rcpt_refusal(s, arg, len, addr, &alen, &p);
  if (why) { smtp_reply(s, why); return; }
  if (policy_rcpt(s, addr, alen, reply)) {
    smtp_log_reject(s, addr, reply);
    smtp_reply(s, reply);
    return;
  }
  if (filter_rcpt(s, addr, alen, arg, len, reply)) {
    smtp_log_reject(s, addr, reply);
    smtp_reply(s, reply);
    return;
  }
  if ((why = rcpt_tags(&s->env, addr, alen, &p))) {
    stralloc r = {0};
    if (!stralloc_copys(&r, "501 5.5.4 Invalid parameter: ") || !stralloc_cats(&r, why) || !stralloc_0(&r))
      smtp_reply(s, "451 4.3.0 Out of memory");
    else smtp_reply(s, r.s);
    stralloc_free(&r);
    return;
  }
  s->nrcpt++;
  smtp_reply(s, "250 2.1.5 Ok");
}

/* begin_message - our id, the data reader, the injector with our
 * Received: line; 0 with reply if the injector cannot be started */
static int begin_message(struct session *s, char *reply)
{
  spool_id(rid);
  if (s->discard) {
    data_start(&dat, 0, s->cfg->smtpd_line_limit, s->cfg->message_size_limit);
    return 1;
  }
  if (filter_on(s)) return filter_begin(s, &dat, rid, reply);
  if (inject_start(&inj, s->cfg, rid) == -1) {
    smtp_log(s, "tempfail", "unable to start the injector");
    str_copy(reply, "451 4.3.0 Unable to queue the message, try again later");
    return 0;
  }
  inj_running = 1;
  data_start(&dat, &inj.msg, s->cfg->smtpd_line_limit, s->cfg->message_size_limit);
  if (inject_received(&inj.msg, s, rid) == -1) { dat.sink = 0; dat.error = DATA_SINK; }
  return 1;
}

/* log_message - one line for each message: queued, discarded or refused */
static void log_message(struct session *s, const char *qid, const char *status, const char *reply)
{
  char size[NUM_ULONG], nrcpt[NUM_ULONG];
  stralloc from = {0};
  size[num_fmt(size, dat.size)] = 0;
  nrcpt[num_fmt(nrcpt, s->nrcpt)] = 0;
  if (!stralloc_copys(&from, "<") || !stralloc_cats(&from, s->sender) || !stralloc_cats(&from, ">") ||
      !stralloc_0(&from)) from.s = "<?>";
  log_event(qid[0] ? qid : 0, "status", status, "rid", rid, "client", s->ip[0] ? s->ip : "local",
            "name", s->name, "helo", s->helo, "from", from.s, "nrcpt", nrcpt, "size", size,
            "tls", s->tls ? s->tls_info : "no", "auth", s->user, "reply", reply, (char *)0);
  if (from.a) stralloc_free(&from);
}

/* looping - the message, with our own Received: field, has made more
 * hops than hop_count_limit: it goes round in a mail loop */
static int looping(const struct session *s)
{
  struct hops h = dat.hops;
  h.count++;                         /* ours */
  return hops_over(&h, s->cfg->hop_count_limit);
}

/* end_message - the reply to the end of the data, then a new transaction */
static void end_message(struct session *s)
{
  char reply[SMTP_REPLY_MAX], qid[SPOOL_ID_MAX] = "";
  const char *status = "refused", *r = reply;
  if (dat.error != DATA_OK && dat.error != DATA_SINK) {
    if (inj_running) { inject_abort(&inj); inj_running = 0; }
    str_copy(reply, data_reply(dat.error));
  } else if (looping(s)) {
    if (inj_running) { inject_abort(&inj); inj_running = 0; }
    str_copy(reply, "554 5.4.0 Message refused: too many hops (Received: header fields), a mail loop?");
  } else if (s->discard) {
    str_copy(reply, "250 2.0.0 Ok: discarded");
    status = "discarded";
  } else if (filter_on(s)) {
    r = filter_end(s, dat.error, rid, qid, &status);
  } else {
    int cls = inject_finish(&inj, &s->env, dat.error == DATA_OK, reply, qid);
    inj_running = 0;
    if (cls == EXIT_DONE) status = "queued";
  }
  log_message(s, qid, status, r);
  smtp_reply(s, r);
  txn_reset(s);
}

/* read_dot - the DATA bytes up to and including CRLF.CRLF, within the
 * data deadline */
static void read_dot(struct session *s)
{
  int done = 0;
  io_command_deadline(0);
  io_data_deadline(s->cfg->smtpd_data_timeout);
  while (!done) {
    ssize_t n = buffer_feed(&io_in);
    if (n <= 0) smtp_lost(s);
    if (dat.error == DATA_OK) io_data_credit((size_t)n);   /* refused bytes earn no time */
    buffer_seek(&io_in, data_dot(&dat, buffer_peek(&io_in), (size_t)n, &done));
  }
}

/* data_refused - DATA refused: if the client sent more without waiting
 * for our answer (RFC 2920 makes DATA the last command of a batch), that
 * is the message, and reading it as commands would run whatever SMTP it
 * holds; so the session ends instead */
static void data_refused(struct session *s, const char *reply)
{
  if (io_wait_input(0)) {
    smtp_log(s, "reject", "improper pipelining after DATA");
    smtp_reply(s, reply);
    smtp_quit(s, "554 5.5.0 Error: SMTP protocol synchronization; closing the connection");
  }
  smtp_reply(s, reply);
}

/* txn_data - DATA */
void txn_data(struct session *s, size_t arglen)
{
  char reply[SMTP_REPLY_MAX];
  if (arglen) { data_refused(s, "501 5.5.4 Syntax: DATA"); return; }
  if (!s->in_mail) { data_refused(s, "503 5.5.1 Error: need MAIL command"); return; }
  if (s->bdat) { data_refused(s, "503 5.5.1 Error: BDAT in progress"); return; }
  if (!s->nrcpt) { data_refused(s, "554 5.5.1 Error: no valid recipients"); return; }
  if (!begin_message(s, reply)) { data_refused(s, reply); return; }
  smtp_reply(s, "354 End data with <CR><LF>.<CR><LF>");
  s->in_data = 1;
  read_dot(s);
  s->in_data = 0;
  end_message(s);
}

/* read_chunk - size bytes of a BDAT chunk, to the data reader or away,
 * within the data deadline (txn_bdat sets it) */
static void read_chunk(struct session *s, unsigned long size, int keep)
{
  io_command_deadline(0);
  while (size) {
    ssize_t n = buffer_feed(&io_in);
    if (n <= 0) smtp_lost(s);
    size_t take = (unsigned long)n < size ? (size_t)n : size;
    if (keep && dat.error == DATA_OK) io_data_credit(take);
    if (keep) data_chunk(&dat, buffer_peek(&io_in), take);
    buffer_seek(&io_in, take);
    size -= take;
  }
}

/* chunk_reply - "250 2.0.0 N octets received", or the error so far */
static void chunk_reply(struct session *s, unsigned long size)
{
  char r[64] = "250 2.0.0 ";
  size_t n;
  if (s->bdat_failed) { smtp_reply(s, bdat_refusal); return; }
  if (dat.error != DATA_OK) { smtp_reply(s, data_reply(dat.error)); return; }
  n = 10 + num_fmt(r + 10, size);
  str_copy(r + n, " octets received");
  smtp_reply(s, r);
}

/* chunk_fits - can a chunk of size bytes still fit message_size_limit
 * after what this message has received? */
static int chunk_fits(const struct session *s, unsigned long size)
{
  unsigned long limit = s->cfg->message_size_limit;
  unsigned long used = s->bdat && !s->bdat_failed ? dat.size : 0;
  if (!limit) return 1;
  return used <= limit && size <= limit - used;
}

/* txn_bdat - BDAT size [LAST] (RFC 3030) */
void txn_bdat(struct session *s, const char *arg, size_t len)
{
  unsigned long size;
  int last;
  const char *refusal = 0;
  if (parse_bdat(arg, len, &size, &last) == -1) {
    /* the chunk's length is unknown: its bytes would be read as commands */
    smtp_log(s, "reject", "malformed BDAT command");
    smtp_quit(s, "554 5.5.4 Syntax: BDAT size [LAST]; closing the connection");
  }
  if (!chunk_fits(s, size)) {
    /* refused before a byte of it is read; its bytes follow the command
     * (RFC 3030 pipelines them) and are no commands: the session ends
     * rather than read them into the void */
    smtp_log(s, "reject", "BDAT chunk larger than message_size_limit allows");
    smtp_quit(s, "552 5.3.4 Message size exceeds fixed limit; closing the connection");
  }
  if (!s->in_mail) refusal = "503 5.5.1 Error: need MAIL command";
  else if (!s->nrcpt) refusal = "554 5.5.1 Error: no valid recipients";
  if (refusal) {
    io_data_deadline(s->cfg->smtpd_data_timeout);
    read_chunk(s, size, 0);
    io_data_deadline(0);
    smtp_reply(s, refusal);
    return;
  }
  if (!s->bdat) {                    /* the first chunk: one deadline for all */
    io_data_deadline(s->cfg->smtpd_data_timeout);
    s->bdat = 1;
    if (!begin_message(s, bdat_refusal)) s->bdat_failed = 1;
  }
  read_chunk(s, size, !s->bdat_failed);
  if (!last) { chunk_reply(s, size); return; }
  if (s->bdat_failed) { smtp_reply(s, bdat_refusal); txn_reset(s); return; }
  data_chunk_end(&dat);
  end_message(s);
}
