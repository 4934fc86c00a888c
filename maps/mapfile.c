/* mapfile.c - the text formats of postern-maps(8): which format a file
 * has, and the parser of the key-value formats (generic, set, access).
 * The aliases format is lib/aliases.c's.  Maps are edited by people and may
 * come from elsewhere: lines, keys and values are bounded, NUL, CR and
 * other control characters are refused, every error names its line. */
#include <errno.h>
#include "byte.h"
#include "case.h"
#include "num.h"
#include "str.h"
#include "lines.h"
#include "access.h"
#include "routes.h"
#include "address.h"
#include "maps.h"

/* struct mapfile - mapfile_parse's state */
struct mapfile {
  const struct aliases_cb *cb;
  int type;
  struct lines lines;            /* the reader: line numbers, error reports */
  stralloc key;
  struct map_keyset seen;
  struct access_result access;   /* scratch for checking access values */
  struct access_key akey;        /* scratch for access keys */
  stralloc value;                /* a routes value in its one spelling */
  stralloc cidr;                 /* access prefixes to expand at the end */
  struct map_keyset cidr_seen;   /* the prefixes among them, for duplicates */
};

static const struct { const char *name; int type; } by_basename[] = {
  { "aliases", MAPTYPE_ALIASES }, { "access", MAPTYPE_ACCESS },
  { "local-domains", MAPTYPE_SET }, { "relay-domains", MAPTYPE_SET },
  { "routes", MAPTYPE_ROUTES }, { "relay-recipients", MAPTYPE_RECIPIENTS },
};
static const struct { const char *name; int type; } by_name[] = {
  { "aliases", MAPTYPE_ALIASES }, { "access", MAPTYPE_ACCESS },
  { "set", MAPTYPE_SET }, { "generic", MAPTYPE_GENERIC }, { "routes", MAPTYPE_ROUTES },
  { "recipients", MAPTYPE_RECIPIENTS },
};

int maptype_of_path(const char *path)
{
  size_t slash = str_rchr(path, '/'), i;   /* str_len(path) if none */
  const char *base = path[slash] ? path + slash + 1 : path;
  for (i = 0; i < sizeof by_basename / sizeof by_basename[0]; i++)
    if (str_equal(base, by_basename[i].name)) return by_basename[i].type;
  return MAPTYPE_GENERIC;
}

int maptype_by_name(const char *name)
{
  size_t i;
  for (i = 0; i < sizeof by_name / sizeof by_name[0]; i++)
    if (str_equal(name, by_name[i].name)) return by_name[i].type;
  return -1;
}

#define REPORT(f, ...) lines_report(&(f)->lines, (f)->lines.no, __VA_ARGS__, (const char *)0)

/* set_key - the key as stored: lower case.  1, -1 no memory */
static int set_key(struct mapfile *f, const char *k, size_t len)
{
  if (!stralloc_copyb(&f->key, k, len) || !stralloc_0(&f->key)) return -1;
  case_lowerb(f->key.s, len);
  f->key.len--;
  return 1;
}

/* value_check - 0 if value v[0..len) suits the map type, else a report */
static int value_check(struct mapfile *f, const char *v, size_t len)
{
  if (len > MAP_VALUE_MAX) return REPORT(f, "value too long (over 65536 bytes)") == -1 ? -1 : 1;
  if ((f->type == MAPTYPE_GENERIC || f->type == MAPTYPE_ROUTES) && len == 0)
    return REPORT(f, "key '", f->key.s, "' has no value") == -1 ? -1 : 1;
  if (f->type != MAPTYPE_ACCESS) return 0;
  if (access_parse(v, len, &f->access) == 0) return 0;
  if (errno == ENOMEM) return -1;
  return REPORT(f, "invalid access value for key '", f->key.s,
                "' (want OK, RELAY, REJECT, DISCARD, SKIP, ERROR:4xx text or ERROR:5xx text)") == -1 ? -1 : 1;
}

/* add_entry - f->key with value v: a duplicate is reported, else the
 * callback.  0 (an error may have been reported), -1 stop */
static int add_entry(struct mapfile *f, const char *v, size_t vlen)
{
  unsigned long first;
  char num[NUM_ULONG];
  switch (map_keyset_add(&f->seen, f->key.s, f->key.len, f->lines.no, &first)) {
  case -1: errno = ENOMEM; return -1;
  case 0:
    num[num_fmt(num, first)] = 0;
    return REPORT(f, "duplicate key '", f->key.s, "' (first at line ", num, ")");
  }
  return f->cb->entry(f->cb->arg, f->key.s, f->key.len, v, vlen, f->lines.no);
}

/* struct cidr_rec - a prefix kept for cidr_flush, followed in f->cidr by
 * its value and its keys */
struct cidr_rec { int prefix; unsigned long lineno; size_t vlen, klen; };

/* cidr_keep - keep the expanded prefix in f->akey with value v */
static int cidr_keep(struct mapfile *f, const char *v, size_t vlen)
{
  struct cidr_rec rec;
  rec.prefix = f->akey.prefix;
  rec.lineno = f->lines.no;
  rec.vlen = vlen;
  rec.klen = f->akey.keys.len;
  if (!stralloc_catb(&f->cidr, (char *)&rec, sizeof rec) || !stralloc_catb(&f->cidr, v, vlen)
      || !stralloc_catb(&f->cidr, f->akey.keys.s, f->akey.keys.len)) { errno = ENOMEM; return -1; }
  return 0;
}

/* cidr_one - the keys of one kept prefix that no more specific entry
 * has: a key already present belongs to a longer prefix or an explicit
 * key, which decides for its addresses */
static int cidr_one(struct mapfile *f, const struct cidr_rec *rec, const char *v, const char *keys)
{
  unsigned long first;
  char num[NUM_ULONG];
  size_t pos, n, t;
  int r;
  f->lines.no = rec->lineno;
  /* the same prefix twice: its first key and length name it */
  n = str_len(keys);
  if (!stralloc_copyb(&f->key, keys, n) || !stralloc_catb(&f->key, "/", 1)
      || !stralloc_catb(&f->key, num, num_fmt(num, (unsigned long)rec->prefix)))
    return errno = ENOMEM, -1;
  r = map_keyset_add(&f->cidr_seen, f->key.s, f->key.len, rec->lineno, &first);
  if (r == -1) return errno = ENOMEM, -1;
  if (r == 0) {
    num[num_fmt(num, first)] = 0;
    return REPORT(f, "duplicate prefix (first at line ", num, ")");
  }
  for (pos = 0; pos < rec->klen; pos += n + 1) {
    n = str_len(keys + pos);
    /* a tagged key is looked up before the untagged one: an untagged key
     * from a longer prefix (already there) must not be shadowed */
    t = str_len("connect:");   /* the one tag a prefix may carry */
    if (n > t && byte_equal(keys + pos, t, "connect:") && map_keyset_has(&f->seen, keys + pos + t, n - t)) continue;
    r = map_keyset_add(&f->seen, keys + pos, n, rec->lineno, &first);
    if (r == -1) return errno = ENOMEM, -1;
    if (r == 1 && f->cb->entry(f->cb->arg, keys + pos, n, v, rec->vlen, rec->lineno) == -1) return -1;
  }
  return 0;
}

/* cidr_flush - the kept prefixes, longest first */
static int cidr_flush(void *ctx)
{
  struct mapfile *f = ctx;
  struct cidr_rec rec;
  size_t pos;
  int prefix;
  for (prefix = 128; prefix >= 0; prefix--)
    for (pos = 0; pos < f->cidr.len; pos += sizeof rec + rec.vlen + rec.klen) {
      byte_copy(&rec, sizeof rec, f->cidr.s + pos);
      if (rec.prefix != prefix) continue;
      if (cidr_one(f, &rec, f->cidr.s + pos + sizeof rec, f->cidr.s + pos + sizeof rec + rec.vlen) == -1)
        return -1;
    }
  return 0;
}

/* access_entry - an access map line: the key checked and spelled as
 * lookups will build it, a prefix kept for expansion at the end */
static int access_entry(struct mapfile *f, const char *k, size_t klen, const char *v, size_t vlen)
{
  int r = access_key_parse(k, klen, &f->akey);
  if (r == -1) return errno = ENOMEM, -1;
  if (r == 0) {   /* named as written */
    if (!stralloc_copyb(&f->key, k, klen) || !stralloc_0(&f->key)) return errno = ENOMEM, -1;
    return REPORT(f, "key '", f->key.s, "' can never match: ", f->akey.why);
  }
  if (!stralloc_copyb(&f->key, f->akey.keys.s, f->akey.keys.len)) return errno = ENOMEM, -1;
  f->key.len = str_len(f->key.s);          /* the first key */
  if ((r = value_check(f, v, vlen)) != 0) return r == -1 ? (errno = ENOMEM, -1) : 0;
  if (f->akey.count > 1) return cidr_keep(f, v, vlen);
  return add_entry(f, v, vlen);
}

/* routes_entry - a routes line: a key that can match, a value with a
 * method queue-run knows, stored in its one spelling (esmtp: as smtp:) */
static int routes_entry(struct mapfile *f, const char *k, size_t klen, const char *v, size_t vlen)
{
  const char *why;
  int r;
  if (set_key(f, k, klen) == -1) return errno = ENOMEM, -1;
  if (f->key.len > 1 && f->key.s[f->key.len - 1] == '.') f->key.s[--f->key.len] = 0;
  if (!routes_key_ok(k, klen))
    return REPORT(f, "key '", f->key.s, "' can never match: want a domain, .domain or . (the default)");
  if ((r = value_check(f, v, vlen)) != 0) return r == -1 ? (errno = ENOMEM, -1) : 0;
  r = routes_value(v, vlen, &f->value, &why);
  if (r == -1) return errno = ENOMEM, -1;
  if (r == 0) return REPORT(f, "bad route for key '", f->key.s, "': ", why);
  return add_entry(f, f->value.s, f->value.len);
}

/* recipient_key_ok - a relay-recipients key: user@domain or @domain, one
 * @ outside quotes, a domain after it (smtp-receive looks up nothing else) */
static int recipient_key_ok(const char *k, size_t len)
{
  size_t at = byte_rchr(k, len, '@');
  if (at == len || at + 1 == len || k[at + 1] == '.' || k[len - 1] == '.') return 0;
  if (byte_chr(k + at + 1, len - at - 1, '@') < len - at - 1) return 0;
  return at == 0 || address_check(k, len, ADDR_UTF8) == 0;
}

/* one_entry - the key k and the value v of one line: checks, then the
 * callback; 0 (an error may have been reported), -1 stop */
static int one_entry(struct mapfile *f, const char *k, size_t klen, const char *v, size_t vlen)
{
  int r;
  if (klen > MAP_KEY_MAX) return REPORT(f, "key too long (over 1024 bytes)");
  if (f->type == MAPTYPE_ACCESS) return access_entry(f, k, klen, v, vlen);
  if (f->type == MAPTYPE_ROUTES) return routes_entry(f, k, klen, v, vlen);
  if (f->type == MAPTYPE_RECIPIENTS && !recipient_key_ok(k, klen))
    return REPORT(f, "key can never match: want user@domain or @domain");
  if (set_key(f, k, klen) == -1) return errno = ENOMEM, -1;
  if ((r = value_check(f, v, vlen)) != 0) return r == -1 ? (errno = ENOMEM, -1) : 0;
  if (f->type == MAPTYPE_SET) vlen = 0;
  return add_entry(f, v, vlen);
}

/* one_line - split a line into key and value */
static int one_line(void *ctx, const char *s, size_t len, int bad)
{
  struct mapfile *f = ctx;
  const char *k, *v;
  size_t klen, vlen;
  if (bad) return REPORT(f, lines_why(bad));
  if (lines_skip(s, len)) return 0;   /* blank lines and comments */
  lines_split(s, len, 0, &k, &klen, &v, &vlen);
  return one_entry(f, k, klen, v, vlen);
}

long mapfile_parse(buffer *in, int type, const struct aliases_cb *cb)
{
  struct mapfile f;
  long r;
  if (type == MAPTYPE_ALIASES) return aliases_parse(in, cb);
  byte_zero(&f, sizeof f);
  f.cb = cb;
  f.type = type;
  lines_init(&f.lines, in, MAPFILE_LINE_MAX, MAPFILE_ERRORS_MAX, cb->error, cb->arg);
  r = lines_read(&f.lines, one_line, cidr_flush, &f);   /* cidr_flush: the access prefixes */
  lines_free(&f.lines);
  stralloc_free(&f.key);
  map_keyset_free(&f.seen);
  map_keyset_free(&f.cidr_seen);
  access_result_free(&f.access);
  access_key_free(&f.akey);
  stralloc_free(&f.cidr);
  stralloc_free(&f.value);
  return r;
}
