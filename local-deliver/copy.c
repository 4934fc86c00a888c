/* copy.c - write the message to a mailbox, file or pipe: our prefix
 * headers, then the spool file byte for byte; for mbox, with mboxrd ">From "
 * quoting and the blank line that separates messages. */
#include <errno.h>
#include <unistd.h>
#include "byte.h"
#include "ld.h"

/* struct sink - an output buffer over one fd */
struct sink {
  int fd;
  size_t n;
  unsigned long total;
  char buf[LD_COPY_BUFFER];
};

/* sink_flush - write out everything buffered: 0 or -1 (errno) */
static int sink_flush(struct sink *s)
{
  size_t off = 0;
  while (off < s->n) {
    ssize_t w = write(s->fd, s->buf + off, s->n - off);
    if (w == -1 && errno == EINTR) continue;
    if (w == -1) return -1;
    if (w == 0) { errno = EIO; return -1; }
    off += (size_t)w;
  }
  s->n = 0;
  return 0;
}

/* sink_put - append bytes */
static int sink_put(struct sink *s, const char *x, size_t len)
{
  while (len) {
    size_t room = sizeof s->buf - s->n, take = len < room ? len : room;
    byte_copy(s->buf + s->n, take, x);
    s->n += take; s->total += take; x += take; len -= take;
    if (s->n == sizeof s->buf && sink_flush(s) == -1) return -1;
  }
  return 0;
}

/* struct quote - mboxrd quoting state: at the start of a line, the bytes
 * that still match ">*From " are held back until the line decides */
struct quote {
  int bol;            /* at the beginning of a line */
  size_t f;           /* bytes of "From " matched after the '>'s */
  size_t nhold;
  char hold[1024];
};

/* quoted_put - one byte through the ">From " quoting */
static int quoted_put(struct sink *s, struct quote *q, char c)
{
  static const char from[] = "From ";
  int done = 0;
  if (!q->bol) {
    if (c == '\n') q->bol = 1;
    return sink_put(s, &c, 1);
  }
  if (q->f == 0 && c == '>' && q->nhold < sizeof q->hold - 8) { q->hold[q->nhold++] = c; return 0; }
  if (c == from[q->f]) {
    q->hold[q->nhold++] = c;
    if (++q->f < 5) return 0;
    if (sink_put(s, ">", 1) == -1) return -1;    /* ">*From " gets one more '>' */
    done = 1;
  }
  if (sink_put(s, q->hold, q->nhold) == -1) return -1;
  q->nhold = 0; q->f = 0;
  q->bol = !done && c == '\n';
  return done ? 0 : sink_put(s, &c, 1);
}

/* body - the spool file through to the sink; *last is its last byte */
static int body(int in, struct sink *s, struct quote *q, char *last)
{
  char buf[LD_COPY_BUFFER];
  for (;;) {
    ssize_t r = read(in, buf, sizeof buf), i;
    if (r == -1 && errno == EINTR) continue;
    if (r == -1) return -1;
    if (r == 0) return 0;
    *last = buf[r - 1];
    if (!q) { if (sink_put(s, buf, (size_t)r) == -1) return -1; continue; }
    for (i = 0; i < r; i++)
      if (quoted_put(s, q, buf[i]) == -1) return -1;
  }
}

int ld_copy(int in, int out, const char *prefix, size_t plen, int mbox, unsigned long *bytes)
{
  static struct sink s;
  static struct quote q;
  char last = '\n';
  s.fd = out; s.n = 0; s.total = 0;
  byte_zero(&q, sizeof q);
  q.bol = 1;
  if (ld_rewind(in) == -1) return -1;
  if (sink_put(&s, prefix, plen) == -1) return -1;
  if (body(in, &s, mbox ? &q : 0, &last) == -1) return -1;
  if (mbox && q.nhold && sink_put(&s, q.hold, q.nhold) == -1) return -1;
  if (mbox && last != '\n' && sink_put(&s, "\n", 1) == -1) return -1;
  if (mbox && sink_put(&s, "\n", 1) == -1) return -1;
  if (sink_flush(&s) == -1) return -1;
  if (bytes) *bytes = s.total;
  return 0;
}
