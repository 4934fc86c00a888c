/* delivery.c - writing and reading delivery result lines (delivery.h) */
#include "byte.h"
#include "str.h"
#include "delivery.h"

static const char *const words[] = { 0, "ok", "passed", "defer", "fail" };
#define NWORDS (sizeof words / sizeof words[0])

int delivery_put(buffer *b, const char *rcpt, int res, const char *text)
{
  if (res <= DELIVERY_NONE || res >= (int)NWORDS) res = DELIVERY_DEFER;
  return buffer_puts(b, rcpt) == -1 || buffer_put(b, "\t", 1) == -1 || buffer_puts(b, words[res]) == -1
      || buffer_put(b, "\t", 1) == -1 || buffer_puts(b, text) == -1 || buffer_put(b, "\n", 1) == -1 ? -1 : 0;
}

int delivery_parse(const char *line, size_t len, size_t *rlen, const char **text, size_t *tlen)
{
  size_t t1 = byte_chr(line, len, '\t'), t2, n;
  unsigned int i;
  if (t1 == len) return DELIVERY_NONE;
  t2 = t1 + 1 + byte_chr(line + t1 + 1, len - t1 - 1, '\t');
  n = t2 - t1 - 1;
  *rlen = t1;
  *text = t2 < len ? line + t2 + 1 : "";
  *tlen = t2 < len ? len - t2 - 1 : 0;
  for (i = 1; i < NWORDS; i++)
    if (str_len(words[i]) == n && !byte_diff(line + t1 + 1, n, words[i])) return (int)i;
  return DELIVERY_NONE;
}
