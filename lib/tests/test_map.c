/* test_map.c - unit tests for lib/map.c: opening, case-insensitive
 * lookups, the bounds on hand-made files, walking, refresh after a rename,
 * map_lookup_in and the duplicate-key set. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "cdb_make.h"
#include "map.h"
#include "t.h"

static char dir[] = "/tmp/postern-test-map.XXXXXX";
static char path[256];

/* at - dir/name in path */
static const char *at(const char *name)
{
  snprintf(path, sizeof path, "%s/%s", dir, name);
  return path;
}

/* make_cdb - write name from key/value pairs (n pairs); 0 or -1 */
static int make_cdb(const char *name, const char *const *kv, size_t n)
{
  struct cdb_make cm;
  size_t i;
  int fd = open(at(name), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd == -1 || cdb_make_start(&cm, fd) == -1) return -1;
  for (i = 0; i < n; i++)
    if (cdb_make_add(&cm, (const unsigned char *)kv[2 * i], strlen(kv[2 * i]),
                     (const unsigned char *)kv[2 * i + 1], strlen(kv[2 * i + 1])) == -1)
      return -1;
  if (cdb_make_finish(&cm) == -1) return -1;
  while (cm.head) { struct cdb_hplist *x = cm.head; cm.head = x->next; free(x); }
  free(cm.split);   /* cdb_make_finish leaves both allocated */
  return close(fd);
}

static const char *const basic[] = {
  "alpha", "one",
  "mixed.example", "two",
  "", "empty key",
  "alpha", "second alpha: never seen",
  "noval", "",
};

/* lookups - table-driven lookups in basic.cdb */
static void lookups(void)
{
  static const struct { const char *key; int want; const char *value; } t[] = {
    { "alpha", 1, "one" },
    { "ALPHA", 1, "one" },                /* query folded to lower case */
    { "Mixed.Example", 1, "two" },
    { "", 1, "empty key" },
    { "noval", 1, "" },
    { "alph", 0, 0 },
    { "alpha ", 0, 0 },
    { "missing", 0, 0 },
  };
  struct map m = { 0 };
  stralloc v = { 0 };
  size_t i;
  T_OK("open basic", map_open(&m, at("basic.cdb")) == 1);
  for (i = 0; i < sizeof t / sizeof t[0]; i++) {
    int r = map_lookup(&m, t[i].key, strlen(t[i].key), &v);
    char name[128];
    snprintf(name, sizeof name, "lookup '%s' -> %d", t[i].key, t[i].want);
    T_OK(name, r == t[i].want);
    if (r == 1 && t[i].value) {
      T_STR(name, t[i].value, v.s, v.len);
      T_OK("value is NUL-terminated", v.s[v.len] == 0);
    }
  }
  map_close(&m);
  stralloc_free(&v);
}

/* bounds - oversized keys and values are errors, not truncations */
static void bounds(void)
{
  static char bigval[MAP_VALUE_MAX + 2], okval[MAP_VALUE_MAX + 1], bigkey[MAP_KEY_MAX + 2];
  const char *kv[6];
  struct map m = { 0 };
  stralloc v = { 0 };
  unsigned long pos = 0;
  int r;
  memset(bigval, 'v', MAP_VALUE_MAX + 1);
  memset(okval, 'o', MAP_VALUE_MAX);
  memset(bigkey, 'k', MAP_KEY_MAX + 1);
  kv[0] = "big"; kv[1] = bigval; kv[2] = "ok"; kv[3] = okval; kv[4] = bigkey; kv[5] = "x";
  T_OK("make bounds.cdb", make_cdb("bounds.cdb", kv, 3) == 0);
  T_OK("open bounds", map_open(&m, at("bounds.cdb")) == 1);
  errno = 0;
  T_OK("value over MAP_VALUE_MAX is an error", map_lookup(&m, "big", 3, &v) == -1 && errno == EMSGSIZE);
  T_OK("value of exactly MAP_VALUE_MAX is fine", map_lookup(&m, "ok", 2, &v) == 1 && v.len == MAP_VALUE_MAX);
  errno = 0;
  T_OK("query key over MAP_KEY_MAX is an error",
       map_lookup(&m, bigkey, MAP_KEY_MAX + 1, &v) == -1 && errno == ENAMETOOLONG);
  errno = 0;
  r = map_next(&m, &pos, &v, &v);
  T_OK("walk stops at an oversized record", r == -1 && errno == EMSGSIZE);
  map_close(&m);
  stralloc_free(&v);
}

/* damaged - files that are not cdbs, or cut short */
static void damaged(void)
{
  static const char *const many[] = { "a", "1", "b", "2", "c", "3", "d", "4" };
  struct map m = { 0 };
  stralloc v = { 0 };
  int fd;
  T_OK("missing file: 0", map_open(&m, at("nonexistent.cdb")) == 0);
  fd = open(at("short.cdb"), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  T_OK("write short", fd != -1 && write(fd, "hello\n", 6) == 6 && close(fd) == 0);
  errno = 0;
  T_OK("file shorter than a cdb header: EPROTO", map_open(&m, at("short.cdb")) == -1 && errno == EPROTO);
  T_OK("a directory is an error", map_open(&m, dir) == -1 && errno == EINVAL);
  T_OK("make cut.cdb", make_cdb("cut.cdb", many, 4) == 0);
  T_OK("cut it short", truncate(at("cut.cdb"), 2060) == 0);
  T_OK("open cut", map_open(&m, at("cut.cdb")) == 1);
  errno = 0;
  T_OK("lookup in a cut file: EPROTO", map_lookup(&m, "a", 1, &v) == -1 && errno == EPROTO);
  map_close(&m);
  errno = 0;
  T_OK("lookup in a closed map: -1", map_lookup(&m, "a", 1, &v) == -1 && errno == EBADF);
  stralloc_free(&v);
}

/* walk - map_next hands out every record in file order */
static void walk(void)
{
  struct map m = { 0 };
  stralloc k = { 0 }, v = { 0 }, all = { 0 };
  unsigned long pos = 0;
  int r;
  T_OK("open basic for walk", map_open(&m, at("basic.cdb")) == 1);
  while ((r = map_next(&m, &pos, &k, &v)) == 1) {
    stralloc_catb(&all, k.s, k.len);
    stralloc_cats(&all, "=");
    stralloc_catb(&all, v.s, v.len);
    stralloc_cats(&all, ";");
  }
  T_OK("walk ends with 0", r == 0);
  T_STR("walk sees all records", "alpha=one;mixed.example=two;=empty key;alpha=second alpha: never seen;noval=;",
        all.s, all.len);
  map_close(&m);
  stralloc_free(&k);
  stralloc_free(&v);
  stralloc_free(&all);
}

/* refresh - a long-running reader follows postern-maps' rename */
static void refresh(void)
{
  static const char *const v1[] = { "k", "old" }, *const v2[] = { "k", "new" };
  struct map m = { 0 };
  stralloc v = { 0 };
  char tmp[256];
  T_OK("make live.cdb", make_cdb("live.cdb", v1, 1) == 0);
  T_OK("open live", map_open(&m, at("live.cdb")) == 1);
  T_OK("refresh unchanged", map_refresh(&m) == 1 && map_lookup(&m, "k", 1, &v) == 1);
  T_STR("old value", "old", v.s, v.len);
  T_OK("make live.new", make_cdb("live.new", v2, 1) == 0);
  snprintf(tmp, sizeof tmp, "%s", at("live.new"));
  T_OK("rename over", rename(tmp, at("live.cdb")) == 0);
  T_OK("before refresh: still old", map_lookup(&m, "k", 1, &v) == 1 && v.len == 3 && !memcmp(v.s, "old", 3));
  T_OK("refresh reopens", map_refresh(&m) == 1 && map_lookup(&m, "k", 1, &v) == 1);
  T_STR("new value", "new", v.s, v.len);
  T_OK("remove", unlink(at("live.cdb")) == 0);
  T_OK("refresh of a removed map: 0, closed", map_refresh(&m) == 0 && !m.open);
  map_close(&m);
  stralloc_free(&v);
}

/* lookup_in - the one-shot form; a missing map is not found */
static void lookup_in(void)
{
  stralloc v = { 0 };
  T_OK("lookup_in finds", map_lookup_in(dir, "basic", "ALPHA", 5, &v) == 1);
  T_STR("lookup_in value", "one", v.s, v.len);
  T_OK("lookup_in not found", map_lookup_in(dir, "basic", "zz", 2, &v) == 0);
  T_OK("lookup_in missing map", map_lookup_in(dir, "nosuchmap", "alpha", 5, &v) == 0);
  stralloc_free(&v);
}

/* keyset - duplicates with the first line, across table growth */
static void keyset(void)
{
  struct map_keyset s = { 0 };
  unsigned long first = 0, i;
  char k[32];
  int good = 1;
  T_OK("add a", map_keyset_add(&s, "a", 1, 10, &first) == 1);
  T_OK("add b", map_keyset_add(&s, "b", 1, 11, &first) == 1);
  T_OK("add empty key", map_keyset_add(&s, "", 0, 12, &first) == 1);
  T_OK("a again: duplicate of line 10", map_keyset_add(&s, "a", 1, 20, &first) == 0 && first == 10);
  T_OK("empty again: line 12", map_keyset_add(&s, "", 0, 21, &first) == 0 && first == 12);
  for (i = 0; i < 5000; i++) {
    snprintf(k, sizeof k, "key%lu", i);
    if (map_keyset_add(&s, k, strlen(k), 100 + i, &first) != 1) good = 0;
  }
  T_OK("5000 distinct keys", good);
  for (i = 0; i < 5000; i += 7) {
    snprintf(k, sizeof k, "key%lu", i);
    if (map_keyset_add(&s, k, strlen(k), 9999, &first) != 0 || first != 100 + i) good = 0;
  }
  T_OK("duplicates found after growth, with their lines", good);
  map_keyset_free(&s);
  T_OK("freed set is empty", s.size == 0 && s.slot == 0);
}

int main(void)
{
  if (!mkdtemp(dir)) { perror("mkdtemp"); return 2; }
  T_OK("make basic.cdb", make_cdb("basic.cdb", basic, 5) == 0);
  lookups();
  bounds();
  damaged();
  walk();
  refresh();
  lookup_in();
  keyset();
  snprintf(path, sizeof path, "rm -rf '%s'", dir);
  if (system(path) == -1) return 2;
  T_DONE();
}
