/* io.c - the client connection: fd 0 in, fd 1 out (the same socket under
 * systemd, inetd and tcpserver; a pipe pair with -bs).
 *
 * Replies collect in io_out and are written only when we are about to
 * wait for input: a pipelining client gets one write per batch of commands
 * (RFC 2920), and a client that waits for each reply gets it at once.
 * A read must end by the deadlines that are set: one for the command
 * line being read (io_command_deadline: the whole line, however the
 * client drips it), one for the message data (io_data_deadline, moved on
 * by io_data_credit as bytes arrive); with none set, each wait has the
 * current timeout (io_timeout), which also bounds every write.  Inside a
 * TLS record, where poll cannot see, a timer holds the deadline.  A
 * timeout is a read error with errno ETIMEDOUT.  Once TLS is up both directions go through
 * lib/tls.c (loaded then, tlsload.c); io_tls_start throws away whatever
 * arrived before the handshake (STARTTLS command injection, CVE-2011-0411
 * and its kin). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include "byte.h"
#include <time.h>
#include "str.h"
#include "smtp.h"

buffer io_in, io_out;               /* the connection, buffered */
static char inbuf[16384], outbuf[8192];
static int in_fd = 0, out_fd = 1;
static int timeout_ms = 300000;     /* the current timeout */
static long long cmd_end, data_end; /* deadlines, ms of CLOCK_MONOTONIC; 0: none */
static size_t credit;               /* data bytes not yet turned into time */
static volatile sig_atomic_t late;  /* the timer of a TLS read went off */
static struct tls *tls;             /* 0 until STARTTLS */
static const struct tls_api *api;   /* lib/tls.c, once loaded */

/* now_ms - the monotonic clock in ms */
static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* read_ms - how long the next read may wait: the nearer deadline, or the
 * timeout when none is set (0 when a deadline has passed) */
static int read_ms(void)
{
  long long end = cmd_end && (!data_end || cmd_end < data_end) ? cmd_end : data_end, left;
  if (!end) return timeout_ms;
  left = end - now_ms();
  return left <= 0 ? 0 : left > 86400000 ? 86400000 : (int)left;
}

/* wait_fd - 1 when fd is ready for events within ms, 0 on timeout, -1
 * error */
static int wait_fd(int fd, short events, int ms)
{
  struct pollfd p;
  long long end = ms < 0 ? 0 : now_ms() + ms;
  p.fd = fd;
  p.events = events;
  for (;;) {
    int r = poll(&p, 1, ms);
    if (r == -1 && errno == EINTR) {
      if (end) ms = end > now_ms() ? (int)(end - now_ms()) : 0;
      continue;
    }
    return r > 0 ? 1 : r;
  }
}

/* on_late - the deadline passed inside a TLS read: end the read side, so
 * the blocked read returns (async-signal-safe) */
static void on_late(int sig)
{
  (void)sig;
  late = 1;
  shutdown(in_fd, SHUT_RD);
}

/* tls_read_bounded - one TLS read within ms: poll saw the first bytes of
 * a record, but the read waits inside it for the rest, so a timer
 * enforces the deadline there (a client dripping the bytes of a record) */
static ssize_t tls_read_bounded(char *buf, size_t len, int ms)
{
  struct sigaction sa, old;
  struct itimerval on, off;
  ssize_t r;
  if (ms < 0) return api->read(tls, buf, len);
  byte_zero(&sa, sizeof sa);
  byte_zero(&on, sizeof on);
  byte_zero(&off, sizeof off);
  sa.sa_handler = on_late;           /* no SA_RESTART */
  on.it_value.tv_sec = ms / 1000;
  on.it_value.tv_usec = (ms % 1000) * 1000 + 1;
  sigaction(SIGALRM, &sa, &old);
  setitimer(ITIMER_REAL, &on, 0);
  r = api->read(tls, buf, len);
  setitimer(ITIMER_REAL, &off, 0);
  sigaction(SIGALRM, &old, 0);
  if (late) { errno = ETIMEDOUT; return -1; }
  return r;
}

/* io_read - buffer op: flush the replies, then wait for the client */
static ssize_t io_read(int fd, char *buf, size_t len)
{
  ssize_t r;
  int ms;
  if (buffer_flush(&io_out) == -1) return -1;
  if (tls && api->pending(tls)) return api->read(tls, buf, len);
  ms = read_ms();
  r = wait_fd(fd, POLLIN, ms);
  if (r == 0) errno = ETIMEDOUT;
  if (r <= 0) return -1;
  if (tls) return tls_read_bounded(buf, len, read_ms());
  do r = read(fd, buf, len);
  while (r == -1 && errno == EINTR);
  return r;
}

/* io_write - buffer op: write with the timeout */
static ssize_t io_write(int fd, const char *buf, size_t len)
{
  ssize_t r = wait_fd(fd, POLLOUT, timeout_ms);
  if (r == 0) errno = ETIMEDOUT;
  if (r <= 0) return -1;
  do r = tls ? api->write(tls, buf, len) : write(fd, buf, len);
  while (r == -1 && errno == EINTR);
  return r;
}

void io_init(int infd, int outfd)
{
  in_fd = infd;
  out_fd = outfd;
  buffer_init(&io_in, io_read, infd, inbuf, sizeof inbuf);
  buffer_init(&io_out, io_write, outfd, outbuf, sizeof outbuf);
}

/* io_timeout - the timeout of every following wait */
void io_timeout(unsigned long seconds)
{
  timeout_ms = seconds > 86400 ? 86400000 : seconds ? (int)(seconds * 1000) : -1;
}

/* deadline - ms from now, or 0 (none) */
static long long deadline(unsigned long seconds)
{
  if (!seconds) return 0;
  return now_ms() + (long long)(seconds > 86400 ? 86400 : seconds) * 1000;
}

/* io_command_deadline - the command line (or AUTH response) read next
 * must be complete within seconds; 0: no such deadline */
void io_command_deadline(unsigned long seconds) { cmd_end = deadline(seconds); }

/* io_data_deadline - the message data must have arrived within seconds
 * (plus its credit); 0: the data is over */
void io_data_deadline(unsigned long seconds)
{
  data_end = deadline(seconds);
  credit = 0;
}

/* io_data_credit - bytes of data received: every SMTP_DATA_RATE of them
 * move the data deadline one second on, so that a large message on a slow
 * but honest line is not cut, while a drip of bytes gains nothing */
void io_data_credit(size_t bytes)
{
  credit += bytes;
  if (!data_end || credit < SMTP_DATA_RATE) return;
  data_end += (long long)(credit / SMTP_DATA_RATE) * 1000;
  credit %= SMTP_DATA_RATE;
}

/* socket_timeouts - a bound on the blocking reads and writes inside a TLS
 * record or handshake, where poll alone cannot see the end */
static void socket_timeouts(int fd)
{
  struct timeval tv;
  tv.tv_sec = timeout_ms < 0 ? 0 : timeout_ms / 1000;
  tv.tv_usec = 0;
  /* not a socket (a pipe in -bs mode): nothing to set, and TLS is not
   * offered there */
  if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == -1) return;
  if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1) return;
}

/* io_tls_start - handshake on the connection with c's certificate and
 * key; 0, or -1 with the reason in *why (the connection is then
 * unusable).  info receives the protocol and cipher. */
int io_tls_start(const struct config *c, char *info, size_t infolen, const char **why)
{
  struct tls *t;
  *why = "unable to send the reply";
  if (buffer_flush(&io_out) == -1) return -1;
  io_discard_input();
  if (!api && !(api = tls_load(c->libexec_dir, why))) return -1;
  socket_timeouts(in_fd);
  if (!(t = api->server(in_fd, c->tls_cert_file, c->tls_key_file, why))) return -1;
  api->describe(t, info, infolen);
  tls = t;
  return 0;
}

/* io_discard_input - forget what the client sent but we have not read */
void io_discard_input(void)
{
  io_in.p = io_in.n = 0;
}

int io_fd(void) { return in_fd; }

/* io_input_pending - bytes received but not yet read by us */
int io_input_pending(void) { return io_in.n > io_in.p || (tls && api->pending(tls) > 0); }

/* io_wait_input - 1 if the client sends something within ms */
int io_wait_input(unsigned long ms)
{
  struct pollfd p;
  p.fd = in_fd;
  p.events = POLLIN;
  if (io_input_pending()) return 1;
  for (;;) {
    int r = poll(&p, 1, ms > 600000 ? 600000 : (int)ms);
    if (r == -1 && errno == EINTR) continue;
    return r > 0;
  }
}

void io_put(const char *s, size_t len)
{
  /* a write error shows up as a read error at the next command */
  if (buffer_put(&io_out, s, len) == -1) return;
}

void io_puts(const char *s) { io_put(s, str_len(s)); }

void io_flush(void)
{
  if (buffer_flush(&io_out) == -1) return;
}
