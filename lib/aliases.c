/* aliases.c - the aliases file format (see aliases.h, postern-maps.8):
 * splitting one right-hand side into typed items, and parsing a whole text
 * file into (name, normalized right-hand side) entries with "line N:"
 * errors.  Both run on untrusted bytes: every copy is bounded. */
#include <errno.h>
#include "byte.h"
#include "case.h"
#include "fmt.h"
#include "getln.h"
#include "address.h"
#include "map.h"
#include "aliases.h"

#define INCLUDE_PREFIX ":include:"
#define INCLUDE_PREFIX_LEN 9

static int blank(char c) { return c == ' ' || c == '\t'; }

/* skip_blanks - first position at or after i that is not a blank */
static size_t skip_blanks(const char *s, size_t len, size_t i)
{
  while (i < len && blank(s[i])) i++;
  return i;
}

static int control(unsigned char c) { return c < 32 || c == 127; }

/* fail - end the walk with a syntax error */
static int fail(struct alias_iter *it, const char *why)
{
  it->why = why;
  it->pos = it->len;
  return -1;
}

/* item_scan - find the end of the item at s[start]: *end after its last
 * byte, *next at the comma after it or at len; 0 or the reason */
static const char *item_scan(const char *s, size_t len, size_t start,
                             size_t *end, size_t *next)
{
  size_t i;
  int quoted = 0;
  for (i = start; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (control(c) && !(c == '\t' && !quoted)) return "control character in item";
    if (quoted && c == '\\') {
      if (++i == len) return "backslash at the end of an item";
      if (control((unsigned char)s[i])) return "control character in item";
    } else if (c == '"') quoted = !quoted;
    else if (!quoted && (c == ',' || blank(c))) break;
  }
  if (quoted) return "unterminated quote";
  *end = i;
  i = skip_blanks(s, len, i);
  if (i < len && s[i] != ',') return "blank inside an item (quote the item)";
  *next = i;
  return 0;
}

/* whole_quoted - s[0..len) is one quoted string */
static int whole_quoted(const char *s, size_t len)
{
  size_t i;
  if (len < 2 || s[0] != '"') return 0;
  for (i = 1; i < len; i++) {
    if (s[i] == '\\') i++;
    else if (s[i] == '"') return i == len - 1;
  }
  return 0;
}

/* unquote - the contents of the quoted string s[0..len) into out (which
 * holds len bytes), backslash escapes resolved; the length */
static size_t unquote(const char *s, size_t len, char *out)
{
  size_t i, n = 0;
  for (i = 1; i + 1 < len; i++) {
    if (s[i] == '\\') i++;
    out[n++] = s[i];
  }
  return n;
}

static int is_include(const char *s, size_t len)
{
  return len >= INCLUDE_PREFIX_LEN && case_diffb(s, INCLUDE_PREFIX_LEN, INCLUDE_PREFIX) == 0;
}

/* local_check - address_check for a bare local part (alice) */
static const char *local_check(const char *s, size_t len)
{
  char buf[ADDR_LOCAL_MAX + 2];
  if (len > ADDR_LOCAL_MAX) return "local part too long";
  byte_copy(buf, len, s);
  buf[len] = '@';        /* any valid domain: only the local part is checked */
  buf[len + 1] = 'x';
  return address_check(buf, len + 2, ADDR_UTF8);
}

/* address_item - an address item: with a domain or a bare local part */
static const char *address_item(const char *s, size_t len)
{
  if (address_at(s, len) < len) return address_check(s, len, ADDR_UTF8);
  return local_check(s, len);
}

/* typed - set item's type and value from its text s[0..len) */
static int typed(struct alias_iter *it, const char *s, size_t len, struct alias_item *item)
{
  const char *why;
  size_t i;
  if (len > 0 && s[0] == '|') {
    i = skip_blanks(s, len, 1);
    if (i == len) return fail(it, "empty command after '|'");
    item->type = ALIAS_PIPE, item->s = s + i, item->len = len - i;
  } else if (len > 0 && s[0] == '/') {
    if (len < 2) return fail(it, "file name is only '/'");
    item->type = ALIAS_FILE, item->s = s, item->len = len;
  } else if (is_include(s, len)) {
    i = INCLUDE_PREFIX_LEN;
    if (len - i < 2 || s[i] != '/') return fail(it, ":include: needs an absolute path");
    item->type = ALIAS_INCLUDE, item->s = s + i, item->len = len - i;
  } else {
    if ((why = address_item(item->raw, item->rawlen))) return fail(it, why);
    item->type = ALIAS_ADDRESS, item->s = item->raw, item->len = item->rawlen;
  }
  return 1;
}

/* classify - type and value of the item raw[0..n) */
static int classify(struct alias_iter *it, const char *raw, size_t n, struct alias_item *item)
{
  size_t len;
  item->raw = raw;
  item->rawlen = n;
  if (whole_quoted(raw, n)) {
    len = unquote(raw, n, it->buf);
    if (len > 0 && (it->buf[0] == '|' || it->buf[0] == '/' || is_include(it->buf, len)))
      return typed(it, it->buf, len, item);
    return typed(it, raw, n, item);   /* "a b": a quoted local part */
  }
  if (byte_chr(raw, n, '"') < n && (raw[0] == '|' || raw[0] == '/' || is_include(raw, n)))
    return fail(it, "quote inside an unquoted command or path (quote the whole item)");
  return typed(it, raw, n, item);
}

void aliases_start(struct alias_iter *it, const char *rhs, size_t len)
{
  it->rhs = rhs;
  it->len = len;
  it->pos = 0;
  it->why = 0;
}

int aliases_next(struct alias_iter *it, struct alias_item *item)
{
  size_t p, end, next;
  const char *why;
  p = skip_blanks(it->rhs, it->len, it->pos);
  if (p == it->len) { it->pos = p; return 0; }   /* perhaps after one trailing comma */
  if (it->rhs[p] == ',') return fail(it, "empty item");
  if ((why = item_scan(it->rhs, it->len, p, &end, &next))) return fail(it, why);
  if (end - p > ALIAS_ITEM_MAX) return fail(it, "item too long");
  it->pos = next < it->len ? next + 1 : next;
  return classify(it, it->rhs + p, end - p, item);
}

int aliases_split(const char *rhs, size_t len,
                  int (*fn)(void *arg, const struct alias_item *item),
                  void *arg, const char **why)
{
  static struct alias_iter it;   /* 2 KB: kept off the stack */
  struct alias_item item;
  int r, n = 0;
  aliases_start(&it, rhs, len);
  while ((r = aliases_next(&it, &item)) == 1)
    ;
  if (r == -1) { *why = it.why; return -1; }
  aliases_start(&it, rhs, len);   /* every item is good: now hand them out */
  while (aliases_next(&it, &item) == 1) {
    if (fn(arg, &item) == -1) { *why = 0; return -1; }
    n++;
  }
  return n;
}

int aliases_normalize(const char *rhs, size_t len, stralloc *out, const char **why)
{
  static struct alias_iter it;
  struct alias_item item;
  int r;
  stralloc_zero(out);
  aliases_start(&it, rhs, len);
  while ((r = aliases_next(&it, &item)) == 1) {
    if ((out->len && !stralloc_catb(out, ", ", 2)) || !stralloc_catb(out, item.raw, item.rawlen)) {
      *why = "out of memory";
      errno = ENOMEM;
      return -1;
    }
  }
  if (r == -1) { *why = it.why; errno = EINVAL; return -1; }
  if (out->len == 0) { *why = "no items"; errno = EINVAL; return -1; }
  return 0;
}
