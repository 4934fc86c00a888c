/* test_reuse.c - the fd 3 protocol of a kept connection (reuse.c): a
 * request with its two fds is taken, its words parsed; a job's end is
 * reported; when the wait ends (time, the server speaking, remote-spawn
 * gone) the socket is shut for reading, so a later request fails for the
 * sender instead of vanishing, and one queued before is still taken. */
#include <errno.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include "../../lib/tests/t.h"
#include "../rs.h"

/* request - one datagram as remote-spawn forwards it, with nfds fds */
static int request(int sock, const char *words, size_t len, int nfds)
{
  union { struct cmsghdr h; char space[CMSG_SPACE(2 * sizeof(int))]; } c;
  struct iovec iov = { (void *)words, len };
  struct msghdr mh;
  int p[2], fds[2];
  if (pipe(p) == -1) return -1;
  fds[0] = p[0]; fds[1] = p[1];
  memset(&mh, 0, sizeof mh);
  memset(&c, 0, sizeof c);
  mh.msg_iov = &iov; mh.msg_iovlen = 1;
  if (nfds) {
    mh.msg_control = c.space;
    mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
    c.h.cmsg_level = SOL_SOCKET; c.h.cmsg_type = SCM_RIGHTS;
    c.h.cmsg_len = CMSG_LEN(nfds * sizeof(int));
    memcpy(CMSG_DATA(&c.h), fds, nfds * sizeof(int));
  }
  int r = sendmsg(sock, &mh, MSG_NOSIGNAL) == -1 ? -1 : 0;
  int e = errno;
  close(p[0]); close(p[1]);
  errno = e;
  return r;
}

static const char words[] = "R7\0\0id.1\0-Eenv\0smtp:[h.test]:25\0s@x.test\0r@y.test\tNNEVER";

int main(void)
{
  static char buf[RS_REUSE_MSG_MAX];
  struct reuse_req r;
  int sv[2], conn[2], n;
  char got[16];
  time_t t0;

  T_OK("no POSTERN_REUSE_FD: no reuse", (unsetenv("POSTERN_REUSE_FD"), reuse_fd() == -1));
  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
  socketpair(AF_UNIX, SOCK_STREAM, 0, conn);
  request(sv[0], words, sizeof words, 2);
  T_OK("a request is taken", reuse_wait(sv[1], conn[0], 5, buf, sizeof buf, &r) == 1);
  T_OK("its words: argv[0], options, destination, sender, recipients", r.argc == 5 &&
       !strcmp(r.argv[0], "remote-send") && !strcmp(r.argv[1], "-Eenv") && !strcmp(r.argv[2], "smtp:[h.test]:25") &&
       !strcmp(r.argv[3], "s@x.test") && !strcmp(r.argv[4], "r@y.test\tNNEVER") && r.argv[5] == 0);
  T_OK("its queue id", !strcmp(r.id, "id.1"));
  T_OK("its message and result fds", r.msgfd > 2 && r.outfd > 2 && r.msgfd != r.outfd);
  close(r.msgfd); close(r.outfd);
  T_OK("the end of a job reported", reuse_done(sv[1], 0) == 0 && (n = recv(sv[0], got, sizeof got, 0)) == 1 && got[0] == '0');

  request(sv[0], words, 5, 2);
  T_OK("a malformed request ends the waiting", reuse_wait(sv[1], conn[0], 5, buf, sizeof buf, &r) == 0);
  close(sv[0]); close(sv[1]);

  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
  request(sv[0], words, sizeof words, 0);
  T_OK("a request without its fds is refused", reuse_wait(sv[1], conn[0], 5, buf, sizeof buf, &r) == 0);
  close(sv[0]); close(sv[1]);

  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
  t0 = time(0);
  T_OK("nothing comes: the wait ends after its time", reuse_wait(sv[1], conn[0], 1, buf, sizeof buf, &r) == 0 && time(0) - t0 <= 2);
  T_OK("a request after that fails for the sender (EPIPE)", request(sv[0], words, sizeof words, 2) == -1 && errno == EPIPE);
  close(sv[0]); close(sv[1]);

  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
  if (write(conn[1], "421 bye\r\n", 9) != 9) return 1;
  t0 = time(0);
  T_OK("the server speaks while idle: the wait ends at once", reuse_wait(sv[1], conn[0], 5, buf, sizeof buf, &r) == 0 && time(0) - t0 <= 1);
  close(sv[0]); close(sv[1]);

  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
  request(sv[0], words, sizeof words, 2);
  T_OK("a request queued before the wait ended is still taken", reuse_wait(sv[1], conn[0], 5, buf, sizeof buf, &r) == 1);
  close(r.msgfd); close(r.outfd);
  T_OK("then the socket is shut for reading", request(sv[0], words, sizeof words, 2) == -1 && errno == EPIPE);
  close(sv[0]); close(sv[1]);

  socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv);
  close(conn[1]);
  close(sv[0]);
  T_OK("remote-spawn gone: the wait ends", reuse_wait(sv[1], conn[0], 5, buf, sizeof buf, &r) == 0);
  T_DONE();
}
