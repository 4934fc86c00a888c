/* listen.c - smtp-listen's sockets and credentials.
 *
 * The listening sockets come from systemd (LISTEN_FDS, sd_listen_fds(3)'s
 * protocol, also what systemd-socket-activate passes) or are bound here
 * from -l ADDRESS:PORT, as root if the port needs it, after which the
 * process becomes -u USER with the -g groups at once, before any
 * connection is accepted, keeping only CAP_SETGID.
 *
 * That one capability is for listen_split, the first thing each session
 * process does, before the first client byte: it keeps only the
 * sessions' end of the injector workers' socket (pool.c: the workers
 * keep the supplementary groups, the spool's postern-inject, and no
 * capability) and drops every supplementary group and every capability.
 * Only a worker may write the spool, and it reads nothing but the pipes
 * a session hands it. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "byte.h"
#include "scan.h"
#include "str.h"
#include "inject_child.h"
#include "listen.h"
#include "pool.h"

#define GROUPS_MAX 32

/* nonblock_cloexec - fd as the accept loop wants it */
static int nonblock_cloexec(int fd)
{
  int fl = fcntl(fd, F_GETFL);
  if (fl == -1 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) == -1) return -1;
  return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* listen_inherited - the sockets systemd passed (LISTEN_FDS for our
 * pid) into fds: their number, 0 if none were passed, -1 if the
 * variables are malformed or a passed fd is no listening stream socket */
int listen_inherited(int *fds, int max, const char **why)
{
  const char *p = getenv("LISTEN_PID"), *n = getenv("LISTEN_FDS");
  unsigned long pid, count;
  int i, type, acc;
  socklen_t len;
  if (!p || !n) return 0;
  if (p[scan_ulong(p, &pid)] || !*p || n[scan_ulong(n, &count)] || !*n) { *why = "LISTEN_PID or LISTEN_FDS is not a number"; return -1; }
  if (pid != (unsigned long)getpid()) return 0;
  if (count == 0 || count > (unsigned long)max) { *why = "LISTEN_FDS: no socket, or too many"; return -1; }
  for (i = 0; i < (int)count; i++) {
    fds[i] = 3 + i;
    len = sizeof type;
    if (getsockopt(fds[i], SOL_SOCKET, SO_TYPE, &type, &len) == -1 || type != SOCK_STREAM) { *why = "a passed fd is not a stream socket"; return -1; }
    len = sizeof acc;
    if (getsockopt(fds[i], SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) == -1 || !acc) { *why = "a passed socket is not listening (Accept=no is needed)"; return -1; }
    if (nonblock_cloexec(fds[i]) == -1) { *why = "cannot set the passed socket non-blocking"; return -1; }
  }
  unsetenv("LISTEN_PID"); unsetenv("LISTEN_FDS"); unsetenv("LISTEN_FDNAMES");
  return (int)count;
}

/* parse - "ADDRESS:PORT", "[IPV6]:PORT", ":PORT" or "PORT" into ss (an
 * empty address is every address, IPv6 and IPv4) */
static int parse(const char *spec, struct sockaddr_storage *ss, socklen_t *len)
{
  char host[64];
  const char *colon = 0, *q;
  unsigned long port;
  size_t hl;
  for (q = spec; *q; q++) if (*q == ':') colon = q;
  if (!colon) { colon = spec - 1; hl = 0; }
  else hl = (size_t)(colon - spec);
  q = colon + 1;
  if (!*q || q[scan_ulong(q, &port)] || port == 0 || port > 65535) return -1;
  if (hl >= 2 && spec[0] == '[' && spec[hl - 1] == ']') { spec++; hl -= 2; }
  if (hl >= sizeof host) return -1;
  byte_copy(host, hl, spec);
  host[hl] = 0;
  byte_zero(ss, sizeof *ss);
  if (!hl || inet_pton(AF_INET6, host, &((struct sockaddr_in6 *)ss)->sin6_addr) == 1) {
    ((struct sockaddr_in6 *)ss)->sin6_family = AF_INET6;
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((unsigned short)port);
    *len = sizeof(struct sockaddr_in6);
    return hl ? 6 : 0;
  }
  if (inet_pton(AF_INET, host, &((struct sockaddr_in *)ss)->sin_addr) != 1) return -1;
  ((struct sockaddr_in *)ss)->sin_family = AF_INET;
  ((struct sockaddr_in *)ss)->sin_port = htons((unsigned short)port);
  *len = sizeof(struct sockaddr_in);
  return 4;
}

/* listen_bind - a listening socket on spec; its fd, or -1 with *why */
int listen_bind(const char *spec, const char **why)
{
  struct sockaddr_storage ss;
  socklen_t len;
  int kind = parse(spec, &ss, &len), fd, one = 1, zero = 0;
  if (kind == -1) { *why = "-l wants ADDRESS:PORT, [IPV6]:PORT or PORT"; return -1; }
  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd == -1 && kind == 0) {   /* every address, but no IPv6 here */
    unsigned short port = ((struct sockaddr_in6 *)&ss)->sin6_port;
    byte_zero(&ss, sizeof ss);
    ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
    ((struct sockaddr_in *)&ss)->sin_port = port;
    len = sizeof(struct sockaddr_in);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  }
  if (fd == -1) { *why = "cannot make a socket"; return -1; }
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one);   /* peers that vanished */
  if (ss.ss_family == AF_INET6 && kind == 0) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
  if (bind(fd, (struct sockaddr *)&ss, len) == -1) { *why = errno == EACCES ? "cannot bind: permission denied (root needed for ports below 1024)" : "cannot bind"; close(fd); return -1; }
  if (listen(fd, SOMAXCONN) == -1) { *why = "cannot listen"; close(fd); return -1; }
  return fd;
}

/* caps - set the effective, permitted and inheritable capability sets
 * (bit mask of the first 32) */
static int caps(unsigned int mask)
{
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  byte_zero(d, sizeof d);
  d[0].effective = d[0].permitted = d[0].inheritable = mask;
  return (int)syscall(SYS_capset, &h, d);
}

/* listen_can_setgid - is CAP_SETGID in our effective set? */
int listen_can_setgid(void)
{
  struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
  struct __user_cap_data_struct d[2];
  if (syscall(SYS_capget, &h, d) == -1) return 0;
  return (d[0].effective & (1U << CAP_SETGID)) != 0;
}

/* listen_caps_clear - no capability left, ambient ones included; 0 or -1 */
int listen_caps_clear(void)
{
  prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);   /* EINVAL on old kernels: nothing to clear */
  return caps(0);
}

/* listen_drop - as root: become user with its primary group and the
 * comma-separated groups as supplementary ones, keeping only
 * CAP_SETGID; 0, or -1 with *why */
int listen_drop(const char *user, const char *groups, const char **why)
{
  gid_t list[GROUPS_MAX];
  size_t n = 0;
  struct passwd *pw = getpwnam(user);
  if (!pw) { *why = "-u: no such user"; return -1; }
  if (pw->pw_uid == 0) { *why = "-u: sessions never run as root"; return -1; }
  while (groups && *groups) {
    char name[64];
    size_t len = str_chr(groups, ',');
    struct group *g;
    if (len == 0 || len >= sizeof name || n == GROUPS_MAX) { *why = "-g: a group name is empty or too long, or too many groups"; return -1; }
    byte_copy(name, len, groups);
    name[len] = 0;
    if (!(g = getgrnam(name))) { *why = "-g: no such group"; return -1; }
    list[n++] = g->gr_gid;
    groups += len + (groups[len] == ',');
  }
  for (int c = 0; c <= 63; c++)   /* the bounding set: CAP_SETGID at most, ever */
    if (c != CAP_SETGID && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) == -1 && errno != EINVAL) { *why = "cannot drop the capability bounding set"; return -1; }
  if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) == -1 || setgroups(n, list) == -1 || setgid(pw->pw_gid) == -1 ||
      setuid(pw->pw_uid) == -1 || prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) == -1) { *why = "cannot change user and groups"; return -1; }
  if (setuid(0) != -1) { *why = "still able to become root"; return -1; }
  /* ambient too, as systemd's AmbientCapabilities= makes it: the
   * listener's re-exec after a crashed session keeps it */
  if (caps(1U << CAP_SETGID) == -1 || prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, CAP_SETGID, 0, 0) == -1) {
    *why = "cannot keep CAP_SETGID";
    return -1;
  }
  return 0;
}

/* listen_split - in a new session process, before its first client
 * byte: keep only the sessions' end of the injector workers' socket
 * (pool.c), then drop every supplementary group (if can_setgid) and
 * every capability; 0, or -1 with *why */
int listen_split(int can_setgid, const char **why)
{
  inject_helper = pool_session();
  if (can_setgid && setgroups(0, 0) == -1) { *why = "cannot drop the supplementary groups"; return -1; }
  if (listen_caps_clear() == -1) { *why = "cannot drop the capabilities"; return -1; }
  if (getgroups(0, 0) != 0 && can_setgid) { *why = "supplementary groups left"; return -1; }
  return 0;
}
