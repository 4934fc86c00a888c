/* inject_child.c - the injection client (inject_child.h): the injector
 * started as a forked child running inject_run, or as a program, for
 * child_wait to read its reply (doc/architecture.md "The injector runs in
 * a forked child"). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
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

/* ---------------------------------------------- the injector workers' side */

#define HELPER_START_SECONDS 30   /* a worker's answer with the pid: one may be forked first */
#define WORKER_FDS 4              /* message, envelope, stderr pipe, reply socket */
#define WORKER_USES 10000         /* messages a worker runs before it makes way for a new one */

int inject_helper = -1;
static int worker_reply = -1;     /* the reply socket of the message in hand */

/* helper_send - one request: want (NUL included) and the four fds; the
 * socket is shared by every session, so a full queue (every worker busy
 * and the listener not yet done forking one) is waited for until the
 * deadline */
static int helper_send(int sock, const char *want, const int fds[WORKER_FDS], const struct timespec *deadline)
{
  char space[CMSG_SPACE(WORKER_FDS * sizeof(int))];
  struct iovec iov = { (void *)want, str_len(want) + 1 };
  struct msghdr m;
  struct cmsghdr *cm;
  byte_zero(&m, sizeof m);
  byte_zero(space, sizeof space);
  m.msg_iov = &iov; m.msg_iovlen = 1;
  m.msg_control = space; m.msg_controllen = sizeof space;
  cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(WORKER_FDS * sizeof(int));
  byte_copy(CMSG_DATA(cm), WORKER_FDS * sizeof(int), fds);
  for (;;) {
    ssize_t r = sendmsg(sock, &m, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (r == (ssize_t)iov.iov_len) return 0;
    if (r == -1 && errno == EINTR) continue;
    if (r == -1 && errno == EAGAIN) {
      struct pollfd p = { sock, POLLOUT, 0 };
      int left = child_ms_left(deadline);
      if (left && poll(&p, 1, left) >= 0) continue;
      if (left && errno == EINTR) continue;
    }
    return -1;
  }
}

/* helper_request - the next request: the wanted id into want[SPOOL_ID_MAX]
 * and exactly WORKER_FDS fds.  1, 0 for a packet that is anything else
 * (what came with it is closed), -1 at the end of the socket, when it
 * has been idle for its receive timeout, or on an error. */
static int helper_request(int sock, char *want, int fds[WORKER_FDS])
{
  char space[CMSG_SPACE((WORKER_FDS + 1) * sizeof(int))];
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
      if (got < WORKER_FDS) fds[got] = fd; else close(fd);
      got++;
    }
  }
  if (got != WORKER_FDS || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || want[r - 1] != 0) {
    for (i = 0; i < got && i < WORKER_FDS; i++) close(fds[i]);
    return 0;
  }
  return 1;
}

/* helper_start - hand in, env, a new stderr pipe and a new reply socket
 * to whichever worker is free; it answers on the reply socket with the
 * pid that runs the injector, and later with its wait status */
static int helper_start(struct child *c, const char *want, int in, int env)
{
  struct timespec deadline;
  int errp[2], rep[2], fds[WORKER_FDS], pid = -1;
  if (worker_reply >= 0) child_status_lost(&worker_reply);   /* a message before this one not waited for */
  if (pipe2(errp, O_CLOEXEC) == -1) return -1;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rep) == -1) { close(errp[0]); close(errp[1]); return -1; }
  fds[0] = in; fds[1] = env; fds[2] = errp[1]; fds[3] = rep[1];
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += HELPER_START_SECONDS;
  worker_reply = rep[0];
  if (helper_send(inject_helper, want && spool_id_valid(want) ? want : "", fds, &deadline) == -1) {
    if (errno != EAGAIN) child_status_lost(&inject_helper);   /* no worker will ever read it */
    child_status_lost(&worker_reply);
  }
  close(rep[1]);
  close(errp[1]);
  if (worker_reply >= 0) child_status_read(&worker_reply, &pid, &deadline);
  if (pid <= 0) { child_status_lost(&worker_reply); close(errp[0]); errno = EAGAIN; return -1; }
  c->pid = pid;
  c->errfd = errp[0];
  c->outfd = -1;
  c->out = 0;
  c->statusfd = &worker_reply;
  c->status_once = 1;
  c->ended = 0;
  return 0;
}

/* run_program - in the worker's child: the configured injector program
 * (child_fork placed the fds) */
_Noreturn static void run_program(const struct config *cfg)
{
  char *argv[2] = { (char *)cfg->injector, 0 };
  execv(argv[0], argv);
  inject_reply("451 4.3.0 Unable to run the injector", 0);
  _exit(EX_OSERR);
}

/* as_injector - from here on this process runs spool-inject's code: its
 * error prefix, log name and signal handlers; caller_logs: the status=
 * line of a queued message is left to the caller */
static void as_injector(const struct config *cfg, int caller_logs)
{
  inject_caller_logs = caller_logs;
  errmsg_iam("spool-inject");
  log_init("spool-inject", cfg->log);
  inject_signals();
}

/* run_forked - in a forked child: become spool-inject (never returns:
 * every path of inject_run ends the process) */
_Noreturn static void run_forked(const struct config *cfg, const char *want, int caller_logs)
{
  as_injector(cfg, caller_logs);
  inject_run(cfg, want);
  _exit(0);
}

/* here_start - ready the worker to run spool-inject's code itself: its
 * log name and signal handlers, /dev/null, and a copy of its fd 2 (its
 * log) to put back after each message; -1 if not */
static int here_start(const struct config *cfg, int *null, int *log)
{
  as_injector(cfg, 1);   /* the workers serve smtp-receive alone, which logs each message */
  if ((*null = open("/dev/null", O_RDWR | O_CLOEXEC)) == -1) return -1;
  if ((*log = fcntl(2, F_DUPFD_CLOEXEC, 3)) == -1) return -1;
  return 0;
}

/* here - one message injected by the worker itself, on fds as 0, 1 and
 * 2 (no fork: the worker has the spool group already and runs one
 * message at a time); its wait status */
static int here(const struct config *cfg, const char *want, const int fds[3], int null, int log)
{
  int i, code = EX_OSERR;
  for (i = 0; i < 3; i++) if (dup2(fds[i], i) == -1) break;
  if (i == 3) code = inject_here(cfg, want[0] ? want : 0);
  if (dup2(null, 0) == -1 || dup2(null, 1) == -1 || dup2(log, 2) == -1) _exit(EX_OSERR);
  return code << 8;
}

/* answer - one int on a request's reply socket; -1 if its session is gone */
static int answer(int rep, int v)
{
  return send(rep, &v, sizeof v, MSG_NOSIGNAL | MSG_DONTWAIT) == sizeof v ? 0 : -1;
}

/* serve_one - one request: the pid that runs the injector, then (its
 * pipes closed, so its session's read of them ends) its wait status, on
 * the request's reply socket, which is closed last.  A session that has
 * given up (its reply socket closed) gets nothing run. */
static void serve_one(const struct config *cfg, const char *want, int fds[WORKER_FDS], int null, int log)
{
  int status = EX_TEMPFAIL << 8, me = (int)getpid(), i;
  pid_t pid = -1;
  if (cfg->injector_default) {
    if (answer(fds[3], me) == 0) status = here(cfg, want, fds, null, log), pid = me;
  } else {
    pid = child_fork(fds[0], fds[1], fds[2]);
    if (pid == 0) run_program(cfg);
    if (answer(fds[3], pid > 0 ? (int)pid : -1) == -1 && pid > 0) kill(pid, SIGKILL);   /* nobody waits for its reply */
  }
  for (i = 0; i < 3; i++) close(fds[i]);
  if (pid > 0 && pid != me)
    while (waitpid(pid, &status, 0) == -1)
      if (errno != EINTR) { status = EX_TEMPFAIL << 8; break; }
  if (pid > 0) answer(fds[3], status);
  close(fds[3]);
}

void inject_worker_serve(const struct config *cfg, int sock)
{
  char want[SPOOL_ID_MAX];
  int fds[WORKER_FDS], r, null = -1, log = -1;
  unsigned int uses = 0;
  signal(SIGPIPE, SIG_IGN);
  if (cfg->injector_default && here_start(cfg, &null, &log) == -1) _exit(EX_OSERR);
  while (uses < WORKER_USES) {
    inject_waiting(1);   /* a stop signal now ends us quietly: no message has begun */
    if ((r = helper_request(sock, want, fds)) == -1) break;
    inject_waiting(0);
    if (r == 0) continue;   /* a malformed packet: dropped, the next one is served */
    uses++;
    serve_one(cfg, want, fds, null, log);
  }
  _exit(0);
}

/* in_process - spool-inject's code run by this very process on in and
 * env, its fd 2 a memfd that child_wait then reads as a finished
 * child's stderr: no fork.  Our fds 0 to 2, working directory, signal
 * handlers, log name and error prefix are as they were afterwards.  0,
 * or -1 with nothing run. */
static int in_process(struct child *c, const struct config *cfg, const char *want, int in, int env, int flags)
{
  const char *me = argv0, *name = log_name();
  int out, save[3], cwd, i, ok = 1, code = EX_OSERR;
  if ((out = memfd_create("spool-inject", MFD_CLOEXEC)) == -1) return -1;
  if ((cwd = open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1) { close(out); return -1; }
  for (i = 0; i < 3; i++) save[i] = fcntl(i, F_DUPFD_CLOEXEC, 3);
  for (i = 0; i < 3; i++) if (save[i] == -1) ok = 0;
  if (ok && (dup2(in, 0) == -1 || dup2(env, 1) == -1 || dup2(out, 2) == -1)) ok = 0;
  if (ok) {
    as_injector(cfg, (flags & INJECT_CALLER_LOGS) != 0);
    code = inject_here(cfg, want);
    inject_signals_restore();
    log_init(name, cfg->log);
    errmsg_iam(me);
  }
  for (i = 0; i < 3; i++) if (save[i] != -1 && (dup2(save[i], i) == -1 || close(save[i]) == -1)) ok = 0;
  if (fchdir(cwd) == -1) ok = 0;
  close(cwd);
  if (!ok) { close(out); errno = EBADF; return -1; }   /* our own fds are gone: nothing can be trusted */
  lseek(out, 0, SEEK_SET);
  c->pid = 0;
  c->errfd = out;
  c->outfd = -1;
  c->out = 0;
  c->statusfd = 0;
  c->status_once = 0;
  c->ended = 1;
  c->status = code << 8;
  return 0;
}

int inject_child_start(struct child *c, const struct config *cfg, const char *want, int in, int env, int flags)
{
  char *argv[2] = { (char *)cfg->injector, 0 };
  pid_t pid;
  if (inject_helper >= 0) return helper_start(c, want, in, env);
  if (!cfg->injector_default || !spool_writable(cfg))
    return child_start(c, argv, flags & INJECT_CLEAN_ENV ? clean_env(cfg) : 0, in, env, 0);
  if (flags & INJECT_IN_PROCESS) return in_process(c, cfg, want, in, env, flags);
  if ((pid = child_start_fork(c, in, env)) == -1) return -1;
  if (pid) return 0;
  run_forked(cfg, want, flags & INJECT_CALLER_LOGS);
}
