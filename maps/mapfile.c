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
#include "maps.h"

/* struct mapfile - mapfile_parse's state */
struct mapfile {
  const struct aliases_cb *cb;
  int type;
  struct lines lines;            /* the reader: line numbers, error reports */
  stralloc key;
  struct map_keyset seen;
  struct access_result access;   /* scratch for checking access values */
};

static const struct { const char *name; int type; } by_basename[] = {
  { "aliases", MAPTYPE_ALIASES }, { "access", MAPTYPE_ACCESS },
  { "local-domains", MAPTYPE_SET }, { "relay-domains", MAPTYPE_SET },
};
static const struct { const char *name; int type; } by_name[] = {
  { "aliases", MAPTYPE_ALIASES }, { "access", MAPTYPE_ACCESS },
  { "set", MAPTYPE_SET }, { "generic", MAPTYPE_GENERIC },
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

/* set_key - the key as stored: lower case; access keys normalized.
 * 1, 0 an error was reported, -1 no memory */
static int set_key(struct mapfile *f, const char *k, size_t len)
{
  int r;
  if (f->type != MAPTYPE_ACCESS) {
    if (!stralloc_copyb(&f->key, k, len) || !stralloc_0(&f->key)) return -1;
    case_lowerb(f->key.s, len);
    f->key.len--;
    return 1;
  }
  r = access_key_normalize(k, len, &f->key);
  if (r == 1 && !stralloc_0(&f->key)) return -1;
  if (r == 1) { f->key.len--; return 1; }
  if (r == -1) return -1;
  if (!stralloc_copyb(&f->key, k, len) || !stralloc_0(&f->key)) return -1;
  return REPORT(f, "key '", f->key.s, "' is neither an IP address nor an IP prefix") == -1 ? -1 : 0;
}

/* value_check - 0 if value v[0..len) suits the map type, else a report */
static int value_check(struct mapfile *f, const char *v, size_t len)
{
  if (len > MAP_VALUE_MAX) return REPORT(f, "value too long (over 65536 bytes)") == -1 ? -1 : 1;
  if (f->type == MAPTYPE_GENERIC && len == 0)
    return REPORT(f, "key '", f->key.s, "' has no value") == -1 ? -1 : 1;
  if (f->type != MAPTYPE_ACCESS) return 0;
  if (access_parse(v, len, &f->access) == 0) return 0;
  if (errno == ENOMEM) return -1;
  return REPORT(f, "invalid access value for key '", f->key.s,
                "' (want OK, RELAY, REJECT, DISCARD, ERROR:4xx text or ERROR:5xx text)") == -1 ? -1 : 1;
}

/* one_entry - the key k and the value v of one line: checks, then the
 * callback; 0 (an error may have been reported), -1 stop */
static int one_entry(struct mapfile *f, const char *k, size_t klen, const char *v, size_t vlen)
{
  unsigned long first;
  char num[NUM_ULONG];
  int r;
  if (klen > MAP_KEY_MAX) return REPORT(f, "key too long (over 1024 bytes)");
  if ((r = set_key(f, k, klen)) != 1) return r == -1 ? (errno = ENOMEM, -1) : 0;
  if ((r = value_check(f, v, vlen)) != 0) return r == -1 ? (errno = ENOMEM, -1) : 0;
  if (f->type == MAPTYPE_SET) vlen = 0;
  switch (map_keyset_add(&f->seen, f->key.s, f->key.len, f->lines.no, &first)) {
  case -1: errno = ENOMEM; return -1;
  case 0:
    num[num_fmt(num, first)] = 0;
    return REPORT(f, "duplicate key '", f->key.s, "' (first at line ", num, ")");
  }
  return f->cb->entry(f->cb->arg, f->key.s, f->key.len, v, vlen, f->lines.no);
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
  r = lines_read(&f.lines, one_line, &f);
  lines_free(&f.lines);
  stralloc_free(&f.key);
  map_keyset_free(&f.seen);
  access_result_free(&f.access);
  return r;
}
