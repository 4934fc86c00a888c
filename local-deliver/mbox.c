/* mbox.c - append to an mbox file (the recipient's mailbox, or a /file
 * target): "From " line, our headers, the message with mboxrd ">From "
 * quoting and a blank line.  Locked with a dot-lock (when the directory
 * lets us make one) and an fcntl lock; the append is all or nothing: on any
 * error the file is truncated back to its old size. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "byte.h"
#include "num.h"
#include "str.h"
#include "spool.h"
#include "ld.h"

static volatile sig_atomic_t timed_out;   /* the lock wait's alarm fired */
static void on_alarm(int sig) { (void)sig; timed_out = 1; }

/* from_line - append "From sender Www Mmm dd hh:mm:ss yyyy\n" (asctime, UTC) */
static int from_line(stralloc *sa, const char *sender)
{
  static const char wd[] = "SunMonTueWedThuFriSat", mo[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
  char num[NUM_ULONG];
  struct tm tm;
  time_t now = time(0);
  if (!gmtime_r(&now, &tm)) return -1;
  if (!stralloc_cats(sa, "From ") || !stralloc_cats(sa, *sender ? sender : "MAILER-DAEMON")
      || !stralloc_cats(sa, " ") || !stralloc_catb(sa, wd + 3 * tm.tm_wday, 3)
      || !stralloc_cats(sa, " ") || !stralloc_catb(sa, mo + 3 * tm.tm_mon, 3)
      || !stralloc_cats(sa, tm.tm_mday < 10 ? "  " : " ")) return -1;
  num[num_fmt(num, (unsigned long)tm.tm_mday)] = 0;
  if (!stralloc_cats(sa, num) || !stralloc_cats(sa, " ")) return -1;
  num[num_fmt0(num, (unsigned long)tm.tm_hour, 2)] = 0;
  if (!stralloc_cats(sa, num) || !stralloc_cats(sa, ":")) return -1;
  num[num_fmt0(num, (unsigned long)tm.tm_min, 2)] = 0;
  if (!stralloc_cats(sa, num) || !stralloc_cats(sa, ":")) return -1;
  num[num_fmt0(num, (unsigned long)tm.tm_sec, 2)] = 0;
  if (!stralloc_cats(sa, num) || !stralloc_cats(sa, " ")) return -1;
  num[num_fmt(num, (unsigned long)tm.tm_year + 1900)] = 0;
  return stralloc_cats(sa, num) && stralloc_cats(sa, "\n") ? 0 : -1;
}

/* dotlock - create path.lock; 1 held, 0 not possible here (no write
 * permission on the directory), -1 error or timeout */
static int dotlock(const char *lock, time_t deadline)
{
  for (;;) {
    int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    if (fd != -1) { close(fd); return 1; }
    if (errno == EACCES || errno == EPERM || errno == EROFS) return 0;
    if (errno != EEXIST) return -1;
    if (lstat(lock, &st) == 0 && st.st_mtime + LD_DOTLOCK_STALE_SECONDS < time(0)) {
      unlink(lock);           /* stale: its holder died long ago */
      continue;
    }
    if (time(0) >= deadline) { errno = ETIMEDOUT; return -1; }
    sleep(1);
  }
}

/* fcntl_lock - wait for the write lock, bounded by an alarm */
static int fcntl_lock(int fd, unsigned int seconds)
{
  struct flock fl;
  struct sigaction sa;
  int r, e;
  byte_zero(&fl, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  byte_zero(&sa, sizeof sa);
  sa.sa_handler = on_alarm;   /* no SA_RESTART: the wait ends with EINTR */
  sigaction(SIGALRM, &sa, 0);
  timed_out = 0;
  alarm(seconds ? seconds : 1);
  r = fcntl(fd, F_SETLKW, &fl);
  e = errno;
  alarm(0);
  if (r == -1 && timed_out) e = ETIMEDOUT;
  errno = e;
  return r;
}

/* open_box - open for append (and reading, to look at its end, when we
 * may), refusing symlinks and odd files */
static int open_box(const char *path, struct ld_result *r)
{
  struct stat st;
  int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
  if (fd == -1 && errno == EACCES) fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  if (fd == -1) { ld_sys(r, "unable to open ", path); return -1; }
  if (fstat(fd, &st) == -1) { ld_sys(r, "unable to stat ", path); close(fd); return -1; }
  if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
    ld_perm(r, EX_CANTCREAT, "5.2.0", "refusing to deliver to a link or special file: ", path);
    close(fd);
    return -1;
  }
  return fd;
}

/* sync_parent - fsync the directory that holds path: 0 or -1 */
static int sync_parent(const char *path)
{
  static stralloc dir;
  size_t slash = str_rchr(path, '/');
  if (!path[slash]) return spool_fsync_dir(".");
  if (!stralloc_copyb(&dir, path, slash ? slash : 1) || !stralloc_0(&dir)) { errno = ENOMEM; return -1; }
  return spool_fsync_dir(dir.s);
}

/* separator - the newlines a mailbox of size bytes needs before our From
 * line so that an empty line precedes it (another writer may have left
 * the file without one); none when it cannot be read */
static const char *separator(int fd, off_t size)
{
  char end[2];
  if (size == 0) return "";
  if (size == 1) return pread(fd, end, 1, 0) == 1 && end[0] != '\n' ? "\n\n" : "";
  if (pread(fd, end, 2, size - 2) != 2) return "";
  return end[1] != '\n' ? "\n\n" : end[0] != '\n' ? "\n" : "";
}

/* append - the From line, headers and body; truncate back on error */
static void append(struct ld *d, int fd, const char *path, struct ld_result *r)
{
  static stralloc head;
  struct stat st;
  if (fstat(fd, &st) == -1) { ld_sys(r, "unable to stat ", path); return; }
  if (!stralloc_copys(&head, separator(fd, st.st_size)) || from_line(&head, d->sender) == -1 || !stralloc_cat(&head, &d->prefix)) {
    ld_temp(r, "4.3.0", "out of memory", 0); return;
  }
  if (ld_copy(0, fd, head.s, head.len, 1, 0) == -1 || fsync(fd) == -1) {
    int e = errno;
    if (ftruncate(fd, st.st_size) == -1 || fsync(fd) == -1) { /* reported below */ }
    errno = e;
    ld_sys(r, "unable to append to ", path);
    return;
  }
  /* an empty file may be one open_box just created: its directory entry
   * must be durable too before success is reported */
  if (st.st_size == 0 && sync_parent(path) == -1) {
    ld_sys(r, "unable to sync the directory of ", path);
    return;
  }
  ld_ok(r, "delivered to mbox ", path);
}

void ld_mbox(struct ld *d, const char *path, struct ld_result *r)
{
  static stralloc lock;
  int fd, dot;
  if (!str_diff(path, "/dev/null")) { ld_ok(r, "discarded (/dev/null)", 0); return; }
  if (!stralloc_copys(&lock, path) || !stralloc_cats(&lock, ".lock") || !stralloc_0(&lock)) {
    ld_temp(r, "4.3.0", "out of memory", 0); return;
  }
  dot = dotlock(lock.s, time(0) + LD_LOCK_SECONDS);
  if (dot == -1) { ld_sys(r, "unable to lock ", lock.s); return; }
  fd = open_box(path, r);
  if (fd != -1) {
    if (fcntl_lock(fd, LD_LOCK_SECONDS) == -1) ld_sys(r, "unable to lock ", path);
    else append(d, fd, path, r);
    close(fd);
  }
  if (dot == 1) unlink(lock.s);
}
