/* rate.c - bounce_rate_limit: notices per hour to one address, counted
 * in a table that grows (up to RATE_ADDRS_MAX addresses an hour) and in
 * state/bounce-rate, a line per notice, so that the limit holds across
 * restarts; a new hour starts from nothing. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "case.h"
#include "str.h"
#include "address.h"
#include "getln.h"
#include "num.h"
#include "scan.h"
#include "wbuf.h"
#include "qr.h"

#define RATE_ADDRS_MAX 100000         /* addresses counted per hour (past it, a new one is not limited) */
#define RATE_FILE SPOOL_STATE "/bounce-rate"

/* struct rate - notices sent to one address in the current hour */
struct rate { char *addr; unsigned long count; };
static struct rate *rates;      /* open addressing, keyed by address (case ignored) */
static unsigned int rates_cap, rates_used;
static unsigned long rates_hour = (unsigned long)-1;   /* the hour the table counts */
/* rate_hash - of addr, ASCII case ignored */
static unsigned long rate_hash(const char *addr)
{
  unsigned long h = 5381;
  const char *p;
  for (p = addr; *p; p++) h = h * 33 + (unsigned char)(*p >= 'A' && *p <= 'Z' ? *p + 32 : *p);
  return h;
}

/* rate_grow - room for one more address (the table stays under half
 * full, so every probe ends); -1 at RATE_ADDRS_MAX or without memory */
static int rate_grow(void)
{
  unsigned int cap = rates_cap ? rates_cap * 2 : 256, j, k;
  struct rate *t;
  if (2 * (rates_used + 1) <= rates_cap) return 0;
  if (rates_used >= RATE_ADDRS_MAX || !(t = calloc(cap, sizeof *t))) return -1;
  for (j = 0; j < rates_cap; j++) {
    if (!rates[j].addr) continue;
    for (k = (unsigned int)rate_hash(rates[j].addr) & (cap - 1); t[k].addr; k = (k + 1) & (cap - 1)) {}
    t[k] = rates[j];
  }
  free(rates);
  rates = t; rates_cap = cap;
  return 0;
}

/* rate_find - the entry of addr, made if new (count 0); 0 when a new one
 * does not fit (RATE_ADDRS_MAX, no memory).  Every address has its own
 * entry: no count is lost to another address (the table grows, it does
 * not evict). */
static struct rate *rate_find(const char *addr)
{
  unsigned int i;
  if (rates_cap)
    for (i = (unsigned int)rate_hash(addr) & (rates_cap - 1); rates[i].addr; i = (i + 1) & (rates_cap - 1))
      if (!case_diffs(rates[i].addr, addr)) return &rates[i];
  if (rate_grow() == -1) return 0;
  for (i = (unsigned int)rate_hash(addr) & (rates_cap - 1); rates[i].addr; i = (i + 1) & (rates_cap - 1)) {}
  if (!(rates[i].addr = malloc(str_len(addr) + 1))) return 0;
  str_copy(rates[i].addr, addr);
  rates[i].count = 0;
  rates_used++;
  return &rates[i];
}

/* rate_clear - a new hour: nothing counted */
static void rate_clear(unsigned long hour)
{
  unsigned int i;
  for (i = 0; i < rates_cap; i++) free(rates[i].addr);
  free(rates);
  rates = 0; rates_cap = rates_used = 0;
  rates_hour = hour;
}

/* rate_rewrite - state/bounce-rate as this hour's counts, one line per
 * address (the lines of past hours dropped); a failure only means a few
 * more notices */
static void rate_rewrite(void)
{
  stralloc text = { 0 };
  char num[NUM_ULONG];
  unsigned int i;
  for (i = 0; i < rates_cap; i++)
    if (rates[i].addr && rates[i].count
        && !(stralloc_cats(&text, num_str(num, rates_hour)) && stralloc_cats(&text, " ")
             && stralloc_cats(&text, num_str(num, rates[i].count)) && stralloc_cats(&text, " ")
             && stralloc_cats(&text, rates[i].addr) && stralloc_cats(&text, "\n"))) { stralloc_free(&text); return; }
  state_file_write(RATE_FILE, &text, 0600);
  stralloc_free(&text);
}

/* rate_load - this hour's counts from state/bounce-rate: "hour count addr"
 * lines, summed per address; anything malformed is skipped (the worst is
 * a few more notices).  A file holding other hours is rewritten. */
static void rate_load(unsigned long hour)
{
  char space[4096], line[ADDR_MAX + 64];
  size_t len;
  int fd = open(RATE_FILE, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), stale = 0, g;
  buffer b;
  rate_clear(hour);
  if (fd == -1) return;
  buffer_init(&b, read, fd, space, sizeof space);
  while ((g = getln(&b, line, sizeof line - 1, &len)) != GETLN_EOF && g != GETLN_ERROR) {
    unsigned long hr, count;
    size_t k, m;
    struct rate *r;
    if (g != GETLN_LINE) { stale = 1; continue; }      /* an overlong line */
    line[len] = 0;
    if (!(k = scan_ulong(line, &hr)) || line[k] != ' ' || hr != hour) { stale = 1; continue; }
    if (!(m = scan_ulong(line + k + 1, &count)) || line[k + 1 + m] != ' ') continue;
    if (str_len(line + k + m + 2) > ADDR_MAX || !line[k + m + 2]) continue;
    if ((r = rate_find(line + k + m + 2))) r->count += count;
  }
  close(fd);
  if (stale) rate_rewrite();
}

/* rate_count - one more notice to addr this hour, appended to
 * state/bounce-rate and fsynced (a line per notice: no rewrite of the
 * whole table each time) */
static void rate_count(const char *addr)
{
  char num[NUM_ULONG];
  stralloc line = { 0 };
  int fd = open(RATE_FILE, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  if (fd == -1) { rate_rewrite(); return; }       /* none yet: the table as it is */
  if (stralloc_cats(&line, num_str(num, rates_hour)) && stralloc_cats(&line, " 1 ") && stralloc_cats(&line, addr)
      && stralloc_cats(&line, "\n") && write(fd, line.s, line.len) == (ssize_t)line.len) fsync(fd);
  close(fd);
  stralloc_free(&line);
}

int rate_ok(const char *addr)
{
  unsigned long hour = clock_now() / 3600;
  struct rate *r;
  if (!qr_cfg.bounce_rate_limit) return 1;
  if (hour != rates_hour) rate_load(hour);
  if (str_len(addr) > ADDR_MAX || !(r = rate_find(addr))) return 1;   /* not counted: not limited */
  if (r->count >= qr_cfg.bounce_rate_limit) return 0;
  r->count++;
  rate_count(addr);
  return 1;
}

