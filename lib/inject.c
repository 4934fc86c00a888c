/* inject.c - put one message into the spool, durably (DESIGN.md invariants
 * 1, 3 and 6): the whole of spool-inject, which runs it in its own process,
 * and of the forked injector of smtp-receive and the others
 * (doc/architecture.md "The injector runs in a forked child").
 *
 * One file per message (spool.h, doc/architecture.md "One file per
 * message"): tmp/<id> is created O_EXCL under an id that no message in
 * new/ or mess/ has; the body is written from offset
 * SPOOL_HEAD_UNIT on, then the head line and the checked envelope before
 * it (the body moved up first if the envelope needs more room).  The file
 * is fsync'ed and renamed into new/<id> without replacing anything: that
 * rename is the one commit point, and new/ is fsync'ed before we say 250.
 * Until the rename every failure, signal or deadline removes what was
 * written; a kill -9 leaves only an uncommitted file in tmp/, which
 * queue-run removes later.
 *
 * How the other programs run the injector is inject_child.c; the child
 * runner under it, child.c. */
#include <errno.h>
#include <stdio.h>     /* renameat2 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include "buffer.h"
#include "byte.h"
#include "str.h"
#include "stralloc.h"
#include "errmsg.h"
#include "exitcode.h"
#include "log.h"
#include "num.h"
#include "inject.h"
#include "wbuf.h"


/* the name to remove if we fail before the commit; a fixed array, so that
 * the signal handler touches nothing but async-signal-safe calls */
static char tmp_fn[SPOOL_ID_MAX + 8];
static volatile sig_atomic_t committed;
int inject_caller_logs;
static volatile sig_atomic_t waiting;   /* inject_waiting */
static sigjmp_buf *jump;   /* inject_here's: a failure returns there instead of ending the process */
static int open_fd = -1;   /* the message file while it is open, for inject_here to close */

/* cleanup - remove the uncommitted files (async-signal-safe) */
static void cleanup(void)
{
  if (committed) return;
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
  if (waiting) _exit(0);   /* a worker between messages: nothing begun, nobody to tell */
  cleanup();
  if (committed)   /* renamed, but new/ not yet synced: say so, keep it */
    put2("451 4.3.0 Interrupted while committing; the message may be queued twice\n");
  else
    put2(sig == SIGALRM ? "451 4.4.2 Timeout while receiving the message\n"
                        : "451 4.3.0 Interrupted; message not queued\n");
  _exit(EX_TEMPFAIL);
}

void inject_waiting(int w)
{
  committed = 0;   /* the last message's state is done with: a signal must not speak of it */
  tmp_fn[0] = 0;
  waiting = w != 0;
}

/* the signals inject_signals handles (SIGPIPE last: ignored), and what
 * they did before, for inject_signals_restore */
static const int sigs[] = { SIGALRM, SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGXFSZ, SIGPIPE };
#define SIGS (sizeof sigs / sizeof sigs[0])
static struct sigaction before[SIGS];

void inject_signals(void)
{
  struct sigaction sa;
  unsigned int i;
  byte_zero(&sa, sizeof sa);
  sa.sa_handler = on_signal;
  sigfillset(&sa.sa_mask);
  for (i = 0; i < SIGS; i++) {
    if (sigs[i] == SIGPIPE) sa.sa_handler = SIG_IGN;   /* we only read pipes; a write error is reported */
    sigaction(sigs[i], &sa, &before[i]);
  }
}

void inject_signals_restore(void)
{
  unsigned int i;
  for (i = 0; i < SIGS; i++) sigaction(sigs[i], &before[i], 0);
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
  if (jump) siglongjmp(*jump, code);
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

/* id_taken - is this id in new/, or in mess/ (a queued message of the
 * older layout)?  queue/ is the queue owner's, closed to the injector
 * group: a clash there (a clock stepped back onto a reused pid) is
 * queue-run's to resolve when it picks the message up.  1 taken, 0
 * free, -1 with errno when a directory cannot be looked in (new/ a plain
 * file, say: no other id would do better) */
static int id_taken(const char *id)
{
  static const char *const dirs[] = { SPOOL_NEW, SPOOL_MESS };
  char fn[SPOOL_ID_MAX + 8];
  struct stat st;
  unsigned int i;
  for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
    name(fn, dirs[i], id);
    if (lstat(fn, &st) == 0) return 1;
    if (errno != ENOENT) return -1;
  }
  return 0;
}

void inject_create(struct inject *m, const char *want)
{
  char fn[sizeof tmp_fn];
  sigset_t all, old;
  unsigned int tries;
  sigfillset(&all);
  for (tries = 0; tries < 20; tries++) {
    if (tries == 0 && want && spool_id_valid(want)) str_copy(m->id, want);
    else spool_id(m->id);
    name(fn, SPOOL_TMP, m->id);
    /* the name becomes ours to clean up in the same breath as the file
     * exists: a signal in between must not remove another writer's file */
    sigprocmask(SIG_BLOCK, &all, &old);
    m->fd = open(fn, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);   /* read: body_move */
    if (m->fd != -1) str_copy(tmp_fn, fn);
    open_fd = m->fd;
    int e = errno;
    sigprocmask(SIG_SETMASK, &old, 0);
    int taken = m->fd != -1 ? id_taken(m->id) : 0, te = errno;
    if (m->fd != -1 && taken == 0) break;
    if (m->fd != -1) {
      cleanup(); tmp_fn[0] = 0; close(m->fd); m->fd = open_fd = -1; e = EEXIST;
      if (taken == -1) { errno = te; temp_sys("unable to look for the queue id in new/ and mess/"); }
    }
    errno = e;
    if (errno != EEXIST) temp_sys("unable to create the message file");
    usleep(1000);   /* same id again: wait for the clock to move */
  }
  if (m->fd == -1) inject_fail(EX_TEMPFAIL, "451 4.3.0 Unable to find a free queue id", 0);
  /* never fd 0, 1 or 2: the file is open for reading, and a caller who
   * closed its fd 0 (or 1) would have us read the message file back as
   * the body (or the envelope) and queue an empty message */
  if (m->fd < 3) {
    int fd = fcntl(m->fd, F_DUPFD_CLOEXEC, 3);
    if (fd == -1) temp_sys("unable to create the message file");
    close(m->fd);
    m->fd = open_fd = fd;
  }
  /* the mode is ours, not the caller's umask: queue-run must read it */
  if (fchmod(m->fd, 0644) == -1) temp_sys("unable to set the mode of the message file");
  if (lseek(m->fd, (off_t)SPOOL_HEAD_UNIT, SEEK_SET) == -1) temp_sys("unable to write the message file");
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

/* pwrite_all - the whole buffer at offset off, or a temporary failure
 * with the errno of the write that failed (a full disk: 452) */
static void pwrite_all(int fd, const char *x, size_t len, unsigned long off, const char *what)
{
  if (spool_pwrite(fd, x, len, off) == -1) temp_sys(what);
}

/* body_move - the body from offset SPOOL_HEAD_UNIT up to offset to, for
 * an envelope that needs more room: the file system inserts the range
 * where it can, else the bytes are copied from the end down and what the
 * body left below to is zeroed (spool.h: nothing between the envelope and
 * the body) */
static void body_move(struct inject *m, unsigned long to)
{
  static char buf[65536];
  unsigned long from = SPOOL_HEAD_UNIT, left = m->size, end;
  if (left == 0) return;
  if (fallocate(m->fd, FALLOC_FL_INSERT_RANGE, (off_t)from, (off_t)(to - from)) == 0) return;
  while (left) {
    size_t n = left < sizeof buf ? (size_t)left : sizeof buf;
    left -= n;
    if (spool_pread(m->fd, buf, n, from + left) == -1) temp_sys("unable to read the message back");
    pwrite_all(m->fd, buf, n, to + left, "unable to write the message");
  }
  end = from + m->size < to ? from + m->size : to;
  byte_zero(buf, sizeof buf);
  while (from < end) {
    size_t n = end - from < sizeof buf ? (size_t)(end - from) : sizeof buf;
    pwrite_all(m->fd, buf, n, from, "unable to write the message");
    from += n;
  }
}

static stralloc head;   /* the head line and the envelope, made in memory */

/* head_put - a buffer's write op that appends to head */
static ssize_t head_put(int fd, const char *x, size_t len)
{
  (void)fd;
  if (!stralloc_catb(&head, x, len)) { errno = ENOMEM; return -1; }
  return (ssize_t)len;
}

/* envelope_store - the head line and the envelope before the body, the
 * whole file synced and closed */
static void envelope_store(struct inject *m)
{
  char space[4096];
  buffer b = BUFFER_INIT(head_put, -1, space, sizeof space);
  unsigned long body;
  if (!stralloc_ready(&head, SPOOL_HEAD_LEN)) inject_fail(EX_TEMPFAIL, "451 4.3.0 Out of memory", 0);
  head.len = SPOOL_HEAD_LEN;   /* filled in below, when the body's offset is known */
  if (envelope_write(&b, &m->env) == -1 || buffer_flush(&b) == -1)
    inject_fail(EX_TEMPFAIL, "451 4.3.0 Out of memory", 0);
  if (head.len - SPOOL_HEAD_LEN > SPOOL_HEAD_OFF_MAX - SPOOL_HEAD_UNIT)
    inject_fail(EX_DATAERR, "552 5.3.4 Envelope too large", 0);
  body = spool_head_body(head.len - SPOOL_HEAD_LEN);
  if (body > SPOOL_HEAD_UNIT) body_move(m, body);
  if (m->size == 0 && ftruncate(m->fd, (off_t)body) == -1) temp_sys("unable to write the message");
  spool_head_fmt(head.s, body, head.len - SPOOL_HEAD_LEN);
  pwrite_all(m->fd, head.s, head.len, 0, "unable to write the envelope");
  if (fsync(m->fd) == -1) temp_sys("unable to sync the message");
  open_fd = -1;
  if (close(m->fd) == -1) temp_sys("unable to close the message");
}

/* commit_rename - tmp/<id> to new/<id>, never over another file */
static int commit_rename(const char *from, const char *to)
{
  if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL && errno != ENOSYS) return -1;
  /* a file system without RENAME_NOREPLACE: link refuses to replace too */
  if (link(from, to) == -1) return -1;
  unlink(from);
  return 0;
}

void inject_commit(struct inject *m)
{
  char new_fn[SPOOL_ID_MAX + 8];
  sigset_t all, old;
  envelope_store(m);
  name(new_fn, SPOOL_NEW, m->id);
  /* no signal between the rename and noting it: cleanup must never remove
   * a committed message */
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  if (commit_rename(tmp_fn, new_fn) == -1) { sigprocmask(SIG_SETMASK, &old, 0); temp_sys("unable to commit the message"); }
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
  if (!inject_caller_logs)
    log_event(m->id, "status", "queued", "from", from.len ? from.s : "?",
              "nrcpt", num_str(nrcpt, m->env.nrcpt), "size", num_str(size, m->size),
              "uid", num_str(uid, (unsigned long)getuid()), (char *)0);
  inject_reply("250 2.0.0 Ok: queued as ", m->id);
}

void inject_run(const struct config *cfg, const char *want)
{
  static struct inject m;
  envelope_free(&m.env);   /* the last message's, when one process runs several */
  byte_zero(&m, sizeof m);
  committed = 0;
  tmp_fn[0] = 0;
  if (chdir(cfg->spool) == -1)
    inject_fail(EX_TEMPFAIL, "451 4.3.0 Unable to enter the spool directory ", cfg->spool);
  alarm(INJECT_DEADLINE_SECONDS);
  m.limit = cfg->message_size_limit;
  m.hop_limit = cfg->hop_count_limit;
  inject_room(&m, cfg->spool_reserve);  /* refuse early when the disk is nearly full */
  inject_create(&m, want);              /* tmp/<id> */
  inject_copy(&m, 0);                   /* fd 0 -> body */
  inject_envelope(&m, 1);               /* end line missing: queue nothing */
  inject_commit(&m);                    /* the one commit point */
  spool_trigger();                      /* wake queue-run if it listens */
  queued(&m);
}

int inject_here(const struct config *cfg, const char *want)
{
  sigjmp_buf here;
  int code = sigsetjmp(here, 1);   /* the mask too: a failure may come with signals blocked */
  if (code == 0) {
    jump = &here;
    inject_run(cfg, want);
  }
  jump = 0;
  alarm(0);
  if (open_fd != -1) { close(open_fd); open_fd = -1; }
  return code;
}
