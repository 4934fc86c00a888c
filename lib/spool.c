/* spool.c - ids, paths and durable directory operations (see spool.h) */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/time.h>
#include "byte.h"
#include "num.h"
#include "str.h"
#include "spool.h"

void spool_head_fmt(char line[SPOOL_HEAD_LEN], unsigned long body, unsigned long envlen)
{
  size_t n = str_copy(line, SPOOL_HEAD_MAGIC);
  n += num_fmt0(line + n, body, 10);
  line[n++] = ' ';
  n += num_fmt0(line + n, envlen, 10);
  line[n] = '\n';
}

unsigned long spool_head_body(unsigned long envlen)
{
  unsigned long need = SPOOL_HEAD_LEN + envlen;
  return (need + SPOOL_HEAD_UNIT - 1) / SPOOL_HEAD_UNIT * SPOOL_HEAD_UNIT;
}

int spool_pread(int fd, char *s, size_t len, unsigned long off)
{
  while (len) {
    ssize_t r = pread(fd, s, len, (off_t)off);
    if (r == -1 && errno == EINTR) continue;
    if (r == -1) return -1;
    if (r == 0) { errno = EPROTO; return -1; }
    s += r; len -= (size_t)r; off += (unsigned long)r;
  }
  return 0;
}

int spool_pwrite(int fd, const char *s, size_t len, unsigned long off)
{
  while (len) {
    ssize_t w = pwrite(fd, s, len, (off_t)off);
    if (w == -1 && errno == EINTR) continue;
    if (w == -1) return -1;
    if (w == 0) { errno = EIO; return -1; }
    s += w; len -= (size_t)w; off += (unsigned long)w;
  }
  return 0;
}

/* digits - exactly ten decimal digits at s; -1 if not */
static int digits(const char *s, unsigned long *v)
{
  unsigned int i;
  *v = 0;
  for (i = 0; i < 10; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    *v = *v * 10 + (unsigned long)(s[i] - '0');
  }
  return 0;
}

int spool_head_read(int fd, unsigned long size, struct spool_head *h)
{
  static const char magic[] = SPOOL_HEAD_MAGIC;
  char line[SPOOL_HEAD_LEN];
  size_t m = sizeof magic - 1, got = 0;
  h->body = 0;
  h->envlen = size;
  while (got < sizeof line) {
    ssize_t r = pread(fd, line + got, sizeof line - got, (off_t)got);
    if (r == -1) { if (errno == EINTR) continue; return -1; }
    if (r == 0) break;
    got += (size_t)r;
  }
  if (got < m || !byte_equal(line, m, magic)) return 0;
  if (got < sizeof line || digits(line + m, &h->body) == -1 || line[m + 10] != ' ' ||
      digits(line + m + 11, &h->envlen) == -1 || line[SPOOL_HEAD_LEN - 1] != '\n' ||
      h->body % SPOOL_HEAD_UNIT || h->body < SPOOL_HEAD_LEN + h->envlen || h->body > size) {
    h->body = 0;
    errno = EPROTO;
    return -1;
  }
  return 1;
}

void spool_id(char id[SPOOL_ID_MAX])
{
  struct timeval tv;
  size_t n;
  gettimeofday(&tv, 0);
  n = num_fmt0(id, (unsigned long)tv.tv_sec, 10);
  id[n++] = '.';
  n += num_fmt0(id + n, (unsigned long)tv.tv_usec, 6);
  id[n++] = '.';
  n += num_fmt(id + n, (unsigned long)getpid());
  id[n] = 0;
}

int spool_id_valid(const char *s)
{
  size_t i, dots = 0, run = 0;
  for (i = 0; s[i]; i++) {
    if (i >= SPOOL_ID_MAX - 1) return 0;
    if (s[i] == '.') {
      if (run == 0) return 0;
      dots++; run = 0;
    } else if (s[i] >= '0' && s[i] <= '9') run++;
    else return 0;
  }
  return dots == 2 && run > 0;
}

int spool_path(stralloc *sa, const char *dir, const char *id)
{
  return stralloc_copys(sa, dir) && stralloc_cats(sa, "/") &&
         stralloc_cats(sa, id) && stralloc_0(sa);
}

int spool_fsync_dir(const char *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1) return -1;
  if (fsync(fd) == -1) { int e = errno; close(fd); errno = e; return -1; }
  return close(fd);
}

void spool_poke(char c)
{
  /* O_NONBLOCK: ENXIO at once when nobody has the fifo open for reading */
  int fd = open(SPOOL_TRIGGER, O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd == -1) return;
  if (write(fd, &c, 1) < 0) { /* full or gone: the scheduler is awake, or the request is on disk */ }
  close(fd);
}

void spool_trigger(void)
{
  spool_poke(SPOOL_POKE_NEW);
}
