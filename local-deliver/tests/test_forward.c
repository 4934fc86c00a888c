/* test_forward.c - ld_forward_inject, the forwarded copy of a .forward:
 * queued whole through the forked spool-inject and through the program;
 * a read error during the copy commits nothing and defers (it used to
 * queue an empty message and say "2.0.0 forwarded"); and local-deliver
 * killed (SIGKILL) in the middle of the copy, while a slow filter holds
 * the message, leaves nothing queued: the envelope, and its final empty
 * line that commits, goes to the injector only after the whole message. */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "../../lib/tests/t.h"
#include "../ld.h"
#include "../../lib/spool.h"

static char dir[64], build[PATH_MAX];

/* count - entries of spool/sub */
static int count(const char *sub)
{
  char p[256];
  DIR *d;
  struct dirent *e;
  int n = 0;
  snprintf(p, sizeof p, "%s/spool/%s", dir, sub);
  if (!(d = opendir(p))) return -1;
  while ((e = readdir(d))) if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* queued - messages in new/; leftovers - files in tmp/ or mess/ (one file
 * per message, lib/spool.h: the injector writes nothing to mess/) */
static int queued(void) { return count("new"); }
static int leftovers(void) { return count("tmp") + count("mess"); }

/* clear - empty the spool between cases */
static void clear(void)
{
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -f %s/spool/new/* %s/spool/tmp/* %s/spool/mess/*", dir, dir, dir);
  if (system(cmd) != 0) abort();
}

/* setup - a spool and a config, with injector (0: the default, forked) */
static void setup(struct ld *d, const char *injector)
{
  static int n;
  char fn[160];
  FILE *f;
  stralloc err = { 0 };
  snprintf(fn, sizeof fn, "%s/conf%d", dir, n++);
  if (!(f = fopen(fn, "w"))) abort();
  fprintf(f, "hostname = mx.example.test\ndomain = example.test\nspool = %s/spool\nmap_dir = %s\nlibexec_dir = %s\nlog = stderr\n",
          dir, dir, build);
  if (injector) fprintf(f, "injector = %s\n", injector);
  fclose(f);
  if (d->cfg.arena) config_free(&d->cfg);
  if (config_try(&d->cfg, fn, &err) != 0) { printf("not ok - config: %.*s\n", (int)err.len, err.s); exit(1); }
  d->sender = "s@x.test";
  d->recipient = "r@example.test";
}

/* forward - ld_forward_inject of the message in fd to one address */
static void forward(struct ld *d, int fd, struct ld_result *r)
{
  static stralloc rcpts;
  int saved = dup(0);
  if (!stralloc_copyb(&rcpts, "a@example.net", 14)) abort();
  dup2(fd, 0);
  ld_forward_inject(d, &rcpts, 1, r);
  dup2(saved, 0);
  close(saved);
}

/* memfile - a memory file holding len bytes of s (repeated) */
static int memfile(const char *s, size_t len)
{
  int fd = memfd_create("m", 0);
  size_t i, sl = strlen(s);
  for (i = 0; i < len; i += sl)
    if (write(fd, s, sl) != (ssize_t)sl) abort();
  return fd;
}

/* read_error - fd 0 open for writing only: the rewind works, every read fails */
static void read_error(struct ld *d, const char *how)
{
  char fn[160], name[200];
  struct ld_result r;
  int fd;
  snprintf(fn, sizeof fn, "%s/wronly", dir);
  if ((fd = open(fn, O_WRONLY | O_CREAT | O_TRUNC, 0600)) == -1 || write(fd, "Subject: x\n\nbody\n", 17) != 17) abort();
  forward(d, fd, &r);
  close(fd);
  snprintf(name, sizeof name, "%s: a read error during the copy defers (75), naming it", how);
  T_OK(name, r.code == EX_TEMPFAIL && strstr(r.text, "4.3.0 forwarding failed: unable to copy the message") == r.text);
  if (r.code != EX_TEMPFAIL) printf("#   got %d %s\n", r.code, r.text);
  snprintf(name, sizeof name, "%s: a read error: nothing queued, nothing left", how);
  T_OK(name, queued() == 0 && leftovers() == 0);
  clear();
}

/* good - a message forwarded whole */
static void good(struct ld *d, const char *how)
{
  char name[200], fn[PATH_MAX + 300], got[64];
  struct ld_result r;
  int fd = memfile("Subject: x\n\nbody\n", 17);
  DIR *dd;
  struct dirent *e;
  ssize_t n = 0;
  forward(d, fd, &r);
  close(fd);
  snprintf(name, sizeof name, "%s: forwarded, one message queued", how);
  T_OK(name, r.code == 0 && strstr(r.text, "2.0.0 forwarded: 250 ") == r.text && queued() == 1);
  snprintf(fn, sizeof fn, "%s/spool/new", dir);
  if ((dd = opendir(fn))) {
    while ((e = readdir(dd))) if (e->d_name[0] != '.') {
      struct spool_head h = { 0, 0 };
      struct stat st;
      snprintf(fn, sizeof fn, "%s/spool/new/%s", dir, e->d_name);
      if ((fd = open(fn, O_RDONLY)) != -1) {
        if (fstat(fd, &st) == 0 && spool_head_read(fd, (unsigned long)st.st_size, &h) == 1 && h.body == 4096)
          n = pread(fd, got, sizeof got, (off_t)h.body);
        close(fd);
      }
    }
    closedir(dd);
  }
  snprintf(name, sizeof name, "%s: nothing left in tmp/ or mess/", how);
  T_OK(name, leftovers() == 0);
  snprintf(name, sizeof name, "%s: the queued copy (one file, its body at 4096) is Delivered-To: and the message", how);
  T_STR(name, "Delivered-To: r@example.test\nSubject: x\n\nbody\n", got, n < 0 ? 0 : (size_t)n);
  clear();
}

/* waitfor - until fn exists, at most ms milliseconds; 1 if it does */
static int waitfor(const char *fn, int ms)
{
  for (; ms > 0; ms -= 20) {
    if (access(fn, F_OK) == 0) return 1;
    usleep(20000);
  }
  return access(fn, F_OK) == 0;
}

/* killed - local-deliver killed in the middle of the copy into a slow
 * filter (which hands what it got to spool-inject once it is over) */
static void killed(void)
{
  char filter[160], started[160], done[160];
  struct ld d = { 0 };
  struct ld_result r;
  FILE *f;
  pid_t pid;
  int status, fd, was_started, was_done;
  snprintf(filter, sizeof filter, "%s/slow", dir);
  snprintf(started, sizeof started, "%s/started", dir);
  snprintf(done, sizeof done, "%s/done", dir);
  if (!(f = fopen(filter, "w"))) abort();
  fprintf(f, "#!/bin/sh\n{ head -c 65536; : >%s; sleep 2; cat; } | %s/spool-inject\necho $? >%s\n", started, build, done);
  fclose(f);
  chmod(filter, 0755);
  setup(&d, filter);
  fd = memfile("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde\n", 1 << 20);
  if ((pid = fork()) == 0) {
    alarm(30);
    forward(&d, fd, &r);
    _exit(r.code == 0 ? 0 : 1);
  }
  was_started = waitfor(started, 10000);
  usleep(300000);                       /* blocked in the copy: the filter sleeps */
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  was_done = waitfor(done, 15000);      /* the filter's spool-inject has ended */
  T_OK("killed mid-copy: the filter had started, local-deliver died by SIGKILL",
       was_started && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  T_OK("killed mid-copy: the injector ended", was_done);
  T_OK("killed mid-copy: nothing queued, nothing left in tmp/ or mess/", queued() == 0 && leftovers() == 0);
  if (queued()) printf("#   a truncated copy was queued\n");
  config_free(&d.cfg);
  close(fd);
  clear();
}

int main(int argc, char **argv)
{
  struct ld d = { 0 };
  char inj[PATH_MAX + 20], self[PATH_MAX];
  (void)argc;
  signal(SIGPIPE, SIG_IGN);             /* as local-deliver's main */
  if (!realpath(argv[0], self)) abort();
  snprintf(build, sizeof build, "%s/..", dirname(self));
  if (!realpath(build, self)) abort();
  strcpy(build, self);
  snprintf(inj, sizeof inj, "%s/spool-inject", build);
  if (access(inj, X_OK) != 0) { printf("skip - forwarding # no %s\n", inj); return 0; }
  strcpy(dir, "/tmp/postern-test-fwd.XXXXXX");
  if (!mkdtemp(dir)) abort();
  {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/spool/tmp %s/spool/mess %s/spool/new", dir, dir, dir);
    if (system(cmd) != 0) abort();
  }
  setup(&d, 0);
  good(&d, "forked spool-inject");
  read_error(&d, "forked spool-inject");
  setup(&d, inj);
  good(&d, "spool-inject program");
  read_error(&d, "spool-inject program");
  killed();
  config_free(&d.cfg);
  {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
  }
  T_DONE();
}
