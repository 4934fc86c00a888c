/* child.c - starting a child and waiting for it (child.h): the one
 * posix_spawn set-up of every program, the one fork for a child that runs
 * our code first (the forked injector, local-spawn becoming a recipient),
 * and the wait that reads its stderr with a deadline, kills it when the
 * deadline passes and reaps it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "byte.h"
#include "str.h"
#include "exitcode.h"
#include "child.h"

extern char **environ;

#define CHILD_KILLED_SECONDS 10   /* a helper's report after we killed its child */

/* place - the file action that gives the child fd n from src */
static int place(posix_spawn_file_actions_t *fa, int n, int src)
{
  if (src == CHILD_OURS) return 0;
  if (src == CHILD_NULL) return posix_spawn_file_actions_addopen(fa, n, "/dev/null", n ? O_WRONLY : O_RDONLY, 0);
  return posix_spawn_file_actions_adddup2(fa, src, n) ? -1 : 0;
}

/* signals - the child's start: SIGPIPE and SIGXFSZ at their defaults, no
 * signal blocked */
static int signals(posix_spawnattr_t *at)
{
  sigset_t def, none;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  sigaddset(&def, SIGXFSZ);
  sigemptyset(&none);
  return posix_spawnattr_setsigdefault(at, &def) || posix_spawnattr_setsigmask(at, &none)
      || posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK) ? -1 : 0;
}

int child_spawn(pid_t *pid, char *const argv[], char *const envp[], const int fds[CHILD_FDS], const char *dir)
{
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  int e, n;
  if ((e = posix_spawn_file_actions_init(&fa))) { errno = e; return -1; }
  if ((e = posix_spawnattr_init(&at))) { posix_spawn_file_actions_destroy(&fa); errno = e; return -1; }
  e = signals(&at) ? ENOMEM : 0;
  for (n = 0; !e && n < CHILD_FDS; n++) if (place(&fa, n, fds[n])) e = ENOMEM;
  if (!e && dir && posix_spawn_file_actions_addchdir_np(&fa, dir)) e = ENOMEM;
  if (!e) e = posix_spawn(pid, argv[0], &fa, &at, argv, envp ? envp : environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (e) { errno = e; return -1; }
  return 0;
}

/* close_from - close every fd from lo up: close_range(2), or one by one
 * where the kernel or a seccomp filter refuses it (a pipe end left open
 * here would keep the caller waiting for an EOF that never comes) */
static void close_from(int lo)
{
  long max = sysconf(_SC_OPEN_MAX), fd;
  if (close_range((unsigned int)lo, ~0U, 0) == 0) return;
  if (max < 0) max = 65536;
  for (fd = lo; fd < max; fd++) close((int)fd);
}

pid_t child_fork(int in, int out, int err)
{
  sigset_t none;
  pid_t pid = fork();
  if (pid != 0) return pid;
  if ((in != -1 && dup2(in, 0) == -1) || (out != -1 && dup2(out, 1) == -1) || (err != -1 && dup2(err, 2) == -1))
    _exit(EX_OSERR);
  closelog();     /* before its fd goes: glibc would close that number again later, whatever holds it then */
  close_from(3);  /* the caller's sockets, maps, pipes */
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, 0);
  signal(SIGPIPE, SIG_DFL);
  signal(SIGXFSZ, SIG_DFL);
  return 0;
}

int child_start(struct child *c, char *const argv[], char *const envp[], int in, int out, stralloc *out_sa)
{
  int errp[2], outp[2] = { -1, -1 }, r, e;
  int fds[CHILD_FDS] = { in, out, -1, CHILD_OURS };
  c->outfd = -1;
  c->out = 0;
  c->statusfd = 0;
  c->status_once = 0;
  c->ended = 0;
  if (pipe2(errp, O_CLOEXEC) == -1) return -1;
  if (out_sa && pipe2(outp, O_CLOEXEC) == -1) { e = errno; close(errp[0]); close(errp[1]); errno = e; return -1; }
  if (out_sa) fds[1] = outp[1];
  fds[2] = errp[1];
  r = child_spawn(&c->pid, argv, envp, fds, 0);
  e = errno;
  close(errp[1]);
  if (outp[1] != -1) close(outp[1]);
  if (r == -1) { close(errp[0]); if (outp[0] != -1) close(outp[0]); errno = e; return -1; }
  c->errfd = errp[0];
  c->outfd = outp[0];
  c->out = out_sa;
  return 0;
}

pid_t child_start_fork(struct child *c, int in, int out)
{
  int errp[2], e;
  if (pipe2(errp, O_CLOEXEC) == -1) return -1;
  c->pid = child_fork(in, out, errp[1]);
  if (c->pid == 0) return 0;
  e = errno;
  close(errp[1]);
  if (c->pid == -1) { close(errp[0]); errno = e; return -1; }
  c->errfd = errp[0];
  c->outfd = -1;
  c->out = 0;
  c->statusfd = 0;
  c->status_once = 0;
  c->ended = 0;
  return c->pid;
}

int child_ms_left(const struct timespec *deadline)
{
  struct timespec now;
  long long ms;
  clock_gettime(CLOCK_MONOTONIC, &now);
  ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
  return ms <= 0 ? 0 : ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* struct lines - the child's stderr split into lines as it comes */
struct lines {
  struct child_result *r;
  int pass;                        /* lines before the reply go to our fd 2 */
  size_t n;
  char cur[CHILD_REPLY_MAX];      /* the line being read (its start, if longer) */
};

/* line_end - a line is complete: the last non-empty one is the reply,
 * the reply before it is passed on */
static void line_end(struct lines *l)
{
  if (l->n && l->cur[l->n - 1] == '\r') l->n--;
  if (!l->n) return;
  if (l->pass && l->r->reply[0]) {
    size_t len = str_len(l->r->reply);
    l->r->reply[len] = '\n';
    if (write(2, l->r->reply, len + 1) < 0) { /* our stderr is gone: nothing to tell */ }
  }
  byte_copy(l->r->reply, l->n, l->cur);
  l->r->reply[l->n] = 0;
  l->n = 0;
}

/* take - bytes of the child's stderr */
static void take(struct lines *l, const char *x, size_t len, int keep)
{
  struct child_result *r = l->r;
  size_t i;
  if (keep && stralloc_catb(&r->log, x, len) && r->log.len > 2 * CHILD_LOG_KEEP) {
    byte_copy(r->log.s, CHILD_LOG_KEEP, r->log.s + r->log.len - CHILD_LOG_KEEP);
    r->log.len = CHILD_LOG_KEEP;
  }
  for (i = 0; i < len; i++) {
    if (x[i] == '\n') line_end(l);
    else if (l->n < sizeof l->cur) l->cur[l->n++] = x[i];
  }
}

/* drain - read its stderr (and stdout into c->out) until both end; 0,
 * -1 at the deadline, -2 on an error */
static int drain(struct child *c, struct lines *l, int keep, const struct timespec *deadline)
{
  char buf[8192];
  struct pollfd p[2];
  int open_fds = 1 + (c->outfd != -1);
  p[0].fd = c->errfd; p[0].events = POLLIN;
  p[1].fd = c->outfd; p[1].events = POLLIN;
  while (open_fds) {
    unsigned int i;
    int left = child_ms_left(deadline);
    if (!left) return -1;
    if (poll(p, c->outfd != -1 ? 2 : 1, left) == -1) { if (errno == EINTR) continue; return -2; }
    for (i = 0; i < 2; i++) {
      ssize_t n;
      if (p[i].fd < 0 || !p[i].revents) continue;
      n = read(p[i].fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) { p[i].fd = -1; open_fds--; continue; }
      if (i == 0) take(l, buf, (size_t)n, keep);
      else if (!stralloc_catb(c->out, buf, (size_t)n)) return -2;
    }
  }
  return 0;
}

/* pid_fd - a pidfd for pid (readable once it has exited), or -1 */
static int pid_fd(pid_t pid)
{
#ifdef SYS_pidfd_open
  return (int)syscall(SYS_pidfd_open, pid, 0);
#else
  (void)pid;
  return -1;
#endif
}

/* reap - its wait status by the deadline: 0, -1 late, -2 lost (reaped
 * elsewhere).  Its stderr has ended, so it is exiting: a pidfd tells
 * when, else short naps. */
static int reap(pid_t pid, int *status, const struct timespec *deadline)
{
  int pfd = -2, nap = 1, r = -1;
  for (;;) {
    pid_t w = waitpid(pid, status, WNOHANG);
    int left;
    if (w == pid) { r = 0; break; }
    if (w == -1 && errno != EINTR) { r = -2; break; }
    if (w == -1) continue;
    if (!(left = child_ms_left(deadline))) break;
    if (pfd == -2) pfd = pid_fd(pid);
    if (pfd >= 0) {
      struct pollfd p = { pfd, POLLIN, 0 };
      poll(&p, 1, left);
    } else {
      poll(0, 0, nap < left ? nap : left);
      if (nap < 100) nap *= 2;
    }
  }
  if (pfd >= 0) close(pfd);
  return r;
}

int child_reap(pid_t pid, unsigned int seconds, int *status)
{
  struct timespec deadline;
  int w;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += seconds;
  w = reap(pid, status, &deadline);
  if (w == 0) return 0;
  if (w == -2) return -1;
  kill(pid, SIGKILL);
  while ((w = waitpid(pid, status, 0)) == -1 && errno == EINTR) ;
  return w == -1 ? -1 : 1;
}

int child_status_read(int *fdp, int *v, const struct timespec *deadline)
{
  struct pollfd p = { *fdp, POLLIN, 0 };
  int r = -2;
  while (*fdp >= 0) {
    int left = child_ms_left(deadline), n;
    n = poll(&p, 1, left);   /* at the deadline too: one last look before we call it late */
    if (n == -1 && errno == EINTR) continue;
    if (n == -1) break;
    if (n == 0) { if (!left) { r = -1; break; } continue; }
    ssize_t got = recv(*fdp, v, sizeof *v, 0);
    if (got == -1 && errno == EINTR) continue;
    if (got == sizeof *v) return 0;
    break;
  }
  if (r == -2) child_status_lost(fdp);
  return r;
}

void child_status_lost(int *fdp)
{
  if (*fdp >= 0) close(*fdp);
  *fdp = -1;
}

void child_wait(struct child *c, unsigned int seconds, int flags, struct child_result *r)
{
  struct lines l;
  struct timespec deadline;
  int status, d, w = -1;
  r->code = EX_TEMPFAIL;
  r->late = 0;
  r->reply[0] = 0;
  r->log.len = 0;
  l.r = r;
  l.pass = flags & CHILD_PASS_LOG;
  l.n = 0;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += seconds;
  d = drain(c, &l, flags & CHILD_KEEP_LOG, &deadline);
  line_end(&l);                     /* a last line without its LF */
  if (c->ended) { status = c->status; w = 0; }   /* its output is all there: d is 0 */
  else if (d == 0) w = c->statusfd ? child_status_read(c->statusfd, &status, &deadline) : reap(c->pid, &status, &deadline);
  if (w == -1) {                    /* late, or we cannot read it: it must not outlive this call */
    r->late = d != -2;
    kill(c->pid, SIGKILL);
    if (c->statusfd) {              /* its helper reaps it and reports: then it is in step again */
      clock_gettime(CLOCK_MONOTONIC, &deadline);
      deadline.tv_sec += CHILD_KILLED_SECONDS;
      if (child_status_read(c->statusfd, &status, &deadline) != 0) child_status_lost(c->statusfd);
    } else while (waitpid(c->pid, &status, 0) == -1 && errno == EINTR) ;
  } else if (w == 0) r->code = exitcode_wait(status);
  else if (c->statusfd) kill(c->pid, SIGKILL);   /* its helper is gone: it must not commit what we call failed */
  if (c->statusfd && c->status_once) child_status_lost(c->statusfd);   /* its own socket: done */
  close(c->errfd);
  if (c->outfd != -1) close(c->outfd);
  c->errfd = c->outfd = -1;
}
