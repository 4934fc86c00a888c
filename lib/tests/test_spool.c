/* test_spool.c - queue ids, paths and durable-directory helpers
 * (lib/spool.c), and decimal formatting (lib/num.c).  DESIGN.md invariant 3:
 * ids are unique, filename-safe and sort by arrival. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <sys/wait.h>
#include "num.h"
#include "spool.h"
#include "stralloc.h"
#include "t.h"

static char name[256];

/* A clock the test can set: this gettimeofday replaces libc's for
 * spool_id, so ids at chosen instants (0 microseconds, second boundaries)
 * can be checked; unset, it tells the real time. */
static int clock_set;
static struct timeval clock_now;
int gettimeofday(struct timeval *restrict tv, void *restrict tz)
{
  struct timespec ts;
  (void)tz;
  if (clock_set) { *tv = clock_now; return 0; }
  if (clock_gettime(CLOCK_REALTIME, &ts) == -1) return -1;
  tv->tv_sec = ts.tv_sec;
  tv->tv_usec = ts.tv_nsec / 1000;
  return 0;
}

/* id_at - the id spool_id makes at sec.usec */
static void id_at(char id[SPOOL_ID_MAX], long sec, long usec)
{
  clock_set = 1;
  clock_now.tv_sec = sec;
  clock_now.tv_usec = usec;
  spool_id(id);
  clock_set = 0;
}

/* id_shape - "SSSSSSSSSS.UUUUUU.PID", all decimal, PID our pid */
static int id_shape(const char *id, pid_t pid)
{
  char p[NUM_ULONG];
  size_t i;
  for (i = 0; i < 10; i++) if (id[i] < '0' || id[i] > '9') return 0;
  if (id[10] != '.') return 0;
  for (i = 11; i < 17; i++) if (id[i] < '0' || id[i] > '9') return 0;
  if (id[17] != '.') return 0;
  num_str(p, (unsigned long)pid);
  return strcmp(id + 18, p) == 0;
}

/* wait_tick - until gettimeofday moves on, so the next id differs */
static void wait_tick(void)
{
  struct timeval a = { 0, 0 }, b = { 0, 0 };
  gettimeofday(&a, 0);
  do gettimeofday(&b, 0); while (a.tv_sec == b.tv_sec && a.tv_usec == b.tv_usec);
}

static void ids(void)
{
  char id[SPOOL_ID_MAX], prev[SPOOL_ID_MAX], child[SPOOL_ID_MAX];
  struct timeval before, after;
  unsigned int i, sorted = 1, valid = 1, distinct = 1;
  unsigned long sec;
  int fd[2];

  memset(id, '#', sizeof id);
  gettimeofday(&before, 0);
  spool_id(id);
  gettimeofday(&after, 0);
  T_OK("spool_id is NUL-terminated within SPOOL_ID_MAX", memchr(id, 0, sizeof id) != 0);
  T_OK("spool_id has the form SSSSSSSSSS.UUUUUU.PID", id_shape(id, getpid()));
  if (!id_shape(id, getpid())) printf("#   got %s\n", id);
  sec = strtoul(id, 0, 10);
  T_OK("spool_id holds the current second",
       sec >= (unsigned long)before.tv_sec && sec <= (unsigned long)after.tv_sec);
  T_OK("spool_id is valid", spool_id_valid(id));
  T_OK("spool_id holds no slash", strchr(id, '/') == 0);

  /* successive ids, each after the clock moved: distinct, sorted by arrival */
  strcpy(prev, id);
  for (i = 0; i < 200; i++) {
    wait_tick();
    spool_id(id);
    if (!spool_id_valid(id)) valid = 0;
    if (strcmp(prev, id) == 0) distinct = 0;
    if (strcmp(prev, id) >= 0) sorted = 0;
    strcpy(prev, id);
  }
  T_OK("200 successive ids are valid", valid);
  T_OK("200 successive ids are distinct", distinct);
  T_OK("200 successive ids sort in arrival order", sorted);

  /* another process's later id sorts after ours, although its pid differs */
  spool_id(id);
  if (pipe(fd) == -1) { printf("not ok - pipe for the child id\n"); return; }
  wait_tick();
  pid_t pid = fork();
  if (pid == 0) {
    char c[SPOOL_ID_MAX];
    spool_id(c);
    if (write(fd[1], c, sizeof c) != (ssize_t)sizeof c) _exit(1);
    _exit(0);
  }
  close(fd[1]);
  memset(child, 0, sizeof child);
  T_OK("the child's id arrives", pid > 0 && read(fd[0], child, sizeof child) == (ssize_t)sizeof child);
  close(fd[0]);
  if (pid > 0) waitpid(pid, 0, 0);
  T_OK("the child's id names the child's pid", pid > 0 && id_shape(child, pid));
  T_OK("the child's later id sorts after ours", strcmp(id, child) < 0);
  T_OK("the child's id differs from ours", strcmp(id, child) != 0);

  /* fixed instants: the fields are zero-padded to fixed width */
  {
    char a[SPOOL_ID_MAX], b[SPOOL_ID_MAX], want[64];
    snprintf(want, sizeof want, "1700000000.000005.%ld", (long)getpid());
    id_at(a, 1700000000, 5);
    T_STR("microseconds are zero-padded to 6 digits", want, a, strlen(a));
    snprintf(want, sizeof want, "1700000000.000000.%ld", (long)getpid());
    id_at(a, 1700000000, 0);
    T_STR("0 microseconds are 000000", want, a, strlen(a));
    snprintf(want, sizeof want, "0999999999.999999.%ld", (long)getpid());
    id_at(a, 999999999, 999999);
    T_STR("seconds are zero-padded to 10 digits", want, a, strlen(a));
    T_OK("ids at fixed instants are valid", spool_id_valid(a));
    id_at(a, 1700000000, 999999);
    id_at(b, 1700000001, 0);
    T_OK("an id before a second boundary sorts before one after it", strcmp(a, b) < 0);
    id_at(a, 1700000000, 99999);
    id_at(b, 1700000000, 100000);
    T_OK("an id at 099999 us sorts before one at 100000 us", strcmp(a, b) < 0);
    id_at(a, 999999999, 999999);
    id_at(b, 1000000000, 0);
    T_OK("an id before 10-digit seconds sorts before one after", strcmp(a, b) < 0);
    id_at(a, 1700000000, 5);
    id_at(b, 1700000000, 6);
    T_OK("ids one microsecond apart differ and sort", strcmp(a, b) < 0);
  }
}

static void validity(void)
{
  static const char *const good[] = {
    "1700000000.000001.42", "0000000000.000000.1", "1.2.3", "9999999999.999999.4194304",
  };
  static const char *const bad[] = {
    "", ".", "..", "...", "a.b.c", "1.2", "1", "../x", "../1.2.3", "1.2.3/", "/1.2.3",
    "1.2.3.4", "1..3", ".1.2", "1.2.", "1.2.3 ", " 1.2.3", "-1.2.3", "+1.2.3", "1.2.3\n",
    "1.2.x", "1,2,3", "1.2.3a", "0x1.2.3",
  };
  char s[256];
  unsigned int i;
  for (i = 0; i < sizeof good / sizeof good[0]; i++) {
    snprintf(name, sizeof name, "spool_id_valid accepts \"%s\"", good[i]);
    T_OK(name, spool_id_valid(good[i]) == 1);
  }
  for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(name, sizeof name, "spool_id_valid refuses \"%s\"", bad[i]);
    for (char *p = name; *p; p++) if (*p == '\n') *p = '~';
    T_OK(name, spool_id_valid(bad[i]) == 0);
  }
  /* length: SPOOL_ID_MAX includes the NUL, so 39 bytes is the longest */
  memset(s, '1', sizeof s);
  s[1] = '.'; s[3] = '.'; s[SPOOL_ID_MAX - 1] = 0;
  T_OK("spool_id_valid accepts an id of SPOOL_ID_MAX-1 bytes", spool_id_valid(s) == 1);
  memset(s, '1', sizeof s);
  s[1] = '.'; s[3] = '.'; s[SPOOL_ID_MAX] = 0;
  T_OK("spool_id_valid refuses an id of SPOOL_ID_MAX bytes", spool_id_valid(s) == 0);
  memset(s, '1', sizeof s);
  s[1] = '.'; s[3] = '.'; s[sizeof s - 1] = 0;
  T_OK("spool_id_valid refuses a very long id", spool_id_valid(s) == 0);
}

static void paths(void)
{
  stralloc sa = {0};
  T_OK("spool_path succeeds", spool_path(&sa, SPOOL_NEW, "1700000000.000001.42"));
  T_STR("spool_path joins dir and id with a slash and adds a NUL",
        "new/1700000000.000001.42", sa.s, sa.len ? sa.len - 1 : 0);
  T_OK("spool_path ends in a NUL", sa.len && sa.s[sa.len - 1] == 0);
  T_OK("spool_path reuses the stralloc", spool_path(&sa, "/var/spool/postern/" SPOOL_MESS, "1.2.3"));
  T_STR("spool_path with an absolute dir", "/var/spool/postern/mess/1.2.3", sa.s, sa.len ? sa.len - 1 : 0);
  stralloc_free(&sa);
  T_OK("spool directory names", !strcmp(SPOOL_TMP, "tmp") && !strcmp(SPOOL_MESS, "mess") &&
       !strcmp(SPOOL_NEW, "new") && !strcmp(SPOOL_QUEUE, "queue") && !strcmp(SPOOL_STATE, "state") &&
       !strcmp(SPOOL_TRIGGER, "trigger"));
}

/* dirs - spool_fsync_dir and spool_trigger in a temporary directory */
static void dirs(void)
{
  char tmpl[] = "/tmp/postern-test-spool.XXXXXX";
  char *dir = mkdtemp(tmpl), old[4096], c = 0;
  int fd;
  if (!dir || !getcwd(old, sizeof old) || chdir(dir) == -1) { printf("not ok - spool temp dir setup\n"); return; }
  T_OK("spool_fsync_dir of an existing directory is 0", spool_fsync_dir(".") == 0);
  T_OK("spool_fsync_dir of a missing directory is -1", spool_fsync_dir("missing") == -1 && errno == ENOENT);
  fd = open("file", O_WRONLY | O_CREAT, 0600);
  if (fd != -1) close(fd);
  T_OK("spool_fsync_dir of a file is -1", spool_fsync_dir("file") == -1);

  spool_trigger();
  T_OK("spool_trigger without a fifo creates nothing", access(SPOOL_TRIGGER, F_OK) == -1);
  T_OK("trigger fifo is made", mkfifo(SPOOL_TRIGGER, 0620) == 0);
  {
    /* in a child with an alarm: a blocking open would hang here forever */
    int st = -1;
    pid_t pid = fork();
    if (pid == 0) { alarm(5); spool_trigger(); _exit(0); }
    if (pid > 0) waitpid(pid, &st, 0);
    T_OK("spool_trigger without a reader returns at once", pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  fd = open(SPOOL_TRIGGER, O_RDONLY | O_NONBLOCK);
  spool_trigger();
  T_OK("spool_trigger wakes a reader with one byte", fd != -1 && read(fd, &c, 1) == 1 && c == '!');
  if (fd != -1) close(fd);

  unlink(SPOOL_TRIGGER);
  unlink("file");
  if (chdir(old) == -1) printf("# unable to return to %s\n", old);
  rmdir(dir);
}

static void num(void)
{
  char b[64], s[NUM_ULONG];
  size_t n;
  static const struct { unsigned long v; const char *want; } fmts[] = {
    { 0, "0" }, { 1, "1" }, { 9, "9" }, { 10, "10" }, { 42, "42" }, { 1000, "1000" },
    { 4294967295UL, "4294967295" }, { 4294967296UL, "4294967296" },
    { ULONG_MAX - 1, "18446744073709551614" }, { ULONG_MAX, "18446744073709551615" },
  };
  static const struct { unsigned long v; size_t width; const char *want; } fmt0s[] = {
    { 0, 0, "0" }, { 0, 1, "0" }, { 0, 6, "000000" }, { 7, 6, "000007" }, { 123456, 6, "123456" },
    { 1234567, 6, "1234567" }, { 5, 3, "005" }, { 1700000000, 10, "1700000000" },
    { 999999, 10, "0000999999" }, { ULONG_MAX, 10, "18446744073709551615" },
    { ULONG_MAX, 20, "18446744073709551615" }, { 1, 20, "00000000000000000001" },
  };
  unsigned int i;
  for (i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
    memset(b, '#', sizeof b);
    n = num_fmt(b, fmts[i].v);
    snprintf(name, sizeof name, "num_fmt %s", fmts[i].want);
    T_STR(name, fmts[i].want, b, n);
    snprintf(name, sizeof name, "num_fmt %s writes no NUL", fmts[i].want);
    T_OK(name, b[n] == '#');
    snprintf(name, sizeof name, "num_str %s", fmts[i].want);
    T_OK(name, num_str(s, fmts[i].v) == s && !strcmp(s, fmts[i].want));
  }
  for (i = 0; i < sizeof fmt0s / sizeof fmt0s[0]; i++) {
    memset(b, '#', sizeof b);
    n = num_fmt0(b, fmt0s[i].v, fmt0s[i].width);
    snprintf(name, sizeof name, "num_fmt0 %lu width %zu", fmt0s[i].v, fmt0s[i].width);
    T_STR(name, fmt0s[i].want, b, n);
  }
  T_OK("NUM_ULONG holds ULONG_MAX and its NUL", strlen(num_str(s, ULONG_MAX)) + 1 <= NUM_ULONG);
}

/* headfile - a file with bytes s[0..n) and a hole up to size; its fd */
static int headfile(const char *s, size_t n, unsigned long size)
{
  char fn[] = "/tmp/postern-test-head.XXXXXX";
  int fd = mkstemp(fn);
  if (fd == -1) return -1;
  unlink(fn);
  if (write(fd, s, n) != (ssize_t)n || ftruncate(fd, (off_t)size) == -1) { close(fd); return -1; }
  return fd;
}

static void heads(void)
{
  struct spool_head h;
  char line[SPOOL_HEAD_LEN + 1];
  int fd;
  spool_head_fmt(line, 8192, 5000);
  line[SPOOL_HEAD_LEN] = 0;
  T_STR("spool_head_fmt: fixed width", "postern-message 1 0000008192 0000005000\n", line, SPOOL_HEAD_LEN);
  T_OK("spool_head_body: a small envelope fits one unit", spool_head_body(100) == 4096);
  T_OK("spool_head_body: exactly one unit", spool_head_body(4096 - SPOOL_HEAD_LEN) == 4096);
  T_OK("spool_head_body: one byte more, two units", spool_head_body(4096 - SPOOL_HEAD_LEN + 1) == 8192);
  spool_head_fmt(line, 8192, 5000);
  fd = headfile(line, SPOOL_HEAD_LEN, 8192 + 10);
  T_OK("spool_head_read: a one-file message", spool_head_read(fd, 8192 + 10, &h) == 1 && h.body == 8192 && h.envlen == 5000);
  T_OK("spool_head_read: the offset is left alone", lseek(fd, 0, SEEK_CUR) == SPOOL_HEAD_LEN);
  errno = 0;
  T_OK("spool_head_read: a body offset past the end is malformed",
       spool_head_read(fd, 8000, &h) == -1 && errno == EPROTO && h.body == 0);
  close(fd);
  fd = headfile("V1\nFa@b\nTc@d\n\n", 15, 15);
  T_OK("spool_head_read: an envelope of the older layout", spool_head_read(fd, 15, &h) == 0 && h.body == 0 && h.envlen == 15);
  close(fd);
  fd = headfile("", 0, 0);
  T_OK("spool_head_read: an empty file is of the older layout", spool_head_read(fd, 0, &h) == 0);
  close(fd);
  {
    static const char *bad[] = {
      "postern-message 1 0000004096 0000005000\n",   /* envelope longer than its room */
      "postern-message 1 0000004095 0000000010\n",   /* body offset not a multiple of the unit */
      "postern-message 1 000000409x 0000000010\n",   /* not a digit */
      "postern-message 1 0000004096 0000000010 ",    /* no LF */
      "postern-message 1 0000004096",                /* cut short */
      "postern-message 1 0000004096-0000000010\n",   /* no blank */
    };
    unsigned int i, ok = 1;
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
      fd = headfile(bad[i], strlen(bad[i]), strlen(bad[i]) < SPOOL_HEAD_LEN ? strlen(bad[i]) : 4096 + 1);
      errno = 0;
      if (spool_head_read(fd, strlen(bad[i]) < SPOOL_HEAD_LEN ? strlen(bad[i]) : 4096 + 1, &h) != -1 || errno != EPROTO) {
        ok = 0; printf("# accepted: %s\n", bad[i]);
      }
      close(fd);
    }
    T_OK("spool_head_read: malformed heads are refused (EPROTO)", ok);
  }
}

static void positioned(void)
{
  char got[8] = { 0 };
  int fd = headfile("0123456789", 10, 10);
  T_OK("spool_pwrite: all bytes at the offset", spool_pwrite(fd, "ab", 2, 4) == 0);
  T_OK("spool_pread: exactly the bytes at the offset", spool_pread(fd, got, 4, 3) == 0 && !memcmp(got, "3ab6", 4));
  errno = 0;
  T_OK("spool_pread: a file that ends before is EPROTO", spool_pread(fd, got, 4, 8) == -1 && errno == EPROTO);
  T_OK("neither moves the offset", lseek(fd, 0, SEEK_CUR) == 10);
  close(fd);
}

int main(void)
{
  heads();
  positioned();
  ids();
  validity();
  paths();
  dirs();
  num();
  T_DONE();
}
