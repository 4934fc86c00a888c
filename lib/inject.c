/* inject.c - put one message into the spool, durably (DESIGN.md invariants
 * 1, 3 and 6): the whole of spool-inject, which runs it in its own process,
 * and of the forked injector of smtp-receive and the others
 * (doc/architecture.md "The injector runs in a forked child").
 *
 * The body goes to mess/<id> (created O_EXCL, which is what finally makes
 * ids unique), the checked envelope to tmp/<id>; both are fsync'ed, then
 * the mess/ directory, then tmp/<id> is renamed into new/<id>: that rename
 * is the one commit point, and new/ is fsync'ed before we say 250.  Until
 * the rename every failure, signal or deadline removes what was written; a
 * kill -9 leaves only uncommitted files, which queue-run removes later.
 *
 * Below that, how the other programs run the injector (inject.h): a forked
 * child running the code above, or the configured program, and the wait
 * for its reply with a deadline. */
#include <errno.h>
#include <stdio.h>     /* rename */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "buffer.h"
#include "byte.h"
#include "str.h"
#include "errmsg.h"
#include "exitcode.h"
#include "log.h"
#include "num.h"
#include "inject.h"
#include "wbuf.h"

extern char **environ;

/* names to remove if we fail before the commit; fixed arrays, so that the
 * signal handler touches nothing but async-signal-safe calls */
static char mess_fn[SPOOL_ID_MAX + 8];
static char tmp_fn[SPOOL_ID_MAX + 8];
static volatile sig_atomic_t committed;

/* cleanup - remove the uncommitted files (async-signal-safe) */
static void cleanup(void)
{
  if (committed) return;
  if (mess_fn[0]) unlink(mess_fn);
  if (tmp_fn[0]) unlink(tmp_fn);
}

/* put2 - write a string to fd 2 (async-signal-safe) */
static void put2(const char *s)
{
  if (write(2, s, str_len(s)) < 0) return;
}

/* on_signal - a signal or the deadline before the commit: nothing queued */
static void on_signal(int sig)
{
  cleanup();
  if (committed)   /* renamed, but new/ not yet synced: say so, keep it */
    put2("451 4.3.0 Interrupted while committing; the message may be queued twice\n");
  else
    put2(sig == SIGALRM ? "451 4.4.2 Timeout while receiving the message\n"
                        : "451 4.3.0 Interrupted; message not queued\n");
  _exit(EX_TEMPFAIL);
}

void inject_signals(void)
{
  static const int sigs[] = { SIGALRM, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGXFSZ };
  struct sigaction sa;
  unsigned int i;
  byte_zero(&sa, sizeof sa);
  sa.sa_handler = on_signal;
  sigfillset(&sa.sa_mask);
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigaction(sigs[i], &sa, 0);
  signal(SIGPIPE, SIG_IGN);   /* we only read pipes; a write error is reported */
}

void inject_reply(const char *reply, const char *arg)
{
  char out[1100];
  buffer b = BUFFER_INIT(write, 2, out, sizeof out);
  buffer_puts(&b, reply);
  if (arg) buffer_puts(&b, arg);
  buffer_putsflush(&b, "\n");
}

/* inject_fail - log, the reply line last on fd 2, remove what we wrote,
 * and exit with code (its class decides temporary or permanent) */
_Noreturn void inject_fail(int code, const char *reply, const char *arg)
{
  cleanup();
  log_event(0, "status", "refused", "reply", reply, "detail", arg ? arg : "", (char *)0);
  inject_reply(reply, arg);
  _exit(code);
}

/* temp_sys - a temporary failure with the system's reason */
_Noreturn static void temp_sys(const char *what)
{
  int code = errno == ENOSPC || errno == EDQUOT ? EX_TEMPFAIL : EX_IOERR;
  const char *reply = errno == ENOSPC || errno == EDQUOT
    ? "452 4.3.1 Insufficient system storage: " : "451 4.3.0 Unable to write to the spool: ";
  char why[200];
  size_t n = str_copy(why, what);
  const char *e = strerror(errno);
  if (n + str_len(e) + 3 < sizeof why) { str_copy(why + n, ": "); str_copy(why + n + 2, e); }
  inject_fail(code, reply, why);
}

void inject_room(struct inject *m, unsigned long reserve)
{
  struct statvfs vfs;
  unsigned long long avail;
  if (statvfs(".", &vfs) == -1) temp_sys("statvfs");
  avail = (unsigned long long)vfs.f_bavail * vfs.f_frsize;
  if (avail <= reserve)
    inject_fail(EX_TEMPFAIL, "452 4.3.1 Insufficient system storage", 0);
  m->room = avail - reserve > (unsigned long)-1 ? (unsigned long)-1 : (unsigned long)(avail - reserve);
}

/* name - "dir/id" into a fixed array */
static void name(char *fn, const char *dir, const char *id)
{
  size_t n = str_copy(fn, dir);
  fn[n++] = '/';
  str_copy(fn + n, id);
}

void inject_create(struct inject *m, const char *want)
{
  char fn[sizeof mess_fn];
  sigset_t all, old;
  unsigned int tries;
  sigfillset(&all);
  for (tries = 0; tries < 20; tries++) {
    if (tries == 0 && want && spool_id_valid(want)) str_copy(m->id, want);
    else spool_id(m->id);
    name(fn, SPOOL_MESS, m->id);
    /* the name becomes ours to clean up in the same breath as the file
     * exists: a signal in between must not remove another message's body */
    sigprocmask(SIG_BLOCK, &all, &old);
    m->fd = open(fn, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (m->fd != -1) str_copy(mess_fn, fn);
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, 0);
    if (m->fd != -1) break;
    errno = e;
    if (errno != EEXIST) temp_sys("unable to create the message file");
    usleep(1000);   /* same id again: wait for the clock to move */
  }
  if (m->fd == -1) inject_fail(EX_TEMPFAIL, "451 4.3.0 Unable to find a free queue id", 0);
  /* the mode is ours, not the caller's umask: queue-run must read it */
  if (fchmod(m->fd, 0644) == -1) temp_sys("unable to set the mode of the message file");
}

/* write_all - the whole buffer, or a temporary failure */
static void write_all(int fd, const char *x, size_t len)
{
  while (len) {
    ssize_t w = write(fd, x, len);
    if (w == -1 && errno == EINTR) continue;
    if (w == -1) temp_sys("unable to write the message");
    x += w; len -= (size_t)w;
  }
}

void inject_copy(struct inject *m, int fd)
{
  static char buf[65536];
  hops_start(&m->hops);
  for (;;) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r == -1 && errno == EINTR) continue;
    if (r == -1) inject_fail(EX_TEMPFAIL, "451 4.3.0 Unable to read the message: ", strerror(errno));
    if (r == 0) break;
    m->size += (unsigned long)r;
    if (m->limit && m->size > m->limit)
      inject_fail(EX_DATAERR, "552 5.3.4 Message size exceeds fixed limit", 0);
    if (m->size > m->room)
      inject_fail(EX_TEMPFAIL, "452 4.3.1 Insufficient system storage", 0);
    write_all(m->fd, buf, (size_t)r);
    hops_feed(&m->hops, buf, (size_t)r);
  }
  if (hops_over(&m->hops, m->hop_limit))   /* a mail loop: on no path into the spool */
    inject_fail(EX_DATAERR, "554 5.4.0 Too many hops (Received: header fields): mail loop? Message not queued", 0);
  if (fsync(m->fd) == -1) temp_sys("unable to sync the message");
  if (close(m->fd) == -1) temp_sys("unable to close the message");
}

void inject_envelope(struct inject *m, int fd)
{
  static char space[8192];
  buffer b = BUFFER_INIT(read, fd, space, sizeof space);
  const char *why;
  envelope_init(&m->env);
  switch (envelope_read(&m->env, &b, ENV_INPUT, &why)) {
  case ENV_OK: break;
  case ENV_BAD: inject_fail(EX_DATAERR, "554 5.6.0 Invalid envelope: ", why);
  case ENV_TRUNC: inject_fail(EX_TEMPFAIL, "451 4.3.0 Incomplete envelope; message not queued", 0);
  case ENV_NOMEM: inject_fail(EX_TEMPFAIL, "451 4.3.0 Out of memory", 0);
  default: inject_fail(EX_TEMPFAIL, "451 4.3.0 Unable to read the envelope: ", strerror(errno));
  }
  if (envelope_stamp(&m->env, (unsigned long)getuid(), (unsigned long)time(0)))
    inject_fail(EX_TEMPFAIL, "451 4.3.0 Out of memory", 0);
}

/* envelope_store - write the envelope to tmp/<id> and sync it */
static void envelope_store(struct inject *m)
{
  static char space[8192];
  char fn[sizeof tmp_fn];
  sigset_t all, old;
  name(fn, SPOOL_TMP, m->id);
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);   /* as in inject_create */
  int fd = open(fn, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  int e = errno;
  if (fd != -1) str_copy(tmp_fn, fn);
  sigprocmask(SIG_SETMASK, &old, 0);
  errno = e;
  if (fd == -1) temp_sys("unable to create the envelope file");
  if (fchmod(fd, 0644) == -1) temp_sys("unable to set the mode of the envelope file");
  buffer b;
  wbuf_init(&b, fd, space, sizeof space);
  if (envelope_write(&b, &m->env) == -1 || wbuf_flush(&b) == -1) temp_sys("unable to write the envelope");
  if (fsync(fd) == -1) temp_sys("unable to sync the envelope");
  if (close(fd) == -1) temp_sys("unable to close the envelope");
}

void inject_commit(struct inject *m)
{
  char new_fn[SPOOL_ID_MAX + 8];
  sigset_t all, old;
  envelope_store(m);
  if (spool_fsync_dir(SPOOL_MESS) == -1) temp_sys("unable to sync mess/");
  name(new_fn, SPOOL_NEW, m->id);
  /* no signal between the rename and noting it: cleanup must never remove
   * the body of a committed message */
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  if (rename(tmp_fn, new_fn) == -1) { sigprocmask(SIG_SETMASK, &old, 0); temp_sys("unable to commit the message"); }
  committed = 1;
  sigprocmask(SIG_SETMASK, &old, 0);
  if (spool_fsync_dir(SPOOL_NEW) == -1) temp_sys("unable to sync new/");
}

/* queued - log the new message and answer */
static void queued(const struct inject *m)
{
  char size[NUM_ULONG], nrcpt[NUM_ULONG], uid[NUM_ULONG];
  static stralloc from;   /* "<sender>" */
  if (!stralloc_copys(&from, "<") || !stralloc_cats(&from, envelope_sender(&m->env)) ||
      !stralloc_cats(&from, ">") || !stralloc_0(&from))
    from.len = 0;   /* out of memory: the message is queued, log what we can */
  log_event(m->id, "status", "queued", "from", from.len ? from.s : "?",
            "nrcpt", num_str(nrcpt, m->env.nrcpt), "size", num_str(size, m->size),
            "uid", num_str(uid, (unsigned long)getuid()), (char *)0);
  inject_reply("250 2.0.0 Ok: queued as ", m->id);
}

void inject_run(const struct config *cfg, const char *want)
{
  static struct inject m;
  if (chdir(cfg->spool) == -1)
    inject_fail(EX_TEMPFAIL, "451 4.3.0 Unable to enter the spool directory ", cfg->spool);
  alarm(INJECT_DEADLINE_SECONDS);
  m.limit = cfg->message_size_limit;
  m.hop_limit = cfg->hop_count_limit;
  inject_room(&m, cfg->spool_reserve);  /* refuse early when the disk is nearly full */
  inject_create(&m, want);              /* mess/<id> */
  inject_copy(&m, 0);                   /* fd 0 -> body, fsync */
  inject_envelope(&m, 1);               /* end line missing: queue nothing */
  inject_commit(&m);                    /* the one commit point */
  spool_trigger();                      /* wake queue-run if it listens */
  queued(&m);
}

/* ------------------------------------------------------ running the injector */

/* spool_writable - may this process create files in the spool's tmp/,
 * mess/ and new/ itself (root, the spool's owner, the postern-inject
 * group)?  Checked once per process. */
static int spool_writable(const struct config *cfg)
{
  static int known, ok;
  static const char *const dirs[] = { SPOOL_TMP, SPOOL_MESS, SPOOL_NEW };
  stralloc sa = { 0 };
  unsigned int i;
  if (known) return ok;
  known = 1;
  ok = 1;
  for (i = 0; ok && i < sizeof dirs / sizeof dirs[0]; i++) {
    if (!stralloc_copys(&sa, cfg->spool) || !stralloc_cats(&sa, "/") || !stralloc_cats(&sa, dirs[i]) ||
        !stralloc_0(&sa))
      ok = 0;
    else ok = faccessat(AT_FDCWD, sa.s, W_OK | X_OK, AT_EACCESS) == 0;
  }
  stralloc_free(&sa);
  return ok;
}

/* close_from - close every fd from lo up: close_range(2), or one by one
 * where the kernel or a seccomp filter refuses it (a pipe end left open
 * here would keep the caller waiting for an EOF that never comes) */
static void close_from(int lo)
{
  long max = sysconf(_SC_OPEN_MAX), fd;
  if (close_range((unsigned int)lo, ~0U, 0) == 0) return;
  if (max < 0) max = 65536;
  for (fd = lo; fd < max; fd++) close((int)fd);
}

/* run_forked - in the forked child: become spool-inject on in, env and
 * err, and never come back (every path above ends the process) */
_Noreturn static void run_forked(const struct config *cfg, const char *want, int in, int env, int err)
{
  sigset_t none;
  if (dup2(in, 0) == -1 || dup2(env, 1) == -1 || dup2(err, 2) == -1) _exit(EX_OSERR);
  closelog();     /* before its fd goes: glibc would close that number again later, whatever holds it then */
  close_from(3);  /* the caller's sockets, maps, pipes */
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, 0);
  errmsg_iam("spool-inject");
  log_init("spool-inject", cfg->log);
  inject_signals();
  inject_run(cfg, want);
  _exit(0);
}

/* spawn - posix_spawn argv with in and out as fds 0 and 1 (-1: ours) and
 * err as fd 2, SIGPIPE and SIGXFSZ at their defaults (a caller may ignore
 * them) and no signal blocked; 0, or -1 with errno */
static int spawn(pid_t *pid, char *const argv[], char *const envp[], int in, int out, int err)
{
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t def, none;
  int e;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  sigaddset(&def, SIGXFSZ);
  sigemptyset(&none);
  if ((e = posix_spawn_file_actions_init(&fa))) { errno = e; return -1; }
  if ((e = posix_spawnattr_init(&at))) { posix_spawn_file_actions_destroy(&fa); errno = e; return -1; }
  e = (in != -1 ? posix_spawn_file_actions_adddup2(&fa, in, 0) : 0)
    || (out != -1 ? posix_spawn_file_actions_adddup2(&fa, out, 1) : 0)
    || posix_spawn_file_actions_adddup2(&fa, err, 2) || posix_spawnattr_setsigdefault(&at, &def)
    || posix_spawnattr_setsigmask(&at, &none)
    || posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK) ? ENOMEM : 0;
  if (!e) e = posix_spawn(pid, argv[0], &fa, &at, argv, envp ? envp : environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  if (e) { errno = e; return -1; }
  return 0;
}

/* clean_env - POSTERN_CONF (when a file was read) and PATH */
static char **clean_env(const struct config *cfg)
{
  static stralloc conf;
  static char *envp[3];
  unsigned int n = 0;
  if (cfg->file && stralloc_copys(&conf, "POSTERN_CONF=") && stralloc_cats(&conf, cfg->file) && stralloc_0(&conf))
    envp[n++] = conf.s;
  envp[n++] = "PATH=/usr/bin:/bin";
  envp[n] = 0;
  return envp;
}

int inject_child_spawn(struct inject_child *c, char *const argv[], char *const envp[], int in, int out, stralloc *out_sa)
{
  int errp[2], outp[2] = { -1, -1 }, r, e;
  c->outfd = -1;
  c->out = 0;
  if (pipe2(errp, O_CLOEXEC) == -1) return -1;
  if (out_sa && pipe2(outp, O_CLOEXEC) == -1) { e = errno; close(errp[0]); close(errp[1]); errno = e; return -1; }
  r = spawn(&c->pid, argv, envp, in, out_sa ? outp[1] : out, errp[1]);
  e = errno;
  close(errp[1]);
  if (outp[1] != -1) close(outp[1]);
  if (r == -1) { close(errp[0]); if (outp[0] != -1) close(outp[0]); errno = e; return -1; }
  c->errfd = errp[0];
  c->outfd = outp[0];
  c->out = out_sa;
  return 0;
}

int inject_child_start(struct inject_child *c, const struct config *cfg, const char *want, int in, int env, int flags)
{
  char *argv[2] = { (char *)cfg->injector, 0 };
  int errp[2], e;
  if (!cfg->injector_default || !spool_writable(cfg))
    return inject_child_spawn(c, argv, flags & INJECT_CLEAN_ENV ? clean_env(cfg) : 0, in, env, 0);
  if (pipe2(errp, O_CLOEXEC) == -1) return -1;
  c->pid = fork();
  if (c->pid == 0) run_forked(cfg, want, in, env, errp[1]);
  e = errno;
  close(errp[1]);
  if (c->pid == -1) { close(errp[0]); errno = e; return -1; }
  c->errfd = errp[0];
  c->outfd = -1;
  c->out = 0;
  return 0;
}

/* ms_left - milliseconds until the deadline (CLOCK_MONOTONIC), at least 0 */
static int ms_left(const struct timespec *deadline)
{
  struct timespec now;
  long long ms;
  clock_gettime(CLOCK_MONOTONIC, &now);
  ms = (long long)(deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_nsec - now.tv_nsec) / 1000000;
  return ms <= 0 ? 0 : ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}

/* struct lines - the child's stderr split into lines as it comes */
struct lines {
  struct inject_result *r;
  int pass;                        /* lines before the reply go to our fd 2 */
  size_t n;
  char cur[INJECT_REPLY_MAX];      /* the line being read (its start, if longer) */
};

/* line_end - a line is complete: the last non-empty one is the reply,
 * the reply before it is passed on */
static void line_end(struct lines *l)
{
  if (l->n && l->cur[l->n - 1] == '\r') l->n--;
  if (!l->n) return;
  if (l->pass && l->r->reply[0]) {
    size_t len = str_len(l->r->reply);
    l->r->reply[len] = '\n';
    if (write(2, l->r->reply, len + 1) < 0) { /* our stderr is gone: nothing to tell */ }
  }
  byte_copy(l->r->reply, l->n, l->cur);
  l->r->reply[l->n] = 0;
  l->n = 0;
}

/* take - bytes of the child's stderr */
static void take(struct lines *l, const char *x, size_t len, int keep)
{
  struct inject_result *r = l->r;
  size_t i;
  if (keep && stralloc_catb(&r->log, x, len) && r->log.len > 2 * INJECT_LOG_KEEP) {
    byte_copy(r->log.s, INJECT_LOG_KEEP, r->log.s + r->log.len - INJECT_LOG_KEEP);
    r->log.len = INJECT_LOG_KEEP;
  }
  for (i = 0; i < len; i++) {
    if (x[i] == '\n') line_end(l);
    else if (l->n < sizeof l->cur) l->cur[l->n++] = x[i];
  }
}

/* drain - read its stderr (and stdout into c->out) until both end; 0,
 * -1 at the deadline, -2 on an error */
static int drain(struct inject_child *c, struct lines *l, int keep, const struct timespec *deadline)
{
  char buf[8192];
  struct pollfd p[2];
  int open_fds = 1 + (c->outfd != -1);
  p[0].fd = c->errfd; p[0].events = POLLIN;
  p[1].fd = c->outfd; p[1].events = POLLIN;
  while (open_fds) {
    unsigned int i;
    int left = ms_left(deadline);
    if (!left) return -1;
    if (poll(p, c->outfd != -1 ? 2 : 1, left) == -1) { if (errno == EINTR) continue; return -2; }
    for (i = 0; i < 2; i++) {
      ssize_t n;
      if (p[i].fd < 0 || !p[i].revents) continue;
      n = read(p[i].fd, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) { p[i].fd = -1; open_fds--; continue; }
      if (i == 0) take(l, buf, (size_t)n, keep);
      else if (!stralloc_catb(c->out, buf, (size_t)n)) return -2;
    }
  }
  return 0;
}

/* pid_fd - a pidfd for pid (readable once it has exited), or -1 */
static int pid_fd(pid_t pid)
{
#ifdef SYS_pidfd_open
  return (int)syscall(SYS_pidfd_open, pid, 0);
#else
  (void)pid;
  return -1;
#endif
}

/* reap - its wait status by the deadline: 0, -1 late, -2 lost (reaped
 * elsewhere).  Its stderr has ended, so it is exiting: a pidfd tells
 * when, else short naps. */
static int reap(pid_t pid, int *status, const struct timespec *deadline)
{
  int pfd = -2, nap = 1, r = -1;
  for (;;) {
    pid_t w = waitpid(pid, status, WNOHANG);
    int left;
    if (w == pid) { r = 0; break; }
    if (w == -1 && errno != EINTR) { r = -2; break; }
    if (w == -1) continue;
    if (!(left = ms_left(deadline))) break;
    if (pfd == -2) pfd = pid_fd(pid);
    if (pfd >= 0) {
      struct pollfd p = { pfd, POLLIN, 0 };
      poll(&p, 1, left);
    } else {
      poll(0, 0, nap < left ? nap : left);
      if (nap < 100) nap *= 2;
    }
  }
  if (pfd >= 0) close(pfd);
  return r;
}

void inject_child_wait(struct inject_child *c, unsigned int seconds, int flags, struct inject_result *r)
{
  struct lines l;
  struct timespec deadline;
  int status, d, w = -1;
  r->code = EX_TEMPFAIL;
  r->late = 0;
  r->reply[0] = 0;
  r->log.len = 0;
  l.r = r;
  l.pass = flags & INJECT_PASS_LOG;
  l.n = 0;
  clock_gettime(CLOCK_MONOTONIC, &deadline);
  deadline.tv_sec += seconds;
  d = drain(c, &l, flags & INJECT_KEEP_LOG, &deadline);
  line_end(&l);                     /* a last line without its LF */
  if (d == 0) w = reap(c->pid, &status, &deadline);
  if (w == -1) {                    /* late, or we cannot read it: it must not outlive this call */
    r->late = d != -2;
    kill(c->pid, SIGKILL);
    while (waitpid(c->pid, &status, 0) == -1 && errno == EINTR) ;
  } else if (w == 0) r->code = exitcode_wait(status);
  close(c->errfd);
  if (c->outfd != -1) close(c->outfd);
  c->errfd = c->outfd = -1;
}
