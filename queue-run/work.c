/* work.c - a message loaded for delivery in memory: its delivery items
 * (struct item) and the pool of strings they point into, with a hash to
 * find an item by what it delivers.  The state file that keeps them is
 * state.c. */
#include <errno.h>
#include <stdlib.h>
#include "byte.h"
#include "str.h"
#include "qr.h"

void work_init(struct work *w)
{
  byte_zero(w, sizeof *w);
  envelope_init(&w->env);
}

void work_free(struct work *w)
{
  envelope_free(&w->env);
  stralloc_free(&w->pool);
  free(w->item);
  free(w->index);
  byte_zero(w, sizeof *w);
}

unsigned long work_str(struct work *w, const char *s, size_t len)
{
  unsigned long off;
  if (w->pool.len == 0 && !stralloc_copyb(&w->pool, "", 1)) return 0;
  off = w->pool.len;
  if (!stralloc_catb(&w->pool, s, len) || !stralloc_0(&w->pool)) return 0;
  return off;
}

const char *work_s(const struct work *w, unsigned long off)
{
  return off && off < w->pool.len ? w->pool.s + off : "";
}

/* strz - work_str for a C string; "" stays offset 0 */
static int strz(struct work *w, unsigned long *off, const char *s)
{
  size_t len = s ? str_len(s) : 0;
  if (len == 0) { *off = 0; return 0; }
  return (*off = work_str(w, s, len)) ? 0 : -1;
}

struct item *work_add(struct work *w, unsigned int orig, int status, int kind,
                      const char *user, const char *dest, const char *addr)
{
  struct item *it;
  /* the expansion of one recipient stops at QR_ITEMS_MAX (route.c); the
   * room above it is for the one failure each recipient may then get */
  if (w->n >= QR_ITEMS_MAX + w->env.nrcpt) { errno = E2BIG; return 0; }
  if (w->n == w->alloc) {
    unsigned int a = w->alloc ? w->alloc * 2 : 8;
    struct item *p = realloc(w->item, a * sizeof *p);
    if (!p) { errno = ENOMEM; return 0; }
    w->item = p; w->alloc = a;
  }
  it = &w->item[w->n];
  byte_zero(it, sizeof *it);
  it->orig = orig; it->status = (char)status; it->kind = (char)kind;
  if (strz(w, &it->user, user) || strz(w, &it->dest, dest) || strz(w, &it->addr, addr)) {
    errno = ENOMEM;
    return 0;
  }
  w->n++;
  return it;
}

/* item_hash - of the fields that make two items the same delivery */
static unsigned long item_hash(int kind, const char *user, const char *dest, const char *addr)
{
  unsigned long h = 5381 + (unsigned long)(unsigned char)kind;
  const char *f[3] = { user, dest, addr };
  unsigned int i;
  for (i = 0; i < 3; i++) {
    const char *p;
    for (p = f[i]; *p; p++) h = h * 33 + (unsigned char)*p;
    h = h * 33 + 1;
  }
  return h;
}

/* index_put - item i into the hash */
static void index_put(struct work *w, unsigned int i)
{
  const struct item *it = &w->item[i];
  unsigned long h = item_hash(it->kind, work_s(w, it->user), work_s(w, it->dest), work_s(w, it->addr));
  unsigned int mask = w->icap - 1, s = (unsigned int)h & mask;
  while (w->index[s]) s = (s + 1) & mask;
  w->index[s] = i + 1;
}

/* index_update - every item in the hash (kept under half full); -1 no memory */
static int index_update(struct work *w)
{
  if (w->icap < 2 * (w->n + 1)) {
    unsigned int cap = 64;
    while (cap < 2 * (w->n + 1)) cap *= 2;
    free(w->index);
    if (!(w->index = calloc(cap, sizeof *w->index))) { w->icap = w->indexed = 0; return -1; }
    w->icap = cap;
    w->indexed = 0;
  }
  while (w->indexed < w->n) index_put(w, w->indexed++);
  return 0;
}

struct item *work_find(struct work *w, int kind, const char *user, const char *dest, const char *addr)
{
  unsigned int mask, s;
  if (!user) user = "";
  if (!dest) dest = "";
  if (index_update(w) == -1) {          /* no memory for the hash: search */
    unsigned int i;
    for (i = 0; i < w->n; i++) {
      struct item *it = &w->item[i];
      if (it->kind == kind && it->status != ST_GONE && !str_diff(work_s(w, it->addr), addr)
          && !str_diff(work_s(w, it->dest), dest) && !str_diff(work_s(w, it->user), user)) return it;
    }
    return 0;
  }
  mask = w->icap - 1;
  for (s = (unsigned int)item_hash(kind, user, dest, addr) & mask; w->index[s]; s = (s + 1) & mask) {
    struct item *it = &w->item[w->index[s] - 1];
    if (it->kind == kind && it->status != ST_GONE && !str_diff(work_s(w, it->addr), addr)
        && !str_diff(work_s(w, it->dest), dest) && !str_diff(work_s(w, it->user), user)) return it;
  }
  return 0;
}

void work_truncate(struct work *w, unsigned int n)
{
  if (n >= w->n) return;
  w->n = n;
  if (w->index) byte_zero(w->index, w->icap * sizeof *w->index);
  w->indexed = 0;
}

/* work_set_text - the item's last result, tabs and controls made blanks */
int work_set_text(struct work *w, struct item *it, const char *text, size_t len)
{
  char buf[QR_TEXT_MAX];
  size_t i;
  if (len > sizeof buf) len = sizeof buf;
  for (i = 0; i < len; i++) buf[i] = (unsigned char)text[i] < 32 || text[i] == 127 ? ' ' : text[i];
  while (len && buf[len - 1] == ' ') len--;
  if (len == 0) { it->text = 0; return 0; }
  return (it->text = work_str(w, buf, len)) ? 0 : -1;
}

unsigned long work_due(const struct work *w)
{
  unsigned long due = (unsigned long)-1;
  unsigned int i;
  for (i = 0; i < w->n; i++) {
    const struct item *it = &w->item[i];
    if (it->status == ST_PENDING && it->next < due) due = it->next;
    if ((it->status == ST_FAILED || it->status == ST_DONE_NOTIFY) && it->next < due) due = it->next;
  }
  return due;
}


int work_local_kind(int kind)
{
  return kind == KIND_USER || kind == KIND_MAILBOX || kind == KIND_PROGRAM || kind == KIND_FILE;
}
