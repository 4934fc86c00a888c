/* dsn.c - delivery status notifications (RFC 3464, RFC 6533 for
 * internationalized mail): bounces for failed recipients, delay warnings
 * and success notices, as multipart/report messages from MAILER-DAEMON
 * with the null sender, injected through the configured injector
 * (spool-inject) like any other mail.  A notice to the outside names no
 * internal route; a success notice does not say where the mail went.
 *
 * Who is told: the envelope sender; for a message with the null sender
 * (itself a bounce) the failure goes to postmaster as a "double bounce"
 * marked with the ENVID postern.double-bounce.ID, and a double bounce
 * that fails is only logged: bounces never loop.  NOTIFY=NEVER suppresses
 * every notice, NOTIFY=SUCCESS asks for one on delivery, DELAY (or no
 * NOTIFY) allows the delay warning.  A bounce returns the whole original
 * when it is at most bounce_size_limit and the sender did not ask for the
 * header only (RET=HDRS), else the header; warnings and success notices
 * return the header.  bounce_rate_limit bounds the notices per hour to
 * one address, counted in state/bounce-rate so that it holds across
 * --once runs: beyond it they wait in the queue until the next hour, so
 * one broken destination cannot start a bounce storm.  Each address has
 * its own count (no two share one); a notice still held back when its
 * message is older than queue_lifetime is given up and logged. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include "buffer.h"
#include "byte.h"
#include "case.h"
#include "scan.h"
#include "getln.h"
#include "address.h"
#include "str.h"
#include "exitcode.h"
#include <sysexits.h>
#include "log.h"
#include "num.h"
#include "date.h"
#include "inject.h"
#include "wbuf.h"
#include "qr.h"

static struct router *router;   /* the scheduler's, for "is this address ours" (dsn_open) */

void dsn_open(struct router *r)
{
  router = r;
}

#define HEADER_MAX (256UL * 1024)      /* bytes of original header returned */
#define INJECT_SECONDS 60              /* the injector must answer within this (below WatchdogSec) */
#define DOUBLE_BOUNCE "postern.double-bounce."

enum { DSN_FAILED, DSN_DELAYED, DSN_SUCCESS };
enum { SENT = 0, LATER = -1, GIVEN_UP = -2 };   /* send_notice's answers */

static unsigned long retry_at;  /* send_notice: when a notice not sent now may go */

void dsn_status(const char *text, int failed, char out[16])
{
  const char *p = text;
  while (*p) {
    size_t a, b, c;
    if ((p == text || p[-1] == ' ') && (*p == '2' || *p == '4' || *p == '5') && p[1] == '.') {
      for (a = 2; p[a] >= '0' && p[a] <= '9' && a < 5; a++) {}
      if (a > 2 && p[a] == '.') {
        for (b = a + 1; p[b] >= '0' && p[b] <= '9' && b < a + 4; b++) {}
        c = b;
        if (b > a + 1 && (p[c] == 0 || p[c] == ' ' || p[c] == ';' || p[c] == ',') && c < 16) {
          byte_copy(out, c, p);
          out[c] = 0;
          if (failed && out[0] == '2') break;   /* a success code on a failure: use the default */
          return;
        }
      }
    }
    p++;
  }
  str_copy(out, failed ? "5.0.0" : "4.0.0");
}

/* xtext_put - RFC 3461 xtext decoded ("+2B" is '+'); controls dropped */
static int xtext_put(buffer *b, const char *s)
{
  for (; *s; s++) {
    char c = *s;
    if (c == '+' && s[1] && s[2]) {
      unsigned int v = 0, i;
      for (i = 1; i <= 2; i++) {
        char h = s[i];
        v = v * 16 + (unsigned int)(h >= '0' && h <= '9' ? h - '0' : h >= 'A' && h <= 'F' ? h - 'A' + 10 : 0);
      }
      c = (char)v;
      s += 2;
    }
    if ((unsigned char)c >= 32 && c != 127 && buffer_put(b, &c, 1)) return -1;
  }
  return 0;
}

/* struct report - one notice being built */
struct report {
  struct work *w;
  const char *id;
  int type;                   /* DSN_FAILED, DSN_DELAYED, DSN_SUCCESS */
  char want;                  /* item status that belongs in it */
  const char *to;             /* its recipient */
  int eight;                  /* 8-bit content included */
  int global;                 /* RFC 6533: UTF-8 addresses or header: the message/global types */
  int outside;                /* to outside the local domains: no internal routes in it */
  int full;                   /* the original returned: 1 whole, 0 header, -1 none */
  stralloc *body;             /* the original (or its header) */
  char boundary[SPOOL_ID_MAX + 32];
};

/* notify_word - is word in the NOTIFY list n? */
static int notify_word(const char *n, const char *word)
{
  size_t len = str_len(word);
  while (n && *n) {
    size_t k = str_chr(n, ',');
    if (k == len && !case_diffb(n, len, word)) return 1;
    n += k + (n[k] == ',');
  }
  return 0;
}

/* wanted - does the recipient want a notice of this type?  Without
 * NOTIFY: failures and delays yes, successes no (RFC 3461 4.1) */
static int wanted(const struct work *w, const struct item *it, int type)
{
  const char *n = envelope_rcpt_notify(&w->env, it->orig);
  if (!n) return type != DSN_SUCCESS;
  return notify_word(n, type == DSN_FAILED ? "FAILURE" : type == DSN_DELAYED ? "DELAY" : "SUCCESS");
}

int dsn_success_wanted(const struct work *w, const struct item *it)
{
  return qr_cfg.dsn_success_notices && wanted(w, it, DSN_SUCCESS);
}

/* in_report - does the item belong in the notice? */
static int in_report(const struct report *r, const struct item *it)
{
  if (it->status != r->want || !wanted(r->w, it, r->type)) return 0;
  return r->type != DSN_DELAYED || it->kind != KIND_ROUTE || it->tries > 0;
}

/* put_head - the message header and the first, human-readable part */
static int put_head(buffer *b, struct report *r)
{
  static const char *const subject[] = { "Undelivered Mail Returned to Sender", "Delayed Mail (still being retried)", "Successful Mail Delivery Report" };
  char d[40], num[NUM_ULONG];
  date_rfc5322(d, clock_now(), 0);
  return buffer_puts(b, "From: Mail Delivery System <MAILER-DAEMON@") || buffer_puts(b, qr_cfg.hostname)
      || buffer_puts(b, ">\nTo: <") || buffer_puts(b, r->to) || buffer_puts(b, ">\nSubject: ")
      || buffer_puts(b, subject[r->type]) || buffer_puts(b, "\nDate: ") || buffer_puts(b, d)
      || buffer_puts(b, "\nMessage-ID: <") || buffer_puts(b, r->id) || buffer_puts(b, ".")
      || buffer_puts(b, num_str(num, clock_now())) || buffer_puts(b, ".dsn@") || buffer_puts(b, qr_cfg.hostname)
      || buffer_puts(b, ">\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\n"
                        "Content-Type: multipart/report; report-type=")
      || buffer_puts(b, r->global ? "global-delivery-status" : "delivery-status") || buffer_puts(b, ";\n\tboundary=\"")
      || buffer_puts(b, r->boundary) || buffer_puts(b, "\"\n\nThis is a MIME-encapsulated message.\n\n--")
      || buffer_puts(b, r->boundary)
      || buffer_puts(b, "\nContent-Description: Notification\nContent-Type: text/plain; charset=utf-8\n\n"
                        "This is the mail system at host ") || buffer_puts(b, qr_cfg.hostname)
      || buffer_puts(b, r->type == DSN_FAILED ? ".\n\nYour message could not be delivered to one or more recipients.\n"
                        "The reasons are below.  The mail system\n\n"
                      : r->type == DSN_DELAYED ? ".\n\nYour message could not be delivered yet.  It is still in the queue\n"
                        "and will be tried again; nothing needs to be done.  The mail system\n\n"
                      : ".\n\nYour message was delivered to the recipients below.  The mail system\n\n") ? -1 : 0;
}

/* eight_bit - s has a byte above 127 (UTF-8 addresses or replies) */
static int eight_bit(const char *s)
{
  for (; *s; s++) if ((unsigned char)*s >= 0x80) return 1;
  return 0;
}

/* is_local_kind - items delivered here (local-deliver) */
static int is_local_kind(int kind)
{
  return kind == KIND_USER || kind == KIND_MAILBOX || kind == KIND_PROGRAM || kind == KIND_FILE;
}

/* internal_route - the item went by a route the administrator set (routes
 * map, relayhost, lmtp:) or was delivered here, not by the public MX of
 * its domain: its destination and the texts of its deliverer name hosts,
 * sockets and paths inside the site */
static int internal_route(const struct work *w, const struct item *it)
{
  const char *a = work_s(w, it->addr), *d = work_s(w, it->dest);
  size_t len = str_len(a), at = address_at(a, len);
  if (is_local_kind(it->kind)) return 1;
  if (it->kind != KIND_REMOTE) return 0;
  return !(str_start(d, "smtp:") && at < len && !case_diffs(d + 5, a + at + 1));
}

/* hidden - the item's result text stays out of the notice: a success
 * notice says "delivered" and nothing about where (a mailbox path, the
 * next hop), and a notice to the outside names no internal route; the
 * Status field keeps the enhanced code */
static int hidden(const struct report *r, const struct item *it)
{
  return r->type == DSN_SUCCESS || (r->outside && internal_route(r->w, it));
}

/* put_human - one line per recipient in the text part */
static int put_human(buffer *b, struct report *r)
{
  unsigned int i;
  for (i = 0; i < r->w->n; i++) {
    const struct item *it = &r->w->item[i];
    const char *text = work_s(r->w, it->text);
    char status[16];
    if (!in_report(r, it)) continue;
    if (buffer_puts(b, "<") || buffer_puts(b, work_s(r->w, it->addr)) || buffer_puts(b, ">: ")) return -1;
    if (r->type == DSN_SUCCESS) {
      if (buffer_puts(b, it->kind == KIND_REMOTE ? "relayed" : "delivered")) return -1;
    } else if (hidden(r, it) || !*text) {
      dsn_status(text, r->type == DSN_FAILED, status);
      if (buffer_puts(b, r->type == DSN_FAILED ? "failed, status " : "delayed, status ") || buffer_puts(b, status)) return -1;
    } else if (buffer_puts(b, text)) return -1;
    if (buffer_puts(b, "\n")) return -1;
  }
  return 0;
}

/* put_field - "Name: value\n" with value from an offset */
static int put_field(buffer *b, const char *name, const char *prefix, const char *value)
{
  return buffer_puts(b, name) || buffer_puts(b, prefix) || buffer_puts(b, value) || buffer_puts(b, "\n") ? -1 : 0;
}

/* addr_type - the address type of an address field: utf-8 (RFC 6533)
 * for an address with UTF-8 in it, else rfc822 */
static const char *addr_type(const char *a)
{
  return eight_bit(a) ? "utf-8; " : "rfc822; ";
}

/* put_recipient - one per-recipient block of the delivery-status part */
static int put_recipient(buffer *b, struct report *r, const struct item *it)
{
  static const char *const action[] = { "failed", "delayed", "delivered" };
  const char *orcpt = envelope_rcpt_orcpt(&r->w->env, it->orig), *text = work_s(r->w, it->text);
  char status[16], until[40];
  dsn_status(text, r->type == DSN_FAILED, status);
  if (r->type == DSN_SUCCESS) str_copy(status, "2.0.0");
  if (buffer_puts(b, "\n") || put_field(b, "Final-Recipient: ", addr_type(work_s(r->w, it->addr)), work_s(r->w, it->addr))) return -1;
  if (orcpt && str_chr(orcpt, ';') < str_len(orcpt)) {
    size_t semi = str_chr(orcpt, ';');
    if (buffer_puts(b, "Original-Recipient: ") || buffer_put(b, orcpt, semi) || buffer_puts(b, "; ")
        || xtext_put(b, orcpt + semi + 1) || buffer_puts(b, "\n")) return -1;
  }
  if (put_field(b, "Action: ", "", r->type == DSN_SUCCESS && it->kind == KIND_REMOTE ? "relayed" : action[r->type])
      || put_field(b, "Status: ", "", status)) return -1;
  if (it->kind == KIND_REMOTE && !r->outside && put_field(b, "X-Postern-Destination: ", "", work_s(r->w, it->dest))) return -1;
  if (*text && !hidden(r, it) && put_field(b, "Diagnostic-Code: ", text[0] >= '2' && text[0] <= '5' && text[1] >= '0' && text[1] <= '9' ? "smtp; " : "x-postern; ", text)) return -1;
  if (r->type == DSN_DELAYED) {
    date_rfc5322(until, r->w->arrival + qr_cfg.queue_lifetime, 0);
    if (put_field(b, "Will-Retry-Until: ", "", until)) return -1;
  }
  return 0;
}

/* put_status - the message/delivery-status part */
static int put_status(buffer *b, struct report *r)
{
  const char *envid = envelope_tag(&r->w->env, 'E');
  char d[40];
  unsigned int i;
  date_rfc5322(d, r->w->arrival, 0);
  if (buffer_puts(b, "\n--") || buffer_puts(b, r->boundary)
      || buffer_puts(b, "\nContent-Description: Delivery report\nContent-Type: ")
      || buffer_puts(b, r->global ? "message/global-delivery-status\n\n" : "message/delivery-status\n\n")
      || put_field(b, "Reporting-MTA: ", "dns; ", qr_cfg.hostname) || put_field(b, "X-Postern-Queue-ID: ", "", r->id))
    return -1;
  if (envid && (buffer_puts(b, "Original-Envelope-Id: ") || xtext_put(b, envid) || buffer_puts(b, "\n"))) return -1;
  if (put_field(b, "X-Postern-Sender: ", addr_type(envelope_sender(&r->w->env)), envelope_sender(&r->w->env)) || put_field(b, "Arrival-Date: ", "", d)) return -1;
  for (i = 0; i < r->w->n; i++)
    if (in_report(r, &r->w->item[i]) && put_recipient(b, r, &r->w->item[i])) return -1;
  return 0;
}

/* original - the returned part: the whole message when full and at most
 * bounce_size_limit, else its header (at most HEADER_MAX); 1 whole, 0
 * header, -1 error */
static int original(const char *id, int full, stralloc *out)
{
  struct stat st;
  char buf[8192];
  int fd;
  ssize_t r = 0;
  size_t scanned = 0;
  off_t start;
  out->len = 0;
  /* the body from the offset state_body_open left it at: never from 0 */
  if ((fd = state_body_open(id)) == -1) return -1;
  if (fstat(fd, &st) == -1 || (start = lseek(fd, 0, SEEK_CUR)) == -1) { close(fd); return -1; }
  if ((unsigned long)(st.st_size - start) > qr_cfg.bounce_size_limit) full = 0;
  while ((full || out->len <= HEADER_MAX) && (r = read(fd, buf, sizeof buf)) > 0) {
    if (!stralloc_catb(out, buf, (size_t)r)) { close(fd); return -1; }
    if (!full) {
      for (; scanned < out->len; scanned++)
        if (out->s[scanned] == '\n' && (scanned == 0 || out->s[scanned - 1] == '\n')) break;
      if (scanned < out->len) break;
    }
  }
  close(fd);
  if (r == -1) return -1;
  if (!full) {
    for (scanned = 0; scanned < out->len; scanned++)
      if (out->s[scanned] == '\n' && (scanned == 0 || out->s[scanned - 1] == '\n')) break;
    out->len = scanned < HEADER_MAX ? scanned : HEADER_MAX;
  }
  if (out->len && out->s[out->len - 1] != '\n' && !stralloc_cats(out, "\n")) return -1;
  return full;
}

/* put_original - the third part: message/rfc822 or text/rfc822-headers,
 * or for internationalized mail message/global or message/global-headers */
static int put_original(buffer *b, struct report *r)
{
  stralloc *body = r->body;
  if (buffer_puts(b, "\n--") || buffer_puts(b, r->boundary)
      || buffer_puts(b, r->full == 1 ? "\nContent-Description: Undelivered Message\nContent-Type: "
                                     : "\nContent-Description: Message Headers\nContent-Type: ")
      || buffer_puts(b, r->full == 1 ? (r->global ? "message/global\n" : "message/rfc822\n")
                                     : (r->global ? "message/global-headers\n" : "text/rfc822-headers\n"))
      || (r->eight && buffer_puts(b, "Content-Transfer-Encoding: 8bit\n"))
      || buffer_puts(b, "\n") || buffer_put(b, body->s, body->len)
      || buffer_puts(b, "\n--") || buffer_puts(b, r->boundary) || buffer_puts(b, "--\n")) return -1;
  return 0;
}

/* examine - before anything is written: the original read, whether the
 * notice is 8-bit, internationalized (RFC 6533: SMTPUTF8, or UTF-8 in an
 * address or the returned header) and for the outside */
static void examine(struct report *r)
{
  static stralloc body;
  const char *ret = envelope_tag(&r->w->env, 'R');
  size_t i, head;
  r->body = &body;
  r->full = original(r->id, r->type == DSN_FAILED && !(ret && !str_diff(ret, "HDRS")), &body);
  if (r->full == -1) body.len = 0;
  for (head = 0; head < body.len; head++)
    if (body.s[head] == '\n' && (head == 0 || body.s[head - 1] == '\n')) break;
  for (i = 0; i < body.len; i++)
    if ((unsigned char)body.s[i] >= 0x80) { r->eight = 1; if (i < head) r->global = 1; }
  if (envelope_tag(&r->w->env, 'U') || eight_bit(r->to) || eight_bit(envelope_sender(&r->w->env))) r->global = 1;
  for (i = 0; i < r->w->n; i++) {
    const struct item *it = &r->w->item[i];
    if (!in_report(r, it)) continue;
    if (eight_bit(work_s(r->w, it->addr))) r->global = 1;
    if (eight_bit(work_s(r->w, it->text))) r->eight = 1;
  }
  if (r->global) r->eight = 1;
  r->outside = !route_local_address(router, r->to);
}

/* boundary - the MIME boundary: the id and random hex, so that no
 * returned message can contain it by design */
static void boundary(struct report *r)
{
  static const char hex[] = "0123456789abcdef";
  unsigned char rnd[8];
  size_t n = str_copy(r->boundary, r->id), i;
  if (getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != (ssize_t)sizeof rnd) {
    unsigned long x = clock_now() ^ ((unsigned long)getpid() << 20) ^ (unsigned long)(size_t)r;
    for (i = 0; i < sizeof rnd; i++) { rnd[i] = (unsigned char)x; x = x * 6364136223846793005UL + 1442695040888963407UL; }
  }
  n += str_copy(r->boundary + n, "/");
  for (i = 0; i < sizeof rnd; i++) { r->boundary[n++] = hex[rnd[i] >> 4]; r->boundary[n++] = hex[rnd[i] & 15]; }
  str_copy(r->boundary + n, ".report");
}

/* build - the whole notice into a memory file; its fd or -1 */
static int build(struct report *r)
{
  char space[8192];
  int fd = memfd_create("dsn", MFD_CLOEXEC);
  buffer b;
  if (fd == -1) return -1;
  boundary(r);
  examine(r);
  wbuf_init(&b, fd, space, sizeof space);
  if (put_head(&b, r) || put_human(&b, r) || put_status(&b, r) || put_original(&b, r)
      || wbuf_flush(&b) || lseek(fd, 0, SEEK_SET) != 0) { close(fd); return -1; }
  if (r->body->a > 4 * HEADER_MAX) stralloc_free(r->body);
  return fd;
}

/* envelope_memfd - the notice's envelope: null sender, one recipient */
static int envelope_memfd(const struct report *r, int dbl)
{
  struct envelope e;
  char space[2048], envid[SPOOL_ID_MAX + 32];
  buffer b;
  int fd = memfd_create("envelope", MFD_CLOEXEC), ok;
  if (fd == -1) return -1;
  envelope_init(&e);
  str_copy(envid, DOUBLE_BOUNCE);
  str_copy(envid + str_len(envid), r->id);
  wbuf_init(&b, fd, space, sizeof space);
  ok = !envelope_set_sender(&e, "", 0)
    && (!dbl || !envelope_set_tag(&e, 'E', envid, str_len(envid), ENV_INPUT))
    && (!r->eight || !envelope_set_tag(&e, 'B', "8BITMIME", 8, ENV_INPUT))
    && (!(envelope_tag(&r->w->env, 'U') || eight_bit(r->to)) || !envelope_set_tag(&e, 'U', "", 0, ENV_INPUT))
    && !envelope_add_rcpt(&e, r->to, str_len(r->to))
    && envelope_write(&b, &e) == 0 && wbuf_flush(&b) == 0 && lseek(fd, 0, SEEK_SET) == 0;
  envelope_free(&e);
  if (!ok) { close(fd); return -1; }
  return fd;
}

/* inject - run the injector on the two memory files; 0 queued.  It gets
 * INJECT_SECONDS: a hanging filter must not stop the scheduler. */
static int inject(const struct report *r, int msgfd, int envfd)
{
  static struct child_result res;
  struct child c;
  const char *q;
  if (inject_child_start(&c, &qr_cfg, 0, msgfd, envfd, INJECT_CLEAN_ENV) == -1) {
    log_event(r->id, "status", "error", "reason", "unable to run the injector for a notice", (char *)0);
    return -1;
  }
  child_wait(&c, INJECT_SECONDS, 0, &res);
  if (res.code == 0) {
    q = res.reply + str_rchr(res.reply, ' ');
    log_event(r->id, "status", r->type == DSN_FAILED ? "bounce-queued" : r->type == DSN_DELAYED ? "warning-queued" : "notice-queued",
              "to", r->to, "notice_id", *q ? q + 1 : "", (char *)0);
    return 0;
  }
  log_event(r->id, "status", "error", "reason", res.late ? "the injector did not answer in time" : "the injector refused a notice",
            "reply", res.reply, (char *)0);
  return -1;
}

/* send_notice - build and inject one notice: SENT, LATER (-1: not now)
 * or GIVEN_UP (held back by the rate limit past queue_lifetime) */
static int send_notice(struct work *w, const char *id, int type, char want, const char *to, int dbl)
{
  struct report r;
  int msgfd, envfd, res = -1;
  byte_zero(&r, sizeof r);
  r.w = w; r.id = id; r.type = type; r.want = want; r.to = to;
  if (!rate_ok(to)) {
    unsigned long next_hour = (clock_now() / 3600 + 1) * 3600;
    /* held back, but not for ever: a message is kept queue_lifetime at
     * most, and so is the notice it owes (the limit is for storms; a queue
     * must not grow without end behind it) */
    if (clock_now() >= w->arrival + qr_cfg.queue_lifetime) {
      log_event(id, "status", "discarded", "to", to, "reason", "notice held back by bounce_rate_limit past queue_lifetime", (char *)0);
      return GIVEN_UP;
    }
    if (next_hour > retry_at) retry_at = next_hour;
    log_event(id, "status", "deferred", "to", to, "reason", "notice held back by bounce_rate_limit", (char *)0);
    return LATER;
  }
  if ((msgfd = build(&r)) == -1) return -1;
  if ((envfd = envelope_memfd(&r, dbl)) != -1) { res = inject(&r, msgfd, envfd); close(envfd); }
  close(msgfd);
  return res;
}

/* mark - items of status from that are in the notice get status to */
static void mark(struct work *w, int type, char from, char to)
{
  unsigned int i;
  for (i = 0; i < w->n; i++)
    if (w->item[i].status == from && wanted(w, &w->item[i], type)) w->item[i].status = to;
}

/* failures - the bounce for failed items, to the sender or postmaster */
static int failures(struct work *w, const char *id)
{
  const char *sender = envelope_sender(&w->env), *envid = envelope_tag(&w->env, 'E');
  unsigned int i;
  int any = 0;
  for (i = 0; i < w->n; i++) {
    struct item *it = &w->item[i];
    if (it->status != ST_FAILED) continue;
    if (wanted(w, it, DSN_FAILED)) any = 1;
    else it->status = ST_REPORTED;           /* NOTIFY without FAILURE: nobody to tell */
  }
  if (!any) return 0;
  if (!*sender && envid && str_start(envid, DOUBLE_BOUNCE)) {
    log_event(id, "status", "discarded", "reason", "undeliverable double bounce", (char *)0);
    mark(w, DSN_FAILED, ST_FAILED, ST_REPORTED);
    return 0;
  }
  if (send_notice(w, id, DSN_FAILED, ST_FAILED, *sender ? sender : "postmaster", !*sender) == LATER) return -1;
  mark(w, DSN_FAILED, ST_FAILED, ST_REPORTED);
  return 0;
}

/* successes - the notice for NOTIFY=SUCCESS recipients */
static int successes(struct work *w, const char *id)
{
  const char *sender = envelope_sender(&w->env);
  unsigned int i;
  int any = 0;
  for (i = 0; i < w->n; i++)
    if (w->item[i].status == ST_DONE_NOTIFY) { if (*sender) any = 1; else w->item[i].status = ST_DONE; }
  if (!any) return 0;
  if (send_notice(w, id, DSN_SUCCESS, ST_DONE_NOTIFY, sender, 0) == LATER) return -1;
  mark(w, DSN_SUCCESS, ST_DONE_NOTIFY, ST_DONE);
  return 0;
}

int dsn_finish(struct work *w, const char *id, unsigned long *when)
{
  int a, b;
  retry_at = clock_now() + (qr_cfg.retry_min ? qr_cfg.retry_min : 1);
  a = failures(w, id);
  b = successes(w, id);
  *when = retry_at;
  return a == -1 || b == -1 ? -1 : 0;
}

int dsn_warn(struct work *w, const char *id)
{
  const char *sender = envelope_sender(&w->env);
  unsigned int i;
  if (!*sender) return 0;
  for (i = 0; i < w->n; i++)
    if (w->item[i].status == ST_PENDING && wanted(w, &w->item[i], DSN_DELAYED)) break;
  if (i == w->n) return 0;
  return send_notice(w, id, DSN_DELAYED, ST_PENDING, sender, 0) == LATER ? -1 : 0;
}
