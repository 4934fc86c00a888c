/* fuzz_aliases.c - libFuzzer target for the untrusted-text parsers of the
 * maps: aliases_parse (a whole aliases file), aliases_split and
 * aliases_normalize (a right-hand side read back from aliases.cdb),
 * access_parse (an access value), the access key builders and
 * access_key_normalize; and, inputs of cdb size taken as a hand-made cdb
 * file, map_lookup and map_next; and the input as a ~/.forward
 * (forward_rhs, then split as delivery splits it).  Besides crashes it checks two invariants:
 * every item lies inside the input, and normalizing is idempotent (what
 * postern-maps stores parses back to itself). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "access.h"
#include "aliases.h"
#include "forward.h"

/* item_ok - aliases_split callback: the item points where it may */
static int item_ok(void *arg, const struct alias_item *item)
{
  const char *const *range = arg;   /* input start, input end */
  if (item->type < ALIAS_ADDRESS || item->type > ALIAS_INCLUDE) abort();
  if (item->raw < range[0] || item->raw + item->rawlen > range[1]) abort();
  if (item->len > ALIAS_ITEM_MAX || item->rawlen > ALIAS_ITEM_MAX) abort();
  return 0;
}

/* rhs_check - split and normalize one right-hand side */
static void rhs_check(const char *s, size_t len)
{
  stralloc once = { 0 }, twice = { 0 };
  const char *range[2] = { s, s + len };
  const char *why;
  int n = aliases_split(s, len, item_ok, range, &why);
  int r = aliases_normalize(s, len, &once, &why);
  if ((n > 0) != (r == 0)) abort();   /* both accept or both refuse */
  if (r == 0) {
    if (aliases_normalize(once.s, once.len, &twice, &why) != 0) abort();
    if (twice.len != once.len || memcmp(twice.s, once.s, once.len)) abort();
  }
  stralloc_free(&once);
  stralloc_free(&twice);
}

/* on_entry - aliases_parse callback: what it stores must split again */
static int on_entry(void *arg, const char *name, size_t nlen, const char *rhs, size_t rlen,
                    unsigned long line)
{
  (void)arg; (void)line;
  if (nlen == 0 || nlen > ALIAS_NAME_MAX || memchr(name, ':', nlen)) abort();
  rhs_check(rhs, rlen);
  return 0;
}

static void on_error(void *arg, const char *msg)
{
  (void)arg;
  if (strncmp(msg, "line ", 5) != 0) abort();
}

/* access_all - the access functions on the same bytes */
static void access_all(const char *s, size_t len)
{
  struct access_result r = { 0 };
  stralloc keys = { 0 };
  char z[MAP_KEY_MAX + 1];
  if (access_parse(s, len, &r) == 0 && r.action == ACCESS_NONE) abort();
  if (len < sizeof z) {
    memcpy(z, s, len);
    z[len] = 0;
    access_keys_ip(z, &keys);
    access_keys_host(z, &keys);
    access_keys_address(z, &keys);
  }
  access_key_normalize(s, len, &keys);
  {
    struct access_key k = { { 0 }, 0, -1, 0 };
    int got = access_key_parse(s, len, &k);
    if (got == 1 && (k.count == 0 || k.count > ACCESS_CIDR_KEYS_MAX || k.keys.s[k.keys.len - 1] != 0)) abort();
    if (got == 0 && !k.why) abort();
    access_key_free(&k);
  }
  access_result_free(&r);
  stralloc_free(&keys);
}

/* forward_all - the input as a ~/.forward: its right-hand side is never
 * longer than the text, and splits within its own bounds */
static void forward_all(const char *s, size_t len)
{
  stralloc text = { 0 }, rhs = { 0 };
  if (stralloc_copyb(&text, s, len) && forward_rhs(&text, &rhs) == 0) {
    const char *range[2] = { rhs.s, rhs.s + rhs.len };
    const char *why;
    if (rhs.len > len + len / 2 + 1) abort();   /* a ',' per line at most */
    if (rhs.len) aliases_split(rhs.s, rhs.len, item_ok, range, &why);
  }
  stralloc_free(&text);
  stralloc_free(&rhs);
}

/* cdb_all - the input as a cdb file: lookups and a walk stay in bounds */
static void cdb_all(const char *s, size_t len)
{
  struct map m = { 0 };
  stralloc k = { 0 }, v = { 0 };
  unsigned long pos = 0;
  char path[64];
  int fd = memfd_create("fuzz-cdb", MFD_CLOEXEC);
  if (fd == -1) return;
  if (write(fd, s, len) == (ssize_t)len) {
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    if (map_open(&m, path) == 1) {
      map_lookup(&m, "root", 4, &v);
      map_lookup(&m, s, 8, &v);
      while (map_next(&m, &pos, &k, &v) == 1)
        if (k.len > MAP_KEY_MAX || v.len > MAP_VALUE_MAX) abort();
    }
  }
  map_close(&m);
  stralloc_free(&k);
  stralloc_free(&v);
  close(fd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct aliases_cb cb = { on_entry, on_error, 0 };
  const char *s = (const char *)data;
  buffer b;
  buffer_frombuf(&b, s, size);
  aliases_parse(&b, &cb);
  rhs_check(s, size);
  access_all(s, size);
  forward_all(s, size);
  if (size >= 2048) cdb_all(s, size);
  return 0;
}
