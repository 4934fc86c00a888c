/* limit.c - the listener's connection limits, like sendmail's
 * MaxDaemonChildren / ConnectionRateThrottle and Postfix's anvil: a total
 * session limit, a per-source session limit and a per-source rate.
 *
 * Sources live in an open-addressed table of LIMIT_SLOTS slots; a source
 * is looked for in LIMIT_PROBES slots from its hash.  A slot with open
 * sessions is never given away, so limit_release finds it by index; a
 * slot without sessions is reused once its rate window is over, or, when
 * every probed slot is taken, the one whose window started first is
 * (its rate history is forgotten: the table never grows).  The hash is
 * keyed with a secret chosen at start, so that clients cannot pick
 * addresses that collide. */
#include <netinet/in.h>
#include <sys/random.h>
#include <sys/socket.h>
#include "byte.h"
#include "limit.h"

static unsigned long long hash_key;   /* per process; set on first use */

/* hash - FNV-1a over the key, seeded with the secret */
static unsigned long hash(const unsigned char *k)
{
  unsigned long long h;
  unsigned int i;
  if (!hash_key && getrandom(&hash_key, sizeof hash_key, GRND_NONBLOCK) != sizeof hash_key) hash_key = 1;
  h = 14695981039346656037ULL ^ hash_key;
  for (i = 0; i < 16; i++) { h ^= k[i]; h *= 1099511628211ULL; }
  return (unsigned long)(h ^ (h >> 29));
}

int limit_key(const void *sockaddr, unsigned char key[16])
{
  const struct sockaddr *sa = sockaddr;
  byte_zero(key, 16);
  if (sa->sa_family == AF_INET) {
    byte_copy(key + 12, 4, &((const struct sockaddr_in *)sa)->sin_addr);
    key[10] = key[11] = 0xff;
    return 0;
  }
  if (sa->sa_family == AF_INET6) {
    const unsigned char *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a)) byte_copy(key, 16, a);
    else byte_copy(key, 8, a);   /* the /64 */
    return 0;
  }
  return -1;
}

/* rank - how readily slot s may be given to a new source: 3 free, 2 its
 * window is over, 1 it has no sessions (the oldest window goes first),
 * 0 never */
static int rank(const struct limit_slot *s, unsigned long now)
{
  if (!s->used) return 3;
  if (s->sessions) return 0;
  return now - s->window >= LIMIT_WINDOW ? 2 : 1;
}

/* find - the slot of key, or the most reusable one made its own; -1 if
 * every probed slot has open sessions */
static int find(struct limits *l, const unsigned char *key, unsigned long now)
{
  unsigned long h = hash(key);
  int i, best = -1, best_rank = 0;
  for (i = 0; i < LIMIT_PROBES; i++) {
    int n = (int)((h + (unsigned long)i) % LIMIT_SLOTS);
    struct limit_slot *s = &l->slot[n];
    int r = rank(s, now);
    if (s->used && !byte_diff(s->key, 16, key)) return n;
    if (r > best_rank || (r == 1 && best_rank == 1 && s->window < l->slot[best].window)) { best = n; best_rank = r; }
  }
  if (best != -1) {
    struct limit_slot *s = &l->slot[best];
    byte_copy(s->key, 16, key);
    s->used = 1;
    s->sessions = 0;
    s->window = now;
    s->count = 0;
  }
  return best;
}

int limit_admit(struct limits *l, const unsigned char *key, unsigned long now, int *slot)
{
  struct limit_slot *s;
  int n;
  *slot = -1;
  if (!key) {
    if (l->sessions >= l->max_sessions) return LIMIT_TOTAL;
    l->sessions++;
    return LIMIT_OK;
  }
  if ((n = find(l, key, now)) == -1) return LIMIT_FULL;
  s = &l->slot[n];
  if (now - s->window >= LIMIT_WINDOW || now < s->window) { s->window = now; s->count = 0; }
  if (s->count < (unsigned long)-1) s->count++;   /* refused ones count too: a flood stays refused */
  if (l->sessions >= l->max_sessions) return LIMIT_TOTAL;
  if (l->max_source && s->sessions >= l->max_source) return LIMIT_SOURCE;
  if (l->rate && s->count > l->rate) return LIMIT_RATE;
  s->sessions++;
  l->sessions++;
  *slot = n;
  return LIMIT_OK;
}

int limit_adopt(struct limits *l, const unsigned char *key, unsigned long now)
{
  int n = key ? find(l, key, now) : -1;
  if (n >= 0) l->slot[n].sessions++;
  l->sessions++;
  return n;
}

void limit_release(struct limits *l, int slot)
{
  if (l->sessions) l->sessions--;
  if (slot >= 0 && slot < LIMIT_SLOTS && l->slot[slot].sessions) l->slot[slot].sessions--;
}

const char *limit_name(int answer)
{
  switch (answer) {
  case LIMIT_TOTAL: return "smtpd_max_sessions";
  case LIMIT_SOURCE: return "smtpd_max_source_sessions";
  case LIMIT_RATE: return "smtpd_source_rate_limit";
  case LIMIT_FULL: return "client table full";
  }
  return "";
}
