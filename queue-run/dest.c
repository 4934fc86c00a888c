/* dest.c - destinations and their limits: a destination (a remote
 * destination string, or "local:USER") has running jobs and a queue of
 * waiting ones (job.c); it takes turns with the others in a list of those
 * with a waiting job and room under destination_concurrency_limit, so a
 * destination at its limit costs nothing while others go on.  Idle
 * destinations are dropped when the table grows. */
#include <stdlib.h>
#include "case.h"
#include "str.h"
#include "address.h"
#include "qr.h"

static struct dest **dt;        /* destinations by key (open addressing) */
static unsigned int dt_cap, dt_used;
static struct dest *turn_head, *turn_tail;   /* destinations that may start a job now */

unsigned long dest_hash(const char *k)
{
  unsigned long h = 5381;
  while (*k) h = h * 33 + (unsigned char)*k++;
  return h;
}

/* idle - a destination nothing refers to (freed when the table grows) */
static int idle(const struct dest *d)
{
  return !d->running && !d->head && !d->listed;
}

/* dt_grow - room for one more key, dropping idle ones; -1 no memory */
static int dt_grow(void)
{
  struct dest **old = dt;
  unsigned int ocap = dt_cap, cap = dt_cap ? dt_cap : 64, i, j;
  if (2 * (dt_used + 1) <= dt_cap) return 0;
  while (2 * (dt_used + 1) > cap) cap *= 2;
  if (!(dt = calloc(cap, sizeof *dt))) { dt = old; return -1; }
  dt_cap = cap; dt_used = 0;
  for (j = 0; j < ocap; j++) {
    if (!old[j]) continue;
    if (idle(old[j])) { free(old[j]->key); free(old[j]); continue; }
    for (i = (unsigned int)dest_hash(old[j]->key) & (cap - 1); dt[i]; i = (i + 1) & (cap - 1)) {}
    dt[i] = old[j];
    dt_used++;
  }
  free(old);
  return 0;
}

struct dest *dest_get(const char *key)
{
  unsigned int i, mask;
  struct dest *d;
  dt_grow();                           /* without memory the old table serves */
  if (!dt_cap) return 0;
  mask = dt_cap - 1;
  for (i = (unsigned int)dest_hash(key) & mask; dt[i]; i = (i + 1) & mask)
    if (!str_diff(dt[i]->key, key)) return dt[i];
  if (dt_used + 2 > dt_cap || !(d = calloc(1, sizeof *d))) return 0;   /* a free slot ends every probe */
  if (!(d->key = malloc(str_len(key) + 1))) { free(d); return 0; }
  str_copy(d->key, key);
  dt[i] = d;
  dt_used++;
  return d;
}

/* limit - destination_concurrency_limit, at least 1 */
static unsigned long limit(void)
{
  return qr_cfg.destination_concurrency_limit ? qr_cfg.destination_concurrency_limit : 1;
}

void dest_turn(struct dest *d)
{
  if (d->listed || !d->head || d->running >= limit()) return;
  d->listed = 1;
  d->next = 0;
  if (turn_tail) turn_tail->next = d; else turn_head = d;
  turn_tail = d;
}

int dest_waiting(void)
{
  return turn_head != 0;
}

struct dest *dest_next(void)
{
  struct dest *d = turn_head;
  if (!d) return 0;
  turn_head = d->next;
  if (!turn_head) turn_tail = 0;
  d->listed = 0;
  return d;
}

void dest_each(void (*fn)(struct dest *d))
{
  unsigned int i;
  for (i = 0; i < dt_cap; i++) if (dt[i]) fn(dt[i]);
  turn_head = turn_tail = 0;
  for (i = 0; i < dt_cap; i++) if (dt[i]) dt[i]->listed = 0;
}

/* domain_of - the domain part of an address ("" if none) */
static const char *domain_of(const char *addr)
{
  size_t len = str_len(addr), at = address_at(addr, len);
  return at < len ? addr + at + 1 : "";
}

int dest_matches(const char *name, const char *dest, const char *addr)
{
  return !str_diff(name, dest) || !case_diffs(name, domain_of(addr));
}

