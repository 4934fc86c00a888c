/* spawner.c - the loop of local-spawn and remote-spawn: read requests from
 * queue-run, start one deliverer per request (the caller's run function),
 * and answer with its exit code when it ends (lib/exitcode.c: death by a
 * signal is EX_TEMPFAIL).  When queue-run goes away the helper waits for
 * its children and exits; their results are then lost, which leaves those
 * recipients pending: a repeat later, never a loss. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include "errmsg.h"
#include "exitcode.h"
#include "log.h"
#include "qr.h"

/* struct child - a running deliverer */
struct child { pid_t pid; unsigned long job; };
static struct child *kids;     /* running deliverers */
static unsigned int nkids, akids;

/* remember - note a new child */
static int remember(pid_t pid, unsigned long job)
{
  if (nkids == akids) {
    unsigned int a = akids ? akids * 2 : 32;
    struct child *k = realloc(kids, a * sizeof *k);
    if (!k) return -1;
    kids = k; akids = a;
  }
  kids[nkids].pid = pid;
  kids[nkids++].job = job;
  return 0;
}

/* request - one request from queue-run */
static void request(int sock, struct spawn_req *r, pid_t (*run)(struct spawn_req *))
{
  unsigned int i;
  if (r->kind == 'K') {
    for (i = 0; i < nkids; i++)
      if (kids[i].job == r->job) kill(kids[i].pid, SIGKILL);
    return;
  }
  pid_t pid = run(r);
  close(r->msgfd);
  close(r->outfd);
  if (pid == -1 || remember(pid, r->job) == -1) {
    if (pid != -1) kill(pid, SIGKILL);   /* cannot track it: its result would be lost */
    spawn_answer(sock, r->job, EX_OSERR);
  }
}

/* reap - collect ended children and answer for them */
static void reap(int sock, int answer)
{
  int status;
  pid_t pid;
  unsigned int i;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
    for (i = 0; i < nkids; i++)
      if (kids[i].pid == pid) {
        if (answer) spawn_answer(sock, kids[i].job, exitcode_wait(status));
        kids[i] = kids[--nkids];
        break;
      }
}

int spawner_loop(int sock, pid_t (*run)(struct spawn_req *r))
{
  static char buf[QR_SPAWN_MSG_MAX];
  struct spawn_req r;
  int sfd = helper_child_signals(), open_ = 1;
  if (sfd == -1) diesys(EX_OSERR, "unable to set up signals");
  signal(SIGPIPE, SIG_IGN);
  while (open_ || nkids) {
    struct pollfd p[2] = { { sfd, POLLIN, 0 }, { open_ ? sock : -1, POLLIN, 0 } };
    if (poll(p, 2, -1) == -1 && errno != EINTR) diesys(EX_OSERR, "unable to poll");
    if (p[0].revents) {
      struct signalfd_siginfo si;
      while (read(sfd, &si, sizeof si) > 0) {}
      reap(sock, open_);
    }
    if (!(p[1].revents & (POLLIN | POLLHUP | POLLERR))) continue;
    int got = spawn_recv(sock, buf, sizeof buf, &r);
    if (got == 1) request(sock, &r, run);
    else if (got == 0 || errno != EPROTO) open_ = 0;
    else log_event(0, "status", "refused", "reason", "malformed spawn request", (char *)0);
  }
  return 0;
}
