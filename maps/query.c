/* query.c - postern-maps query, dump and check: read a compiled map the
 * way the other programs do (lib/map.c, lib/access.c) and print what they
 * would see.  Exit codes: postern-maps.8. */
#include <errno.h>
#include <sys/stat.h>
#include <sysexits.h>
#include "errmsg.h"
#include "str.h"
#include "access.h"
#include "maps.h"

/* struct names - a map's text file and its cdb */
struct names {
  stralloc text, cdb;   /* NUL-terminated */
};

static void die_nomem(void) { die(EX_TEMPFAIL, "out of memory"); }

/* names_of - FILE.cdb is the cdb, FILE the text; FILE without .cdb is the
 * text and FILE.cdb the cdb */
static void names_of(const char *file, struct names *n)
{
  size_t len = str_len(file);
  if (len > 4 && str_equal(file + len - 4, ".cdb")) {
    if (!stralloc_copyb(&n->text, file, len - 4) || !stralloc_copys(&n->cdb, file)) die_nomem();
  } else if (!stralloc_copys(&n->text, file) || !stralloc_copys(&n->cdb, file)
             || !stralloc_cats(&n->cdb, ".cdb"))
    die_nomem();
  if (!stralloc_0(&n->text) || !stralloc_0(&n->cdb)) die_nomem();
}

/* names_free - release n */
static void names_free(struct names *n)
{
  stralloc_free(&n->text);
  stralloc_free(&n->cdb);
}

/* die_map - a failed open or read of the cdb */
static void die_map(const char *cdb)
{
  if (errno == EPROTO) die(EX_DATAERR, cdb, ": not a cdb file, or a damaged one");
  if (errno == EMSGSIZE) die(EX_DATAERR, cdb, ": a record is over the size limit");
  if (errno == ENAMETOOLONG) die(EX_DATAERR, "key too long (over 1024 bytes)");
  if (errno == EINVAL) die(EX_NOINPUT, cdb, ": not a regular file");
  if (errno == EPERM) die(EX_NOPERM, cdb, ": refused: it or its directory is writable by group or others");
  if (errno == ENOMEM) die_nomem();
  diesys(EX_IOERR, "unable to read ", cdb);
}

/* warn_stale - the text was edited after the last compile */
static void warn_stale(const struct names *n)
{
  struct stat t, c;
  if (stat(n->text.s, &t) == -1 || stat(n->cdb.s, &c) == -1) return;
  if (t.st_mtim.tv_sec > c.st_mtim.tv_sec
      || (t.st_mtim.tv_sec == c.st_mtim.tv_sec && t.st_mtim.tv_nsec > c.st_mtim.tv_nsec))
    carp("warning: ", n->text.s, " is newer than ", n->cdb.s, ": run postern-maps compile ",
         n->text.s);
}

/* open_map - open the cdb of file, or end the process */
static void open_map(const char *file, struct names *n, struct map *m)
{
  int r;
  names_of(file, n);
  r = map_open(m, n->cdb.s);
  if (r == 0) die(EX_NOINPUT, "unable to open ", n->cdb.s, ": no such file (compile ",
                  n->text.s, " first)");
  if (r == -1) die_map(n->cdb.s);
  warn_stale(n);
}

/* put_line - a, then b after sep if b is not empty, then LF */
static void put_line(const char *a, size_t alen, const char *sep, const char *b, size_t blen)
{
  if (buffer_put(buffer_1, a, alen) == -1
      || (blen && (buffer_puts(buffer_1, sep) == -1 || buffer_put(buffer_1, b, blen) == -1))
      || buffer_puts(buffer_1, "\n") == -1)
    diesys(EX_IOERR, "unable to write to standard output");
}

static void flush_out(void)
{
  if (buffer_flush(buffer_1) == -1) diesys(EX_IOERR, "unable to write to standard output");
}

int query_map(const char *file, const char *key)
{
  struct map m = { 0 };
  struct names n = { { 0 }, { 0 } };
  stralloc value = { 0 };
  int r;
  open_map(file, &n, &m);
  r = map_lookup(&m, key, str_len(key), &value);
  if (r == -1) die_map(n.cdb.s);
  if (r == 1) {
    put_line(value.s, value.len, "", "", 0);
    flush_out();
  }
  map_close(&m);
  names_free(&n);
  stralloc_free(&value);
  return r == 1 ? 0 : 1;
}

void dump_map(const char *file, int type)
{
  struct map m = { 0 };
  struct names n = { { 0 }, { 0 } };
  stralloc key = { 0 }, value = { 0 };
  unsigned long pos = 0;
  int r;
  open_map(file, &n, &m);
  if (type == -1) type = maptype_of_path(n.text.s);
  while ((r = map_next(&m, &pos, &key, &value)) == 1) {
    if (type == MAPTYPE_ALIASES) put_line(key.s, key.len, ": ", value.s, value.len);
    else put_line(key.s, key.len, " ", value.s, value.len);
  }
  if (r == -1) die_map(n.cdb.s);
  flush_out();
  map_close(&m);
  names_free(&n);
  stralloc_free(&key);
  stralloc_free(&value);
}

int check_access(const char *file, const char *kind, const char *subject)
{
  struct map m = { 0 };
  struct names n = { { 0 }, { 0 } };
  struct access_result res = { 0 };
  stralloc value = { 0 };
  int k, r;
  if (str_equal(kind, "ip")) k = ACCESS_KIND_IP;
  else if (str_equal(kind, "host")) k = ACCESS_KIND_HOST;
  else if (str_equal(kind, "address")) k = ACCESS_KIND_ADDRESS;
  else if (str_equal(kind, "from")) k = ACCESS_KIND_FROM;
  else if (str_equal(kind, "to")) k = ACCESS_KIND_TO;
  else die(EX_USAGE, "unknown kind ", kind, ": want ip, host, from, to or address");
  open_map(file, &n, &m);
  r = access_check(&m, k, subject, &res);
  if (r == -1 && errno == EINVAL) die(EX_DATAERR, "malformed ", kind, ": ", subject);
  if (r == -1 && errno == EPROTO && res.key.s) die(EX_DATAERR, n.cdb.s, ": invalid value for key ", res.key.s);
  if (r == -1) die_map(n.cdb.s);
  if (r == 1) {
    if (map_lookup(&m, res.key.s, res.key.len, &value) != 1) die_map(n.cdb.s);
    put_line(res.key.s, res.key.len, " ", value.s, value.len);
    flush_out();
  }
  map_close(&m);
  names_free(&n);
  access_result_free(&res);
  stralloc_free(&value);
  return r == 1 ? 0 : 1;
}
