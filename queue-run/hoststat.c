/* hoststat.c - per-destination status (sendmail's hoststat and
 * purgestat): for each remote destination the result of its last try,
 * when that was, and its text.  The daemon keeps the table in memory as
 * results come in and in state/hoststat, rewritten durably with
 * stats.c's rhythm (at most every QR_STATS_SECONDS, and at exit); it is
 * read back at start.  queue-run --hoststat adds what the queue says:
 * how many messages wait for each destination and their next try, from
 * the messages' state files.  --purgestat forgets a destination's entry
 * (or every one) and retries its mail now, back-off forgotten (control.c).
 *
 * state/hoststat, one line per destination:
 *   H TAB DESTINATION TAB STATUS TAB WHEN TAB TEXT
 * STATUS: ok, deferred or bounced; WHEN: seconds. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
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

#define HOSTSTAT_FILE "state/hoststat"
#define HOSTSTAT_MAX 10000           /* destinations remembered; more are not */
#define HOSTSTAT_HASH 4096
#define HOSTSTAT_LINE_MAX (QR_MAP_VALUE_MAX + QR_TEXT_MAX + 100)

/* struct host - one destination */
struct host {
  char *dest;
  char status[12];           /* ok, deferred, bounced; "" unknown (--hoststat: only queued) */
  unsigned long when;
  stralloc text;
  unsigned long waiting;     /* --hoststat: messages waiting */
  unsigned long next;        /* --hoststat: the earliest next try */
  int gone;                  /* purged */
  int next_in_chain;         /* -1 none */
};

static struct host *hosts;
static unsigned int nhosts, ahosts;
static int chain[HOSTSTAT_HASH];
static int chained;
static int dirty;

/* hash - FNV-1a, ASCII case ignored (destinations are host names) */
static unsigned int hash(const char *s)
{
  unsigned long h = 2166136261UL;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
    h = (h ^ c) * 16777619UL;
  }
  return (unsigned int)(h % HOSTSTAT_HASH);
}

/* same - destinations equal, ASCII case ignored */
static int same(const char *a, const char *b)
{
  for (;; a++, b++) {
    unsigned char x = (unsigned char)*a, y = (unsigned char)*b;
    if (x >= 'A' && x <= 'Z') x = (unsigned char)(x + 32);
    if (y >= 'A' && y <= 'Z') y = (unsigned char)(y + 32);
    if (x != y) return 0;
    if (!x) return 1;
  }
}

/* find - dest's entry; made if new and make; 0 none or no memory */
static struct host *find(const char *dest, int make)
{
  unsigned int h, i;
  int k;
  if (!chained) { for (i = 0; i < HOSTSTAT_HASH; i++) chain[i] = -1; chained = 1; }
  h = hash(dest);
  for (k = chain[h]; k != -1; k = hosts[k].next_in_chain)
    if (same(hosts[k].dest, dest)) return &hosts[k];
  if (!make || nhosts >= HOSTSTAT_MAX) return 0;
  if (nhosts == ahosts) {
    unsigned int na = ahosts ? ahosts * 2 : 64;
    struct host *n = realloc(hosts, na * sizeof *n);
    if (!n) return 0;
    hosts = n; ahosts = na;
  }
  byte_zero(&hosts[nhosts], sizeof hosts[nhosts]);
  if (!(hosts[nhosts].dest = malloc(str_len(dest) + 1))) return 0;
  str_copy(hosts[nhosts].dest, dest);
  hosts[nhosts].next_in_chain = chain[h];
  chain[h] = (int)nhosts;
  return &hosts[nhosts++];
}

/* set - dest's last result */
static void set(const char *dest, const char *status, unsigned long when, const char *text, size_t len)
{
  struct host *h = find(dest, 1);
  if (!h) return;   /* table full or no memory: the entry is missing, nothing else */
  h->gone = 0;
  str_copy(h->status, status);
  h->when = when;
  if (len > QR_TEXT_MAX) len = QR_TEXT_MAX;
  if (!stralloc_copyb(&h->text, text, len)) h->text.len = 0;
  dirty = 1;
}

void hoststat_result(const struct work *w, const struct item *it, int res, unsigned long now)
{
  const char *text = work_s(w, it->text);
  if (it->kind != KIND_REMOTE || !*work_s(w, it->dest)) return;
  set(work_s(w, it->dest), res == DELIVERY_OK || res == DELIVERY_PASSED ? "ok" : res == DELIVERY_DEFER ? "deferred" : "bounced",
      now, text, str_len(text));
}

/* covers - name (what the administrator typed) names dest: itself, or
 * the domain of an MX destination (smtp:name) */
static int covers(const char *name, const char *dest)
{
  return same(name, dest) || (str_start(dest, "smtp:") && same(name, dest + 5));
}

unsigned int hoststat_forget(const char *dest)
{
  unsigned int i, n = 0;
  for (i = 0; i < nhosts; i++)
    if (!hosts[i].gone && (!dest || covers(dest, hosts[i].dest))) { hosts[i].gone = 1; n++; }
  if (n) dirty = 1;
  return n;
}

/* text - the table as state/hoststat holds it */
static int text(stralloc *sa)
{
  char s[NUM_ULONG];
  unsigned int i;
  if (!stralloc_copys(sa, "")) return -1;
  for (i = 0; i < nhosts; i++) {
    const struct host *h = &hosts[i];
    if (h->gone || !h->status[0]) continue;
    if (!stralloc_cats(sa, "H\t") || !stralloc_cats(sa, h->dest) || !stralloc_cats(sa, "\t") || !stralloc_cats(sa, h->status)
        || !stralloc_cats(sa, "\t") || !stralloc_cats(sa, num_str(s, h->when)) || !stralloc_cats(sa, "\t")
        || !stralloc_catb(sa, h->text.s, h->text.len) || !stralloc_cats(sa, "\n")) return -1;
  }
  return 0;
}

int hoststat_dirty(void)
{
  return dirty;
}

void hoststat_save(void)
{
  static stralloc sa;
  if (!dirty) return;
  if (text(&sa) == -1 || state_file_write(HOSTSTAT_FILE, &sa, 0640) == -1) {
    log_event(0, "status", "error", "reason", "unable to write state/hoststat", (char *)0);
    return;
  }
  dirty = 0;
}

/* parse - one line of state/hoststat; -1 malformed */
static int parse(char *line, size_t len)
{
  size_t t[4], k = 0, i;
  unsigned long when;
  line[len] = 0;
  for (i = 0; i < len && k < 4; i++) if (line[i] == '\t') { line[i] = 0; t[k++] = i + 1; }
  if (k != 4 || str_diff(line, "H") || !line[t[0]] || str_len(line + t[1]) >= sizeof hosts[0].status) return -1;
  if (!line[t[2]] || line[t[2] + scan_ulong(line + t[2], &when)]) return -1;
  for (i = t[3]; i < len; i++) if ((unsigned char)line[i] < 32 && line[i] != '\t') return -1;
  set(line + t[0], line + t[1], when, line + t[3], len - t[3]);
  return 0;
}

int hoststat_load(void)
{
  static char line[HOSTSTAT_LINE_MAX + 1];
  int r = state_file_read(HOSTSTAT_FILE, line, HOSTSTAT_LINE_MAX, parse);
  if (r == 0) dirty = 0;
  return r;
}

/* ------------------------------------------------------------ --hoststat */

/* queued - the pending remote items of one queued message (its state
 * file read against its envelope), counted under their destinations */
static void queued(const char *id)
{
  static struct work w;
  const char *why;
  unsigned int i, j;
  work_free(&w);
  work_init(&w);
  if (state_envelope_from(&w.env, SPOOL_QUEUE, id, &why) != 1 || state_read(&w, id, &why) != 1) return;
  for (i = 0; i < w.n; i++) {
    const struct item *it = &w.item[i];
    struct host *h;
    if (it->kind != KIND_REMOTE || it->status != ST_PENDING || !(h = find(work_s(&w, it->dest), 1))) continue;
    for (j = 0; j < i; j++)   /* a message counts once per destination */
      if (w.item[j].kind == KIND_REMOTE && w.item[j].status == ST_PENDING && same(work_s(&w, w.item[j].dest), h->dest)) break;
    if (j == i) h->waiting++;
    if (!h->next || it->next < h->next) h->next = it->next;
    if (!h->status[0] && !h->text.len) {   /* no try recorded by the daemon: the message's own */
      const char *t = work_s(&w, it->text);
      if (!stralloc_copys(&h->text, t)) h->text.len = 0;
    }
  }
}

/* show - one destination: in words, or H TAB DEST TAB STATUS TAB WHEN TAB
 * NEXT TAB WAITING TAB TEXT */
static void show(buffer *b, const struct host *h, int machine)
{
  char num[NUM_ULONG];
  if (machine) {
    buffer_puts(b, "H\t"); buffer_puts(b, h->dest); buffer_puts(b, "\t"); buffer_puts(b, h->status[0] ? h->status : "-");
    buffer_puts(b, "\t"); buffer_puts(b, num_str(num, h->when)); buffer_puts(b, "\t"); buffer_puts(b, num_str(num, h->next));
    buffer_puts(b, "\t"); buffer_puts(b, num_str(num, h->waiting)); buffer_puts(b, "\t");
    buffer_put(b, h->text.s, h->text.len); buffer_puts(b, "\n");
    return;
  }
  buffer_puts(b, h->dest); buffer_puts(b, ": "); buffer_puts(b, num_str(num, h->waiting));
  buffer_puts(b, h->waiting == 1 ? " message waiting" : " messages waiting");
  if (h->waiting) { buffer_puts(b, ", next try "); admin_put_time(b, h->next); }
  buffer_puts(b, "\n    last try: ");
  if (h->status[0]) { buffer_puts(b, h->status); buffer_puts(b, " at "); admin_put_time(b, h->when); }
  else buffer_puts(b, "not recorded");
  if (h->text.len) { buffer_puts(b, "\n    "); buffer_put(b, h->text.s, h->text.len); }
  buffer_puts(b, "\n");
}

int hoststat_show(int machine)
{
  static char space[8192];
  DIR *d;
  struct dirent *e;
  unsigned int i, shown = 0;
  buffer b;
  if (hoststat_load() == -1) diesys(EX_TEMPFAIL, "unable to read ", HOSTSTAT_FILE);
  if (!(d = opendir(SPOOL_QUEUE))) diesys(EX_TEMPFAIL, "unable to read ", SPOOL_QUEUE);
  while ((e = readdir(d))) if (spool_id_valid(e->d_name)) queued(e->d_name);
  closedir(d);
  wbuf_init(&b, 1, space, sizeof space);
  for (i = 0; i < nhosts; i++) if (!hosts[i].gone) { show(&b, &hosts[i], machine); shown++; }
  if (!machine && !shown) buffer_puts(&b, "No destination status recorded\n");
  return wbuf_flush(&b) == 0 ? 0 : 74;
}
