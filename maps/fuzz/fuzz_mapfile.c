/* fuzz_mapfile.c - libFuzzer target for postern-maps' text formats: the
 * first byte picks the format (generic, set, access, aliases), the rest is
 * the file.  Besides crashes it checks what the parser hands on: keys and
 * values within their bounds, no NUL, CR or LF in either, set values empty,
 * line numbers increasing, and the error count returned equal to the errors
 * reported and bounded. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "maps.h"

struct seen {
  unsigned long line;
  long errors;      /* error callbacks so far */
  int type;
};

/* clean - no byte a map may not hold */
static int clean(const char *s, size_t len)
{
  return !memchr(s, 0, len) && !memchr(s, '\r', len) && !memchr(s, '\n', len);
}

static int on_entry(void *arg, const char *k, size_t klen, const char *v, size_t vlen,
                    unsigned long line)
{
  struct seen *s = arg;
  if (klen == 0 || klen > MAP_KEY_MAX || vlen > MAP_VALUE_MAX) abort();
  if (!clean(k, klen) || !clean(v, vlen)) abort();
  if (s->type == MAPTYPE_SET && vlen != 0) abort();
  if (line < s->line) abort();
  s->line = line;
  return 0;
}

static void on_error(void *arg, const char *msg)
{
  struct seen *s = arg;
  if (!msg || strncmp(msg, "line ", 5) != 0) abort();
  s->errors++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const int types[] = { MAPTYPE_GENERIC, MAPTYPE_SET, MAPTYPE_ACCESS, MAPTYPE_ALIASES };
  struct seen s = { 0, 0, 0 };
  struct aliases_cb cb;
  buffer in;
  long r;
  if (size < 1) return 0;
  s.type = types[data[0] % 4];
  memset(&cb, 0, sizeof cb);
  cb.arg = &s;
  cb.entry = on_entry;
  cb.error = on_error;
  buffer_frombuf(&in, (const char *)data + 1, size - 1);
  r = mapfile_parse(&in, s.type, &cb);
  /* the count returned is the count reported, and the parser gave up in
   * time (a line may report a few errors at once) */
  if (r < -1 || (r >= 0 && r != s.errors) || s.errors > 2 * MAPFILE_ERRORS_MAX) abort();
  return 0;
}
