/* pool.c - smtp-listen's injector workers: long-lived processes with the
 * spool group that run the injection for every session (doc/architecture.md
 * "The session cannot touch the spool").
 *
 * The listener forks them; each keeps the supplementary groups (the
 * spool's postern-inject), drops every capability, puts /dev/null on
 * fds 0 and 1, closes every fd but the workers' end of the request
 * socket pair and its log, and runs lib/inject_child.c's
 * inject_worker_serve.  A session holds only the other end.  The socket
 * is SOCK_SEQPACKET: a packet goes whole to one worker, and the kernel
 * wakes one blocked reader per packet, the one that has waited longest.
 *
 * How many: at least one more than there are sessions (pool_fill from
 * the accept path), so every session can have a message in hand and one
 * worker still waits; never more than smtpd_max_sessions + 1 per
 * generation.  A worker idle for POOL_IDLE_SECONDS ends (the socket's
 * receive timeout), as does one that has run WORKER_USES messages; the
 * next connection forks what is missing.  A reload or a re-exec starts a
 * new generation: the listener closes its ends of the old pair, whose
 * workers serve the sessions that still hold it and end with the last of
 * them. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include "byte.h"
#include "inject_child.h"
#include "limit.h"
#include "listen.h"
#include "pool.h"

#define WORKERS_MAX (2 * LIMIT_SESSIONS_MAX + 2)   /* this generation's and the last ones' */

static int req[2] = { -1, -1 };   /* [0] the workers' end, [1] the sessions' */
static unsigned int gen;          /* the current generation */
static struct { pid_t pid; unsigned int gen; } w[WORKERS_MAX];
static unsigned int running;      /* workers of the current generation */
static unsigned int used;         /* w[used..] has never held a worker: scans stop there */

int pool_open(void)
{
  struct timeval idle = { POOL_IDLE_SECONDS, 0 };
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) return -1;
  if (setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle) == -1) { close(sv[0]); close(sv[1]); return -1; }
  if (req[0] != -1) { close(req[0]); close(req[1]); }
  req[0] = sv[0];
  req[1] = sv[1];
  gen++;
  running = 0;
  return 0;
}

/* worker - in the forked worker: clean signals, the fds, no capability,
 * a name of its own for ps; then the loop */
_Noreturn static void worker(const struct config *cfg, int sock)
{
  static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
  struct sigaction sa;
  sigset_t none;
  unsigned int i;
  int null;
  byte_zero(&sa, sizeof sa);
  sa.sa_handler = SIG_DFL;
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, 0);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, 0);
  prctl(PR_SET_NAME, "spool-inject", 0, 0, 0);
  closelog();   /* before its fd goes: glibc would close that number again later */
  null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null == -1 || dup2(null, 0) == -1 || dup2(null, 1) == -1 || dup2(sock, 3) == -1) _exit(111);
  if (close_range(4, ~0U, 0) == -1)   /* old kernel or a filter refuses it: one by one */
    for (int fd = 4; fd < 1024; fd++) close(fd);
  if (listen_caps_clear() == -1) _exit(111);
  inject_worker_serve(cfg, 3);
}

int pool_fill(const struct config *cfg, unsigned int want, void (*forget)(void))
{
  unsigned int i;
  if (req[0] == -1) return 0;
  for (i = 0; running < want && i < WORKERS_MAX; i++) {
    pid_t pid;
    if (w[i].pid) continue;
    if ((pid = fork()) == -1) break;   /* the sessions' requests wait in the socket; the next accept tries again */
    if (pid == 0) {
      if (forget) forget();
      worker(cfg, req[0]);
    }
    w[i].pid = pid;
    w[i].gen = gen;
    running++;
    if (i >= used) used = i + 1;
  }
  return (int)running;
}

int pool_session(void)
{
  if (req[0] != -1) close(req[0]);
  req[0] = -1;
  return req[1];
}

int pool_crashed(int status)
{
  if (!WIFSIGNALED(status)) return 0;
  switch (WTERMSIG(status)) {
  case SIGSEGV: case SIGBUS: case SIGILL: case SIGFPE: case SIGABRT: case SIGSYS: return 1;
  }
  return 0;
}

int pool_reaped(pid_t pid, int status, int *crashed)
{
  unsigned int i;
  for (i = 0; i < used; i++)   /* every session's end comes here too: a short scan */
    if (w[i].pid == pid) {
      w[i].pid = 0;
      if (w[i].gen == gen) running--;
      *crashed = pool_crashed(status);
      return 1;
    }
  return 0;
}
