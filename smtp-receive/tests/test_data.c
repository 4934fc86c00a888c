/* test_data.c - the DATA and BDAT byte streams (data.c): end marker,
 * unstuffing, smuggling refusals, limits, and independence from how the
 * bytes are split into reads. */
#include "stralloc.h"
#include "buffer.h"
#include "byte.h"
#include "str.h"
#include "../../lib/tests/t.h"
#include "../smtp.h"

static stralloc got;   /* what the sink received */

/* sink_op - buffer op collecting into got */
static ssize_t sink_op(int fd, const char *buf, size_t len)
{
  (void)fd;
  return stralloc_catb(&got, buf, len) ? (ssize_t)len : -1;
}

/* dot - run data_dot over in, in pieces of step bytes; the error, the
 * bytes used in *used (-1 if no end seen) */
static int dot(const char *in, size_t len, size_t step, unsigned long line_limit,
               unsigned long size_limit, long *used)
{
  static char space[64];
  buffer b;
  struct data d;
  size_t pos = 0;
  int done = 0;
  stralloc_copys(&got, "");
  buffer_init(&b, sink_op, -1, space, sizeof space);
  data_start(&d, &b, line_limit, size_limit);
  while (pos < len && !done) {
    size_t n = len - pos < step ? len - pos : step;
    pos += data_dot(&d, in + pos, n, &done);
  }
  buffer_flush(&b);
  *used = done ? (long)pos : -1;
  return d.error;
}

static void every_split(const char *name, const char *in, const char *want, int want_err)
{
  size_t len = str_len(in), step;
  for (step = 1; step <= len; step++) {
    long used;
    int e = dot(in, len, step, 998, 0, &used);
    if (e != want_err || used < 0 || (want && (got.len != str_len(want) || byte_diff(got.s, got.len, want)))) {
      T_OK(name, 0);
      printf("#   step %zu error %d used %ld got '%.*s'\n", step, e, used, (int)got.len, got.s);
      return;
    }
  }
  T_OK(name, 1);
}

int main(void)
{
  long used;
  every_split("plain message, CRLF to LF", "a\r\nb\r\n.\r\n", "a\nb\n", DATA_OK);
  every_split("empty message", ".\r\n", "", DATA_OK);
  every_split("dot-unstuffing", "..\r\n..x\r\n.y\r\n.\r\n", ".\n.x\ny\n", DATA_OK);
  every_split("bare LF refused", "a\nb\r\n.\r\n", 0, DATA_BARE);
  every_split("bare CR refused", "a\rb\r\n.\r\n", 0, DATA_BARE);
  every_split("LF.LF does not end the data", "a\n.\nb\r\n.\r\n", 0, DATA_BARE);
  every_split("CR.CR does not end the data", "a\r.\rb\r\n.\r\n", 0, DATA_BARE);
  every_split("LF.CRLF does not end the data", "a\n.\r\nb\r\n.\r\n", 0, DATA_BARE);
  every_split("CRLF.LF does not end the data", "a\r\n.\nb\r\n.\r\n", 0, DATA_BARE);
  every_split(".CR then X is a bare CR", "a\r\n.\rX\r\n.\r\n", 0, DATA_BARE);
  every_split("8-bit and NUL bytes pass", "\xff\x80\x01\r\n.\r\n", "\xff\x80\x01\n", DATA_OK);
  T_OK("bytes after the end are left", dot("x\r\n.\r\nQUIT\r\n", 12, 100, 0, 0, &used) == DATA_OK && used == 6);
  T_OK("no end marker: not done", dot("x\r\n.\r", 5, 100, 0, 0, &used) == DATA_OK && used == -1);
  T_OK("line limit: 5 bytes ok", dot("12345\r\n.\r\n", 10, 3, 5, 0, &used) == DATA_OK);
  T_OK("line limit: 6 bytes refused", dot("123456\r\n.\r\n", 11, 3, 5, 0, &used) == DATA_LONG && used == 11);
  T_OK("line limit counts after unstuffing", dot("..345\r\n.\r\n", 10, 3, 5, 0, &used) == DATA_OK);
  T_OK("size limit with CRLF counted", dot("1234\r\n.\r\n", 9, 2, 0, 6, &used) == DATA_OK);
  T_OK("size limit exceeded", dot("12345\r\n.\r\n", 10, 2, 0, 6, &used) == DATA_SIZE && used == 10);

  /* BDAT */
  {
    static char space[16];
    buffer b;
    struct data d;
    stralloc_copys(&got, "");
    buffer_init(&b, sink_op, -1, space, sizeof space);
    data_start(&d, &b, 0, 0);
    data_chunk(&d, "a\r", 2);
    data_chunk(&d, "\nb.\r\n", 5);
    data_chunk_end(&d);
    buffer_flush(&b);
    T_OK("BDAT: CRLF split across chunks", d.error == DATA_OK);
    T_STR("BDAT: no unstuffing, LF ends", "a\nb.\n", got.s, got.len);
    data_start(&d, 0, 0, 0);
    data_chunk(&d, "a\r", 2);
    data_chunk_end(&d);
    T_OK("BDAT: CR at the end refused", d.error == DATA_BARE);
    data_start(&d, 0, 0, 0);
    data_chunk(&d, "a\nb", 3);
    T_OK("BDAT: bare LF refused", d.error == DATA_BARE);
  }
  T_DONE();
}
