/* test_mbox.c - mbox_append: the From line, prefix and mboxrd quoting, the
 * empty line before an entry when the file lacks one, the null sender, a
 * message read from an offset (nothing before it copied),
 * mode 0600, no lock file left, links and special files refused, and the
 * rollback when a write fails half way (a file size limit); a stale
 * dot-lock that cannot be removed ends the wait at once (no spinning); a
 * file owned by another user is deferred (MBOX_DEFER), never written. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <sys/stat.h>
#include "t.h"
#include "../mbox.h"

static char dir[64], box[128];

/* message - a memory file holding s, its offset at the end */
static int message(const char *s)
{
  int fd = memfd_create("m", 0);
  if (fd == -1 || write(fd, s, strlen(s)) != (ssize_t)strlen(s)) abort();
  return fd;
}

/* slurp - the file's bytes */
static size_t slurp(const char *fn, char *out, size_t max)
{
  int fd = open(fn, O_RDONLY);
  ssize_t n = fd == -1 ? 0 : read(fd, out, max - 1);
  if (fd != -1) close(fd);
  out[n < 0 ? 0 : n] = 0;
  return n < 0 ? 0 : (size_t)n;
}

/* append - mbox_append of s to box */
static int append(const char *path, const char *sender, const char *s, const char **what)
{
  const char *arg;
  int fd = message(s), r = mbox_append(path, fd, 0, sender, "P: x\n", 5, what, &arg);
  close(fd);
  return r;
}

/* from_ok - "From SENDER Www Mmm dd hh:mm:ss yyyy\n" at s */
static int from_ok(const char *s, const char *sender)
{
  size_t n = strlen(sender);
  return !strncmp(s, "From ", 5) && !strncmp(s + 5, sender, n) && s[5 + n] == ' '
      && s[5 + n + 4] == ' ' && s[5 + n + 8] == ' ' && s[5 + n + 11] == ' ' && s[5 + n + 14] == ':'
      && s[5 + n + 25] == '\n';
}

int main(void)
{
  static char got[65536];
  const char *what = "";
  struct stat st;
  struct rlimit old, small;
  char lock[160], other[160];
  size_t n;
  int r, fd;
  strcpy(dir, "/tmp/postern-test-mbox.XXXXXX");
  if (!mkdtemp(dir)) { printf("not ok - mbox temp dir\n"); return 1; }
  snprintf(box, sizeof box, "%s/box", dir);
  snprintf(lock, sizeof lock, "%s.lock", box);

  r = append(box, "a@b.test", "Subject: one\n\nFrom here\n>From there\nlast", &what);
  n = slurp(box, got, sizeof got);
  T_OK("a new mbox: appended", r == MBOX_OK);
  T_OK("the From line: sender and asctime date", from_ok(got, "a@b.test"));
  T_STR("then the prefix, the message mboxrd-quoted, a final newline and an empty line",
        "P: x\nSubject: one\n\n>From here\n>>From there\nlast\n\n", got + 39, n - 39);
  T_OK("a new mbox is 0600", stat(box, &st) == 0 && (st.st_mode & 0777) == 0600);
  T_OK("no dot-lock left behind", access(lock, F_OK) == -1 && errno == ENOENT);

  r = append(box, "", "second\n", &what);
  n = slurp(box, got, sizeof got);
  T_OK("the null sender is MAILER-DAEMON, no extra empty line after a proper entry",
       r == MBOX_OK && n > 80 && strstr(got, "last\n\nFrom MAILER-DAEMON ") && !strstr(got, "last\n\n\nFrom"));

  fd = open(box, O_WRONLY | O_APPEND);
  if (fd == -1 || write(fd, "junk", 4) != 4) abort();
  close(fd);
  r = append(box, "c@d.test", "third\n", &what);
  slurp(box, got, sizeof got);
  T_OK("another writer left no newline: an empty line is put before our From line",
       r == MBOX_OK && strstr(got, "junk\n\nFrom c@d.test "));

  /* the message from an offset on: what is before it is never copied */
  {
    static const char junk[] = "From junk\nSubject: before the start\n\n";
    char other_box[160];
    const char *arg;
    snprintf(other_box, sizeof other_box, "%s/offset", dir);
    fd = message(junk);
    if (write(fd, "Subject: at\n\nbody\n", 18) != 18) abort();
    r = mbox_append(other_box, fd, sizeof junk - 1, "o@f.test", "", 0, &what, &arg);
    n = slurp(other_box, got, sizeof got);
    T_OK("from an offset: appended", r == MBOX_OK && n > 39 && from_ok(got, "o@f.test"));
    T_STR("from an offset: only the bytes after it", "Subject: at\n\nbody\n\n", got + 39, n - 39);
    close(fd);
    unlink(other_box);
  }

  /* a write that fails half way: cut back to the old size */
  {
    static char big[200000];
    const char *arg;
    memset(big, 'x', sizeof big - 1);
    fd = message(big);                  /* before the limit: it binds memory files too */
    stat(box, &st);
    signal(SIGXFSZ, SIG_IGN);
    getrlimit(RLIMIT_FSIZE, &old);
    small = old;
    small.rlim_cur = (rlim_t)st.st_size + 100;
    setrlimit(RLIMIT_FSIZE, &small);
    r = mbox_append(box, fd, 0, "e@f.test", "", 0, &what, &arg);
    setrlimit(RLIMIT_FSIZE, &old);
    close(fd);
  }
  {
    struct stat after;
    T_OK("a failed write: MBOX_TEMP, unable to append", r == MBOX_TEMP && !strcmp(what, "unable to append to "));
    T_OK("a failed write: the file is cut back to its old size", stat(box, &after) == 0 && after.st_size == st.st_size);
  }

  snprintf(other, sizeof other, "%s/link", dir);
  if (symlink(box, other) == -1) abort();
  r = append(other, "a@b.test", "x\n", &what);
  T_OK("a symlink is refused", r == MBOX_TEMP || r == MBOX_PERM);
  unlink(other);
  if (link(box, other) == -1) abort();
  r = append(other, "a@b.test", "x\n", &what);
  T_OK("a hard link is refused, permanently", r == MBOX_PERM && strstr(what, "link"));
  unlink(other);
  r = append(dir, "a@b.test", "x\n", &what);
  T_OK("a directory is no mbox", r != MBOX_OK);

  /* a stale dot-lock (its holder died long ago) is removed */
  fd = open(lock, O_WRONLY | O_CREAT, 0600);
  close(fd);
  {
    struct timespec t[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
    utimensat(AT_FDCWD, lock, t, 0);
  }
  r = append(box, "a@b.test", "after a stale lock\n", &what);
  T_OK("a stale dot-lock is broken", r == MBOX_OK && access(lock, F_OK) == -1);

  /* a stale dot-lock that cannot be removed (a directory: unlink fails
   * with EISDIR, even for root): MBOX_TEMP at once, naming it; the append
   * runs in a child that the test bounds, so a spinning loop fails here */
  if (mkdir(lock, 0700) == -1) abort();
  {
    struct timespec t[2] = { { 1000000000, 0 }, { 1000000000, 0 } }, t0, t1;
    struct rusage ru;
    int status = 0, waited = 0;
    pid_t pid, w = 0;
    utimensat(AT_FDCWD, lock, t, 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((pid = fork()) == 0) {
      alarm(MBOX_LOCK_SECONDS + 5);
      r = append(box, "a@b.test", "x\n", &what);
      _exit(r == MBOX_TEMP && !strcmp(what, "unable to remove the stale dot-lock ") ? 0 : 1);
    }
    while (waited < 50 && (w = wait4(pid, &status, WNOHANG, &ru)) == 0) { usleep(100000); waited++; }
    if (w == 0) { kill(pid, SIGKILL); wait4(pid, &status, 0, &ru); }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    T_OK("an unremovable stale dot-lock: MBOX_TEMP, \"unable to remove the stale dot-lock\"",
         w == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    T_OK("an unremovable stale dot-lock: over within 5 s, far less than a second of CPU",
         w == pid && t1.tv_sec - t0.tv_sec < 5 && ru.ru_utime.tv_sec + ru.ru_stime.tv_sec == 0);
  }
  rmdir(lock);

  /* a file owned by another user: deferred, untouched */
  if (geteuid() == 0) {
    stat(box, &st);
    if (chown(box, 54321, 54321) == -1) abort();
    r = append(box, "a@b.test", "x\n", &what);
    {
      struct stat after;
      T_OK("a mailbox owned by another user: MBOX_DEFER with the reason",
           r == MBOX_DEFER && !strcmp(what, "refusing to deliver to a file owned by another user: "));
      T_OK("a mailbox owned by another user: not written", stat(box, &after) == 0 && after.st_size == st.st_size);
    }
    if (chown(box, 0, 0) == -1) abort();
  } else printf("skip - a mailbox owned by another user # needs root\n");

  unlink(box);
  rmdir(dir);
  T_DONE();
}
