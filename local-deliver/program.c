/* program.c - |program delivery.  The message (our headers first) goes to
 * the program's stdin; its exit code is classified by lib/exitcode.c and
 * the first line of its output becomes the reason.  The environment is
 * clean: SENDER RECIPIENT USER LOGNAME HOME LOCAL EXTENSION DOMAIN PATH SHELL.
 *
 * Programs named in aliases and .forward files run without a shell, and
 * only from the allow-list directory program_dir, the way sendmail's smrsh
 * restricts them: the command's first word is reduced to its base name and
 * looked up there.  mailbox_command, set by the administrator, runs with
 * /bin/sh -c. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "byte.h"
#include "str.h"
#include "child.h"
#include "exitcode.h"
#include "num.h"
#include "ld.h"

#define ARGS_MAX 64          /* words of a command */
#define OUTPUT_KEEP 300      /* bytes of program output kept for the reason */

/* struct run - one program run: pipes and what we are copying */
struct run {
  pid_t pid;
  int in, out;                   /* our ends: its stdin, its stdout+stderr */
  char buf[LD_COPY_BUFFER];
  size_t pos, len;               /* unsent part of buf */
  int src_eof;
  char keep[OUTPUT_KEEP + 1];
  size_t nkeep;
};

/* env_add - "NAME=value" into the environment block */
static int env_add(stralloc *block, const char *name, const char *value)
{
  return stralloc_cats(block, name) && stralloc_cats(block, "=") &&
         stralloc_cats(block, value) && stralloc_0(block) ? 0 : -1;
}

/* environment - the clean environment of DESCRIPTION */
static int environment(struct ld *d, stralloc *block, char **envp, unsigned int max)
{
  unsigned int n = 0;
  size_t i;
  block->len = 0;
  if (env_add(block, "SENDER", d->sender) || env_add(block, "RECIPIENT", d->recipient)
      || env_add(block, "USER", d->user) || env_add(block, "LOGNAME", d->user)
      || env_add(block, "HOME", d->home) || env_add(block, "LOCAL", d->local.s)
      || env_add(block, "EXTENSION", d->ext.s) || env_add(block, "DOMAIN", d->domain.s)
      || env_add(block, "PATH", "/usr/local/bin:/usr/bin:/bin")
      || env_add(block, "SHELL", "/bin/sh")) return -1;
  for (i = 0; i < block->len && n + 1 < max; i += str_len(block->s + i) + 1) envp[n++] = block->s + i;
  envp[n] = 0;
  return 0;
}

/* words - split cmd at blanks into args (cmd is modified); the count */
static unsigned int words(char *cmd, char **args, unsigned int max)
{
  unsigned int n = 0;
  while (*cmd && n + 1 < max) {
    while (*cmd == ' ' || *cmd == '\t') *cmd++ = 0;
    if (!*cmd) break;
    args[n++] = cmd;
    while (*cmd && *cmd != ' ' && *cmd != '\t') cmd++;
  }
  args[n] = 0;
  return n;
}

/* allowed - program_dir/basename(args[0]) if executable there */
static int allowed(struct ld *d, char **args, stralloc *path, struct ld_result *r)
{
  const char *base = args[0], *p;
  if (!*d->cfg.program_dir) { ld_perm(r, EX_NOPERM, "5.7.1", "program delivery is not allowed here", 0); return -1; }
  struct stat st;
  for (p = args[0]; *p; p++) if (*p == '/') base = p + 1;
  if (!*base || !str_diff(base, ".") || !str_diff(base, "..")
      || !stralloc_copys(path, d->cfg.program_dir) || !stralloc_cats(path, "/")
      || !stralloc_cats(path, base) || !stralloc_0(path)
      || stat(path->s, &st) == -1 || !S_ISREG(st.st_mode) || access(path->s, X_OK) == -1) {
    ld_perm(r, EX_NOPERM, "5.7.1", "program not in the allowed directory: ", base);
    return -1;
  }
  args[0] = path->s;
  return 0;
}

/* start - spawn argv with its stdin and output on pipes, in the user's
 * home directory (child.c: clean signals) */
static int start(struct ld *d, char **argv, char **envp, struct run *x)
{
  int in[2], out[2], r, e;
  struct stat st;
  if (pipe2(in, O_CLOEXEC) == -1) return -1;
  if (pipe2(out, O_CLOEXEC) == -1) { close(in[0]); close(in[1]); return -1; }
  const int fds[CHILD_FDS] = { in[0], out[1], out[1], CHILD_OURS };
  r = child_spawn(&x->pid, argv, envp, fds, stat(d->home, &st) == 0 && S_ISDIR(st.st_mode) ? d->home : "/");
  e = errno;
  close(in[0]); close(out[1]);
  if (r == -1) { close(in[1]); close(out[0]); errno = e; return -1; }
  x->in = in[1]; x->out = out[0];
  fcntl(x->in, F_SETFL, O_NONBLOCK);
  fcntl(x->out, F_SETFL, O_NONBLOCK);
  return 0;
}

/* feed - move message bytes into the program's stdin; -1 read error */
static int feed(struct ld *d, struct run *x)
{
  if (x->pos == x->len && !x->src_eof) {
    ssize_t r = read(0, x->buf, sizeof x->buf);
    if (r == -1) return errno == EINTR ? 0 : -1;
    x->pos = 0; x->len = r > 0 ? (size_t)r : 0;
    if (r == 0) x->src_eof = 1;
  }
  if (x->pos < x->len) {
    ssize_t w = write(x->in, x->buf + x->pos, x->len - x->pos);
    if (w > 0) x->pos += (size_t)w;
    else if (w == -1 && errno != EAGAIN && errno != EINTR) x->src_eof = 1, x->len = x->pos;  /* EPIPE: it stopped reading */
  }
  if (x->src_eof && x->pos == x->len && x->in != -1) { close(x->in); x->in = -1; }
  (void)d;
  return 0;
}

/* drain - read the program's output, keeping the first bytes */
static int drain(struct run *x)
{
  char tmp[4096];
  ssize_t r = read(x->out, tmp, sizeof tmp);
  if (r == -1) return errno == EAGAIN || errno == EINTR ? 0 : -1;
  if (r == 0) return -1;
  for (ssize_t i = 0; i < r && x->nkeep < OUTPUT_KEEP; i++) x->keep[x->nkeep++] = tmp[i];
  return 0;
}

/* pump - copy in and out until both pipes are done or the deadline */
static int pump(struct ld *d, struct run *x, time_t deadline)
{
  while (x->in != -1 || x->out != -1) {
    struct pollfd p[2] = { { x->in, POLLOUT, 0 }, { x->out, POLLIN, 0 } };
    time_t now = time(0);
    if (now >= deadline) return -1;
    if (x->in != -1 && x->pos == x->len && !x->src_eof) { if (feed(d, x) == -1) return -2; continue; }
    int r = poll(p, 2, (int)(deadline - now) * 1000);
    if (r == -1 && errno != EINTR) return -2;
    if (x->in != -1 && (p[0].revents & (POLLOUT | POLLERR | POLLHUP)) && feed(d, x) == -1) return -2;
    if (x->out != -1 && (p[1].revents & (POLLIN | POLLHUP | POLLERR)) && drain(x) == -1) {
      close(x->out);
      x->out = -1;
    }
  }
  return 0;
}

/* finish - wait for the program, killing it at the deadline (at once
 * when pump was late); its exit code, -1 when pump was late */
static int finish(struct run *x, time_t deadline, int late)
{
  time_t now = time(0);
  int status, r = child_reap(x->pid, late ? 0 : deadline > now ? (unsigned int)(deadline - now) : 1, &status);
  if (x->in != -1) close(x->in);
  if (x->out != -1) close(x->out);
  if (late) return -1;
  return r == -1 ? EX_OSERR : exitcode_wait(status);
}

/* outcome - the result from the exit code and the program's output */
static void outcome(struct run *x, int code, struct ld_result *r)
{
  char num[NUM_ULONG], what[64];
  size_t i;
  x->keep[x->nkeep] = 0;
  for (i = 0; i < x->nkeep && x->keep[i] != '\n'; i++) {}
  x->keep[i] = 0;
  if (code == -1) { ld_temp(r, "4.3.0", "program timed out", 0); return; }
  if (exitcode_class(code) == EXIT_DONE) { ld_ok(r, "delivered to program", 0); return; }
  str_copy(what, "program exited ");
  str_copy(what + str_len(what), num_str(num, (unsigned long)code));
  str_copy(what + str_len(what), x->nkeep ? ": " : "");
  if (exitcode_class(code) == EXIT_TEMP) ld_temp(r, exitcode_status(code), what, x->keep);
  else ld_perm(r, EX_UNAVAILABLE, exitcode_status(code), what, x->keep);
}

void ld_program(struct ld *d, const char *cmd, int shell, struct ld_result *r)
{
  static stralloc copy, path, envblock;
  static struct run x;
  char *args[ARGS_MAX], *envp[16];
  time_t deadline = time(0) + LD_PROGRAM_SECONDS;
  int late;
  if (!stralloc_copys(&copy, cmd) || !stralloc_0(&copy) || environment(d, &envblock, envp, 16) == -1) {
    ld_temp(r, "4.3.0", "out of memory", 0); return;
  }
  if (shell) { args[0] = "/bin/sh"; args[1] = "-c"; args[2] = copy.s; args[3] = 0; }
  else if (words(copy.s, args, ARGS_MAX) == 0) { ld_perm(r, EX_USAGE, "5.3.5", "empty command", 0); return; }
  else if (allowed(d, args, &path, r) == -1) return;
  byte_zero(&x, sizeof x);
  if (ld_rewind(0) == -1) { ld_sys(r, "unable to read the message", 0); return; }
  byte_copy(x.buf, d->prefix.len, d->prefix.s);
  x.len = d->prefix.len;
  if (start(d, args, envp, &x) == -1) { ld_sys(r, "unable to run ", args[0]); return; }
  late = pump(d, &x, deadline);
  if (late == -2) { kill(x.pid, SIGKILL); finish(&x, deadline, 1); ld_sys(r, "unable to read the message", 0); return; }
  outcome(&x, finish(&x, deadline, late == -1), r);
}
