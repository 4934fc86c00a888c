/* fuzz_envelope - libFuzzer target for envelope_read and envelope_write
 * (lib/envelope.c).  The input is read as an envelope in both modes; what
 * parses is written in canonical form, and that form must parse again, to
 * the same bytes, consuming exactly what was written (round-trip invariant).
 * Reading through a small buffer must give the same answer as reading from
 * memory at once.  Any broken invariant aborts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "buffer.h"
#include "stralloc.h"
#include "envelope.h"

/* trickle - a read op over memory that hands out a few bytes a call */
static const char *src;
static size_t srclen, srcpos, chunk;
static ssize_t trickle(int fd, char *buf, size_t len)
{
  size_t n = srclen - srcpos;
  (void)fd;
  if (n > len) n = len;
  if (n > chunk) n = chunk;
  memcpy(buf, src + srcpos, n);
  srcpos += n;
  return (ssize_t)n;
}

/* put - envelope_write into sa (emptied first); 0 or -1 */
static int put(const struct envelope *e, stralloc *sa)
{
  buffer b;
  int r;
  sa->len = 0;
  if (buffer_tosa(&b, sa) != 0) abort();
  r = envelope_write(&b, e);
  if (buffer_flush(&b) == -1) r = -1;
  buffer_close(&b);
  return r;
}

/* canonical_ok - every written line is at most ENV_LINE_MAX bytes, holds no
 * NUL or CR, and the text ends with the one empty line */
static int canonical_ok(const stralloc *sa)
{
  size_t i, start = 0;
  if (sa->len < 4 || memcmp(sa->s, "V1\n", 3) || sa->s[sa->len - 1] != '\n' || sa->s[sa->len - 2] != '\n')
    return 0;
  for (i = 0; i < sa->len; i++) {
    if (sa->s[i] == 0 || sa->s[i] == '\r') return 0;
    if (sa->s[i] == '\n') {
      if (i - start > ENV_LINE_MAX) return 0;
      if (i == start && i != sa->len - 1) return 0;   /* an empty line only at the end */
      start = i + 1;
    }
  }
  return 1;
}

static void one(const char *data, size_t size, int mode)
{
  struct envelope e, e2;
  stralloc out = {0}, out2 = {0};
  const char *why;
  char space[16];
  buffer b;
  int r, r2;

  envelope_init(&e);
  buffer_frombuf(&b, data, size);
  r = envelope_read(&e, &b, mode, &why);
  if (r != ENV_OK && !why) abort();             /* every refusal has a reason */
  if (r == ENV_OK && why) abort();
  if (r == ENV_OK) {
    if (put(&e, &out) != 0) abort();            /* what was read can be written */
    if (!canonical_ok(&out)) abort();
    if (mode == ENV_INPUT && (envelope_tag(&e, 'P') || envelope_tag(&e, 'D'))) abort();
  }

  /* the same input through a small buffer and short reads */
  src = data; srclen = size; srcpos = 0; chunk = 1 + size % 5;
  envelope_init(&e2);
  buffer_init(&b, trickle, 0, space, 1 + size % sizeof space);
  r2 = envelope_read(&e2, &b, mode, &why);
  if (r2 != r) abort();
  if (r == ENV_OK) {
    if (put(&e2, &out2) != 0 || out2.len != out.len || memcmp(out.s, out2.s, out.len)) abort();
  }
  envelope_free(&e2);

  if (r == ENV_OK) {
    /* the canonical form reads back to itself and nothing is left over */
    envelope_init(&e2);
    buffer_frombuf(&b, out.s, out.len);
    if (envelope_read(&e2, &b, mode, &why) != ENV_OK) abort();
    if (buffer_feed(&b) != 0) abort();
    if (put(&e2, &out2) != 0) abort();
    if (out2.len != out.len || memcmp(out.s, out2.s, out.len)) abort();
    if (e2.nrcpt != e.nrcpt) abort();
    envelope_free(&e2);
    /* an input envelope is also a valid stored one */
    if (mode == ENV_INPUT) {
      envelope_init(&e2);
      buffer_frombuf(&b, out.s, out.len);
      if (envelope_read(&e2, &b, ENV_STORED, &why) != ENV_OK) abort();
      envelope_free(&e2);
    }
  }
  envelope_free(&e);
  stralloc_free(&out);
  stralloc_free(&out2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  one((const char *)data, size, ENV_INPUT);
  one((const char *)data, size, ENV_STORED);
  return 0;
}
