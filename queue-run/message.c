/* message.c - one message's life in the queue: loading it (envelope,
 * body, state file, or the first routing), rerouting what failed for
 * now, each delivery result (back-off, queue_lifetime, the log line),
 * the notices it owes (dsn.c), and the end of its pass (state file, or
 * removal).  The router (route.c) with its maps lives here.  The table
 * (table.c) decides when; this file knows nothing of other messages. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include "byte.h"
#include "case.h"
#include "scan.h"
#include "str.h"
#include "address.h"
#include "delivery.h"
#include "log.h"
#include "num.h"
#include "qr.h"

static struct router router;       /* maps, opened once (message_open) */

void message_open(void)
{
  route_open(&router, &qr_cfg);
  dsn_open(&router);
}

void message_refresh(void)
{
  route_refresh(&router);
}

void message_reopen(void)
{
  unsigned int i;
  for (i = 0; i < MAPS; i++) if (router.map[i].open) map_close(&router.map[i]);
  route_open(&router, &qr_cfg);
}

void message_remove(const char *id, int mess)
{
  static stralloc fn;
  /* the message file first: without it nothing else of the message counts */
  if (spool_path(&fn, SPOOL_QUEUE, id)) unlink(fn.s);
  if (mess && spool_path(&fn, SPOOL_MESS, id)) unlink(fn.s);
  if (spool_path(&fn, SPOOL_STATE, id)) unlink(fn.s);
}

/* body_present - the older layout: is mess/<id> there, a regular file
 * (lstat: a symlink is not)?  1 with its size in *size, 0 absent, 2 not a
 * regular file (a FIFO, a device, a symlink: planted), -1 error.  The
 * deliverer's open checks again (state_body_open). */
static int body_present(const char *id, unsigned long *size)
{
  static stralloc fn;
  struct stat st;
  if (!spool_path(&fn, SPOOL_MESS, id)) return -1;
  if (lstat(fn.s, &st) == -1) return errno == ENOENT ? 0 : -1;
  if (!S_ISREG(st.st_mode)) return 2;
  *size = (unsigned long)st.st_size;
  return 1;
}

/* rcpt_hash - of an envelope recipient, the domain's case ignored */
static unsigned long rcpt_hash(const char *a)
{
  unsigned long h = 5381;
  size_t at = str_rchr(a, '@'), i;
  for (i = 0; a[i]; i++) h = h * 33 + (unsigned char)(i > at && a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i]);
  return h;
}

/* rcpt_same - the same recipient: local parts equal, domains equal but for case */
static int rcpt_same(const char *a, const char *b)
{
  size_t at = str_rchr(a, '@');
  return at == str_rchr(b, '@') && !byte_diff(a, at, b) && !case_diffs(a + at, b + at);
}

/* first_route - route every distinct envelope recipient of a message seen
 * the first time.  A recipient given again (RCPT TO repeated) is routed
 * once: its expansion, a whole alias list maybe, would only make the same
 * deliveries again; it is logged as a duplicate. */
static int first_route(struct msg *m, struct work *w)
{
  static stralloc to;
  const char *d = envelope_tag(&w->env, 'D');
  unsigned long now = clock_now(), t;
  unsigned int i, cap = 16, *seen, s;
  w->arrival = d && scan_ulong(d, &t) == str_len(d) ? t : now;
  router.id = m->id;
  while (cap < 2 * w->env.nrcpt) cap *= 2;
  if (!(seen = calloc(cap, sizeof *seen))) return -1;     /* index + 1; 0 empty */
  for (i = 0; i < w->env.nrcpt; i++) {
    const char *a = envelope_rcpt(&w->env, i);
    for (s = (unsigned int)rcpt_hash(a) & (cap - 1); seen[s]; s = (s + 1) & (cap - 1))
      if (rcpt_same(envelope_rcpt(&w->env, seen[s] - 1), a)) break;
    if (seen[s]) {
      if (stralloc_copys(&to, "<") && stralloc_cats(&to, a) && stralloc_cats(&to, ">") && stralloc_0(&to))
        log_event(m->id, "to", to.s, "route", "duplicate", "reason", "envelope recipient given again", (char *)0);
      continue;
    }
    seen[s] = i + 1;
    if (route_rcpt(&router, w, i, a) == -1) { free(seen); return -1; }
  }
  free(seen);
  return 0;
}

/* route_defer - routing that failed temporarily counts as a try */
static void route_defer(struct msg *m, struct work *w, unsigned int from)
{
  unsigned int i;
  for (i = from; i < w->n; i++) {
    struct item *it = &w->item[i];
    if (it->kind == KIND_ROUTE && it->status == ST_PENDING)
      message_result(w, m->id, it, DELIVERY_DEFER, work_s(w, it->text), str_len(work_s(w, it->text)));
  }
}

/* reroute - items whose routing failed temporarily, due now.  An item is
 * replaced (ST_GONE) by its new routing; when that runs out of memory the
 * half of it is dropped and the item stays, so the recipient is kept. */
static int reroute(struct msg *m, struct work *w, unsigned long now, int flush)
{
  static stralloc addr;
  unsigned int i, n = w->n;
  router.id = m->id;
  for (i = 0; i < n; i++) {
    struct item *it = &w->item[i];
    unsigned int n0 = w->n;
    if (it->kind != KIND_ROUTE || it->status != ST_PENDING || (it->next > now && !flush)) continue;
    /* a copy: routing adds to w->pool, which may move (the address must
     * not point into it while route_rcpt reads and stores it) */
    if (!stralloc_copys(&addr, work_s(w, it->addr)) || !stralloc_0(&addr)) { route_defer(m, w, n); return -1; }
    it->status = ST_GONE;
    if (route_rcpt(&router, w, it->orig, addr.s) == -1) {
      work_truncate(w, n0);
      w->item[i].status = ST_PENDING;     /* work_add may have moved the array */
      route_defer(m, w, n);
      return -1;
    }
  }
  route_defer(m, w, n);
  return 0;
}

int message_load(struct msg *m, struct work *w)
{
  struct state_layout l;
  const char *why;
  int r = state_envelope_load(&w->env, SPOOL_QUEUE, m->id, &l, &why), b;
  if (r == 0) return 0;
  if (r == -1 && errno == EPROTO) { corrupt_message(m->id, why); return 0; }
  if (r == -1) { log_event(m->id, "status", "deferred", "reason", why, (char *)0); return -1; }
  if (!l.body && (b = body_present(m->id, &l.size)) != 1) {   /* one file: its head vouched for the body */
    if (b == -1) return -1;
    corrupt_message(m->id, b == 2 ? "message body is not a regular file" : "message body missing");
    return 0;
  }
  r = state_read(w, m->id, &why);
  if (r == -1 && errno != EPROTO) { log_event(m->id, "status", "deferred", "reason", why, (char *)0); return -1; }
  if (r == -1) {           /* a bad state file is kept aside; route afresh */
    corrupt_state(m->id, why);
    work_free(w); work_init(w);
    if (state_envelope(&w->env, m->id, &why) != 1) return -1;
    r = 0;
  }
  w->layout = l;
  if (r == 0) {
    if (first_route(m, w) == -1) return -1;
    route_defer(m, w, 0);
  }
  return 1;
}

/* postmaster_bounce - the administrator bounced the message: every pending item fails */
static void postmaster_bounce(struct msg *m, struct work *w)
{
  static const char text[] = "5.0.0 message returned by the postmaster";
  unsigned int i;
  for (i = 0; i < w->n; i++)
    if (w->item[i].status == ST_PENDING) message_result(w, m->id, &w->item[i], DELIVERY_FAIL, text, sizeof text - 1);
  m->bounce_req = 0;
}

unsigned int message_begin(struct msg *m, unsigned long now, int flush)
{
  struct work *w = m->w;
  if (m->bounce_req) postmaster_bounce(m, w);
  if (reroute(m, w, now, flush) == -1) log_event(m->id, "status", "deferred", "reason", "out of memory while routing", (char *)0);
  return job_for(m, now, flush);
}

/* final - an item needs nothing more */
static int final(const struct item *it)
{
  return it->status == ST_DONE || it->status == ST_REPORTED || it->status == ST_GONE;
}

/* all_final - every item of w is final */
static int all_final(const struct work *w)
{
  unsigned int i;
  for (i = 0; i < w->n; i++) if (!final(&w->item[i])) return 0;
  return 1;
}

/* any_pending - an item still to be delivered */
static int any_pending(const struct work *w)
{
  unsigned int i;
  for (i = 0; i < w->n; i++) if (w->item[i].status == ST_PENDING) return 1;
  return 0;
}

/* notices - delay warning, then bounces and success notices owed; those
 * that cannot be sent now wait retry_min (injector failure) or the next
 * hour (bounce_rate_limit) */
static void notices(struct msg *m, struct work *w, unsigned long now)
{
  unsigned long when;
  unsigned int i;
  if (qr_cfg.delay_warning_time && !w->warned && any_pending(w)
      && now >= w->arrival + qr_cfg.delay_warning_time && dsn_warn(w, m->id) == 0) w->warned = 1;
  if (dsn_finish(w, m->id, &when) == 0) return;
  for (i = 0; i < w->n; i++)
    if (w->item[i].status == ST_FAILED || w->item[i].status == ST_DONE_NOTIFY) w->item[i].next = when;
}

/* next_due - when m should be looked at again: its earliest item, not
 * counting held items (hold.c) */
static unsigned long next_due(const struct work *w, unsigned long now)
{
  unsigned long due = (unsigned long)-1;
  unsigned int i;
  int held = 0;
  for (i = 0; i < w->n; i++) {
    const struct item *it = &w->item[i];
    if (hold_item(w, it)) held = 1;
    else if ((it->status == ST_PENDING || it->status == ST_FAILED || it->status == ST_DONE_NOTIFY) && it->next < due) due = it->next;
  }
  return held ? hold_due(due, now) : due;
}

int message_finish(struct msg *m, unsigned long now)
{
  struct work *w = m->w;
  if (!m->delete_req) notices(m, w, now);
  if (m->delete_req || all_final(w)) {
    message_remove(m->id, !w->layout.body);
    log_event(m->id, "status", m->delete_req ? "deleted" : "done", (char *)0);
    return 1;
  }
  /* a pass that changed nothing (nothing was due) leaves the file alone */
  if ((!w->have_state || state_digest(w) != w->digest) && state_write(w, m->id) == -1)
    log_event(m->id, "status", "error", "reason", "unable to write the state file", (char *)0);
  m->due = next_due(w, now);
  work_free(w);
  free(w);
  m->w = 0;
  return 0;
}

void message_save(struct msg *m, unsigned long now)
{
  if (m->delete_req || !m->w) return;
  if (state_write(m->w, m->id) == -1)
    log_event(m->id, "status", "error", "reason", "unable to write the state file", (char *)0);
  else { m->w->have_state = 1; m->w->digest = state_digest(m->w); }
  m->saved = now;
}

unsigned int message_dest(struct msg *m, struct work *w, const char *dest, int what)
{
  static const char text[] = "5.0.0 mail for this destination was returned by the postmaster";
  unsigned int i, n = 0;
  for (i = 0; i < w->n; i++) {
    struct item *it = &w->item[i];
    if (it->status != ST_PENDING || !dest_matches(dest, work_s(w, it->dest), work_s(w, it->addr))) continue;
    n++;
    if (what == DEST_RETRY) { it->next = clock_now(); continue; }
    if (what == DEST_BOUNCE) { message_result(w, m->id, it, DELIVERY_FAIL, text, sizeof text - 1); continue; }
    it->status = ST_REPORTED;
    log_event(m->id, "to", work_s(w, it->addr), "status", "purged", "dest", dest, (char *)0);
  }
  return n;
}

unsigned long message_backoff(unsigned long tries)
{
  unsigned long d = qr_cfg.retry_min ? qr_cfg.retry_min : 1;
  while (tries-- > 1 && d < qr_cfg.retry_max) d *= 2;
  return d < qr_cfg.retry_max ? d : qr_cfg.retry_max;
}

/* log_result - the one line per delivery attempt */
static void log_result(struct work *w, const char *id, const struct item *it, const char *status)
{
  char to[ADDR_MAX + 3], delay[NUM_ULONG], tries[NUM_ULONG];
  stralloc relay = { 0 };
  unsigned long now = clock_now();
  str_copy(to, "<"); str_copy(to + 1, work_s(w, it->addr)); str_copy(to + str_len(to), ">");
  num_str(delay, now > w->arrival ? now - w->arrival : 0);
  num_str(tries, it->tries);
  if (it->kind == KIND_REMOTE) stralloc_copys(&relay, work_s(w, it->dest));
  else if (work_local_kind(it->kind)) { stralloc_copys(&relay, "local:"); stralloc_cats(&relay, work_s(w, it->user)); }
  else stralloc_copys(&relay, "none");
  if (!stralloc_0(&relay)) relay.s = "?";
  log_event(id, "to", to, "relay", relay.s, "delay", delay, "tries", tries, "status", status,
            "reply", work_s(w, it->text), (char *)0);
  if (relay.a) stralloc_free(&relay);
}

/* counted - a result into the traffic counters and the destination status */
static void counted(const struct work *w, const char *id, const struct item *it, int res, unsigned long now)
{
  stats_result(id, w, it, res);
  hoststat_result(w, it, res, now);
}

void message_result(struct work *w, const char *id, struct item *it, int res, const char *text, size_t len)
{
  unsigned long now = clock_now();
  char buf[QR_TEXT_MAX];
  it->tries++;
  if (res == DELIVERY_OK || res == DELIVERY_PASSED) {
    /* passed: the next hop took the DSN request and reports the delivery
     * itself; a "relayed" notice from us would be a second receipt */
    it->status = res == DELIVERY_OK && dsn_success_wanted(w, it) ? ST_DONE_NOTIFY : ST_DONE;
    work_set_text(w, it, text, len);
    log_result(w, id, it, "sent");
    counted(w, id, it, res, now);
    return;
  }
  if (res == DELIVERY_DEFER && now >= w->arrival + qr_cfg.queue_lifetime) {
    size_t n = str_copy(buf, "4.4.7 delivery time expired; last error: ");
    if (len > sizeof buf - n) len = sizeof buf - n;
    byte_copy(buf + n, len, text);
    text = buf; len += n;
    res = DELIVERY_FAIL;
  }
  work_set_text(w, it, text, len);
  if (res == DELIVERY_FAIL) { it->status = ST_FAILED; it->next = 0; log_result(w, id, it, "bounced"); counted(w, id, it, res, now); return; }
  it->next = now + message_backoff(it->tries);
  log_result(w, id, it, "deferred");
  counted(w, id, it, res, now);
}

void message_results(const struct job_outcome *o)
{
  struct work *w = o->m->w;
  unsigned int k;
  for (k = 0; k < o->n; k++) message_result(w, o->m->id, &w->item[o->idx[k]], o->res[k], o->text[k], o->len[k]);
}
