/* getln.c - bounded line reading (see getln.h) */
#include <string.h>
#include "getln.h"

/* getln - read one LF-terminated line of at most max bytes into x */
int getln(buffer *b, char *x, size_t max, size_t *len)
{
  size_t n = 0;
  *len = 0;
  for (;;) {
    ssize_t avail = buffer_feed(b);
    if (avail < 0) return GETLN_ERROR;
    if (avail == 0) { *len = n; return n ? GETLN_PARTIAL : GETLN_EOF; }
    char *p = buffer_peek(b);
    char *nl = memchr(p, '\n', (size_t)avail);
    size_t take = nl ? (size_t)(nl - p) : (size_t)avail;
    if (take > max - n) {
      memcpy(x + n, p, max - n);
      buffer_seek(b, max - n);
      *len = max;
      return GETLN_LONG;
    }
    memcpy(x + n, p, take);
    n += take;
    if (nl) { buffer_seek(b, take + 1); *len = n; return GETLN_LINE; }
    buffer_seek(b, take);
  }
}

/* getln_skip - throw away the rest of an overlong line */
int getln_skip(buffer *b)
{
  for (;;) {
    ssize_t avail = buffer_feed(b);
    if (avail <= 0) return -1;
    char *p = buffer_peek(b);
    char *nl = memchr(p, '\n', (size_t)avail);
    if (nl) { buffer_seek(b, (size_t)(nl - p) + 1); return 0; }
    buffer_seek(b, (size_t)avail);
  }
}
