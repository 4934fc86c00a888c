/* sched.c - the message table: which messages are queued, when each is
 * due, activating a message (envelope, state, routing, jobs) and finishing
 * it when its jobs are done (notices, bounces, state file or removal).
 *
 * A message is "active" from activation until its last job has ended.
 * Only then is its state written (write tmp, fsync, rename: invariant 2)
 * or, when every item is final, its files removed.  Results of a message
 * whose pass never finished (a crash) are simply not recorded: its
 * deliveries are repeated, never lost. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>      /* rename */
#include <stdlib.h>
#include <unistd.h>
#include "scan.h"
#include "byte.h"
#include "case.h"
#include "str.h"
#include "log.h"
#include "wbuf.h"
#include "qr.h"
#include "job.h"

static struct msg **msgs;          /* every queued message; m->slot is its index */
static unsigned int nmsgs, amsgs;
static struct msg **bucket;        /* the id hash: chains through m->hnext */
static unsigned int nbuckets;      /* a power of two, grown to stay >= nmsgs */
static struct msg **ready;         /* activation queue: new, flushed; m->rpos */
static unsigned int nready, aready, ready_head;   /* ready[ready_head..nready) */
static unsigned long min_due = (unsigned long)-1;  /* no inactive message due earlier */
static unsigned int nactive;       /* messages loaded */
static struct router router;       /* maps, opened once (sched_open) */

void sched_open(void)
{
  router_open(&router, &qr_cfg);
}

int sched_local_address(const char *addr)
{
  return route_local_address(&router, addr);
}

/* id_hash - of a queue id */
static unsigned long id_hash(const char *id)
{
  unsigned long h = 5381;
  while (*id) h = h * 33 + (unsigned char)*id++;
  return h;
}

struct msg *sched_find(const char *id)
{
  struct msg *m;
  if (!nbuckets) return 0;
  for (m = bucket[id_hash(id) & (nbuckets - 1)]; m; m = m->hnext)
    if (!str_diff(m->id, id)) return m;
  return 0;
}

/* hash_grow - room for one more message in the hash; -1 no memory (the
 * old table still works, with longer chains, once there is one) */
static int hash_grow(void)
{
  unsigned int cap = nbuckets ? nbuckets * 2 : 1024, i;
  struct msg **b;
  if (nmsgs < nbuckets) return 0;
  if (!(b = calloc(cap, sizeof *b))) return nbuckets ? 0 : -1;
  for (i = 0; i < nmsgs; i++) {
    struct msg **head = &b[id_hash(msgs[i]->id) & (cap - 1)];
    msgs[i]->hnext = *head;
    *head = msgs[i];
  }
  free(bucket);
  bucket = b;
  nbuckets = cap;
  return 0;
}

struct msg *sched_add(const char *id, unsigned long due)
{
  struct msg *m, **head;
  if (nmsgs == amsgs) {
    unsigned int a = amsgs ? amsgs * 2 : 256;
    struct msg **p = realloc(msgs, a * sizeof *p);
    if (!p) return 0;
    msgs = p; amsgs = a;
  }
  if (hash_grow() == -1 || !(m = calloc(1, sizeof *m))) return 0;
  str_copy(m->id, id);
  m->due = due;
  m->slot = nmsgs;
  msgs[nmsgs++] = m;
  head = &bucket[id_hash(id) & (nbuckets - 1)];
  m->hnext = *head;
  *head = m;
  if (due < min_due) min_due = due;
  return m;
}

void sched_ready(struct msg *m)
{
  unsigned int i;
  if (m->ready || m->active) return;
  if (ready_head == nready) ready_head = nready = 0;
  if (nready == aready && ready_head) {    /* reuse the consumed front */
    for (i = ready_head; i < nready; i++)
      if ((ready[i - ready_head] = ready[i])) ready[i]->rpos = i - ready_head;
    nready -= ready_head;
    ready_head = 0;
  }
  if (nready == aready) {
    unsigned int a = aready ? aready * 2 : 256;
    struct msg **p = realloc(ready, a * sizeof *p);
    if (!p) { m->due = 0; min_due = 0; return; }   /* the due scan finds it */
    ready = p; aready = a;
  }
  m->rpos = nready;
  ready[nready++] = m;
  m->ready = 1;
}

/* forget - drop m from the table, the ready list and the hash */
static void forget(struct msg *m)
{
  struct msg **p = &bucket[id_hash(m->id) & (nbuckets - 1)];
  if (m->ready) ready[m->rpos] = 0;
  msgs[m->slot] = msgs[--nmsgs];
  msgs[m->slot]->slot = m->slot;
  while (*p != m) p = &(*p)->hnext;
  *p = m->hnext;
  if (m->w) { work_free(m->w); free(m->w); }
  free(m);
}

/* remove_files - a finished or deleted message's files */
static void remove_files(const char *id)
{
  static stralloc fn;
  /* the envelope first: without it nothing else of the message counts */
  if (spool_path(&fn, SPOOL_QUEUE, id)) unlink(fn.s);
  if (spool_path(&fn, SPOOL_MESS, id)) unlink(fn.s);
  if (spool_path(&fn, SPOOL_STATE, id)) unlink(fn.s);
}

unsigned int sched_count(void)
{
  return nmsgs;
}

unsigned long sched_next_due(void)
{
  return min_due;
}

int sched_idle(void)
{
  return nactive == 0 && nready == ready_head;
}

/* flush_one - m due now, back-off ignored on its next pass (--once: not
 * when it had its pass already) */
static void flush_one(struct msg *m)
{
  if (qr_once && m->passed) return;
  m->due = 0;
  m->flushed = 1;
  sched_ready(m);
}

void sched_flush(const char *id)
{
  unsigned int i;
  struct msg *m;
  if (id) { if ((m = sched_find(id))) flush_one(m); return; }
  for (i = 0; i < nmsgs; i++) flush_one(msgs[i]);
}

/* body_present - is mess/<id> there, a regular file? 1, 0 absent, 2 not
 * a regular file (a FIFO, a device: planted), -1 error */
static int body_present(const char *id)
{
  int fd = work_body_open(id);
  if (fd != -1) { close(fd); return 1; }
  return errno == ENOENT ? 0 : errno == EFTYPE_BODY || errno == ELOOP ? 2 : -1;
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
  unsigned long now = qr_now(), t;
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
      job_result(w, m->id, it, 'd', work_s(w, it->text), str_len(work_s(w, it->text)));
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

/* load - envelope, body check, state or first routing; 1 loaded, 0 the
 * message is gone (removed from the table), -1 try again later */
static int load(struct msg *m, struct work *w)
{
  const char *why;
  int r = envelope_load(&w->env, m->id, &why), b;
  if (r == 0) { forget(m); return 0; }
  if (r == -1 && errno == EPROTO) { scan_corrupt(m->id, why); forget(m); return 0; }
  if (r == -1) { log_event(m->id, "status", "deferred", "reason", why, (char *)0); return -1; }
  if ((b = body_present(m->id)) != 1) {
    if (b == -1) return -1;
    scan_corrupt(m->id, b == 2 ? "message body is not a regular file" : "message body missing");
    forget(m);
    return 0;
  }
  r = state_read(w, m->id, &why);
  if (r == -1 && errno != EPROTO) { log_event(m->id, "status", "deferred", "reason", why, (char *)0); return -1; }
  if (r == -1) {           /* a bad state file is kept aside; route afresh */
    scan_corrupt_state(m->id, why);
    work_free(w); work_init(w);
    if (envelope_load(&w->env, m->id, &why) != 1) return -1;
    r = 0;
  }
  if (r == 0) {
    if (first_route(m, w) == -1) return -1;
    route_defer(m, w, 0);
  }
  return 1;
}

/* admin_bounce - the administrator bounced the message: every pending item fails */
static void admin_bounce(struct msg *m, struct work *w)
{
  static const char text[] = "5.0.0 message returned by the postmaster";
  unsigned int i;
  for (i = 0; i < w->n; i++)
    if (w->item[i].status == ST_PENDING) job_result(w, m->id, &w->item[i], 'f', text, sizeof text - 1);
  m->bounce_req = 0;
}

static void finish(struct msg *m);

/* activate - load m and queue jobs for its due items (all of them when
 * it was flushed); finish at once if none */
static void activate(struct msg *m, unsigned long now)
{
  struct work *w = calloc(1, sizeof *w);
  int r, flush = m->flushed;
  m->ready = 0;
  m->passed = 1;        /* --once: one pass per message */
  m->flushed = 0;
  if (!w) { m->due = now + qr_cfg.retry_min; return; }
  work_init(w);
  if ((r = load(m, w)) != 1) {
    work_free(w); free(w);
    if (r == -1) { m->due = now + qr_cfg.retry_min; if (m->due < min_due) min_due = m->due; }
    return;
  }
  if (envelope_tag(&w->env, 'Q') && !m->delete_req && !m->bounce_req) {
    m->due = (unsigned long)-1;         /* quarantined: until --release or --delete */
    work_free(w); free(w);
    return;
  }
  m->w = w;
  m->active = 1;
  m->saved = now;
  nactive++;
  if (m->bounce_req) admin_bounce(m, w);
  if (reroute(m, w, now, flush) == -1) log_event(m->id, "status", "deferred", "reason", "out of memory while routing", (char *)0);
  m->jobs = jobs_for(m, now, flush);
  if (m->jobs == 0) finish(m);
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
 * counting recipients of held destinations (their release makes every
 * message due; until then look again after retry_max at the latest) */
static unsigned long next_due(const struct work *w, unsigned long now)
{
  unsigned long due = (unsigned long)-1;
  unsigned int i;
  int held = 0;
  for (i = 0; i < w->n; i++) {
    const struct item *it = &w->item[i];
    if (it->status == ST_PENDING && it->kind == KIND_REMOTE && sched_held(work_s(w, it->dest), work_s(w, it->addr))) held = 1;
    else if ((it->status == ST_PENDING || it->status == ST_FAILED || it->status == ST_DONE_NOTIFY) && it->next < due) due = it->next;
  }
  if (held && due > now + qr_cfg.retry_max) due = now + (qr_cfg.retry_max ? qr_cfg.retry_max : 3600);
  return due;
}

/* finish - the end of a message's pass: notices, then removal or state */
static void finish(struct msg *m)
{
  struct work *w = m->w;
  unsigned long now = qr_now();
  m->active = 0;
  nactive--;
  if (!m->delete_req) notices(m, w, now);
  if (m->delete_req || all_final(w)) {
    remove_files(m->id);
    log_event(m->id, "status", m->delete_req ? "deleted" : "done", (char *)0);
    forget(m);
    return;
  }
  /* a pass that changed nothing (nothing was due) leaves the file alone */
  if ((!w->have_state || work_digest(w) != w->digest) && state_write(w, m->id) == -1)
    log_event(m->id, "status", "error", "reason", "unable to write the state file", (char *)0);
  m->due = next_due(w, now);
  if (m->due < min_due) min_due = m->due;
  work_free(w);
  free(w);
  m->w = 0;
}

/* save - the state of an active message whose pass goes on: the results
 * so far; the items still being delivered stay pending (a crash repeats
 * them, never loses them) */
static void save(struct msg *m, unsigned long now)
{
  if (m->delete_req || !m->w) return;
  if (state_write(m->w, m->id) == -1)
    log_event(m->id, "status", "error", "reason", "unable to write the state file", (char *)0);
  else { m->w->have_state = 1; m->w->digest = work_digest(m->w); }
  m->saved = now;
}

void sched_job_done(struct msg *m)
{
  unsigned long now;
  if (m->jobs && --m->jobs == 0) { finish(m); return; }
  /* a long pass (a slow destination among quick ones) keeps what it has
   * learned on disk now and then, so a crash repeats less */
  now = qr_now();
  if (m->jobs && now >= m->saved + QR_CHECKPOINT_SECONDS) save(m, now);
}

void sched_checkpoint(void)
{
  unsigned long now = qr_now();
  unsigned int i;
  for (i = 0; i < nmsgs; i++)
    if (msgs[i]->active) save(msgs[i], now);
}

/* due_scan - every inactive message whose time has come goes to ready */
static void due_scan(unsigned long now)
{
  unsigned int i;
  min_due = (unsigned long)-1;
  for (i = 0; i < nmsgs; i++) {
    struct msg *m = msgs[i];
    if (m->active || m->ready || (qr_once && m->passed)) continue;
    if (m->due <= now) sched_ready(m);
    else if (m->due < min_due) min_due = m->due;
  }
}

void sched_tick(void)
{
  unsigned long now = qr_now();
  unsigned int limit = (unsigned int)(qr_cfg.concurrency_limit ? qr_cfg.concurrency_limit : 1) * 4;
  if (jobs_paused()) return;
  if (now >= min_due) due_scan(now);
  /* maps replaced by postern-maps are seen by the next message routed:
   * four stats when messages are activated, not while a backlog waits */
  if (nready > ready_head && jobs_pending() < limit) router_refresh(&router);
  while (nready > ready_head && jobs_pending() < limit) {
    struct msg *m = ready[ready_head++];
    if (ready_head == nready) ready_head = nready = 0;
    if (m) activate(m, now);
  }
  jobs_start();
}

/* dest_items - bounce or purge the pending items for dest in w */
static unsigned int dest_items(struct msg *m, struct work *w, const char *dest, int bounce)
{
  static const char text[] = "5.0.0 mail for this destination was returned by the postmaster";
  unsigned int i, n = 0;
  for (i = 0; i < w->n; i++) {
    struct item *it = &w->item[i];
    if (it->status != ST_PENDING || !sched_dest_matches(dest, work_s(w, it->dest), work_s(w, it->addr))) continue;
    n++;
    if (bounce) { job_result(w, m->id, it, 'f', text, sizeof text - 1); continue; }
    it->status = ST_REPORTED;
    log_event(m->id, "to", work_s(w, it->addr), "status", "purged", "dest", dest, (char *)0);
  }
  return n;
}

unsigned int sched_apply_dest(const char *dest, int bounce)
{
  unsigned int i = 0, total = 0;
  while (i < nmsgs) {
    struct msg *m = msgs[i];
    struct work *w;
    if (m->active) { log_event(m->id, "status", "busy", "reason", "delivering now; run the command again", (char *)0); i++; continue; }
    if (!(w = calloc(1, sizeof *w))) return total;
    work_init(w);
    int r = load(m, w);
    if (r != 1) { work_free(w); free(w); if (r == -1) i++; continue; }   /* 0: m is gone, msgs[i] is another */
    m->w = w; m->active = 1; nactive++;
    total += dest_items(m, w, dest, bounce);
    finish(m);                  /* may forget m: then msgs[i] is another message */
    if (i < nmsgs && msgs[i] == m) i++;
  }
  return total;
}

void sched_wake(void)
{
  unsigned int i;
  for (i = 0; i < nmsgs; i++)
    if (!msgs[i]->active) msgs[i]->due = 0;
  min_due = 0;
}

void sched_resync(void)
{
  unsigned int i;
  min_due = 0;                 /* the next tick looks at every message */
  for (i = 0; i < nmsgs; i++)
    if (!msgs[i]->active) msgs[i]->passed = msgs[i]->flushed = 0;
  /* the due times another scheduler left: scan_queue reads each state file */
  if (scan_queue() == -1) log_event(0, "status", "error", "reason", "unable to read queue/", (char *)0);
}

int sched_delete(const char *id)
{
  struct msg *m = sched_find(id);
  if (m && m->active) { m->delete_req = 1; return 1; }
  if (m) forget(m);
  remove_files(id);
  log_event(id, "status", "deleted", "by", "postmaster", (char *)0);
  return 1;
}

/* envelope_replace - queue/<id> becomes e: id.tmp, fsync, rename, fsync queue/ */
static int envelope_replace(const char *id, const struct envelope *e)
{
  static stralloc fn, tmp;
  char space[4096];
  buffer b;
  int fd;
  if (!spool_path(&fn, SPOOL_QUEUE, id) || !stralloc_copyb(&tmp, fn.s, fn.len - 1) ||
      !stralloc_cats(&tmp, ".tmp") || !stralloc_0(&tmp)) return -1;
  unlink(tmp.s);
  if ((fd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644)) == -1) return -1;
  wbuf_init(&b, fd, space, sizeof space);
  if (envelope_write(&b, e) == -1 || wbuf_flush(&b) == -1 || fsync(fd) == -1) { close(fd); unlink(tmp.s); return -1; }
  close(fd);
  if (rename(tmp.s, fn.s) == -1) { unlink(tmp.s); return -1; }
  return spool_fsync_dir(SPOOL_QUEUE);
}

int sched_release(const char *id)
{
  struct envelope e;
  const char *why;
  int r = 0;
  envelope_init(&e);
  if (!sched_find(id) || envelope_load(&e, id, &why) != 1 || !envelope_tag(&e, 'Q')) { envelope_free(&e); return 0; }
  e.tag['Q' - 'A'] = 0;                 /* the tag is gone; nothing else changes */
  if (envelope_replace(id, &e) == 0) {
    log_event(id, "status", "released", "by", "postmaster", (char *)0);
    sched_flush(id);
    r = 1;
  } else log_event(id, "status", "error", "reason", "unable to rewrite the envelope to release it", (char *)0);
  envelope_free(&e);
  return r;
}

int sched_bounce(const char *id)
{
  struct msg *m = sched_find(id);
  if (!m) return 0;
  m->bounce_req = 1;
  m->passed = 0;
  sched_flush(id);
  return 1;
}
