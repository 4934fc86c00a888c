/* table.c - the message table: which messages are queued (an id hash),
 * when each is due, the ready list of messages to activate, and the
 * pass of each from activation (message.c loads it, job.c runs its
 * deliveries) until its last job has ended and the one call-back from
 * the jobs (job_done) finishes it.  Only then is its state written
 * (write tmp, fsync, rename: invariant 2) or, when every item is final,
 * its files removed.  Results of a message whose pass never finished (a
 * crash) are simply not recorded: its deliveries are repeated, never
 * lost. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "scan.h"
#include "byte.h"
#include "case.h"
#include "str.h"
#include "log.h"
#include "qr.h"

static struct msg **msgs;          /* every queued message; m->slot is its index */
static unsigned int nmsgs, amsgs;
static struct msg **bucket;        /* the id hash: chains through m->hnext */
static unsigned int nbuckets;      /* a power of two, grown to stay >= nmsgs */
static struct msg **ready;         /* activation queue: new, flushed; m->rpos */
static unsigned int nready, aready, ready_head;   /* ready[ready_head..nready) */
static unsigned long min_due = (unsigned long)-1;  /* no inactive message due earlier */
static unsigned int nactive;       /* messages loaded */
static void job_done(const struct job_outcome *o);

void table_open(int local_sock, int remote_sock)
{
  message_open();
  job_init(job_done, local_sock, remote_sock);
}

/* id_hash - of a queue id */
static unsigned long id_hash(const char *id)
{
  unsigned long h = 5381;
  while (*id) h = h * 33 + (unsigned char)*id++;
  return h;
}

struct msg *table_find(const char *id)
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

struct msg *table_add(const char *id, unsigned long due)
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

void table_ready(struct msg *m)
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

unsigned int table_count(void)
{
  return nmsgs;
}

unsigned long table_next_due(void)
{
  return min_due;
}

int table_idle(void)
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
  table_ready(m);
}

void table_flush(const char *id)
{
  unsigned int i;
  struct msg *m;
  if (id) { if ((m = table_find(id))) flush_one(m); return; }
  for (i = 0; i < nmsgs; i++) flush_one(msgs[i]);
}

/* finish - the end of m's pass (message_finish): forgotten when its
 * files are gone, else due again */
static void finish(struct msg *m)
{
  m->active = 0;
  nactive--;
  if (message_finish(m, clock_now())) { forget(m); return; }
  if (m->due < min_due) min_due = m->due;
}

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
  if ((r = message_load(m, w)) != 1) {
    work_free(w); free(w);
    if (r == 0) forget(m);
    else { m->due = now + qr_cfg.retry_min; if (m->due < min_due) min_due = m->due; }
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
  m->jobs = message_begin(m, now, flush);
  if (m->jobs == 0) finish(m);
}

/* job_done - the one call from the jobs below: one job of a message
 * ended with its results (none when it was dropped unstarted) */
static void job_done(const struct job_outcome *o)
{
  struct msg *m = o->m;
  unsigned long now;
  message_results(o);
  if (m->jobs && --m->jobs == 0) { finish(m); return; }
  /* a long pass (a slow destination among quick ones) keeps what it has
   * learned on disk now and then, so a crash repeats less */
  now = clock_now();
  if (m->jobs && now >= m->saved + QR_CHECKPOINT_SECONDS) message_save(m, now);
}

void table_checkpoint(void)
{
  unsigned long now = clock_now();
  unsigned int i;
  for (i = 0; i < nmsgs; i++)
    if (msgs[i]->active) message_save(msgs[i], now);
}

/* due_scan - every inactive message whose time has come goes to ready */
static void due_scan(unsigned long now)
{
  unsigned int i;
  min_due = (unsigned long)-1;
  for (i = 0; i < nmsgs; i++) {
    struct msg *m = msgs[i];
    if (m->active || m->ready || (qr_once && m->passed)) continue;
    if (m->due <= now) table_ready(m);
    else if (m->due < min_due) min_due = m->due;
  }
}

void table_tick(void)
{
  unsigned long now = clock_now();
  unsigned int limit = (unsigned int)(qr_cfg.concurrency_limit ? qr_cfg.concurrency_limit : 1) * 4;
  if (job_paused()) return;
  if (now >= min_due) due_scan(now);
  /* maps replaced by postern-maps are seen by the next message routed:
   * four stats when messages are activated, not while a backlog waits */
  if (nready > ready_head && job_pending() < limit) message_refresh();
  while (nready > ready_head && job_pending() < limit) {
    struct msg *m = ready[ready_head++];
    if (ready_head == nready) ready_head = nready = 0;
    if (m) activate(m, now);
  }
  job_start();
}

unsigned int table_apply_dest(const char *dest, int bounce)
{
  unsigned int i = 0, total = 0;
  while (i < nmsgs) {
    struct msg *m = msgs[i];
    struct work *w;
    if (m->active) { log_event(m->id, "status", "busy", "reason", "delivering now; run the command again", (char *)0); i++; continue; }
    if (!(w = calloc(1, sizeof *w))) return total;
    work_init(w);
    int r = message_load(m, w);
    if (r != 1) { work_free(w); free(w); if (r == 0) forget(m); else i++; continue; }   /* 0: m is gone, msgs[i] is another */
    m->w = w; m->active = 1; nactive++;
    total += message_dest(m, w, dest, bounce);
    finish(m);                  /* may forget m: then msgs[i] is another message */
    if (i < nmsgs && msgs[i] == m) i++;
  }
  return total;
}

void table_wake(void)
{
  unsigned int i;
  for (i = 0; i < nmsgs; i++)
    if (!msgs[i]->active) msgs[i]->due = 0;
  min_due = 0;
}

void table_resync(void)
{
  unsigned int i;
  min_due = 0;                 /* the next tick looks at every message */
  for (i = 0; i < nmsgs; i++)
    if (!msgs[i]->active) msgs[i]->passed = msgs[i]->flushed = 0;
}

int table_delete(const char *id)
{
  struct msg *m = table_find(id);
  if (m && m->active) { m->delete_req = 1; return 1; }
  if (m) forget(m);
  message_remove(id, 1);          /* not loaded: either layout */
  log_event(id, "status", "deleted", "by", "postmaster", (char *)0);
  return 1;
}

int table_release(const char *id)
{
  struct envelope e;
  const char *why;
  int r = 0;
  envelope_init(&e);
  if (!table_find(id) || state_envelope(&e, id, &why) != 1 || !envelope_tag(&e, 'Q')) { envelope_free(&e); return 0; }
  e.tag['Q' - 'A'] = 0;                 /* the tag is gone; nothing else changes */
  if (state_envelope_replace(id, &e) == 0) {
    log_event(id, "status", "released", "by", "postmaster", (char *)0);
    table_flush(id);
    r = 1;
  } else log_event(id, "status", "error", "reason", "unable to rewrite the envelope to release it", (char *)0);
  envelope_free(&e);
  return r;
}

int table_bounce(const char *id)
{
  struct msg *m = table_find(id);
  if (!m) return 0;
  m->bounce_req = 1;
  m->passed = 0;
  table_flush(id);
  return 1;
}
