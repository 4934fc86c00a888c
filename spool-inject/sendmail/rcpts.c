/* rcpts.c - recipients: the set of envelope recipients in the
 * order given, a duplicate (the domain's case ignored) queued once, and
 * the recipient arguments, each an RFC 5322 address list, qualified with
 * the domain and checked against RFC 5321 before anything is read. */
#include <stdlib.h>
#include "byte.h"
#include "case.h"
#include "str.h"
#include "address.h"
#include "sendmail.h"

/* hash - of an address with its domain lower-cased */
static unsigned long hash(const char *s, size_t len)
{
  unsigned long h = 5381;
  size_t at = address_at(s, len), i;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (i > at && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
    h = h * 33 ^ c;
  }
  return h;
}

/* same_addr - equal, the domain's case ignored */
static int same_addr(const char *a, size_t alen, const char *b, size_t blen)
{
  size_t at = address_at(a, alen);
  if (alen != blen || address_at(b, blen) != at) return 0;
  return !byte_diff(a, at, b) && !case_diffb(a + at, alen - at, b + at);
}

/* grow - double the hash table */
static int grow(struct rcpts *r)
{
  unsigned long size = r->size ? r->size * 2 : 64, i, off;
  unsigned long *slot = calloc(size, sizeof *slot);
  if (!slot) return -1;
  for (off = 0; off < r->s.len; off += str_len(r->s.s + off) + 1) {
    size_t len = str_len(r->s.s + off);
    for (i = hash(r->s.s + off, len) & (size - 1); slot[i]; i = (i + 1) & (size - 1)) ;
    slot[i] = off + 1;
  }
  free(r->slot);
  r->slot = slot;
  r->size = size;
  return 0;
}

int rcpts_add(struct rcpts *r, const char *addr, size_t len)
{
  unsigned long i;
  if (r->n >= ENV_RCPT_MAX) return -1;
  if ((r->n + 1) * 2 > r->size && grow(r) == -1) return -1;
  for (i = hash(addr, len) & (r->size - 1); r->slot[i]; i = (i + 1) & (r->size - 1)) {
    const char *have = r->s.s + r->slot[i] - 1;
    if (same_addr(have, str_len(have), addr, len)) return 0;
  }
  r->slot[i] = r->s.len + 1;
  if (!stralloc_catb(&r->s, addr, len) || !stralloc_0(&r->s)) { r->slot[i] = 0; return -1; }
  r->n++;
  return 1;
}

void rcpts_free(struct rcpts *r)
{
  stralloc_free(&r->s);
  free(r->slot);
  byte_zero(r, sizeof *r);
}

int rcpts_qualify(stralloc *out, const char *addr, size_t len, const char *domain)
{
  if (!stralloc_copyb(out, addr, len)) return -1;
  if (address_at(addr, len) == len && (!stralloc_cats(out, "@") || !stralloc_cats(out, domain))) return -1;
  return stralloc_0(out) ? 0 : -1;
}

/* all_blank - empty, or only blanks */
static int all_blank(const char *s, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++) if (s[i] != ' ') return 0;
  return 1;
}

/* struct collect - rfc5322_addrlist context for recipient arguments */
struct collect {
  const struct config *cfg;
  struct rcpts *r;
  const char *why;
  stralloc why_text;
};

/* bad_addr - "addr: reason" into c->why */
static int bad_addr(struct collect *c, const char *addr, const char *reason)
{
  c->why = reason;
  if (stralloc_copys(&c->why_text, "bad address <") && stralloc_cats(&c->why_text, addr)
      && stralloc_cats(&c->why_text, ">: ") && stralloc_cats(&c->why_text, reason) && stralloc_0(&c->why_text))
    c->why = c->why_text.s;
  return -2;
}

/* on_rcpt - one mailbox of a recipient argument */
static int on_rcpt(void *ctx, const struct rfc5322_mailbox *m)
{
  static stralloc q;
  struct collect *c = ctx;
  const char *why;
  if (m->null) return bad_addr(c, "", "the null address is no recipient");
  if (rcpts_qualify(&q, m->addr, m->len, c->cfg->domain) == -1) { c->why = "out of memory"; return -2; }
  if ((why = address_check(q.s, q.len - 1, ADDR_UTF8))) return bad_addr(c, q.s, why);
  if (rcpts_add(c->r, q.s, q.len - 1) == -1) { c->why = "out of memory or too many recipients"; return -2; }
  return 0;
}

int rcpts_args(const struct args *a, const struct config *cfg, struct rcpts *r, const char **why)
{
  static struct collect c;
  int i;
  c.cfg = cfg; c.r = r; c.why = 0;
  for (i = 0; i < a->nrcpt; i++) {
    const char *s = a->rcpt[i];
    size_t len = str_len(s);
    if (all_blank(s, len)) { *why = "empty recipient argument"; return -1; }
    if (rfc5322_addrlist(s, len, on_rcpt, &c, why) != 0) {
      if (c.why) *why = c.why;
      else if (stralloc_copys(&c.why_text, "bad recipient argument '") && stralloc_cats(&c.why_text, s)
               && stralloc_cats(&c.why_text, "': ") && stralloc_cats(&c.why_text, *why) && stralloc_0(&c.why_text))
        *why = c.why_text.s;
      return -1;
    }
  }
  return 0;
}
