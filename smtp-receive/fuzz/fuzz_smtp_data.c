/* fuzz_smtp_data.c - libFuzzer target for smtp-receive's data reader: the
 * first byte picks how the input is split into reads; the result (error,
 * output, end position) must not depend on the split, and the output
 * never holds a CR. */
#include <stdint.h>
#include <string.h>
#include "stralloc.h"
#include "smtp.h"

static stralloc out;   /* what the sink received */

static ssize_t sink_op(int fd, const char *buf, size_t len)
{
  (void)fd;
  return stralloc_catb(&out, buf, len) ? (ssize_t)len : -1;
}

/* run - feed data in pieces of step; the error, *used (-1: no end) */
static int run(const uint8_t *data, size_t size, size_t step, long *used, int chunked)
{
  static char space[32];
  buffer b;
  struct data d;
  size_t pos = 0;
  int done = 0;
  stralloc_copys(&out, "");
  buffer_init(&b, sink_op, -1, space, sizeof space);
  data_start(&d, &b, 50, 4000);
  while (pos < size && !done) {
    size_t n = size - pos < step ? size - pos : step;
    if (chunked) { data_chunk(&d, (const char *)data + pos, n); pos += n; }
    else pos += data_dot(&d, (const char *)data + pos, n, &done);
  }
  if (chunked) data_chunk_end(&d);
  buffer_flush(&b);
  *used = chunked || done ? (long)pos : -1;
  return d.error;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static stralloc first;
  long u1, u2;
  int chunked, e1, e2;
  size_t step;
  if (size < 1) return 0;
  step = data[0] % 17 + 1;
  chunked = data[0] & 0x80;
  data++; size--;
  e1 = run(data, size, size ? size : 1, &u1, chunked);
  if (memchr(out.s, '\r', out.len)) __builtin_trap();
  if (!stralloc_copy(&first, &out)) return 0;
  e2 = run(data, size, step, &u2, chunked);
  if (e1 != e2 || u1 != u2) __builtin_trap();
  if (e1 == DATA_OK && (first.len != out.len || memcmp(first.s, out.s, out.len))) __builtin_trap();
  return 0;
}
