/* pool.c - the loop of local-spawn and remote-spawn: read requests from
 * queue-run, start one deliverer per request (the caller's run function),
 * and answer with its exit code when it ends (lib/exitcode.c: death by a
 * signal is EX_TEMPFAIL).  When queue-run goes away the helper waits for
 * its children and exits; their results are then lost, which leaves those
 * recipients pending: a repeat later, never a loss.
 *
 * With reuse (remote-spawn when smtp_connection_reuse_time > 0;
 * remote-send.8 REUSE) each deliverer also gets a SOCK_SEQPACKET socket on
 * fd 3 (POSTERN_REUSE_FD=3).  remote-send says there when a job is
 * finished ("CODE", the exit code it would have had) and may then keep its
 * connection open, waiting for another job for the same destination: the
 * next request for that destination goes to it (the very datagram
 * queue-run sent, with its two fds) instead of to a new process.  A
 * deliverer that ignores fd 3 simply exits, and its exit code answers for
 * its job.
 *
 * A deliverer that stops waiting shuts its end down for reading first, so
 * a request sent to it afterwards fails here (EPIPE) and goes to a new
 * process; one sent just before is still taken by it.  No request is lost
 * between the two: each job is answered exactly once, by a "CODE" or by
 * the exit of the process holding it. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "errmsg.h"
#include "exitcode.h"
#include "log.h"
#include "scan.h"
#include "str.h"
#include "qr.h"
#include "pool.h"

#define POOL_CTL_FD_MIN 10      /* control sockets live above the fds a child gets */

/* struct kid - a running deliverer */
struct kid {
  pid_t pid;
  unsigned long job;          /* the job it holds, 0: none (idle or leaving) */
  int ctl;                    /* our end of its fd 3, -1 closed */
  int idle;                   /* it said CODE and waits for a job for dest */
  stralloc dest;
};
static struct kid *kids;      /* running deliverers */
static unsigned int nkids, akids;
static struct pollfd *polls;  /* pool_loop's poll set, grown, never shrunk */
static unsigned int *who;     /* the kids[] index of each control socket polled */
static unsigned int apolls;

/* request_dest - the destination word of a remote request: after the
 * user (""), the queue id and the options */
static const char *request_dest(const struct spawn_req *r)
{
  unsigned int i = 2;
  while (i < r->argc && r->argv[i][0] == '-') {
    const char *o = r->argv[i++];
    if (str_len(o) == 2 && o[1] != 'U') i++;   /* "-E" "value" */
  }
  return i < r->argc ? r->argv[i] : "";
}

/* add - note a new deliverer; -1 out of memory */
static int add(pid_t pid, unsigned long job, int ctl, const char *dest)
{
  struct kid *k;
  if (nkids == akids) {
    unsigned int a = akids ? akids * 2 : 32;
    k = realloc(kids, a * sizeof *k);
    if (!k) return -1;
    kids = k; akids = a;
  }
  k = &kids[nkids];
  k->dest.s = 0; k->dest.len = k->dest.a = 0;
  if (!stralloc_copys(&k->dest, dest) || !stralloc_0(&k->dest)) { stralloc_free(&k->dest); return -1; }
  k->pid = pid; k->job = job; k->ctl = ctl; k->idle = 0;
  nkids++;
  return 0;
}

/* let_go - no more jobs for k: close its socket (it ends when idle) */
static void let_go(struct kid *k)
{
  if (k->ctl != -1) close(k->ctl);
  k->ctl = -1;
  k->idle = 0;
}

/* handed - give r to an idle deliverer for its destination; 1 done */
static int handed(int sock, struct spawn_req *r)
{
  const char *dest = request_dest(r);
  unsigned int i;
  (void)sock;
  for (i = 0; i < nkids; i++) {
    struct kid *k = &kids[i];
    if (!k->idle || k->ctl == -1 || str_diff(k->dest.s, dest)) continue;
    if (spawn_send(k->ctl, r->job, r->argv, r->argc, r->msgfd, r->outfd) == 0) {
      k->idle = 0;
      k->job = r->job;
      return 1;
    }
    let_go(k);                  /* it stopped waiting: a new process takes it */
  }
  return 0;
}

/* start - a new deliverer for r, with its control socket when reusing */
static void start(int sock, struct spawn_req *r, pid_t (*run)(struct spawn_req *, int), int reuse)
{
  int sv[2], ctl = -1;
  pid_t pid = -1;
  const char *dest = reuse ? request_dest(r) : "";
  if (!reuse) pid = run(r, -1);
  else if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0) {
    ctl = fcntl(sv[0], F_DUPFD_CLOEXEC, POOL_CTL_FD_MIN);
    close(sv[0]);
    if (ctl != -1) pid = run(r, sv[1]);
    close(sv[1]);
  }
  if (pid == -1 || add(pid, r->job, ctl, dest) == -1) {
    if (pid != -1) kill(pid, SIGKILL);   /* cannot track it: its result would be lost */
    if (ctl != -1) close(ctl);
    spawn_answer(sock, r->job, EX_OSERR);
  }
}

/* request - one request from queue-run */
static void request(int sock, struct spawn_req *r, pid_t (*run)(struct spawn_req *, int), int reuse)
{
  unsigned int i;
  if (r->kind == 'K') {
    for (i = 0; i < nkids; i++)
      if (kids[i].job == r->job) kill(kids[i].pid, SIGKILL);
    return;
  }
  if (!reuse || !handed(sock, r)) start(sock, r, run, reuse);
  close(r->msgfd);
  close(r->outfd);
}

/* said - what a deliverer said on its socket: the code of its job */
static void said(int sock, struct kid *k, int answer, int flags)
{
  char buf[32];
  unsigned long code;
  ssize_t n;
  do n = recv(k->ctl, buf, sizeof buf - 1, flags); while (n == -1 && errno == EINTR);
  if (n == -1 && errno == EAGAIN) return;
  if (n <= 0) { let_go(k); return; }
  buf[n] = 0;
  if (!k->job || scan_ulong(buf, &code) != (size_t)n || code > 255) {
    log_event(0, "status", "refused", "reason", "malformed message from a deliverer", (char *)0);
    kill(k->pid, SIGKILL);
    let_go(k);
    return;
  }
  if (answer) spawn_answer(sock, k->job, (int)code);
  k->job = 0;
  k->idle = k->ctl != -1 && answer;
}

/* reap - collect ended deliverers; a job still held is answered by the
 * exit code, unless its CODE is already waiting on the socket */
static void reap(int sock, int answer)
{
  int status;
  pid_t pid;
  unsigned int i;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
    for (i = 0; i < nkids; i++) {
      struct kid *k = &kids[i];
      if (k->pid != pid) continue;
      if (k->job && k->ctl != -1) said(sock, k, answer, MSG_DONTWAIT);
      if (k->job && answer) spawn_answer(sock, k->job, exitcode_wait(status));
      let_go(k);
      stralloc_free(&k->dest);
      kids[i] = kids[--nkids];
      break;
    }
}

/* events - the sockets of the deliverers that spoke (kids[who[i]] holds
 * p[i]: kids are only removed by reap, after this) */
static void events(int sock, struct pollfd *p, unsigned int n, int answer)
{
  unsigned int i;
  for (i = 0; i < n; i++)
    if (p[i].revents && kids[who[i]].ctl == p[i].fd) said(sock, &kids[who[i]], answer, 0);
}

/* poll_room - the poll set can hold the helper's two fds and every
 * deliverer's socket */
static void poll_room(void)
{
  unsigned int a = apolls ? apolls : 32;
  struct pollfd *p;
  unsigned int *w;
  if (nkids + 2 <= apolls) return;
  while (a < nkids + 2) a *= 2;
  if (!(p = realloc(polls, a * sizeof *p))) diesys(EX_OSERR, "out of memory");
  polls = p;
  if (!(w = realloc(who, a * sizeof *w))) diesys(EX_OSERR, "out of memory");
  who = w;
  apolls = a;
}

int pool_loop(int sock, pid_t (*run)(struct spawn_req *r, int ctl), int reuse)
{
  static char buf[QR_SPAWN_MSG_MAX];
  struct spawn_req r;
  int sfd = helper_child_signals(), open_ = 1;
  if (sfd == -1) diesys(EX_OSERR, "unable to set up signals");
  signal(SIGPIPE, SIG_IGN);
  while (open_ || nkids) {
    unsigned int n = 2, i, nk = 0;
    struct pollfd *p;
    poll_room();
    p = polls;
    p[0].fd = sfd; p[0].events = POLLIN; p[0].revents = 0;
    p[1].fd = open_ ? sock : -1; p[1].events = POLLIN; p[1].revents = 0;
    for (i = 0; i < nkids; i++)
      if (kids[i].ctl != -1) {
        p[n].fd = kids[i].ctl; p[n].events = POLLIN; p[n].revents = 0;
        who[nk++] = i; n++;
      }
    if (poll(p, n, -1) == -1 && errno != EINTR) diesys(EX_OSERR, "unable to poll");
    events(sock, p + 2, nk, open_);
    if (p[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {}
      reap(sock, open_);
    }
    if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
      int got = spawn_recv(sock, buf, sizeof buf, &r);
      if (got == 1) request(sock, &r, run, reuse);
      else if (got == 0 || errno != EPROTO) {
        open_ = 0;              /* queue-run is gone: the idle ones may go */
        for (i = 0; i < nkids; i++) let_go(&kids[i]);
      } else log_event(0, "status", "refused", "reason", "malformed spawn request", (char *)0);
    }
  }
  return 0;
}
