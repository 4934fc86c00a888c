/* maildir.c - Maildir delivery (the Maildir specification, as qmail and
 * Dovecot use it): write tmp/NAME, fsync, rename to new/NAME,S=SIZE, fsync
 * new/.  NAME is TIME.MusecPpidQn.HOST: unique because our pid is unique
 * on this host at this microsecond, and O_EXCL makes sure.  Directories
 * made on the way (the Maildir, its parents, tmp new cur) are made durable
 * too: the parent of each is fsync'ed before success is reported. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>       /* rename */
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include "byte.h"
#include "str.h"
#include "num.h"
#include "spool.h"
#include "ld.h"

/* made - mkdir path[0..len) (mode 0700); when it is new, fsync the
 * directory that holds it, so the entry survives a crash: 0 made or
 * there already, -1 error (errno) */
static int made(const char *path, size_t len)
{
  static stralloc dir, parent;
  size_t slash;
  while (len > 1 && path[len - 1] == '/') len--;
  if (!stralloc_copyb(&dir, path, len) || !stralloc_0(&dir)) { errno = ENOMEM; return -1; }
  if (mkdir(dir.s, 0700) == -1) return errno == EEXIST ? 0 : -1;
  slash = byte_rchr(path, len, '/');
  if (slash == len) return spool_fsync_dir(".");
  if (!stralloc_copyb(&parent, path, slash ? slash : 1) || !stralloc_0(&parent)) { errno = ENOMEM; return -1; }
  return spool_fsync_dir(parent.s);
}

/* mkparents - every missing directory of dir, like mkdir -p */
static int mkparents(const char *dir)
{
  size_t i, len = str_len(dir);
  for (i = 1; i <= len; i++)
    if ((i == len || dir[i] == '/') && made(dir, i) == -1) return -1;
  return 0;
}

/* mkdirs - the Maildir (and missing parents) and its three subdirectories */
static int mkdirs(const char *dir, stralloc *sub)
{
  static const char *const subs[] = { "tmp", "new", "cur" };
  unsigned int i;
  if (made(dir, str_len(dir)) == -1 && (errno != ENOENT || mkparents(dir) == -1)) return -1;
  for (i = 0; i < 3; i++) {
    if (!stralloc_copys(sub, dir) || !stralloc_cats(sub, subs[i]) || !stralloc_0(sub)) return -1;
    if (made(sub->s, sub->len - 1) == -1) return -1;
  }
  return 0;
}

/* host_part - the host name with '/' and ':' escaped as the spec says */
static int host_part(stralloc *sa, const char *host)
{
  for (; *host; host++) {
    const char *esc = *host == '/' ? "\\057" : *host == ':' ? "\\072" : 0;
    if (esc ? !stralloc_cats(sa, esc) : !stralloc_catb(sa, host, 1)) return -1;
  }
  return 0;
}

/* unique - "TIME.MusecPpidQn.HOST" */
static int unique(stralloc *name, const char *host, unsigned int n)
{
  char num[NUM_ULONG];
  struct timeval tv;
  gettimeofday(&tv, 0);
  if (!stralloc_copys(name, num_str(num, (unsigned long)tv.tv_sec))
      || !stralloc_cats(name, ".M") || !stralloc_cats(name, num_str(num, (unsigned long)tv.tv_usec))
      || !stralloc_cats(name, "P") || !stralloc_cats(name, num_str(num, (unsigned long)getpid()))
      || !stralloc_cats(name, "Q") || !stralloc_cats(name, num_str(num, n))
      || !stralloc_cats(name, ".") || host_part(name, host) == -1) return -1;
  return 0;
}

/* path3 - dir + sub + name (+ suffix) into sa, NUL-terminated */
static int path3(stralloc *sa, const char *dir, const char *sub, const stralloc *name, const char *suffix)
{
  return stralloc_copys(sa, dir) && stralloc_cats(sa, sub) && stralloc_cat(sa, name)
         && stralloc_cats(sa, suffix) && stralloc_0(sa) ? 0 : -1;
}

/* write_tmp - create tmp/NAME exclusively and fill it; the fd or -1 */
static int write_tmp(struct ld *d, const char *tmp, unsigned long *size)
{
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd == -1) return -1;
  if (ld_copy(0, fd, d->prefix.s, d->prefix.len, 0, size) == -1 || fsync(fd) == -1) {
    int e = errno;
    close(fd);
    unlink(tmp);
    errno = e;
    return -1;
  }
  if (close(fd) == -1) { int e = errno; unlink(tmp); errno = e; return -1; }
  return 0;
}

/* cur_missing - the Maildir's cur/ is not there (one stat: tmp/ and new/
 * are proven by the delivery's own open and rename) */
static int cur_missing(const char *dir, stralloc *sub)
{
  struct stat st;
  if (!stralloc_copys(sub, dir) || !stralloc_cats(sub, "cur") || !stralloc_0(sub)) return 1;
  return stat(sub->s, &st) == -1 && errno == ENOENT;
}

/* ld_maildir - the delivery.  The directories are made only when the
 * delivery finds one missing (the open of tmp/NAME or the rename into
 * new/ fails with ENOENT, or cur/ is gone), not tried with four mkdir
 * calls each time: a Maildir nearly always exists. */
void ld_maildir(struct ld *d, const char *dir, struct ld_result *r)
{
  static stralloc name, tmp, new, sub;
  char num[NUM_ULONG], suffix[NUM_ULONG + 4];
  unsigned long size;
  unsigned int n;
  int made_dirs = 0;
  for (n = 0;; n++) {
    if (unique(&name, d->cfg.hostname, n) == -1 || path3(&tmp, dir, "tmp/", &name, "") == -1) {
      ld_temp(r, "4.3.0", "out of memory", 0); return;
    }
    if (write_tmp(d, tmp.s, &size) == 0) break;
    if (errno == ENOENT && !made_dirs) {
      if (mkdirs(dir, &sub) == -1) { ld_sys(r, "unable to create Maildir ", dir); return; }
      made_dirs = 1;
      continue;
    }
    if (errno != EEXIST || n > 20) { ld_sys(r, "unable to write ", tmp.s); return; }
  }
  if (!made_dirs && cur_missing(dir, &sub)) {
    if (mkdirs(dir, &sub) == -1) { ld_sys(r, "unable to create Maildir ", dir); unlink(tmp.s); return; }
    made_dirs = 1;
  }
  str_copy(suffix, ",S=");
  str_copy(suffix + 3, num_str(num, size));
  if (path3(&new, dir, "new/", &name, suffix) == -1) { unlink(tmp.s); ld_temp(r, "4.3.0", "out of memory", 0); return; }
  if (rename(tmp.s, new.s) == -1 && (errno != ENOENT || made_dirs || mkdirs(dir, &sub) == -1 || rename(tmp.s, new.s) == -1)) {
    ld_sys(r, "unable to move into ", new.s); unlink(tmp.s); return;
  }
  if (!stralloc_copys(&sub, dir) || !stralloc_cats(&sub, "new") || !stralloc_0(&sub)
      || spool_fsync_dir(sub.s) == -1) { ld_sys(r, "unable to sync ", dir); return; }
  ld_ok(r, "delivered to Maildir ", dir);
}
