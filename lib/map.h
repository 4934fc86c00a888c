/* map.h - read-only lookups in the cdb maps that postern-maps(8) compiles
 * (aliases, access, virtual, routes, ...).  The file format is the standard
 * cdb one: maps made by tinycdb's "cdb -c" are readable, ours are readable by
 * "cdb -q".  Keys are case-insensitive: postern-maps stores them lower-cased
 * (ASCII) and every lookup lower-cases the query, so a hand-made cdb must
 * hold lower-case keys.  A cdb can be hand-made, so everything read from one
 * is untrusted: lengths are bounded and checked. */
#ifndef MAP_H
#define MAP_H
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "stralloc.h"
#include "cdb.h"

#define MAP_KEY_MAX 1024      /* bytes in a key */
#define MAP_VALUE_MAX 65536   /* bytes in a value */

struct map {
  struct cdb c;   /* valid while open */
  int open;       /* 0: closed */
  int fd;
  dev_t dev;      /* identity of the open file, for map_refresh */
  ino_t ino;
  stralloc path;  /* the file opened, NUL-terminated */
};

/* map_unsafe - may others than the administrator change the map at path
 * (st its stat)?  1 if the file, or the directory holding it (unless
 * sticky), is writable by group or others (sendmail's safe-file rule),
 * else 0. */
int map_unsafe(const char *path, const struct stat *st);

/* map_open - open the cdb file path.  1 opened; 0 the file does not exist
 * (m is closed); -1 error with errno set (EPROTO: not a cdb file; EPERM:
 * map_unsafe, refused).  m must
 * start zeroed (struct map m = {0}); an open m is closed first; map_close
 * returns m to the zeroed state. */
int map_open(struct map *m, const char *path);

/* map_lookup - find key[0..len) (compared case-insensitively) and copy its
 * value into value (value->len bytes; value->s[value->len] is 0 as well, not
 * counted).  1 found; 0 not found; -1 error with errno set: I/O error,
 * EPROTO a malformed cdb, ENAMETOOLONG a key over MAP_KEY_MAX, EMSGSIZE a
 * value over MAP_VALUE_MAX, ENOMEM.  The first record of a key wins. */
int map_lookup(struct map *m, const char *key, size_t len, stralloc *value);

/* map_refresh - for long-running readers: reopen m if its path now names
 * another file (postern-maps replaces maps by rename).  1 open (same or
 * new file); 0 the file is gone (m closed); -1 error (the old map stays). */
int map_refresh(struct map *m);

/* map_next - walk every record in file order: start with *pos = 0; 1 a
 * record in key and value, 0 the end, -1 error with errno (EPROTO:
 * malformed, EMSGSIZE: over the bounds).  Keys come back as stored. */
int map_next(struct map *m, unsigned long *pos, stralloc *key, stralloc *value);

/* map_close - release m; harmless on a closed map */
void map_close(struct map *m);

/* map_lookup_in - one lookup in map_dir/name.cdb: open, look up, close.
 * A missing map is "not found" (0).  Same results as map_lookup. */
int map_lookup_in(const char *map_dir, const char *name, const char *key,
                  size_t len, stralloc *value);

/* map_keyset - the set of keys seen so far while compiling a map, with the
 * line each was first seen on, to report duplicates with both lines. */
struct map_keyset {
  stralloc keys;           /* the keys, end to end */
  struct map_keyslot *slot;
  unsigned long size;      /* slots allocated (a power of 2, or 0) */
  unsigned long used;
};

/* map_keyset_add - add key[0..len) first seen on line.  1 added; 0 already
 * there (*first = its line); -1 out of memory or over 2^31 keys. */
int map_keyset_add(struct map_keyset *s, const char *key, size_t len,
                   unsigned long line, unsigned long *first);
/* map_keyset_has - is key[0..len) in s? */
int map_keyset_has(const struct map_keyset *s, const char *key, size_t len);
void map_keyset_free(struct map_keyset *s);
#endif
