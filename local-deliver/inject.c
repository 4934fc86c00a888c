/* inject.c - forwarding: one new copy of the message, with our
 * Delivered-To: added, into the spool through the configured injector
 * (spool-inject or a filter; lib/inject.c starts it, spool-inject's code
 * in a forked child when we may write the spool ourselves), the original
 * sender kept.  The injection protocol (DESIGN.md) in its order: the
 * message through a pipe on the injector's fd 0, to EOF; then, only once
 * every byte of it was written and that pipe closed, the envelope through
 * a second pipe on its fd 1.  The envelope's final empty line is the
 * commit signal: a read error during the copy, or our death (kill -9),
 * closes the envelope pipe without it, and the injector queues nothing.
 * The injector's last line on fd 2 is its reply (envelope(5)).  It gets
 * FORWARD_SECONDS. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#include "buffer.h"
#include "str.h"
#include "envelope.h"
#include "exitcode.h"
#include "inject.h"
#include "wbuf.h"
#include "ld.h"

#define FORWARD_SECONDS 3600   /* the injector (a filter) running longer is killed: deferred */

/* envelope_build - the envelope for the forwarded copy; 0, or -1 (an
 * address the envelope refuses, or no memory) */
static int envelope_build(struct envelope *e, const struct ld *d, const stralloc *rcpts, unsigned int n)
{
  size_t pos = 0;
  unsigned int i;
  envelope_free(e);
  if (envelope_set_sender(e, d->sender, str_len(d->sender))) return -1;
  for (i = 0; i < n; i++) {
    size_t len = str_len(rcpts->s + pos);
    if (envelope_add_rcpt(e, rcpts->s + pos, len)) return -1;
    pos += len + 1;
  }
  return 0;
}

/* envelope_send - the whole envelope, its end line last, to fd (the
 * injector's fd 1), each write waiting at most FORWARD_SECONDS; then
 * close fd.  0, or -1 with errno. */
static int envelope_send(int fd, const struct envelope *e)
{
  char space[4096];
  buffer b;
  int r, er;
  wbuf_init(&b, fd, space, sizeof space);
  wbuf_timeout(fd, FORWARD_SECONDS);
  r = envelope_write(&b, e) == -1 || wbuf_flush(&b) == -1 ? -1 : 0;
  er = errno;
  wbuf_timeout(fd, 0);
  if (close(fd) == -1 && r == 0) return -1;
  errno = er;
  return r;
}

/* message_send - Delivered-To:, then the message from fd 0, to fd (the
 * injector's fd 0); then close fd, the injector's EOF.  0, or -1 with errno. */
static int message_send(struct ld *d, int fd)
{
  static stralloc head;
  int r = -1, er = ENOMEM;
  if (stralloc_copys(&head, "Delivered-To: ") && stralloc_cats(&head, d->recipient) && stralloc_cats(&head, "\n")) {
    r = ld_copy(0, fd, head.s, head.len, 0, 0);
    er = errno;
  }
  if (close(fd) == -1 && r == 0) return -1;
  errno = er;
  return r;
}

/* verdict - the outcome: the injector's refusal stands; so does its
 * temporary failure when it stopped reading first (our write saw EPIPE:
 * its reply, such as a full disk, is the reason).  Otherwise a copy that
 * failed is a deferral whatever the injector said. */
static void verdict(const struct child_result *res, const char *copy_error, int copy_errno, struct ld_result *r)
{
  int cls = exitcode_class(res->code);
  if (res->late) ld_temp(r, "4.4.2", "forwarding failed: the injector did not answer in time", 0);
  else if (cls == EXIT_PERM) ld_perm(r, res->code, exitcode_status(res->code), "forwarding failed: ", res->reply);
  else if (copy_error && (copy_errno != EPIPE || cls == EXIT_DONE)) ld_temp(r, "4.3.0", "forwarding failed: ", copy_error);
  else if (cls == EXIT_DONE) ld_ok(r, "forwarded: ", res->reply);
  else ld_temp(r, exitcode_status(res->code), "forwarding failed: ", res->reply);
}

void ld_forward_inject(struct ld *d, const stralloc *rcpts, unsigned int n, struct ld_result *r)
{
  static struct envelope e;
  static struct child_result res;
  static stralloc why;
  struct child c;
  const char *copy_error = 0;
  int in[2], env[2], copy_errno = 0;
  if (envelope_build(&e, d, rcpts, n) == -1) { ld_temp(r, "4.3.0", "unable to build the forwarding envelope", 0); return; }
  if (pipe2(in, O_CLOEXEC) == -1) { ld_sys(r, "unable to make a pipe", 0); return; }
  if (pipe2(env, O_CLOEXEC) == -1) { ld_sys(r, "unable to make a pipe", 0); close(in[0]); close(in[1]); return; }
  if (inject_child_start(&c, &d->cfg, 0, in[0], env[0], INJECT_CLEAN_ENV) == -1) {
    int er = errno;
    close(in[0]); close(in[1]); close(env[0]); close(env[1]);
    errno = er;
    ld_sys(r, "unable to run ", d->cfg.injector);
    return;
  }
  close(in[0]); close(env[0]);
  if (message_send(d, in[1]) == -1) {
    copy_errno = errno;
    copy_error = "unable to copy the message (nothing queued): ";
    close(env[1]);                       /* no end line: the injector commits nothing */
  } else if (envelope_send(env[1], &e) == -1) {
    copy_errno = errno;
    copy_error = "unable to pass the envelope: ";
  }
  if (copy_error && stralloc_copys(&why, copy_error) && stralloc_cats(&why, strerror(copy_errno)) && stralloc_0(&why))
    copy_error = why.s;                  /* else without the system's reason */
  child_wait(&c, FORWARD_SECONDS, 0, &res);
  verdict(&res, copy_error, copy_errno, r);
}
