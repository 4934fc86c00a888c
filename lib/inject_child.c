/* inject_child.c - the injection client (inject_child.h): the injector
 * started as a forked child running inject_run, or as a program, for
 * child_wait to read its reply (doc/architecture.md "The injector runs in
 * a forked child"). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "byte.h"
#include "str.h"
#include "errmsg.h"
#include "exitcode.h"
#include "log.h"
#include "inject.h"
#include "inject_child.h"

/* spool_writable - may this process create files in the spool's tmp/,
 * mess/ and new/ itself (root, the spool's owner, the postern-inject
 * group)?  Checked once per process. */
static int spool_writable(const struct config *cfg)
{
  static int known, ok;
  static const char *const dirs[] = { SPOOL_TMP, SPOOL_NEW };   /* where the injector writes */
  stralloc sa = { 0 };
  unsigned int i;
  if (known) return ok;
  known = 1;
  ok = 1;
  for (i = 0; ok && i < sizeof dirs / sizeof dirs[0]; i++) {
    if (!stralloc_copys(&sa, cfg->spool) || !stralloc_cats(&sa, "/") || !stralloc_cats(&sa, dirs[i]) ||
        !stralloc_0(&sa))
      ok = 0;
    else ok = faccessat(AT_FDCWD, sa.s, W_OK | X_OK, AT_EACCESS) == 0;
  }
  stralloc_free(&sa);
  return ok;
}

/* clean_env - POSTERN_CONF (when a file was read) and PATH */
static char **clean_env(const struct config *cfg)
{
  static stralloc conf;
  static char *envp[3];
  unsigned int n = 0;
  if (cfg->file && stralloc_copys(&conf, "POSTERN_CONF=") && stralloc_cats(&conf, cfg->file) && stralloc_0(&conf))
    envp[n++] = conf.s;
  envp[n++] = "PATH=/usr/bin:/bin";
  envp[n] = 0;
  return envp;
}

/* ------------------------------------------------------ the injector helper */

#define HELPER_START_SECONDS 30   /* its answer with the pid: a fork */

int inject_helper = -1;

/* helper_send - one request: want (NUL included) and the three fds */
static int helper_send(int sock, const char *want, const int fds[3])
{
  char space[CMSG_SPACE(3 * sizeof(int))];
  struct iovec iov = { (void *)want, str_len(want) + 1 };
  struct msghdr m;
  struct cmsghdr *cm;
  byte_zero(&m, sizeof m);
  byte_zero(space, sizeof space);
  m.msg_iov = &iov; m.msg_iovlen = 1;
  m.msg_control = space; m.msg_controllen = sizeof space;
  cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(3 * sizeof(int));
  byte_copy(CMSG_DATA(cm), 3 * sizeof(int), fds);
  for (;;) {
    ssize_t r = sendmsg(sock, &m, MSG_NOSIGNAL);
    if (r == -1 && errno == EINTR) continue;
    return r == (ssize_t)iov.iov_len ? 0 : -1;
  }
}

/* helper_request - the next request: the wanted id into want[SPOOL_ID_MAX]
 * and exactly three fds; 0, or -1 at the end or on anything else (what
 * came with it is closed) */
static int helper_request(int sock, char *want, int fds[3])
{
  char space[CMSG_SPACE(4 * sizeof(int))];
  struct iovec iov = { want, SPOOL_ID_MAX };
  struct msghdr m;
  struct cmsghdr *cm;
  ssize_t r;
  int got = 0, i;
  byte_zero(&m, sizeof m);
  m.msg_iov = &iov; m.msg_iovlen = 1;
  m.msg_control = space; m.msg_controllen = sizeof space;
  do r = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
  while (r == -1 && errno == EINTR);
  if (r <= 0) return -1;
  for (cm = CMSG_FIRSTHDR(&m); cm; cm = CMSG_NXTHDR(&m, cm)) {
    int n;
    if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS) continue;
    n = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (i = 0; i < n; i++) {
      int fd;
      byte_copy(&fd, sizeof fd, CMSG_DATA(cm) + i * sizeof(int));
      if (got < 3) fds[got] = fd; else close(fd);
      got++;
    }
  }
  if (got != 3 || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || want[r - 1] != 0) {
    for (i = 0; i < got && i < 3; i++) close(fds[i]);
    return -1;
  }
  return 0;
}

/* helper_start - hand in, env and a new stderr pipe to the helper; it
 * answers with the injector's pid */
static int helper_start(struct child *c, const char *want, int in, int env)
{
  struct timespec deadline;
  int errp[2], fds[3], pid = -1;
  if (pipe2(errp, O_CLOEXEC) == -1) return -1;
  fds[0] = in; fds[1] = env; fds[2] = errp[1];
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += HELPER_START_SECONDS;
  if (helper_send(inject_helper, want && spool_id_valid(want) ? want : "", fds) == -1 ||
      child_status_read(&inject_helper, &pid, &deadline) != 0)
    child_status_lost(&inject_helper);
  close(errp[1]);
  if (pid <= 0) { close(errp[0]); errno = EAGAIN; return -1; }
  c->pid = pid;
  c->errfd = errp[0];
  c->outfd = -1;
  c->out = 0;
  c->statusfd = &inject_helper;
  return 0;
}

/* run_program - in the helper's child: the configured injector program
 * (child_fork placed the fds) */
_Noreturn static void run_program(const struct config *cfg)
{
  char *argv[2] = { (char *)cfg->injector, 0 };
  execv(argv[0], argv);
  inject_reply("451 4.3.0 Unable to run the injector", 0);
  _exit(EX_OSERR);
}

/* run_forked - in a forked child: become spool-inject (never returns:
 * every path of inject_run ends the process) */
_Noreturn static void run_forked(const struct config *cfg, const char *want, int caller_logs)
{
  inject_caller_logs = caller_logs;
  errmsg_iam("spool-inject");
  log_init("spool-inject", cfg->log);
  inject_signals();
  inject_run(cfg, want);
  _exit(0);
}

/* here_start - ready the helper to run spool-inject's code itself: its
 * log name and signal handlers, /dev/null, and a copy of its fd 2 (its
 * log) to put back after each message; -1 if not */
static int here_start(const struct config *cfg, int *null, int *log)
{
  errmsg_iam("spool-inject");
  log_init("spool-inject", cfg->log);
  inject_caller_logs = 1;   /* the helper serves smtp-receive alone */
  inject_signals();
  if ((*null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) return -1;
  if ((*log = fcntl(2, F_DUPFD_CLOEXEC, 3)) == -1) return -1;
  return 0;
}

/* here - one message injected by the helper itself, on fds as 0, 1 and 2
 * (no fork: the helper is this session's alone and has the spool group
 * already); its wait status */
static int here(const struct config *cfg, const char *want, const int fds[3], int null, int log)
{
  int i, code = EX_OSERR;
  for (i = 0; i < 3; i++) if (dup2(fds[i], i) == -1) break;
  if (i == 3) code = inject_here(cfg, want[0] ? want : 0);
  if (dup2(null, 0) == -1 || dup2(null, 1) == -1 || dup2(log, 2) == -1) _exit(EX_OSERR);
  return code << 8;
}

void inject_helper_serve(const struct config *cfg, int sock)
{
  char want[SPOOL_ID_MAX];
  int fds[3], status, i, null = -1, log = -1;
  signal(SIGPIPE, SIG_IGN);
  if (cfg->injector_default && here_start(cfg, &null, &log) == -1) _exit(EX_OSERR);
  while (helper_request(sock, want, fds) == 0) {
    if (cfg->injector_default) {
      int me = (int)getpid();
      if (send(sock, &me, sizeof me, MSG_NOSIGNAL) != sizeof me) _exit(0);
      status = here(cfg, want, fds, null, log);
      for (i = 0; i < 3; i++) close(fds[i]);
      if (send(sock, &status, sizeof status, MSG_NOSIGNAL) != sizeof status) _exit(0);
      continue;
    }
    pid_t pid = child_fork(fds[0], fds[1], fds[2]);
    if (pid == 0) run_program(cfg);
    for (i = 0; i < 3; i++) close(fds[i]);
    int p = pid > 0 ? (int)pid : -1;
    if (send(sock, &p, sizeof p, MSG_NOSIGNAL) != sizeof p) _exit(0);
    if (pid <= 0) continue;
    while (waitpid(pid, &status, 0) == -1)
      if (errno != EINTR) { status = EX_TEMPFAIL << 8; break; }
    if (send(sock, &status, sizeof status, MSG_NOSIGNAL) != sizeof status) _exit(0);
  }
  _exit(0);
}

int inject_child_start(struct child *c, const struct config *cfg, const char *want, int in, int env, int flags)
{
  char *argv[2] = { (char *)cfg->injector, 0 };
  pid_t pid;
  if (inject_helper >= 0) return helper_start(c, want, in, env);
  if (!cfg->injector_default || !spool_writable(cfg))
    return child_start(c, argv, flags & INJECT_CLEAN_ENV ? clean_env(cfg) : 0, in, env, 0);
  if ((pid = child_start_fork(c, in, env)) == -1) return -1;
  if (pid) return 0;
  run_forked(cfg, want, flags & INJECT_CALLER_LOGS);
}
