/* spool.c - ids, paths and durable directory operations (see spool.h) */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/time.h>
#include "num.h"
#include "str.h"
#include "spool.h"

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
