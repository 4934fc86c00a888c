/* test_child.c - the child runner (lib/child.c) beyond what test_inject.c
 * covers: child_spawn's fd placement (an fd of ours, /dev/null, fd 3) and
 * working directory, child_fork's clean start (fds from 3 closed, nothing
 * blocked), and child_reap's deadline. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "t.h"
#include "../child.h"

/* run - /bin/sh -c script with fds and dir; what it wrote on its fd 1
 * (a pipe) into out, and its exit status */
static int run(const char *script, int fd0, int fd3, const char *dir, char *out, size_t max)
{
  char *argv[4] = { "/bin/sh", "-c", (char *)script, 0 };
  int p[2], st;
  ssize_t n;
  pid_t pid;
  if (pipe(p) == -1) abort();
  int fds[CHILD_FDS] = { fd0, p[1], CHILD_OURS, fd3 };
  if (child_spawn(&pid, argv, 0, fds, dir) == -1) return -1;
  close(p[1]);
  n = read(p[0], out, max - 1);
  out[n > 0 ? n : 0] = 0;
  close(p[0]);
  child_reap(pid, 10, &st);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void spawn(void)
{
  char out[256];
  int p[2];
  if (pipe(p) == -1 || write(p[1], "three\n", 6) != 6) abort();
  close(p[1]);
  T_OK("spawn: an fd of ours as fd 3", run("cat <&3", CHILD_NULL, p[0], 0, out, sizeof out) == 0 && !strcmp(out, "three\n"));
  close(p[0]);
  T_OK("spawn: /dev/null as fd 0", run("wc -c", CHILD_NULL, CHILD_OURS, 0, out, sizeof out) == 0 && atoi(out) == 0);
  T_OK("spawn: the working directory", run("pwd", CHILD_NULL, CHILD_OURS, "/usr", out, sizeof out) == 0 && !strcmp(out, "/usr\n"));
  T_OK("spawn: exit status", run("exit 3", CHILD_NULL, CHILD_OURS, 0, out, sizeof out) == 3);
}

static void fork_clean(void)
{
  int p[2], extra = open("/dev/null", O_RDONLY), st;
  sigset_t set, old;
  char c = 0;
  pid_t pid;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigprocmask(SIG_BLOCK, &set, &old);
  if (pipe(p) == -1 || extra < 3) abort();
  if ((pid = child_fork(-1, p[1], -1)) == 0) {
    sigset_t now;
    sigprocmask(SIG_SETMASK, 0, &now);
    c = fcntl(extra, F_GETFD) == -1 && fcntl(p[0], F_GETFD) == -1 && !sigismember(&now, SIGUSR1) ? 'y' : 'n';
    if (write(1, &c, 1) != 1) _exit(1);
    _exit(0);
  }
  close(p[1]);
  if (read(p[0], &c, 1) != 1) c = 0;
  close(p[0]);
  close(extra);
  sigprocmask(SIG_SETMASK, &old, 0);
  T_OK("fork: fds from 3 closed, no signal blocked", pid > 0 && c == 'y' && child_reap(pid, 10, &st) == 0);
}

static void reap(void)
{
  char *sleeper[4] = { "/bin/sh", "-c", "exec sleep 30", 0 };
  int fds[CHILD_FDS] = { CHILD_NULL, CHILD_OURS, CHILD_OURS, CHILD_OURS }, st = 0, r;
  struct timespec a, b;
  pid_t pid;
  clock_gettime(CLOCK_MONOTONIC, &a);
  if (child_spawn(&pid, sleeper, 0, fds, 0) == -1) abort();
  r = child_reap(pid, 1, &st);
  clock_gettime(CLOCK_MONOTONIC, &b);
  T_OK("reap: killed at the deadline", r == 1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
  T_OK("reap: within a second or two", b.tv_sec - a.tv_sec <= 3);
  if (child_spawn(&pid, sleeper, 0, fds, 0) == -1) abort();
  r = child_reap(pid, 0, &st);
  T_OK("reap: deadline 0 kills at once", r == 1 && WIFSIGNALED(st));
  T_OK("reap: a lost child", child_reap(pid, 1, &st) == -1);
}

int main(void)
{
  spawn();
  fork_clean();
  reap();
  T_DONE();
}
