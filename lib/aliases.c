/* aliases.c - the aliases file format (see aliases.h, postern-maps.8):
 * splitting one right-hand side into typed items, and parsing a whole text
 * file into (name, normalized right-hand side) entries with "line N:"
 * errors.  Both run on untrusted bytes: every copy is bounded. */
#include <errno.h>
#include "byte.h"
#include "case.h"
#include "num.h"
#include "lines.h"
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
  struct alias_iter it;   /* on the stack: fn may split another rhs */
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
  struct alias_iter it;
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

/* struct parse - aliases_parse's state */
struct parse {
  const struct aliases_cb *cb;
  struct lines lines;          /* the reader: physical line numbers, error reports */
  stralloc entry;              /* the entry being collected */
  stralloc name, rhs;
  struct map_keyset seen;      /* names of good entries, for duplicates */
  unsigned long entry_line;    /* where the entry started */
  int have_entry;              /* entry holds a line */
  int broken;                  /* the entry already had an error */
};

/* nomem - out of memory: the parse ends */
static int nomem(void)
{
  errno = ENOMEM;
  return -1;
}

#define REPORT(p, line, ...) lines_report(&(p)->lines, (line), __VA_ARGS__, (const char *)0)

/* name_check - 0 if s[0..len) is a good alias name, else why not */
static const char *name_check(const char *s, size_t len)
{
  size_t i;
  if (len == 0) return "empty alias name";
  if (len > ALIAS_NAME_MAX) return "alias name too long";
  for (i = 0; i < len; i++) {
    if (blank(s[i])) return "blank in the alias name";
    if (s[i] == '@') return "alias names are local parts: no '@'";
    if (s[i] == '"') return "quoted alias names are not supported";
  }
  return local_check(s, len) ? "invalid character in the alias name" : 0;
}

/* entry_add - check the name and the items of a finished entry, hand a
 * good one to the callback */
static int entry_add(struct parse *p, const char *s, size_t len, unsigned long line)
{
  const char *name, *rhs, *why;
  size_t n, rlen;
  unsigned long first;
  char num[NUM_ULONG];
  if (lines_split(s, len, ':', &name, &n, &rhs, &rlen) == -1) return REPORT(p, line, "missing ':' after the alias name");
  if ((why = name_check(name, n))) return REPORT(p, line, why);
  if (!stralloc_copyb(&p->name, name, n) || !stralloc_0(&p->name)) return nomem();
  case_lowerb(p->name.s, n);
  if (aliases_normalize(rhs, rlen, &p->rhs, &why) == -1)
    return errno == ENOMEM ? -1 : REPORT(p, line, "alias '", p->name.s, "': ", why);
  if (p->rhs.len > MAP_VALUE_MAX)
    return REPORT(p, line, "alias '", p->name.s, "' is too long");
  switch (map_keyset_add(&p->seen, p->name.s, n, line, &first)) {
  case -1: return nomem();
  case 0:
    num[num_fmt(num, first)] = 0;
    return REPORT(p, line, "duplicate alias '", p->name.s, "' (first at line ", num, ")");
  }
  return p->cb->entry(p->cb->arg, p->name.s, n, p->rhs.s, p->rhs.len, line);
}

/* flush - finish the entry being collected */
static int flush(void *ctx)
{
  struct parse *p = ctx;
  if (!p->have_entry) return 0;
  p->have_entry = 0;
  if (p->broken) return 0;
  return entry_add(p, p->entry.s, p->entry.len, p->entry_line);
}

/* begin - start a new entry with the line s[0..len) */
static int begin(struct parse *p, const char *s, size_t len, int broken)
{
  if (flush(p) == -1) return -1;
  p->have_entry = 1;
  p->broken = broken;
  p->entry_line = p->lines.no;
  return stralloc_copyb(&p->entry, s, len) ? 0 : nomem();
}

/* bad_line - report an unusable line; its entry is dropped without more
 * errors (a bad first line starts an entry that swallows its continuations) */
static int bad_line(struct parse *p, int continues, const char *why)
{
  if (REPORT(p, p->lines.no, why) == -1) return -1;
  if (continues && p->have_entry) { p->broken = 1; return 0; }
  return begin(p, "", 0, 1);
}

/* continuation - append a continuation line to the entry */
static int continuation(struct parse *p, const char *s, size_t len)
{
  if (!p->have_entry) return bad_line(p, 0, "continuation line without an alias before it");
  if (p->broken) return 0;
  if (p->entry.len + 1 + len > ALIAS_ENTRY_MAX) return bad_line(p, 1, "alias entry too long");
  if (!stralloc_append(&p->entry, " ") || !stralloc_catb(&p->entry, s, len)) return nomem();
  return 0;
}

/* one_line - the physical line s[0..len) */
static int one_line(void *ctx, const char *s, size_t len, int bad)
{
  struct parse *p = ctx;
  if (bad) return bad_line(p, len > 0 && blank(s[0]), lines_why(bad));
  if (lines_skip(s, len)) return 0;   /* blank lines and comments, anywhere */
  if (blank(s[0])) return continuation(p, s, len);
  return begin(p, s, len, 0);
}

long aliases_parse(buffer *in, const struct aliases_cb *cb)
{
  struct parse p;
  long r;
  byte_zero(&p, sizeof p);
  p.cb = cb;
  lines_init(&p.lines, in, ALIAS_LINE_MAX, ALIAS_ERRORS_MAX, cb->error, cb->arg);
  r = lines_read(&p.lines, one_line, flush, &p);   /* flush: the last entry */
  lines_free(&p.lines);
  stralloc_free(&p.entry);
  stralloc_free(&p.name);
  stralloc_free(&p.rhs);
  map_keyset_free(&p.seen);
  return r;
}
