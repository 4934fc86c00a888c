/* inject.c - forwarding: one new copy of the message, with our
 * Delivered-To: added, into the spool through the configured injector
 * (spool-inject or a filter; lib/inject.c starts it, spool-inject's code
 * in a forked child when we may write the spool ourselves), the original
 * sender kept.  The envelope goes on the injector's fd 1 from a memory
 * file, the message through a pipe on fd 0; the injector's last line on
 * fd 2 is its reply (envelope(5)).  It gets FORWARD_SECONDS. */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>
#include "buffer.h"
#include "str.h"
#include "envelope.h"
#include "exitcode.h"
#include "inject.h"
#include "wbuf.h"
#include "ld.h"

#define FORWARD_SECONDS 3600   /* the injector (a filter) running longer is killed: deferred */

/* envelope_fd - the envelope for the forwarded copy in a memory file */
static int envelope_fd(struct ld *d, const stralloc *rcpts, unsigned int n)
{
  static struct envelope e;
  char space[4096];
  size_t pos = 0;
  unsigned int i;
  int fd = memfd_create("envelope", MFD_CLOEXEC);
  buffer b;
  if (fd == -1) return -1;
  wbuf_init(&b, fd, space, sizeof space);
  envelope_free(&e);
  if (envelope_set_sender(&e, d->sender, str_len(d->sender))) goto fail;
  for (i = 0; i < n; i++) {
    size_t len = str_len(rcpts->s + pos);
    if (envelope_add_rcpt(&e, rcpts->s + pos, len)) goto fail;
    pos += len + 1;
  }
  if (envelope_write(&b, &e) == -1 || wbuf_flush(&b) == -1 || lseek(fd, 0, SEEK_SET) != 0) goto fail;
  return fd;
fail:
  close(fd);
  errno = EINVAL;
  return -1;
}

void ld_forward_inject(struct ld *d, const stralloc *rcpts, unsigned int n, struct ld_result *r)
{
  static stralloc head;
  static struct inject_result res;
  struct inject_child c;
  int in[2], env, cls;
  if (!stralloc_copys(&head, "Delivered-To: ") || !stralloc_cats(&head, d->recipient)
      || !stralloc_cats(&head, "\n")) { ld_temp(r, "4.3.0", "out of memory", 0); return; }
  if ((env = envelope_fd(d, rcpts, n)) == -1) { ld_sys(r, "unable to build the forwarding envelope", 0); return; }
  if (pipe2(in, O_CLOEXEC) == -1) { close(env); ld_sys(r, "unable to make a pipe", 0); return; }
  if (inject_child_start(&c, &d->cfg, 0, in[0], env, INJECT_CLEAN_ENV) == -1) {
    int e = errno;
    close(in[0]); close(in[1]); close(env);
    errno = e;
    ld_sys(r, "unable to run ", d->cfg.injector);
    return;
  }
  close(in[0]); close(env);
  if (ld_copy(0, in[1], head.s, head.len, 0, 0) == -1) { /* the exit code tells */ }
  close(in[1]);
  inject_child_wait(&c, FORWARD_SECONDS, 0, &res);
  cls = exitcode_class(res.code);
  if (res.late) ld_temp(r, "4.4.2", "forwarding failed: the injector did not answer in time", 0);
  else if (cls == EXIT_DONE) ld_ok(r, "forwarded: ", res.reply);
  else if (cls == EXIT_TEMP) ld_temp(r, exitcode_status(res.code), "forwarding failed: ", res.reply);
  else ld_perm(r, res.code, exitcode_status(res.code), "forwarding failed: ", res.reply);
}
