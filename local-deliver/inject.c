/* inject.c - forwarding: one new copy of the message, with our
 * Delivered-To: added, into the spool through the configured injector
 * (spool-inject or a filter), the original sender kept.  The envelope goes
 * on the injector's fd 1 from a memory file, the message through a pipe on
 * fd 0; the injector's last line on fd 2 is its reply (envelope(5)). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include "buffer.h"
#include "str.h"
#include "envelope.h"
#include "exitcode.h"
#include "ld.h"

/* envelope_fd - the envelope for the forwarded copy in a memory file */
static int envelope_fd(struct ld *d, const stralloc *rcpts, unsigned int n)
{
  static struct envelope e;
  char space[4096];
  size_t pos = 0;
  unsigned int i;
  int fd = memfd_create("envelope", MFD_CLOEXEC);
  buffer b = BUFFER_INIT(write, fd, space, sizeof space);
  if (fd == -1) return -1;
  envelope_free(&e);
  if (envelope_set_sender(&e, d->sender, str_len(d->sender))) goto fail;
  for (i = 0; i < n; i++) {
    size_t len = str_len(rcpts->s + pos);
    if (envelope_add_rcpt(&e, rcpts->s + pos, len)) goto fail;
    pos += len + 1;
  }
  if (envelope_write(&b, &e) == -1 || buffer_flush(&b) == -1 || lseek(fd, 0, SEEK_SET) != 0) goto fail;
  return fd;
fail:
  close(fd);
  errno = EINVAL;
  return -1;
}

/* last_line - the injector's last non-empty line of output, bounded */
static void last_line(int fd, char *out, size_t max)
{
  char buf[1024];
  size_t n = 0;
  ssize_t r, i;
  out[0] = 0;
  while ((r = read(fd, buf, sizeof buf)) > 0 || (r == -1 && errno == EINTR))
    for (i = 0; i < r; i++) {
      if (buf[i] == '\n') { if (n) { out[n] = 0; n = 0; } continue; }
      if (n == 0) out[0] = 0;
      if (n < max - 1) { out[n++] = buf[i]; out[n] = 0; }
    }
}

/* spawn_injector - start the injector on the three fds; pid or -1 */
static pid_t spawn_injector(struct ld *d, int in, int env, int err)
{
  static char conf[4096 + 14];
  char *argv[2] = { (char *)d->cfg.injector, 0 };
  char *envp[3] = { "PATH=/usr/bin:/bin", 0, 0 };
  posix_spawn_file_actions_t fa;
  pid_t pid;
  int e;
  if (d->cfg.file && str_len(d->cfg.file) < 4096) {
    str_copy(conf, "POSTERN_CONF=");
    str_copy(conf + 13, d->cfg.file);
    envp[1] = conf;
  }
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in, 0);
  posix_spawn_file_actions_adddup2(&fa, env, 1);
  posix_spawn_file_actions_adddup2(&fa, err, 2);
  e = posix_spawn(&pid, argv[0], &fa, 0, argv, envp);
  posix_spawn_file_actions_destroy(&fa);
  if (e) { errno = e; return -1; }
  return pid;
}

void ld_forward_inject(struct ld *d, const stralloc *rcpts, unsigned int n, struct ld_result *r)
{
  static stralloc head;
  char reply[LD_TEXT_MAX];
  int in[2], err[2], env, status, code;
  pid_t pid;
  if (!stralloc_copys(&head, "Delivered-To: ") || !stralloc_cats(&head, d->recipient)
      || !stralloc_cats(&head, "\n")) { ld_temp(r, "4.3.0", "out of memory", 0); return; }
  if ((env = envelope_fd(d, rcpts, n)) == -1) { ld_sys(r, "unable to build the forwarding envelope", 0); return; }
  if (pipe2(in, O_CLOEXEC) == -1) { close(env); ld_sys(r, "unable to make a pipe", 0); return; }
  if (pipe2(err, O_CLOEXEC) == -1) { close(env); close(in[0]); close(in[1]); ld_sys(r, "unable to make a pipe", 0); return; }
  pid = spawn_injector(d, in[0], env, err[1]);
  close(in[0]); close(env); close(err[1]);
  if (pid == -1) { close(in[1]); close(err[0]); ld_sys(r, "unable to run ", d->cfg.injector); return; }
  if (ld_copy(0, in[1], head.s, head.len, 0, 0) == -1) { /* the exit code tells */ }
  close(in[1]);
  last_line(err[0], reply, sizeof reply);
  close(err[0]);
  while (waitpid(pid, &status, 0) == -1)
    if (errno != EINTR) { ld_sys(r, "unable to wait for the injector", 0); return; }
  code = exitcode_wait(status);
  if (exitcode_class(code) == EXIT_DONE) ld_ok(r, "forwarded: ", reply);
  else if (exitcode_class(code) == EXIT_TEMP) ld_temp(r, exitcode_status(code), "forwarding failed: ", reply);
  else ld_perm(r, code, exitcode_status(code), "forwarding failed: ", reply);
}
