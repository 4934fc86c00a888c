/* map.c - lookups in cdb maps, and the key set postern-maps uses to find
 * duplicate keys (see map.h).  The cdb code is libowfat's; this file adds
 * the case folding, the bounds on untrusted files and the reopen-on-rename
 * that long-running readers need. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include "byte.h"
#include "uint32.h"
#include "map.h"

#define CDB_HEADER_BYTES 2048   /* the 256 hash table pointers */
#define CDB_FILE_MAX 0xffffffffUL

/* map_keyslot - one entry of the key set's open-addressing table */
struct map_keyslot {
  unsigned long off;    /* key position in keys; valid when line != 0 */
  unsigned long len;
  unsigned long line;   /* 0: empty slot */
  uint32 hash;
};

/* lower - copy in to out, ASCII upper case folded to lower case */
static void lower(char *out, const char *in, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++) {
    char c = in[i];
    out[i] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
  }
}

int map_unsafe(const char *path, const struct stat *st)
{
  struct stat d;
  char dir[4096];
  size_t n = 0, slash = 0;
  if (st->st_mode & (S_IWGRP | S_IWOTH)) return 1;
  for (n = 0; path[n]; n++)
    if (path[n] == '/') slash = n;
  if (n >= sizeof dir) return 1;
  if (slash == 0) { dir[0] = path[0] == '/' ? '/' : '.'; dir[1] = 0; }
  else { byte_copy(dir, slash, path); dir[slash] = 0; }
  if (stat(dir, &d) == -1) return 1;
  /* a sticky directory (/tmp) lets nobody replace another's file */
  return (d.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !(d.st_mode & S_ISVTX);
}

/* map_attach - open path into the zeroed m: 1, 0 missing, -1 error
 * (EPERM: the file or its directory is writable by group or others) */
static int map_attach(struct map *m, const char *path)
{
  struct stat st;
  int fd, e;
  fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd == -1) return errno == ENOENT ? 0 : -1;
  if (fstat(fd, &st) == -1) goto fail;
  if (!S_ISREG(st.st_mode)) { errno = EINVAL; goto fail; }
  if (map_unsafe(path, &st)) { errno = EPERM; goto fail; }
  if (st.st_size < CDB_HEADER_BYTES || (unsigned long)st.st_size > CDB_FILE_MAX) {
    errno = EPROTO;
    goto fail;
  }
  if (!stralloc_copys(&m->path, path) || !stralloc_0(&m->path)) { errno = ENOMEM; goto fail; }
  cdb_init(&m->c, fd);
  m->fd = fd;
  m->dev = st.st_dev;
  m->ino = st.st_ino;
  m->open = 1;
  return 1;
fail:
  e = errno;
  close(fd);
  errno = e;
  return -1;
}

int map_open(struct map *m, const char *path)
{
  struct map fresh = { 0 };
  int r;
  r = map_attach(&fresh, path);
  if (r != 1) {
    stralloc_free(&fresh.path);
    map_close(m);
    return r;
  }
  map_close(m);
  *m = fresh;
  return 1;
}

void map_close(struct map *m)
{
  if (m->open) {
    cdb_free(&m->c);
    close(m->fd);
  }
  stralloc_free(&m->path);
  byte_zero(m, sizeof *m);
}

int map_refresh(struct map *m)
{
  struct map fresh = { 0 };
  struct stat st;
  int r;
  if (!m->open) { errno = EBADF; return -1; }
  if (stat(m->path.s, &st) == 0 && st.st_dev == m->dev && st.st_ino == m->ino)
    return 1;
  r = map_attach(&fresh, m->path.s);
  if (r == -1) { stralloc_free(&fresh.path); return -1; }
  map_close(m);
  if (r == 1) *m = fresh;
  return r;
}

int map_lookup(struct map *m, const char *key, size_t len, stralloc *value)
{
  char k[MAP_KEY_MAX];
  uint32 dlen;
  int r;
  if (!m->open) { errno = EBADF; return -1; }
  if (len > MAP_KEY_MAX) { errno = ENAMETOOLONG; return -1; }
  lower(k, key, len);
  r = cdb_find(&m->c, (const unsigned char *)k, len);
  if (r <= 0) return r < 0 ? -1 : 0;
  dlen = cdb_datalen(&m->c);
  if (dlen > MAP_VALUE_MAX) { errno = EMSGSIZE; return -1; }
  if (!stralloc_ready(value, (size_t)dlen + 1)) { errno = ENOMEM; return -1; }
  if (cdb_read(&m->c, (unsigned char *)value->s, dlen, cdb_datapos(&m->c)) != 0)
    return -1;
  value->len = dlen;
  value->s[dlen] = 0;
  return 1;
}

/* read_sa - len bytes at pos into sa: 0, or -1 with errno */
static int read_sa(struct map *m, stralloc *sa, uint32 len, uint32 pos)
{
  if (!stralloc_ready(sa, (size_t)len + 1)) { errno = ENOMEM; return -1; }
  if (cdb_read(&m->c, (unsigned char *)sa->s, len, pos) != 0) return -1;
  sa->len = len;
  sa->s[len] = 0;
  return 0;
}

int map_next(struct map *m, unsigned long *pos, stralloc *key, stralloc *value)
{
  char buf[8];
  uint32 eod, klen, dlen;
  if (!m->open) { errno = EBADF; return -1; }
  if (cdb_read(&m->c, (unsigned char *)buf, 4, 0) != 0) return -1;
  uint32_unpack(buf, &eod);   /* the first hash table starts where data ends */
  if (eod < CDB_HEADER_BYTES) { errno = EPROTO; return -1; }
  if (*pos == 0) *pos = CDB_HEADER_BYTES;
  if (*pos >= eod) return 0;
  if (eod - *pos < 8) { errno = EPROTO; return -1; }
  if (cdb_read(&m->c, (unsigned char *)buf, 8, (uint32)*pos) != 0) return -1;
  uint32_unpack(buf, &klen);
  uint32_unpack(buf + 4, &dlen);
  if (klen > MAP_KEY_MAX || dlen > MAP_VALUE_MAX) { errno = EMSGSIZE; return -1; }
  if (eod - *pos - 8 < (unsigned long)klen + dlen) { errno = EPROTO; return -1; }
  if (read_sa(m, key, klen, (uint32)(*pos + 8)) == -1) return -1;
  if (read_sa(m, value, dlen, (uint32)(*pos + 8 + klen)) == -1) return -1;
  *pos += 8 + (unsigned long)klen + dlen;
  return 1;
}

int map_lookup_in(const char *map_dir, const char *name, const char *key,
                  size_t len, stralloc *value)
{
  struct map m = { 0 };
  stralloc path = { 0 };
  int r, e;
  if (!stralloc_copys(&path, map_dir) || !stralloc_cats(&path, "/")
      || !stralloc_cats(&path, name) || !stralloc_cats(&path, ".cdb")
      || !stralloc_0(&path)) {
    stralloc_free(&path);
    errno = ENOMEM;
    return -1;
  }
  r = map_open(&m, path.s);
  if (r == 1) r = map_lookup(&m, key, len, value);
  e = errno;
  map_close(&m);
  stralloc_free(&path);
  errno = e;
  return r;
}

/* keyset_grow - double the table (first size 1024): 0, or -1 no memory */
static int keyset_grow(struct map_keyset *s)
{
  unsigned long size = s->size ? s->size * 2 : 1024, i, j;
  struct map_keyslot *t;
  if (size > (1UL << 31)) return -1;
  t = calloc(size, sizeof *t);
  if (!t) return -1;
  for (i = 0; i < s->size; i++) {
    if (!s->slot[i].line) continue;
    for (j = s->slot[i].hash & (size - 1); t[j].line; j = (j + 1) & (size - 1))
      ;
    t[j] = s->slot[i];
  }
  free(s->slot);
  s->slot = t;
  s->size = size;
  return 0;
}

int map_keyset_has(const struct map_keyset *s, const char *key, size_t len)
{
  uint32 h = cdb_hash((const unsigned char *)key, len);
  unsigned long i;
  if (s->size == 0) return 0;
  for (i = h & (s->size - 1); s->slot[i].line; i = (i + 1) & (s->size - 1))
    if (s->slot[i].hash == h && s->slot[i].len == len && byte_equal(s->keys.s + s->slot[i].off, len, key))
      return 1;
  return 0;
}

int map_keyset_add(struct map_keyset *s, const char *key, size_t len,
                   unsigned long line, unsigned long *first)
{
  uint32 h = cdb_hash((const unsigned char *)key, len);
  struct map_keyslot *e;
  unsigned long i;
  if (line == 0) line = 1;   /* 0 marks an empty slot */
  if (s->used * 2 >= s->size && keyset_grow(s) == -1) return -1;
  for (i = h & (s->size - 1); s->slot[i].line; i = (i + 1) & (s->size - 1)) {
    e = &s->slot[i];
    if (e->hash == h && e->len == len && byte_equal(s->keys.s + e->off, len, key)) {
      *first = e->line;
      return 0;
    }
  }
  e = &s->slot[i];
  e->off = s->keys.len;
  if (!stralloc_readyplus(&s->keys, len + 1) || !stralloc_catb(&s->keys, key, len))
    return -1;
  e->len = len;
  e->line = line;
  e->hash = h;
  s->used++;
  return 1;
}

void map_keyset_free(struct map_keyset *s)
{
  free(s->slot);
  stralloc_free(&s->keys);
  byte_zero(s, sizeof *s);
}
