/* reuse.c - more messages for an open connection (remote-send.8 REUSE).
 *
 * remote-spawn may start remote-send with POSTERN_REUSE_FD=3 and a
 * SOCK_SEQPACKET socket on fd 3.  After each message remote-send writes
 * its result lines on fd 1, closes it, and sends its exit code for that
 * message ("0") on fd 3; with the connection still clean it then waits,
 * at most smtp_connection_reuse_time, for remote-spawn to pass the next
 * job for the same destination: the very request queue-run sent
 * ("R" job NUL "" NUL id NUL word ...) with the message and the result
 * pipe as SCM_RIGHTS.  When it stops waiting it shuts fd 3 down for
 * reading first, so remote-spawn's next send fails (EPIPE) instead of
 * vanishing, and takes a request that was already queued. */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "byte.h"
#include "num.h"
#include "str.h"
#include "rs.h"

int reuse_fd(void)
{
  const char *e = getenv("POSTERN_REUSE_FD");
  int type = 0;
  socklen_t len = sizeof type;
  if (!e || str_diff(e, "3")) return -1;
  /* only a socket of the right kind is ours: anything else on fd 3 is not */
  if (getsockopt(3, SOL_SOCKET, SO_TYPE, &type, &len) == -1 || type != SOCK_SEQPACKET) return -1;
  return 3;
}

int reuse_done(int fd, int code)
{
  char buf[NUM_ULONG];
  size_t n = num_fmt(buf, (unsigned long)code);
  while (send(fd, buf, n, MSG_NOSIGNAL) == -1)
    if (errno != EINTR) return -1;
  return 0;
}

/* close_fds - the fds that came with a datagram we do not use */
static void close_fds(struct msghdr *mh)
{
  struct cmsghdr *c;
  for (c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
    size_t i, n;
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (i = 0; i < n; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      close(fd);
    }
  }
}

/* parse - the words of a request into r: "R<job>", "", id, then the
 * arguments (options, destination, sender, recipients); 0 or -1 */
static int parse(char *buf, size_t len, struct reuse_req *r)
{
  size_t pos = 0;
  unsigned int w = 0;
  if (!len || buf[len - 1] != 0 || buf[0] != 'R') return -1;
  r->argc = 1;
  r->argv[0] = "remote-send";
  while (pos < len) {
    char *word = buf + pos;
    pos += str_len(word) + 1;
    if (w == 1 && *word) return -1;          /* a remote job names no user */
    if (w == 2) r->id = word;
    if (w++ < 3) continue;
    if (r->argc >= RS_REUSE_WORDS_MAX) return -1;
    r->argv[r->argc++] = word;
  }
  r->argv[r->argc] = 0;
  return r->argc >= 4 ? 0 : -1;
}

/* take - one datagram from fd into r; 1, 0 nothing (or EOF), -1 bad */
static int take(int fd, char *buf, size_t size, struct reuse_req *r, int flags)
{
  union { struct cmsghdr h; char space[CMSG_SPACE(4 * sizeof(int))]; } c;
  struct iovec iov = { buf, size };
  struct msghdr mh;
  int fds[2] = { -1, -1 };
  ssize_t n;
  byte_zero(&mh, sizeof mh);
  mh.msg_iov = &iov; mh.msg_iovlen = 1;
  mh.msg_control = c.space; mh.msg_controllen = sizeof c.space;
  do n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC | flags); while (n == -1 && errno == EINTR);
  if (n <= 0) return 0;
  if (!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) && CMSG_FIRSTHDR(&mh) &&
      CMSG_FIRSTHDR(&mh)->cmsg_type == SCM_RIGHTS &&
      CMSG_FIRSTHDR(&mh)->cmsg_len == CMSG_LEN(2 * sizeof(int)))
    memcpy(fds, CMSG_DATA(CMSG_FIRSTHDR(&mh)), sizeof fds);
  if (fds[0] < 0 || parse(buf, (size_t)n, r) == -1) { close_fds(&mh); return -1; }
  r->msgfd = fds[0];
  r->outfd = fds[1];
  return 1;
}

/* reuse_wait - wait for the next request on fd while the connection conn
 * stays quiet, at most seconds.  1 with r set; 0 when the wait ended (fd 3
 * is then shut for reading; a request queued before that is still
 * taken: 1); a malformed request ends the waiting too. */
int reuse_wait(int fd, int conn, unsigned long seconds, char *buf, size_t size, struct reuse_req *r)
{
  long long end = net_clock_ms() + (long long)seconds * 1000;
  for (;;) {
    struct pollfd p[2] = { { fd, POLLIN, 0 }, { conn, POLLIN, 0 } };
    long long left = end - net_clock_ms();
    int x;
    if (left <= 0) break;
    x = poll(p, 2, (int)left);
    if (x == -1 && errno == EINTR) continue;
    if (x <= 0 || p[1].revents) break;        /* timeout, or the server spoke or left */
    if (p[0].revents & POLLIN) return take(fd, buf, size, r, 0) == 1;
    if (p[0].revents) break;                  /* remote-spawn went away */
  }
  shutdown(fd, SHUT_RD);
  return take(fd, buf, size, r, MSG_DONTWAIT) == 1;
}
