/* spawn.c - the protocol between queue-run and its spawn helpers, over a
 * SOCK_SEQPACKET socketpair (one datagram per request or answer):
 *
 *   request  "R" job NUL user NUL arg NUL arg NUL ...   + SCM_RIGHTS: the
 *            open message file (the deliverer's fd 0) and the write end of
 *            the result pipe (its fd 1)
 *            "K" job NUL                                 kill that job
 *   answer   job SP exit-code                            when it has ended
 *
 * The helpers trust nothing in a request beyond its syntax: local-spawn
 * looks the user up itself and refuses root. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include "byte.h"
#include "scan.h"
#include "str.h"
#include "num.h"
#include "qr.h"

/* put - append s and its NUL to buf; -1 if it does not fit */
static int put(char *buf, size_t *n, const char *s)
{
  size_t len = str_len(s) + 1;
  if (*n + len > QR_SPAWN_MSG_MAX) return -1;
  byte_copy(buf + *n, len, s);
  *n += len;
  return 0;
}

/* send_fds - one datagram with up to two fds */
static int send_fds(int sock, const char *buf, size_t len, int fd1, int fd2)
{
  union { struct cmsghdr h; char space[CMSG_SPACE(2 * sizeof(int))]; } c;
  struct iovec iov = { (void *)buf, len };
  struct msghdr mh;
  int fds[2] = { fd1, fd2 };
  byte_zero(&mh, sizeof mh);
  byte_zero(&c, sizeof c);
  mh.msg_iov = &iov;
  mh.msg_iovlen = 1;
  if (fd1 >= 0) {
    mh.msg_control = c.space;
    mh.msg_controllen = sizeof c.space;
    c.h.cmsg_level = SOL_SOCKET;
    c.h.cmsg_type = SCM_RIGHTS;
    c.h.cmsg_len = CMSG_LEN(2 * sizeof(int));
    memcpy(CMSG_DATA(&c.h), fds, sizeof fds);
  }
  while (sendmsg(sock, &mh, MSG_NOSIGNAL) == -1)
    if (errno != EINTR) return -1;
  return 0;
}

int spawn_send(int sock, unsigned long job, char **argv, unsigned int argc, int msgfd, int outfd)
{
  static char buf[QR_SPAWN_MSG_MAX];
  char num[NUM_ULONG + 1];
  size_t n = 0;
  unsigned int i;
  num[0] = 'R';
  num[1 + num_fmt(num + 1, job)] = 0;
  if (put(buf, &n, num) == -1) return -1;
  for (i = 0; i < argc; i++)
    if (put(buf, &n, argv[i]) == -1) { errno = E2BIG; return -1; }
  return send_fds(sock, buf, n, msgfd, outfd);
}

int spawn_kill(int sock, unsigned long job)
{
  char num[NUM_ULONG + 1];
  num[0] = 'K';
  num[1 + num_fmt(num + 1, job)] = 0;
  return send_fds(sock, num, str_len(num) + 1, -1, -1);
}

/* take_fds - the fds that came with a datagram, -1 for missing ones */
static void take_fds(struct msghdr *mh, int *fd1, int *fd2)
{
  struct cmsghdr *c;
  *fd1 = *fd2 = -1;
  for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
    int fds[2] = { -1, -1 };
    size_t len;
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    len = c->cmsg_len - CMSG_LEN(0);
    memcpy(fds, CMSG_DATA(c), len < sizeof fds ? len : sizeof fds);
    if (len >= sizeof(int)) *fd1 = fds[0];
    if (len >= 2 * sizeof(int)) *fd2 = fds[1];
  }
}

/* split - the NUL-separated words of a request into r */
static int split(char *buf, size_t len, struct spawn_req *r)
{
  size_t pos = 0;
  unsigned long job;
  if (len < 3 || buf[len - 1] != 0 || (buf[0] != 'R' && buf[0] != 'K')) return -1;
  r->kind = buf[0];
  if (scan_ulong(buf + 1, &job) != str_len(buf + 1) || !job) return -1;
  r->job = job;
  pos = str_len(buf) + 1;
  r->argc = 0;
  while (pos < len) {
    if (r->argc >= sizeof r->argv / sizeof r->argv[0] - 1) return -1;
    r->argv[r->argc++] = buf + pos;
    pos += str_len(buf + pos) + 1;
  }
  r->argv[r->argc] = 0;
  return r->kind == 'K' || r->argc >= 2 ? 0 : -1;
}

int spawn_recv(int sock, char *buf, size_t size, struct spawn_req *r)
{
  union { struct cmsghdr h; char space[CMSG_SPACE(4 * sizeof(int))]; } c;
  struct iovec iov = { buf, size };
  struct msghdr mh;
  ssize_t n;
  byte_zero(&mh, sizeof mh);
  mh.msg_iov = &iov; mh.msg_iovlen = 1;
  mh.msg_control = c.space; mh.msg_controllen = sizeof c.space;
  do n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC); while (n == -1 && errno == EINTR);
  if (n <= 0) return n == 0 ? 0 : -1;
  take_fds(&mh, &r->msgfd, &r->outfd);
  if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || split(buf, (size_t)n, r) == -1
      || (r->kind == 'R' && (r->msgfd < 0 || r->outfd < 0))) {
    if (r->msgfd >= 0) close(r->msgfd);
    if (r->outfd >= 0) close(r->outfd);
    errno = EPROTO;
    return -1;
  }
  return 1;
}

int spawn_answer(int sock, unsigned long job, int code)
{
  char buf[2 * NUM_ULONG + 2];
  size_t n = num_fmt(buf, job);
  buf[n++] = ' ';
  n += num_fmt(buf + n, (unsigned long)code);
  return send_fds(sock, buf, n, -1, -1);
}

int spawn_read_answer(int sock, unsigned long *job, int *code)
{
  char buf[2 * NUM_ULONG + 2];
  unsigned long c;
  ssize_t n;
  size_t k;
  do n = recv(sock, buf, sizeof buf - 1, 0); while (n == -1 && errno == EINTR);
  if (n <= 0) return n == 0 ? 0 : -1;
  buf[n] = 0;
  k = scan_ulong(buf, job);
  if (!k || buf[k] != ' ' || scan_ulong(buf + k + 1, &c) != (size_t)n - k - 1 || c > 255) { errno = EPROTO; return -1; }
  *code = (int)c;
  return 1;
}
