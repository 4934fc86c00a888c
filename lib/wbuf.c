/* wbuf.c - error-keeping buffered writes (see wbuf.h) */
#include <errno.h>
#include <poll.h>
#include <unistd.h>
#include "wbuf.h"

#define WBUF_FDS 4096
static int pending[WBUF_FDS];   /* first errno per descriptor, 0: none */
static int pending_high;        /* the same for descriptors >= WBUF_FDS */
static unsigned int wait_s[WBUF_FDS];   /* per descriptor: seconds a write may wait, 0: no bound */

/* slot - where fd's error is kept */
static int *slot(int fd)
{
  return fd >= 0 && fd < WBUF_FDS ? &pending[fd] : &pending_high;
}

/* writable - wait until fd takes data, at most wait_s[fd]; 0, or -1
 * with errno (ETIMEDOUT) */
static int writable(int fd)
{
  struct pollfd p = { fd, POLLOUT, 0 };
  int r;
  if (fd < 0 || fd >= WBUF_FDS || !wait_s[fd]) return 0;
  do r = poll(&p, 1, wait_s[fd] > 86400 ? 86400000 : (int)wait_s[fd] * 1000);
  while (r == -1 && errno == EINTR);
  if (r == 0) errno = ETIMEDOUT;
  return r > 0 ? 0 : -1;
}

void wbuf_timeout(int fd, unsigned long seconds)
{
  if (fd >= 0 && fd < WBUF_FDS) wait_s[fd] = seconds > 86400 ? 86400 : (unsigned int)seconds;
}

ssize_t wbuf_write(int fd, const char *buf, size_t len)
{
  size_t done = 0;
  while (done < len) {
    ssize_t w = writable(fd) == -1 ? -1 : write(fd, buf + done, len - done);
    if (w == -1 && errno == EINTR) continue;
    if (w <= 0) {
      int *e = slot(fd);
      if (!*e) *e = w == -1 && errno ? errno : EIO;
      break;
    }
    done += (size_t)w;
  }
  return (ssize_t)len;
}

void wbuf_init(buffer *b, int fd, char *space, size_t len)
{
  *slot(fd) = 0;
  wbuf_timeout(fd, 0);
  buffer_init(b, (ssize_t (*)())wbuf_write, fd, space, len);
}

int wbuf_error(int fd)
{
  int *e = slot(fd), r = *e;
  *e = 0;
  return r;
}

int wbuf_flush(buffer *b)
{
  buffer_flush(b);
  int e = wbuf_error(b->fd);
  if (!e) return 0;
  errno = e;
  return -1;
}
