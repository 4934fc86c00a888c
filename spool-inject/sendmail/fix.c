/* fix.c - the header section as it is queued.
 *
 * On top: Received: (who submitted, when) and, when a caller outside
 * sendmail_trusted_users set the envelope sender, sendmail's
 * X-Authentication-Warning:.  Then the caller's fields in their order,
 * with Bcc: and Resent-Bcc: removed (never shown to anyone; -t still
 * delivers to them), Return-Path: removed (the final delivery adds the
 * real one), and the addresses of From:, Sender:, Reply-To:, To:, Cc: and
 * their Resent- forms qualified with the domain (the seeds'
 * always_add_domain) and, with sendmail_rewrite_sender, local senders
 * rewritten.  Last, what is missing: From: (the sender, with the full
 * name), Date:, Message-ID:, and Sender: by Exim's rule: when an untrusted
 * caller's own address is not in From: (or From: has several mailboxes),
 * Sender: names the caller and replaces any Sender: he wrote. */
#include "byte.h"
#include "case.h"
#include "str.h"
#include "num.h"
#include "date.h"
#include "sendmail.h"

/* field classes */
enum { F_KEEP, F_DROP, F_ADDR, F_SENDER, F_SENDER_HDR, F_FROM, F_RCPT, F_RESENT_RCPT, F_BCC, F_RESENT_BCC };

/* field_class - what a field is to us */
static int field_class(const struct message *m, unsigned int k)
{
  static const struct { const char *name; int class; } names[] = {
    { "from", F_FROM }, { "sender", F_SENDER_HDR }, { "reply-to", F_ADDR }, { "to", F_RCPT },
    { "cc", F_RCPT }, { "bcc", F_BCC }, { "resent-from", F_SENDER }, { "resent-sender", F_SENDER },
    { "resent-reply-to", F_ADDR }, { "resent-to", F_RESENT_RCPT }, { "resent-cc", F_RESENT_RCPT },
    { "resent-bcc", F_RESENT_BCC }, { "return-path", F_DROP },
  };
  unsigned int i;
  for (i = 0; i < sizeof names / sizeof names[0]; i++)
    if (headers_is(m, k, names[i].name)) return names[i].class;
  return F_KEEP;
}

/* struct scan - what the walk over From: learned */
struct scan {
  struct fix *f;
  unsigned int mailboxes;   /* in From: */
  int own_seen;             /* the caller's address is among them */
  int collect;              /* add the mailboxes to f->rcpts */
  const char *why;
};

/* qualified - m's address, qualified, into sa */
static int qualified(stralloc *sa, const struct rfc5322_mailbox *m, const struct fix *f)
{
  return rcpts_qualify(sa, m->addr, m->len, f->domain);
}

/* on_mailbox - rfc5322_addrlist callback for From: and the -t fields */
static int on_mailbox(void *ctx, const struct rfc5322_mailbox *m)
{
  static stralloc a;
  struct scan *s = ctx;
  if (m->null) return 0;
  if (qualified(&a, m, s->f) == -1) { s->why = "out of memory"; return -2; }
  if (s->collect) {
    if (rcpts_add(s->f->rcpts, a.s, a.len - 1) == -1) { s->why = "out of memory or too many recipients"; return -2; }
    return 0;
  }
  s->mailboxes++;
  if (s->f->rewrite && rfc5322_is_local(a.s, a.len - 1, s->f->locals)) s->own_seen = 1;
  else if (!case_diffs(a.s, s->f->own)) s->own_seen = 1;
  return 0;
}

/* put_name - "Name:" of field k */
static int put_name(stralloc *out, const struct message *m, unsigned int k)
{
  const char *f = m->hdr.s + m->h[k].start;
  return stralloc_catb(out, f, byte_chr(f, m->h[k].len, ':') + 1) ? 0 : -1;
}

/* put_field - field k, its addresses qualified when it is an address field */
static int put_field(stralloc *out, const struct message *m, unsigned int k, int addr, const struct fix *f)
{
  static stralloc q;
  size_t len;
  const char *v;
  if (!addr) return stralloc_catb(out, m->hdr.s + m->h[k].start, m->h[k].len) && stralloc_cats(out, "\n") ? 0 : -1;
  v = headers_value(m, k, &len);
  rfc5322_qualify_text(v, len, f->domain, addr == F_SENDER || addr == F_FROM || addr == F_SENDER_HDR ? f->rewrite : 0, f->locals, &q);
  if (q.len != len && !q.len) return -1;    /* out of memory */
  return put_name(out, m, k) == 0 && stralloc_catb(out, q.s, q.len) && stralloc_cats(out, "\n") ? 0 : -1;
}

/* cat3 - three strings */
static int cat3(stralloc *out, const char *a, const char *b, const char *c)
{
  return stralloc_cats(out, a) && stralloc_cats(out, b) && stralloc_cats(out, c) ? 0 : -1;
}

/* put_top - Received: and X-Authentication-Warning: */
static int put_top(stralloc *out, const struct fix *f)
{
  char date[DATE_MAX], uid[NUM_ULONG], flag[2] = { f->warn_flag, 0 };
  date_rfc5322(date, f->now, 1);
  if (f->hide) {   /* received_hide_submitter: who submitted stays here */
    if (cat3(out, "Received: by ", f->hostname, " (postern sendmail);\n\t") == -1 || cat3(out, date, "\n", "") == -1) return -1;
  } else if (cat3(out, "Received: by ", f->hostname, " (postern sendmail, from userid ") == -1
      || cat3(out, num_str(uid, f->uid), ");\n\t", date) == -1 || !stralloc_cats(out, "\n")) return -1;
  if (!f->warn_flag) return 0;
  if (cat3(out, "X-Authentication-Warning: ", f->hostname, ": ") == -1
      || cat3(out, f->login, " set sender to ", *f->sender ? f->sender : "<>") == -1
      || cat3(out, " using -", flag, "\n") == -1) return -1;
  return 0;
}

/* put_from - From: the full name and the sender (or the caller) */
static int put_from(stralloc *out, const struct fix *f)
{
  const char *addr = *f->sender ? f->sender : 0;
  stralloc daemon = { 0 };
  int ok;
  if (!addr) {   /* the null sender: the mailer daemon speaks */
    if (cat3(&daemon, "MAILER-DAEMON@", f->hostname, "") == -1 || !stralloc_0(&daemon)) return -1;
    addr = daemon.s;
  }
  ok = stralloc_cats(out, "From: ");
  if (ok && *f->fullname)
    ok = rfc5322_phrase(out, f->fullname, str_len(f->fullname)) == 0 && stralloc_cats(out, " <")
      && stralloc_cats(out, addr) && stralloc_cats(out, ">\n");
  else ok = ok && stralloc_cats(out, addr) && stralloc_cats(out, "\n");
  stralloc_free(&daemon);
  return ok ? 0 : -1;
}

/* put_missing - From:, Date:, Message-ID:, Sender: as needed */
static int put_missing(stralloc *out, const struct fix *f, int from, int date, int msgid, int sender)
{
  char d[DATE_MAX];
  date_rfc5322(d, f->now, 1);
  if (!from && put_from(out, f) == -1) return -1;
  if (!date && cat3(out, "Date: ", d, "\n") == -1) return -1;
  if (!msgid && (!stralloc_cats(out, "Message-ID: ") || fix_message_id(out, f) == -1 || !stralloc_cats(out, "\n"))) return -1;
  if (sender && cat3(out, "Sender: ", f->own, "\n") == -1) return -1;
  return 0;
}

/* extract_error - "bad address list in To: reason" in *why; -1 */
static int extract_error(const struct message *m, unsigned int k, const char *reason, const char **why)
{
  static stralloc text;
  text.len = 0;
  if (stralloc_cats(&text, "bad address list in ") && put_name(&text, m, k) == 0 && stralloc_cats(&text, " ")
      && stralloc_cats(&text, reason) && stralloc_0(&text)) *why = text.s;
  else *why = reason;
  return -1;
}

/* scan_fields - which fields exist, the From: check, the -t recipients */
static int scan_fields(const struct message *m, struct fix *f, int *have, int *add_sender, const char **why)
{
  struct scan s;
  unsigned int k;
  int resent = 0;
  byte_zero(&s, sizeof s);
  s.f = f;
  for (k = 0; k < m->nh; k++) {
    int c = field_class(m, k);
    size_t len;
    const char *v = headers_value(m, k, &len);
    if (c == F_RESENT_RCPT || c == F_RESENT_BCC) resent = 1;
    if (c == F_FROM) { have[0] = 1; if (rfc5322_addrlist(v, len, on_mailbox, &s, why) == -1) s.own_seen = 0, s.mailboxes = 2; }
    if (headers_is(m, k, "date")) have[1] = 1;
    if (headers_is(m, k, "message-id")) have[2] = 1;
    if (c == F_SENDER_HDR) have[3] = 1;
    if (s.why) { *why = s.why; return -1; }
  }
  *add_sender = f->untrusted && (!s.own_seen || (s.mailboxes > 1 && !have[3]));
  if (!have[0]) *add_sender = f->untrusted && (!*f->sender || case_diffs(f->sender, f->own));
  if (!f->extract) return 0;
  s.collect = 1;
  for (k = 0; k < m->nh; k++) {
    int c = field_class(m, k);
    size_t len;
    const char *v = headers_value(m, k, &len);
    if (resent ? c != F_RESENT_RCPT && c != F_RESENT_BCC : c != F_RCPT && c != F_BCC) continue;
    if (rfc5322_addrlist(v, len, on_mailbox, &s, why) != 0) return extract_error(m, k, s.why ? s.why : *why, why);
  }
  return 0;
}

int fix_headers(const struct message *m, struct fix *f, stralloc *out, const char **why)
{
  int have[4] = { 0, 0, 0, 0 }, add_sender = 0;
  unsigned int k;
  *why = "out of memory";
  out->len = 0;
  if (scan_fields(m, f, have, &add_sender, why) == -1) return -1;
  *why = "out of memory";
  if (put_top(out, f) == -1) return -1;
  for (k = 0; k < m->nh; k++) {
    int c = field_class(m, k);
    if (c == F_DROP || c == F_BCC || c == F_RESENT_BCC || (c == F_SENDER_HDR && add_sender)) continue;
    if (put_field(out, m, k, c == F_KEEP ? 0 : c, f) == -1) return -1;
  }
  if (put_missing(out, f, have[0], have[1], have[2], add_sender) == -1) return -1;
  if (!stralloc_cats(out, "\n")) return -1;
  *why = 0;
  return 0;
}

int fix_message_id(stralloc *out, const struct fix *f)
{
  char n[NUM_ULONG];
  size_t k;
  if (!stralloc_cats(out, "<") || !stralloc_cats(out, num_str(n, f->now)) || !stralloc_cats(out, ".")) return -1;
  k = num_fmt0(n, f->usec, 6);
  if (!stralloc_catb(out, n, k) || !stralloc_cats(out, ".") || !stralloc_cats(out, num_str(n, f->pid))
      || !stralloc_cats(out, ".") || !stralloc_cats(out, f->random) || !stralloc_cats(out, "@")
      /* the mail domain, not the host: an inside host's name must not
       * leave in every message it sends (time, pid and random keep it unique) */
      || !stralloc_cats(out, f->domain && *f->domain ? f->domain : f->hostname) || !stralloc_cats(out, ">")) return -1;
  return 0;
}
