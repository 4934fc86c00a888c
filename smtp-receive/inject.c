/* inject.c - hand one message to the injector (spool-inject or a filter)
 * through the injection protocol of envelope(5):
 *
 *   its fd 0  a pipe we write: the message, LF line ends, unstuffed, our
 *             Received: header first, written while the client sends it
 *   its fd 1  a pipe it reads after fd 0's end: the envelope; the empty
 *             line at its end is the commit signal
 *   its fd 2  a pipe we read: its last line is the reply we may pass on;
 *             the lines before it (log lines) go to our fd 2
 *
 * When the injector is the default spool-inject and this process may
 * write the spool itself (the postern-inject group the socket units give
 * it, or the spool's owner), the injector is a forked child running
 * spool-inject's code (lib/inject.c) without an exec: the same protocol,
 * the same privileges, one exec per message less (doc/architecture.md).
 * Otherwise the program is started with posix_spawn (vfork semantics: no
 * copy of our pages per message).  We say 250 only after it exited 0.  A
 * message the client never finished is abandoned by closing the pipes
 * without the envelope: the injector then commits nothing. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "byte.h"
#include "str.h"
#include "exitcode.h"
#include "inject.h"
#include "smtp.h"
#include "wbuf.h"

#define INJECT_ERR_MAX 1000          /* bytes of one stderr line we keep */

extern char **environ;

/* spawn - run program with fds 0, 1, 2 from the given pipe ends; SIGPIPE
 * (ignored here) back at its default, as the injector expects */
static int spawn(pid_t *pid, const char *program, int in, int env, int err)
{
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t at;
  sigset_t def, none;
  char *argv[2];
  int r;
  argv[0] = (char *)program;
  argv[1] = 0;
  sigemptyset(&def);
  sigaddset(&def, SIGPIPE);
  sigemptyset(&none);
  if (posix_spawn_file_actions_init(&fa)) return -1;
  if (posix_spawnattr_init(&at)) { posix_spawn_file_actions_destroy(&fa); return -1; }
  r = posix_spawn_file_actions_adddup2(&fa, in, 0) || posix_spawn_file_actions_adddup2(&fa, env, 1) ||
      posix_spawn_file_actions_adddup2(&fa, err, 2) || posix_spawnattr_setsigdefault(&at, &def) ||
      posix_spawnattr_setsigmask(&at, &none) ||
      posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK) ||
      posix_spawn(pid, program, &fa, &at, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&at);
  return r ? -1 : 0;
}

/* close_pair - close both ends of the pipes made so far */
static void close_pipes(int *p, int n)
{
  int i;
  for (i = 0; i < n; i++) close(p[i]);
}

/* inject_start - start the injector; 0, or -1 (nothing started).  id:
 * the queue id a forked injector uses if it is free */
int inject_start(struct injector *j, const struct config *cfg, const char *id)
{
  int r;
  int p[6];
  if (pipe2(p, O_CLOEXEC) == -1) return -1;
  if (pipe2(p + 2, O_CLOEXEC) == -1) { close_pipes(p, 2); return -1; }
  if (pipe2(p + 4, O_CLOEXEC) == -1) { close_pipes(p, 4); return -1; }
  if (inject_inline_ok(cfg)) r = (j->pid = inject_fork(cfg, id, p[0], p[2], p[5])) == -1 ? -1 : 0;
  else r = spawn(&j->pid, cfg->injector, p[0], p[2], p[5]);
  if (r == -1) { close_pipes(p, 6); return -1; }
  close(p[0]);
  close(p[2]);
  close(p[5]);
  j->msgfd = p[1];
  j->envfd = p[3];
  j->errfd = p[4];
  j->broken = 0;
  wbuf_init(&j->msg, j->msgfd, j->msgbuf, sizeof j->msgbuf);
  return 0;
}

/* reap - wait for the child: its exit code (a signal is EX_TEMPFAIL) */
static int reap(pid_t pid)
{
  int st;
  for (;;) {
    if (waitpid(pid, &st, 0) == pid) return exitcode_wait(st);
    if (errno != EINTR) return EX_TEMPFAIL;
  }
}

/* inject_abort - give up: no envelope, so nothing is committed */
void inject_abort(struct injector *j)
{
  close(j->msgfd);
  close(j->envfd);
  close(j->errfd);
  reap(j->pid);
}

/* pass_line - a log line of the injector to our stderr */
static void pass_line(const char *s, size_t len)
{
  if (len && write(2, s, len) < 0) return;
  if (write(2, "\n", 1) < 0) return;
}

/* read_reply - its stderr to the end; the last line in last[] */
static void read_reply(int fd, char *last, size_t *lastlen)
{
  char buf[4096], cur[INJECT_ERR_MAX];
  size_t curlen = 0, i;
  ssize_t r;
  *lastlen = 0;
  for (;;) {
    r = read(fd, buf, sizeof buf);
    if (r == -1 && errno == EINTR) continue;
    if (r <= 0) break;
    for (i = 0; i < (size_t)r; i++) {
      if (buf[i] != '\n') { if (curlen < sizeof cur) cur[curlen++] = buf[i]; continue; }
      if (*lastlen) pass_line(last, *lastlen);
      byte_copy(last, curlen, cur);
      *lastlen = curlen;
      curlen = 0;
    }
  }
  if (curlen) {
    if (*lastlen) pass_line(last, *lastlen);
    byte_copy(last, curlen, cur);
    *lastlen = curlen;
  }
}

/* reply_ok - is s an SMTP reply line of class c ('2', '4', '5')? */
static int reply_ok(const char *s, size_t len, char c)
{
  size_t i;
  if (len < 3 || len >= INJECT_ERR_MAX || s[0] != c) return 0;
  if (s[1] < '0' || s[1] > '5' || s[2] < '0' || s[2] > '9') return 0;
  if (len > 3 && s[3] != ' ') return 0;
  for (i = 0; i < len; i++)
    if ((unsigned char)s[i] < 32 || s[i] == 127) return 0;
  return 1;
}

/* queue_id - the id at the end of "250 2.0.0 Ok: queued as ID" */
static void queue_id(const char *s, size_t len, char *qid)
{
  size_t start = len;
  qid[0] = 0;
  while (start > 0 && s[start - 1] != ' ') start--;
  if (len - start == 0 || len - start >= SPOOL_ID_MAX) return;
  byte_copy(qid, len - start, s + start);
  qid[len - start] = 0;
  if (!spool_id_valid(qid)) qid[0] = 0;
}

/* generic - "451 4.3.0 temporary failure" from the exit code table */
static void generic(int code, char *reply)
{
  char num[4] = { 0 };
  int rc = exitcode_reply(code);
  num[0] = (char)('0' + rc / 100); num[1] = (char)('0' + rc / 10 % 10); num[2] = (char)('0' + rc % 10);
  reply[0] = 0;
  str_copy(reply, num);
  str_copy(reply + 3, " ");
  str_copy(reply + 4, exitcode_status(code));
  str_copy(reply + str_len(reply), " ");
  str_copy(reply + str_len(reply), exitcode_text(code));
}

/* inject_finish - end the message; with commit, send the envelope.  The
 * reply for the client in reply[SMTP_REPLY_MAX] (250 only if the injector
 * exited 0 after a commit), the queue id in qid ("" if unknown); returns
 * the exit class (EXIT_DONE, EXIT_TEMP, EXIT_PERM). */
int inject_finish(struct injector *j, const struct envelope *e, int commit, char *reply, char *qid)
{
  char last[INJECT_ERR_MAX], envbuf[4096];
  size_t lastlen;
  buffer eb;
  if (wbuf_flush(&j->msg) == -1) commit = 0;   /* the injector went away */
  close(j->msgfd);
  if (commit) {
    wbuf_init(&eb, j->envfd, envbuf, sizeof envbuf);
    if (envelope_write(&eb, e) == -1 || wbuf_flush(&eb) == -1) commit = 0;
  }
  close(j->envfd);
  read_reply(j->errfd, last, &lastlen);
  close(j->errfd);
  int code = reap(j->pid);
  int cls = exitcode_class(code);
  if (!commit && cls == EXIT_DONE) { code = EX_TEMPFAIL; cls = EXIT_TEMP; }
  char want = cls == EXIT_DONE ? '2' : cls == EXIT_TEMP ? '4' : '5';
  qid[0] = 0;
  if (reply_ok(last, lastlen, want) && lastlen < SMTP_REPLY_MAX) {
    byte_copy(reply, lastlen, last);
    reply[lastlen] = 0;
    if (cls == EXIT_DONE) queue_id(last, lastlen, qid);
  } else generic(code, reply);
  return cls;
}

/* protocol - the "with" keyword of RFC 3848 and RFC 6531 */
static const char *protocol(const struct session *s)
{
  static const char *const p[8] = { "ESMTP", "ESMTPA", "ESMTPS", "ESMTPSA",
                                    "UTF8SMTP", "UTF8SMTPA", "UTF8SMTPS", "UTF8SMTPSA" };
  if (!s->esmtp) return "SMTP";
  return p[(s->smtputf8 ? 4 : 0) + (s->tls ? 2 : 0) + (s->user[0] ? 1 : 0)];
}

/* date - RFC 5322 date-time, in UTC */
static void date(char *out, size_t len)
{
  struct tm tm;
  time_t now = time(0);
  out[0] = 0;
  if (!gmtime_r(&now, &tm)) return;
  if (!strftime(out, len, "%a, %d %b %Y %H:%M:%S +0000", &tm)) out[0] = 0;
}

/* inject_received - our Received: header (RFC 5321 4.4) into b: client
 * name and address, HELO, protocol, TLS, our id, the recipient if there
 * is only one, the date.  0, or -1 if b failed. */
int inject_received(buffer *b, const struct session *s, const char *id)
{
  char when[64];
  date(when, sizeof when);
  if (buffer_puts(b, "Received: from ") || buffer_puts(b, s->helo[0] ? s->helo : "unknown")) return -1;
  if (s->mode == MODE_LOCAL) {
    if (buffer_puts(b, " (local)")) return -1;
  } else if (buffer_puts(b, " (") || buffer_puts(b, s->name) || buffer_puts(b, " [") ||
             buffer_puts(b, s->ip) || buffer_puts(b, "])")) return -1;
  if (buffer_puts(b, "\n\tby ") || buffer_puts(b, s->cfg->hostname) ||
      buffer_puts(b, " (postern) with ") || buffer_puts(b, protocol(s)) ||
      buffer_puts(b, " id ") || buffer_puts(b, id)) return -1;
  if (s->tls && (buffer_puts(b, "\n\t(using ") || buffer_puts(b, s->tls_info) || buffer_puts(b, ")"))) return -1;
  if (buffer_puts(b, "\n\t")) return -1;
  if (s->nrcpt == 1 && (buffer_puts(b, "for <") || buffer_puts(b, envelope_rcpt(&s->env, 0)) ||
                        buffer_puts(b, ">"))) return -1;
  return buffer_puts(b, "; ") || buffer_puts(b, when) || buffer_puts(b, "\n") ? -1 : 0;
}
