/* net.c - the connection to the server.
 *
 * net_connect tries the addresses of a delivery in order, starting the
 * next address of the same host RS_STAGGER_MS after the previous (RFC
 * 8305 "Happy Eyeballs"), or at once when one fails, and keeps whichever
 * connects first: a blackholed IPv6 route costs a quarter second, not a
 * connect timeout.  The next host is tried only when every attempt at
 * the current one has ended.
 *
 * Then one connection per process: buffered input and output (net_in,
 * net_out) whose every wait is bounded, by a deadline for a whole reply
 * (net_timeout) or by a time per write (net_timeout_each, for message
 * data).  A timeout is a read or write error with errno ETIMEDOUT.  After
 * net_tls both directions go through lib/tls.c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "byte.h"
#include "getln.h"
#include "log.h"
#include "num.h"
#include "str.h"
#include "tls.h"
#include "rs.h"

buffer net_in, net_out;               /* the connection, buffered */
static const char *log_id;            /* queue id for the log lines of failed attempts */
static char inbuf[8192], outbuf[16384];
static int net_fd = -1;
static struct tls *tls;               /* 0 until STARTTLS or smtps */
static long long deadline_ms;         /* end of the current wait, or 0 */
static long long each_ms;             /* per-wait bound when no deadline */

/* net_clock_ms - monotonic milliseconds: every wait and age in remote-send */
long long net_clock_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* left_ms - what remains of the current bound, at least 0 */
static int left_ms(void)
{
  long long l = deadline_ms ? deadline_ms - net_clock_ms() : each_ms;
  if (l < 0) l = 0;
  return l > 86400000 ? 86400000 : (int)l;
}

/* sock_bound - SO_RCVTIMEO/SO_SNDTIMEO: a bound on the blocking reads and
 * writes inside a TLS record or a large write, where poll cannot see */
static void sock_bound(int ms)
{
  struct timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000 + (ms == 0);
  if (setsockopt(net_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1) return;
  if (setsockopt(net_fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1) return;
}

void net_timeout(unsigned long seconds)
{
  deadline_ms = net_clock_ms() + (long long)(seconds ? seconds : 1) * 1000;
  if (net_fd != -1) sock_bound(left_ms());
}

void net_timeout_each(unsigned long seconds)
{
  deadline_ms = 0;
  each_ms = (long long)(seconds ? seconds : 1) * 1000;
  if (net_fd != -1) sock_bound(left_ms());
}

/* wait_fd - 1 when ready, 0 on timeout, -1 error */
static int wait_fd(short events)
{
  struct pollfd p;
  p.fd = net_fd;
  p.events = events;
  for (;;) {
    int r = poll(&p, 1, left_ms());
    if (r == -1 && errno == EINTR) continue;
    return r > 0 ? 1 : r;
  }
}

/* net_read - buffer op: send what is pending, then wait for the server */
static ssize_t net_read(int fd, char *buf, size_t len)
{
  ssize_t r;
  if (buffer_flush(&net_out) == -1) return -1;
  if (!(tls && tls_pending(tls))) {
    r = wait_fd(POLLIN);
    if (r == 0) errno = ETIMEDOUT;
    if (r <= 0) return -1;
  }
  do r = tls ? tls_read(tls, buf, len) : read(fd, buf, len);
  while (r == -1 && errno == EINTR);
  if (r == -1 && errno == EAGAIN) errno = ETIMEDOUT;
  return r;
}

/* net_write - buffer op: write with the bound */
static ssize_t net_write(int fd, const char *buf, size_t len)
{
  ssize_t r = wait_fd(POLLOUT);
  if (r == 0) errno = ETIMEDOUT;
  if (r <= 0) return -1;
  do r = tls ? tls_write(tls, buf, len) : write(fd, buf, len);
  while (r == -1 && errno == EINTR);
  if (r == -1 && errno == EAGAIN) errno = ETIMEDOUT;
  return r;
}

/* net_use - the connected fd becomes the connection */
void net_use(int fd)
{
  net_fd = fd;
  tls = 0;
  buffer_init(&net_in, (ssize_t (*)())net_read, fd, inbuf, sizeof inbuf);
  buffer_init(&net_out, (ssize_t (*)())net_write, fd, outbuf, sizeof outbuf);
}

int net_socket(void) { return net_fd; }
int net_getline(char *line, size_t max, size_t *len) { return getln(&net_in, line, max, len); }
int net_put(const char *s, size_t len) { return buffer_put(&net_out, s, len); }
int net_puts(const char *s) { return buffer_puts(&net_out, s); }
int net_flush(void) { return buffer_flush(&net_out); }

/* net_tls - the TLS handshake on the connection (after STARTTLS's 220, or
 * at once for smtps); 0, or -1 with why (the connection is then unusable).
 * Input that arrived before the handshake is thrown away: a server must
 * not send any, and it would be plain text posing as protected. */
int net_tls(const char *sni, const char *cafile, const char *match, int require,
            struct conn_info *ci, const char **why)
{
  if (buffer_flush(&net_out) == -1) { *why = "unable to send"; return -1; }
  net_in.p = net_in.n = 0;
  sock_bound(left_ms());
  if (!(tls = tls_client_check(net_fd, sni, cafile, match, require, why))) return -1;
  tls_describe(tls, ci->tls, sizeof ci->tls);
  ci->verified = tls_peer_verified(tls, &ci->verify_why);
  return 0;
}

/* net_wipe - forget what was sent (a password) */
void net_wipe(void)
{
  explicit_bzero(outbuf, sizeof outbuf);
}

void net_close(void)
{
  if (net_fd == -1) return;
  if (tls) tls_close(tls);
  tls = 0;
  close(net_fd);
  net_fd = -1;
}

/* copyn - s into d[max], cut and NUL-terminated */
static void copyn(char *d, const char *s, size_t max)
{
  size_t i;
  for (i = 0; s[i] && i + 1 < max; i++) d[i] = s[i];
  d[i] = 0;
}

/* The source of outgoing connections (net_source): which families may be
 * used, and the address to bind for each, if one was set */
static struct {
  int v4, v6;                       /* the family may be used */
  int bind4, bind6;                 /* an address to bind was given */
  struct sockaddr_in a4;
  struct sockaddr_in6 a6;
} source = { 1, 1, 0, 0, { 0 }, { 0 } };

const char *net_source(const char *family, const char *addr4, const char *addr6)
{
  if (!str_diff(family, "both")) source.v4 = source.v6 = 1;
  else if (!str_diff(family, "ipv4")) { source.v4 = 1; source.v6 = 0; }
  else if (!str_diff(family, "ipv6")) { source.v4 = 0; source.v6 = 1; }
  else return "smtp_address_family is not both, ipv4 or ipv6";
  source.bind4 = *addr4 != 0;
  source.bind6 = *addr6 != 0;
  source.a4.sin_family = AF_INET;
  source.a6.sin6_family = AF_INET6;
  if (source.bind4 && inet_pton(AF_INET, addr4, &source.a4.sin_addr) != 1) return "smtp_bind_address is not an IPv4 address";
  if (source.bind6 && inet_pton(AF_INET6, addr6, &source.a6.sin6_addr) != 1) return "smtp_bind_address6 is not an IPv6 address";
  return 0;
}

/* source_bind - bind fd of family to the configured source address, if
 * any; 0, or -1 with errno */
static int source_bind(int fd, int family)
{
  if (family == AF_INET && source.bind4) return bind(fd, (struct sockaddr *)&source.a4, sizeof source.a4);
  if (family == AF_INET6 && source.bind6) return bind(fd, (struct sockaddr *)&source.a6, sizeof source.a6);
  return 0;
}

/* struct attempt - one connection being made */
struct attempt { int fd; unsigned int idx; long long until; };

/* sockaddr_of - the address of target t at port */
static socklen_t sockaddr_of(const struct target *t, unsigned long port, struct sockaddr_storage *ss)
{
  byte_zero(ss, sizeof *ss);
  if (t->family == AF_UNIX) {
    struct sockaddr_un *u = (struct sockaddr_un *)ss;
    u->sun_family = AF_UNIX;
    copyn(u->sun_path, t->name, sizeof u->sun_path);
    return sizeof *u;
  }
  if (t->family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((unsigned short)port);
    byte_copy(&a->sin_addr, 4, t->ip);
    return sizeof *a;
  }
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  a6->sin6_family = AF_INET6;
  a6->sin6_port = htons((unsigned short)port);
  byte_copy(&a6->sin6_addr, 16, t->ip);
  return sizeof *a6;
}

/* net_describe - "name[ip]:port" of a target into out (for results and the log) */
void net_describe(const struct target *t, unsigned long port, char *out, size_t max)
{
  char ip[INET6_ADDRSTRLEN], num[NUM_ULONG];
  size_t n = 0;
  if (t->family == AF_UNIX) { copyn(out, t->name, max); return; }
  if (!inet_ntop(t->family, t->ip, ip, sizeof ip)) str_copy(ip, "?");
  num_str(num, port);
  if (n + str_len(t->name) + str_len(ip) + str_len(num) + 4 >= max) { out[0] = 0; return; }
  n += str_copy(out + n, t->name);
  if (str_diff(t->name, ip)) { out[n++] = '['; n += str_copy(out + n, ip); out[n++] = ']'; }
  out[n++] = ':';
  str_copy(out + n, num);
}

void net_log_id(const char *id) { log_id = id; }

/* why_set - "4.4.1 connection to name[ip]:port failed: reason", and a log
 * line for the attempt: with several MX hosts the one that answered hides
 * the ones that did not */
static void why_set(stralloc *why, const struct target *t, unsigned long port, const char *reason)
{
  char d[RS_HOST_MAX + 64];
  net_describe(t, port, d, sizeof d);
  log_event(log_id, "relay", d, "status", "connect-failed", "reason", reason, (char *)0);
  if (stralloc_copys(why, "4.4.1 connection to ") && stralloc_cats(why, d) &&
      stralloc_cats(why, " failed: ")) stralloc_cats(why, reason);
}

/* start - begin connecting to target idx; the fd, or -1 (why set) */
static int start(const struct targets *ts, unsigned int idx, unsigned long port, int *done, stralloc *why)
{
  struct sockaddr_storage ss;
  const struct target *t = &ts->t[idx];
  socklen_t sl = sockaddr_of(t, port, &ss);
  int fd;
  *done = 0;
  if ((t->family == AF_INET && !source.v4) || (t->family == AF_INET6 && !source.v6)) {
    /* not an attempt: no log line, only the reason if none is left */
    if (!stralloc_copys(why, "4.4.4 no address of the family smtp_address_family allows")) return -1;
    return -1;
  }
  fd = socket(t->family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd == -1) { why_set(why, t, port, strerror(errno)); return -1; }
  if (source_bind(fd, t->family) == -1) {
    why_set(why, t, port, errno == EADDRNOTAVAIL ? "the source address (smtp_bind_address) is not on this host" : strerror(errno));
    close(fd);
    return -1;
  }
  if (connect(fd, (struct sockaddr *)&ss, sl) == 0) { *done = 1; return fd; }
  if (errno == EINPROGRESS) return fd;
  why_set(why, t, port, strerror(errno));
  close(fd);
  return -1;
}

/* won - the connected fd made ready for use: blocking, no Nagle delay */
static int won(int fd, int family)
{
  int one = 1;
  if (fcntl(fd, F_SETFL, 0) == -1) return -1;
  if (family != AF_UNIX && setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == -1) return -1;
  return fd;
}

/* drop - close attempt k of *na */
static void drop(struct attempt *a, unsigned int *na, unsigned int k)
{
  close(a[k].fd);
  a[k] = a[--*na];
}

/* poll_attempts - wait until ms for the attempts; the winner's index into
 * a, or -1 (failed and timed-out attempts are dropped, why set) */
static int poll_attempts(const struct targets *ts, struct attempt *a, unsigned int *na,
                         int ms, unsigned long port, stralloc *why)
{
  struct pollfd p[RS_ADDRS_MAX];
  unsigned int k;
  long long now;
  for (k = 0; k < *na; k++) { p[k].fd = a[k].fd; p[k].events = POLLOUT; p[k].revents = 0; }
  if (poll(p, *na, ms < 0 ? 0 : ms) == -1 && errno != EINTR) return -1;
  now = net_clock_ms();
  for (k = *na; k-- > 0;) {
    int err = 0;
    socklen_t el = sizeof err;
    if (p[k].revents) {
      if (getsockopt(a[k].fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1) err = errno;
      if (!err) return (int)k;
      why_set(why, &ts->t[a[k].idx], port, strerror(err));
      drop(a, na, k);
    } else if (now >= a[k].until) {
      why_set(why, &ts->t[a[k].idx], port, "connection timed out");
      drop(a, na, k);
    }
  }
  return -1;
}

/* same_host - do targets a and b belong to one host (one MX record)? */
static int same_host(const struct target *a, const struct target *b)
{
  return a->pref == b->pref && !str_diff(a->name, b->name);
}

/* net_connect - connect to the first address from *next on that answers;
 * the fd (its index in *won, *next past the ones tried), or -1 with the
 * last failure in why when none is left.  Only the addresses of one host
 * race each other: the next host (a less preferred MX) is started once
 * every attempt at the current one has failed or timed out, so a slow
 * primary is not passed over for its backup. */
int net_connect(const struct targets *ts, unsigned int *next, unsigned int *won_idx,
                unsigned long port, unsigned long timeout, stralloc *why)
{
  struct attempt a[RS_ADDRS_MAX];
  unsigned int na = 0;
  long long next_start = 0;
  for (;;) {
    long long now = net_clock_ms();
    /* the next address may join the race: same host, or none running */
    int more = *next < ts->n && (na == 0 || same_host(&ts->t[*next], &ts->t[a[0].idx]));
    int k, ms;
    if (more && (now >= next_start || na == 0)) {
      int done, fd = start(ts, *next, port, &done, why);
      unsigned int idx = (*next)++;
      if (fd == -1) { next_start = 0; continue; }
      a[na].fd = fd; a[na].idx = idx; a[na].until = now + (long long)timeout * 1000; na++;
      if (done) { k = (int)na - 1; goto connected; }
      next_start = now + RS_STAGGER_MS;
      continue;
    }
    if (na == 0) return -1;
    ms = (int)((more ? next_start : a[0].until) - now);
    for (k = 0; k < (int)na; k++) if (a[k].until - now < ms) ms = (int)(a[k].until - now);
    unsigned int before = na;
    if ((k = poll_attempts(ts, a, &na, ms, port, why)) < 0) { if (na < before) next_start = 0; continue; }
  connected:
    *won_idx = a[k].idx;
    int fd = a[k].fd;
    a[k] = a[--na];
    while (na) drop(a, &na, 0);
    if (won(fd, ts->t[*won_idx].family) == -1) { close(fd); return -1; }
    return fd;
  }
}
