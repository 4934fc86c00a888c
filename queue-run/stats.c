/* stats.c - traffic counters (sendmail's mailstats): messages and bytes
 * received, and deliveries and their bytes delivered, deferred and
 * bounced, per route: the destination of a remote delivery, or the kind
 * of a local one.  Counted in memory as results come in (no write per
 * message), kept in state/stats, rewritten durably (state_file_write:
 * tmp, fsync, rename, fsync state/) at most every QR_STATS_SECONDS and at
 * exit, and read back at start, so the counts survive restarts; a crash
 * loses at most the last few seconds of counts, never mail.
 *
 * state/stats (also what queue-run --stats --machine prints):
 *   since TAB SECONDS
 *   R TAB KIND TAB ROUTE TAB (COUNT TAB BYTES) x 4: received, delivered,
 *                              deferred, bounced
 * The received counts sit on the row "-" "-". */
#include <errno.h>
#include <sysexits.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "buffer.h"
#include "byte.h"
#include "delivery.h"
#include "errmsg.h"
#include "getln.h"
#include "log.h"
#include "num.h"
#include "scan.h"
#include "str.h"
#include "wbuf.h"
#include "qr.h"

#define STATS_FILE "state/stats"
#define STATS_ROUTES_MAX 4096        /* rows; more routes are counted as "other" */
#define STATS_HASH 1024              /* hash chains */
#define STATS_LINE_MAX (QR_MAP_VALUE_MAX + 400)   /* bytes per line of state/stats: a route and 8 numbers */

/* struct row - the counts of one route */
struct row {
  char kind[16];
  char *route;
  unsigned long long n[STATS_EVENTS], bytes[STATS_EVENTS];
  int next;                  /* the next row in its hash chain, -1 none */
};

static struct row *rows;             /* the table */
static unsigned int nrows, arows;
static int chain[STATS_HASH];        /* first row of each chain, -1 none (after stats_reset) */
static int chained;                  /* chain[] is set up */
static unsigned long since;          /* counting since, seconds */
static int dirty;                    /* counts changed since the last save */
static unsigned long saved_at;       /* last save, seconds */

static const char *const event_names[STATS_EVENTS] = { "received", "delivered", "deferred", "bounced" };

/* hash - FNV-1a of kind and route */
static unsigned int hash(const char *kind, const char *route)
{
  unsigned long h = 2166136261UL;
  for (; *kind; kind++) h = (h ^ (unsigned char)*kind) * 16777619UL;
  for (h = (h ^ 0) * 16777619UL; *route; route++) h = (h ^ (unsigned char)*route) * 16777619UL;
  return (unsigned int)(h % STATS_HASH);
}

/* find - the row of kind and route, made if new; 0 out of memory */
static struct row *find(const char *kind, const char *route)
{
  unsigned int h, i;
  int k;
  if (!chained) { for (i = 0; i < STATS_HASH; i++) chain[i] = -1; chained = 1; }
  if (str_len(kind) >= sizeof rows[0].kind) kind = "other";
  if (nrows >= STATS_ROUTES_MAX) { kind = "other"; route = "other"; }
  h = hash(kind, route);
  for (k = chain[h]; k != -1; k = rows[k].next)
    if (!str_diff(rows[k].kind, kind) && !str_diff(rows[k].route, route)) return &rows[k];
  if (nrows == arows) {
    unsigned int na = arows ? arows * 2 : 64;
    struct row *r = realloc(rows, na * sizeof *r);
    if (!r) return 0;
    rows = r; arows = na;
  }
  byte_zero(&rows[nrows], sizeof rows[nrows]);
  if (!(rows[nrows].route = malloc(str_len(route) + 1))) return 0;
  str_copy(rows[nrows].route, route);
  str_copy(rows[nrows].kind, kind);
  rows[nrows].next = chain[h];
  chain[h] = (int)nrows;
  return &rows[nrows++];
}

void stats_count(int event, const char *kind, const char *route, unsigned long bytes)
{
  struct row *r = find(kind, *route ? route : "-");
  if (!r) return;   /* out of memory: a count is lost, nothing else */
  if (!since) since = clock_now();
  r->n[event]++;
  r->bytes[event] += bytes;
  dirty = 1;
}

void stats_received(const char *id)
{
  stats_count(STATS_RECEIVED, "-", "-", state_body_size(SPOOL_QUEUE, id));
}

void stats_result(const char *id, const struct work *w, const struct item *it, int res)
{
  int ev = res == DELIVERY_OK || res == DELIVERY_PASSED ? STATS_DELIVERED : res == DELIVERY_DEFER ? STATS_DEFERRED : STATS_BOUNCED;
  (void)id;                  /* the body's size is the work's (message_load) */
  stats_count(ev, route_kind_name(it->kind), it->kind == KIND_REMOTE ? work_s(w, it->dest) : "-", w->layout.size);
}

/* put_u - a count after a space */
static void put_u(buffer *b, unsigned long long n)
{
  char s[NUM_ULONG];
  buffer_puts(b, " ");
  buffer_puts(b, num_str(s, (unsigned long)n));
}

/* text - the table as state/stats holds it */
static int text(stralloc *sa)
{
  unsigned int i, e;
  char s[NUM_ULONG];
  if (!stralloc_copys(sa, "since\t") || !stralloc_cats(sa, num_str(s, since)) || !stralloc_cats(sa, "\n")) return -1;
  for (i = 0; i < nrows; i++) {
    const struct row *r = &rows[i];
    if (!stralloc_cats(sa, "R\t") || !stralloc_cats(sa, r->kind) || !stralloc_cats(sa, "\t") || !stralloc_cats(sa, r->route)) return -1;
    for (e = 0; e < STATS_EVENTS; e++) {
      if (!stralloc_cats(sa, "\t") || !stralloc_cats(sa, num_str(s, (unsigned long)r->n[e]))
          || !stralloc_cats(sa, "\t") || !stralloc_cats(sa, num_str(s, (unsigned long)r->bytes[e]))) return -1;
    }
    if (!stralloc_cats(sa, "\n")) return -1;
  }
  return 0;
}

unsigned long stats_next_save(void)
{
  return dirty || hoststat_dirty() ? saved_at + QR_STATS_SECONDS : 0;
}

void stats_save(unsigned long now, int force)
{
  static stralloc sa;
  if ((!dirty && !hoststat_dirty()) || (!force && now < saved_at + QR_STATS_SECONDS && now >= saved_at)) return;
  saved_at = now;
  hoststat_save();
  if (!dirty) return;
  if (text(&sa) == -1 || state_file_write(STATS_FILE, &sa, 0640) == -1) {
    log_event(0, "status", "error", "reason", "unable to write state/stats", (char *)0);
    return;
  }
  dirty = 0;
}

/* field - the next TAB-separated field of line[*pos..len), NUL-terminated in place */
static char *field(char *line, size_t len, size_t *pos)
{
  char *f = line + *pos;
  size_t n;
  if (*pos > len) return 0;
  n = byte_chr(f, len - *pos, '\t');
  f[n] = 0;
  *pos += n + 1;
  return f;
}

/* parse - one line of state/stats into the table; -1 malformed */
static int parse(char *line, size_t len)
{
  size_t pos = 0;
  char *tag, *kind, *route, *f;
  unsigned long v;
  unsigned int e;
  struct row *r;
  line[len] = 0;
  if (!(tag = field(line, len, &pos))) return -1;
  if (!str_diff(tag, "since")) return (f = field(line, len, &pos)) && scan_ulong(f, &since) ? 0 : -1;
  if (str_diff(tag, "R") || !(kind = field(line, len, &pos)) || !(route = field(line, len, &pos)) || !*route) return -1;
  if (!(r = find(kind, route))) return -1;
  for (e = 0; e < STATS_EVENTS; e++) {
    if (!(f = field(line, len, &pos)) || !*f || f[scan_ulong(f, &v)]) return -1;
    r->n[e] += v;
    if (!(f = field(line, len, &pos)) || !*f || f[scan_ulong(f, &v)]) return -1;
    r->bytes[e] += v;
  }
  return 0;
}

int stats_load(void)
{
  static char line[STATS_LINE_MAX + 1];
  return state_file_read(STATS_FILE, line, STATS_LINE_MAX, parse);
}

/* ------------------------------------------------------------ --stats */

/* show_row - one route in words */
static void show_row(buffer *b, const struct row *r, unsigned long long *total)
{
  char num[NUM_ULONG];
  unsigned int e;
  if (!str_diff(r->kind, "-")) {
    buffer_puts(b, "received");
    put_u(b, r->n[STATS_RECEIVED]); buffer_puts(b, " messages,"); put_u(b, r->bytes[STATS_RECEIVED]); buffer_puts(b, " bytes\n");
    return;
  }
  buffer_puts(b, r->kind);
  if (str_diff(r->route, "-")) { buffer_puts(b, " "); buffer_puts(b, r->route); }
  buffer_puts(b, ":");
  for (e = STATS_DELIVERED; e < STATS_EVENTS; e++) {
    buffer_puts(b, e == STATS_DELIVERED ? " " : ", "); buffer_puts(b, event_names[e]);
    put_u(b, r->n[e]); buffer_puts(b, " ("); buffer_puts(b, num_str(num, (unsigned long)r->bytes[e]));
    buffer_puts(b, " bytes)");
    total[e] += r->n[e];
  }
  buffer_puts(b, "\n");
}

int stats_show(int machine)
{
  static char space[8192];
  static stralloc sa;
  unsigned long long total[STATS_EVENTS] = { 0 };
  unsigned int i, e;
  buffer b;
  if (stats_load() == -1) diesys(EX_TEMPFAIL, "unable to read ", STATS_FILE);
  wbuf_init(&b, 1, space, sizeof space);
  if (machine) {
    if (text(&sa) == -1) die(EX_TEMPFAIL, "out of memory");
    buffer_put(&b, sa.s, sa.len);
    return wbuf_flush(&b) == 0 ? 0 : 74;
  }
  buffer_puts(&b, "Statistics since "); admin_put_time(&b, since); if (since) buffer_puts(&b, " UTC"); buffer_puts(&b, "\n");
  for (i = 0; i < nrows; i++) show_row(&b, &rows[i], total);
  buffer_puts(&b, "total:");
  for (e = STATS_DELIVERED; e < STATS_EVENTS; e++) {
    buffer_puts(&b, e == STATS_DELIVERED ? " " : ", "); buffer_puts(&b, event_names[e]); put_u(&b, total[e]);
  }
  buffer_puts(&b, "\n");
  return wbuf_flush(&b) == 0 ? 0 : 74;
}
