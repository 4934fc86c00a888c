/* mbox.c - append to an mbox file (mbox.h): "From " line, the caller's
 * prefix headers, the message with mboxrd ">From " quoting and an empty
 * line.  Locked with a dot-lock (when the directory lets us make one) and
 * an fcntl lock; the append is all or nothing: on any error the file is
 * cut back to its old size.  Used by local-deliver (mailboxes and /file
 * targets, and its plain copies through mbox_copy) and by sendmail
 * (~/dead.letter). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "byte.h"
#include "str.h"
#include "stralloc.h"
#include "date.h"
#include "spool.h"
#include "mbox.h"

/* ------------------------------------------------------------- copying */

/* struct sink - an output buffer over one fd */
struct sink {
  int fd;
  size_t n;
  unsigned long total;
  char buf[MBOX_COPY_BUFFER];
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

/* body - the message through to the sink; *last is its last byte */
static int body(int in, struct sink *s, struct quote *q, char *last)
{
  char buf[MBOX_COPY_BUFFER];
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

int mbox_copy(int in, off_t start, int out, const char *prefix, size_t plen, int quote, unsigned long *bytes)
{
  static struct sink s;
  static struct quote q;
  char last = '\n';
  s.fd = out; s.n = 0; s.total = 0;
  byte_zero(&q, sizeof q);
  q.bol = 1;
  if (lseek(in, start, SEEK_SET) != start) return -1;
  if (sink_put(&s, prefix, plen) == -1) return -1;
  if (body(in, &s, quote ? &q : 0, &last) == -1) return -1;
  if (quote && q.nhold && sink_put(&s, q.hold, q.nhold) == -1) return -1;
  if (quote && last != '\n' && sink_put(&s, "\n", 1) == -1) return -1;
  if (quote && sink_put(&s, "\n", 1) == -1) return -1;
  if (sink_flush(&s) == -1) return -1;
  if (bytes) *bytes = s.total;
  return 0;
}

/* ------------------------------------------------------------- locking */

static volatile sig_atomic_t timed_out;   /* the lock wait's alarm fired */
static void on_alarm(int sig) { (void)sig; timed_out = 1; }

/* dotlock - create lock; 1 held, 0 not possible here (no write
 * permission on the directory), -1 error or timeout, -2 a stale lock we
 * may not remove (errno from unlink).  Every pass, the stale-lock one
 * too, is bounded by the deadline. */
static int dotlock(const char *lock, time_t deadline)
{
  for (;;) {
    int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    struct stat st;
    if (fd != -1) { close(fd); return 1; }
    if (errno == EACCES || errno == EPERM || errno == EROFS) return 0;
    if (errno != EEXIST) return -1;
    if (lstat(lock, &st) == 0 && st.st_mtime + MBOX_DOTLOCK_STALE_SECONDS < time(0)) {
      /* stale: its holder died long ago.  One we cannot remove stays:
       * waiting would not change that, so say so at once */
      if (unlink(lock) == -1 && errno != ENOENT) return -2;
    } else if (time(0) < deadline) sleep(1);
    if (time(0) >= deadline) { errno = ETIMEDOUT; return -1; }
  }
}

/* fcntl_lock - wait for the write lock, bounded by an alarm (the
 * caller's SIGALRM handler is put back) */
static int fcntl_lock(int fd, unsigned int seconds)
{
  struct flock fl;
  struct sigaction sa, old;
  int r, e;
  byte_zero(&fl, sizeof fl);
  fl.l_type = F_WRLCK;
  fl.l_whence = SEEK_SET;
  byte_zero(&sa, sizeof sa);
  sa.sa_handler = on_alarm;   /* no SA_RESTART: the wait ends with EINTR */
  sigaction(SIGALRM, &sa, &old);
  timed_out = 0;
  alarm(seconds ? seconds : 1);
  r = fcntl(fd, F_SETLKW, &fl);
  e = errno;
  alarm(0);
  sigaction(SIGALRM, &old, 0);
  if (r == -1 && timed_out) e = ETIMEDOUT;
  errno = e;
  return r;
}

/* ----------------------------------------------------------- appending */

/* open_box - open for append (and reading, to look at its end, when we
 * may), refusing symlinks, links, odd files and a file someone else owns
 * (another user's file, however writable, must not receive our mail);
 * fd, MBOX_TEMP, MBOX_DEFER or MBOX_PERM */
static int open_box(const char *path, const char **what)
{
  struct stat st;
  int fd = open(path, O_RDWR | O_APPEND | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
  if (fd == -1 && errno == EACCES) fd = open(path, O_WRONLY | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
  if (fd == -1) { *what = "unable to open "; return MBOX_TEMP; }
  if (fstat(fd, &st) == -1) { *what = "unable to stat "; close(fd); return MBOX_TEMP; }
  if (!S_ISREG(st.st_mode) || st.st_nlink != 1) {
    *what = "refusing to deliver to a link or special file: ";
    close(fd);
    return MBOX_PERM;
  }
  if (st.st_uid != geteuid()) {
    *what = "refusing to deliver to a file owned by another user: ";
    close(fd);
    return MBOX_DEFER;
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

/* head - the separator, "From sender date" and prefix into sa */
static int head(stralloc *sa, int box, off_t size, const char *sender, const char *prefix, size_t plen)
{
  char when[DATE_MAX];
  date_asctime(when, (unsigned long)time(0));
  return stralloc_copys(sa, separator(box, size)) && stralloc_cats(sa, "From ")
      && stralloc_cats(sa, *sender ? sender : "MAILER-DAEMON") && stralloc_cats(sa, " ")
      && stralloc_cats(sa, when) && stralloc_cats(sa, "\n") && stralloc_catb(sa, prefix, plen) ? 0 : -1;
}

/* append - the entry to the locked box; truncate back on error */
static int append(int box, int fd, off_t start, const char *path, const char *sender, const char *prefix, size_t plen,
                  const char **what)
{
  static stralloc sa;
  struct stat st;
  if (fstat(box, &st) == -1) { *what = "unable to stat "; return MBOX_TEMP; }
  if (head(&sa, box, st.st_size, sender, prefix, plen) == -1) {
    *what = "unable to append to ";
    errno = ENOMEM;
    return MBOX_TEMP;
  }
  if (mbox_copy(fd, start, box, sa.s, sa.len, 1, 0) == -1 || fsync(box) == -1) {
    int e = errno;
    if (ftruncate(box, st.st_size) == -1 || fsync(box) == -1) { /* the append failed anyway */ }
    errno = e;
    *what = "unable to append to ";
    return MBOX_TEMP;
  }
  /* an empty file may be one open_box just created: its directory entry
   * must be durable too before success is reported */
  if (st.st_size == 0 && sync_parent(path) == -1) { *what = "unable to sync the directory of "; return MBOX_TEMP; }
  return MBOX_OK;
}

int mbox_append(const char *path, int fd, off_t start, const char *sender, const char *prefix, size_t plen,
                const char **what, const char **arg)
{
  static stralloc lock;
  int box, dot, r;
  *arg = path;
  if (!stralloc_copys(&lock, path) || !stralloc_cats(&lock, ".lock") || !stralloc_0(&lock)) {
    *what = "unable to lock ";
    errno = ENOMEM;
    return MBOX_TEMP;
  }
  dot = dotlock(lock.s, time(0) + MBOX_LOCK_SECONDS);
  if (dot == -1) { *what = "unable to lock "; *arg = lock.s; return MBOX_TEMP; }
  if (dot == -2) { *what = "unable to remove the stale dot-lock "; *arg = lock.s; return MBOX_TEMP; }
  r = box = open_box(path, what);
  if (box >= 0) {
    if (fcntl_lock(box, MBOX_LOCK_SECONDS) == -1) { *what = "unable to lock "; r = MBOX_TEMP; }
    else r = append(box, fd, start, path, sender, prefix, plen, what);
    int e = errno;
    close(box);
    errno = e;
  }
  if (dot == 1) { int e = errno; unlink(lock.s); errno = e; }
  return r;
}
