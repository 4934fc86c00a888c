/* test_getln.c - bounded line reading (lib/getln.c): whole lines, empty
 * lines, NUL bytes, a partial last line, exactly max bytes, max+1 (GETLN_LONG
 * and getln_skip), read errors, and all of it through buffers and reads of
 * every small size, so no split of the input changes the answer. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "buffer.h"
#include "getln.h"
#include "t.h"

/* memread - a read op over memory handing out at most chunk bytes a call */
static const char *src;
static size_t srclen, srcpos, chunk;
static int fail_at;          /* >0: fail once srcpos reaches fail_at - 1 */
static ssize_t memread(int fd, char *buf, size_t len)
{
  size_t n = srclen - srcpos;
  (void)fd;
  if (fail_at && srcpos + 1 >= (size_t)fail_at) { errno = EIO; return -1; }
  if (n > len) n = len;
  if (n > chunk) n = chunk;
  memcpy(buf, src + srcpos, n);
  srcpos += n;
  return (ssize_t)n;
}

static char space[8192];
static buffer b;
static char name[256];
static const char *cfg;      /* "buffer N, reads of M" for the test names */

static void start(const char *s, size_t len, size_t bufsize, size_t chunksize)
{
  src = s; srclen = len; srcpos = 0; chunk = chunksize; fail_at = 0;
  buffer_init(&b, memread, 0, space, bufsize);
}

static const char *named(const char *what)
{
  snprintf(name, sizeof name, "%s: %s", cfg, what);
  return name;
}

#define MAX 4
#define GUARD 8

/* expect - the next getln gives result r and the bytes want[0..wlen), and
 * writes nothing beyond max */
static void expect(const char *what, int r, const char *want, size_t wlen)
{
  char x[MAX + GUARD];
  size_t len = 12345, i;
  int got, guard_ok = 1;
  memset(x, '#', sizeof x);
  got = getln(&b, x, MAX, &len);
  for (i = MAX; i < sizeof x; i++) if (x[i] != '#') guard_ok = 0;
  T_OK(named(what), got == r && len == wlen && memcmp(x, want, wlen) == 0);
  if (got != r || len != wlen) printf("#   want %d len %zu, got %d len %zu\n", r, wlen, got, len);
  snprintf(name, sizeof name, "%s: %s writes at most max bytes", cfg, what);
  T_OK(name, guard_ok);
}

static void script(size_t bufsize, size_t chunksize)
{
  static char label[64];
  snprintf(label, sizeof label, "buffer %zu, reads of %zu", bufsize, chunksize);
  cfg = label;

  {
    static const char in[] = "abc\n\nde\0f\nxxxx\nyyyyy\nzz";
    start(in, sizeof in - 1, bufsize, chunksize);
    expect("a short line", GETLN_LINE, "abc", 3);
    expect("an empty line", GETLN_LINE, "", 0);
    expect("a line with a NUL inside", GETLN_LINE, "de\0f", 4);
    expect("a line of exactly max bytes", GETLN_LINE, "xxxx", 4);
    expect("a line of max+1 bytes is GETLN_LONG with the first max", GETLN_LONG, "yyyy", 4);
    T_OK(named("getln_skip after GETLN_LONG finds the LF"), getln_skip(&b) == 0);
    expect("the partial last line after a skip", GETLN_PARTIAL, "zz", 2);
    expect("end of input", GETLN_EOF, "", 0);
    expect("end of input again", GETLN_EOF, "", 0);
    T_OK(named("getln_skip at end of input is -1"), getln_skip(&b) == -1);
  }
  {
    static const char in[] = "0123456789abcdef0123456789\nok\n";
    start(in, sizeof in - 1, bufsize, chunksize);
    expect("a very long line is GETLN_LONG", GETLN_LONG, "0123", 4);
    T_OK(named("getln_skip discards the rest of a very long line"), getln_skip(&b) == 0);
    expect("the line after a very long line", GETLN_LINE, "ok", 2);
    expect("end after the line after a very long line", GETLN_EOF, "", 0);
  }
  {
    static const char in[] = "abcdefghi\nrest\n";
    start(in, sizeof in - 1, bufsize, chunksize);
    expect("GETLN_LONG leaves the rest unread", GETLN_LONG, "abcd", 4);
    expect("without a skip the rest comes next", GETLN_LONG, "efgh", 4);
    expect("then the last byte and its LF", GETLN_LINE, "i", 1);
    expect("then the next line", GETLN_LINE, "rest", 4);
  }
  {
    static const char in[] = "abcdefgh";
    start(in, sizeof in - 1, bufsize, chunksize);
    expect("an overlong unterminated line is GETLN_LONG", GETLN_LONG, "abcd", 4);
    T_OK(named("getln_skip of an unterminated line is -1"), getln_skip(&b) == -1);
    expect("end after skipping an unterminated line", GETLN_EOF, "", 0);
  }
  {
    static const char in[] = "abcd";
    start(in, sizeof in - 1, bufsize, chunksize);
    expect("an unterminated line of exactly max bytes is GETLN_PARTIAL", GETLN_PARTIAL, "abcd", 4);
    expect("end after an unterminated line of max bytes", GETLN_EOF, "", 0);
  }
  {
    static const char in[] = "abcde";
    start(in, sizeof in - 1, bufsize, chunksize);
    expect("an unterminated line of max+1 bytes is GETLN_LONG", GETLN_LONG, "abcd", 4);
  }
  {
    start("", 0, bufsize, chunksize);
    expect("empty input is GETLN_EOF", GETLN_EOF, "", 0);
  }
  {
    start("\n", 1, bufsize, chunksize);
    expect("a lone LF is an empty line", GETLN_LINE, "", 0);
    expect("end after a lone LF", GETLN_EOF, "", 0);
  }
  {
    static const char in[] = "\0\0\0\0\n\0\n";
    start(in, sizeof in - 1, bufsize, chunksize);
    expect("a line of max NULs", GETLN_LINE, "\0\0\0\0", 4);
    expect("a line of one NUL", GETLN_LINE, "\0", 1);
  }
  {
    static const char in[] = "\r\n";
    start(in, sizeof in - 1, bufsize, chunksize);
    expect("CR is kept as data", GETLN_LINE, "\r", 1);
  }
  {
    static const char in[] = "ab\ncd\nef\n";
    start(in, sizeof in - 1, bufsize, chunksize);
    fail_at = 5;             /* the op fails once 4 bytes are handed out */
    {
      char x[MAX];
      size_t len;
      int r, n = 0;
      do r = getln(&b, x, MAX, &len); while (r == GETLN_LINE && ++n < 5);
      T_OK(named("a read error is GETLN_ERROR"), r == GETLN_ERROR);
      T_OK(named("errno is kept after GETLN_ERROR"), errno == EIO);
      T_OK(named("getln_skip after a read error is -1"), getln_skip(&b) == -1);
    }
  }
}

/* pipe_test - a real fd and a 1-byte buffer */
static void pipe_test(void)
{
  static const char in[] = "one\ntwo\n\nthreeee\nfour";
  char small[1], x[8];
  size_t len;
  int fd[2];
  buffer pb;
  if (pipe(fd) == -1 || write(fd[1], in, sizeof in - 1) != (ssize_t)(sizeof in - 1)) {
    printf("not ok - pipe setup\n");
    return;
  }
  close(fd[1]);
  buffer_init(&pb, read, fd[0], small, sizeof small);
  T_OK("pipe, 1-byte buffer: first line", getln(&pb, x, 5, &len) == GETLN_LINE && len == 3 && !memcmp(x, "one", 3));
  T_OK("pipe, 1-byte buffer: second line", getln(&pb, x, 5, &len) == GETLN_LINE && len == 3 && !memcmp(x, "two", 3));
  T_OK("pipe, 1-byte buffer: empty line", getln(&pb, x, 5, &len) == GETLN_LINE && len == 0);
  T_OK("pipe, 1-byte buffer: long line", getln(&pb, x, 5, &len) == GETLN_LONG && len == 5 && !memcmp(x, "three", 5));
  T_OK("pipe, 1-byte buffer: skip", getln_skip(&pb) == 0);
  T_OK("pipe, 1-byte buffer: partial line", getln(&pb, x, 5, &len) == GETLN_PARTIAL && len == 4 && !memcmp(x, "four", 4));
  T_OK("pipe, 1-byte buffer: EOF", getln(&pb, x, 5, &len) == GETLN_EOF && len == 0);
  close(fd[0]);

  /* a read error on a real fd: reading a write-only pipe end fails (EBADF) */
  if (pipe(fd) == -1) return;
  buffer_init(&pb, read, fd[1], small, sizeof small);
  T_OK("pipe: read error on the fd is GETLN_ERROR", getln(&pb, x, 5, &len) == GETLN_ERROR);
  close(fd[0]);
  close(fd[1]);
}

int main(void)
{
  static const size_t cfgs[][2] = {
    { 1, 1 }, { 2, 2 }, { 3, 3 }, { 4, 4 }, { 5, 5 }, { 7, 2 }, { 8192, 1 }, { 8192, 3 }, { 8192, 8192 },
  };
  unsigned int i;
  for (i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++) script(cfgs[i][0], cfgs[i][1]);
  pipe_test();
  T_DONE();
}
