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
 * copy of our pages per message).  We say 250 only after it exited 0.  An
 * injector (a hanging filter) that has not answered REPLY_SECONDS after
 * the data is killed: 451.  A write into its pipes waits at most
 * smtpd_data_timeout (wbuf_timeout); one that stops reading is given
 * ABORT_SECONDS, then killed.  A message the client never finished is
 * abandoned by closing the pipes without the envelope: the injector then
 * commits nothing. */
#include <fcntl.h>
#include <time.h>
#include <unistd.h>
#include "byte.h"
#include "str.h"
#include "date.h"
#include "exitcode.h"
#include "inject.h"
#include "smtp.h"
#include "wbuf.h"

#define REPLY_SECONDS 540     /* the injector's answer after the data; a client waits 10 minutes (RFC 5321 4.5.3.2.6) */
#define ABORT_SECONDS 10      /* an abandoned injector has both EOFs, or stopped reading: it should be gone at once */

/* close_pipes - close both ends of the pipes made so far */
static void close_pipes(int *p, int n)
{
  int i;
  for (i = 0; i < n; i++) close(p[i]);
}

/* inject_start - start the injector; 0, or -1 (nothing started).  id:
 * the queue id a forked injector uses if it is free */
int inject_start(struct injector *j, const struct config *cfg, const char *id)
{
  int p[4];
  if (pipe2(p, O_CLOEXEC) == -1) return -1;
  if (pipe2(p + 2, O_CLOEXEC) == -1) { close_pipes(p, 2); return -1; }
  if (inject_child_start(&j->child, cfg, id, p[0], p[2], INJECT_CALLER_LOGS) == -1) { close_pipes(p, 4); return -1; }
  close(p[0]);
  close(p[2]);
  j->msgfd = p[1];
  j->envfd = p[3];
  wbuf_init(&j->msg, j->msgfd, j->msgbuf, sizeof j->msgbuf);
  /* a filter that stops reading must not pin the session: each write
   * into its pipes waits at most the data timeout */
  j->write_seconds = cfg->smtpd_data_timeout;
  wbuf_timeout(j->msgfd, j->write_seconds);
  return 0;
}

/* inject_abort - give up: no envelope, so nothing is committed (what the
 * injector says about that is not passed on) */
void inject_abort(struct injector *j)
{
  static struct child_result r;
  close(j->msgfd);
  close(j->envfd);
  child_wait(&j->child, ABORT_SECONDS, 0, &r);
}

/* reply_ok - is s an SMTP reply line of class c ('2', '4', '5')? */
static int reply_ok(const char *s, size_t len, char c)
{
  size_t i;
  if (len < 3 || len >= CHILD_REPLY_MAX || s[0] != c) return 0;
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
  static struct child_result r;
  char envbuf[4096];
  size_t len;
  buffer eb;
  int stuck = wbuf_flush(&j->msg) == -1;   /* the injector went away or stopped reading */
  if (stuck) commit = 0;
  close(j->msgfd);
  if (commit) {
    wbuf_init(&eb, j->envfd, envbuf, sizeof envbuf);
    wbuf_timeout(j->envfd, j->write_seconds);
    if (envelope_write(&eb, e) == -1 || wbuf_flush(&eb) == -1) commit = 0;
  }
  close(j->envfd);
  child_wait(&j->child, stuck ? ABORT_SECONDS : REPLY_SECONDS, CHILD_PASS_LOG, &r);
  int code = r.code;
  int cls = exitcode_class(code);
  if (!commit && cls == EXIT_DONE) { code = EX_TEMPFAIL; cls = EXIT_TEMP; }
  char want = cls == EXIT_DONE ? '2' : cls == EXIT_TEMP ? '4' : '5';
  len = str_len(r.reply);
  qid[0] = 0;
  if (!r.late && reply_ok(r.reply, len, want) && len < SMTP_REPLY_MAX) {
    byte_copy(reply, len, r.reply);
    reply[len] = 0;
    if (cls == EXIT_DONE) queue_id(r.reply, len, qid);
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

/* inject_received - our Received: header (RFC 5321 4.4) into b: client
 * name and address, HELO, protocol, TLS, our id, the recipient if there
 * is only one, the date.  0, or -1 if b failed. */
int inject_received(buffer *b, const struct session *s, const char *id)
{
  char when[DATE_MAX];
  date_rfc5322(when, (unsigned long)time(0), 0);
  if (s->cfg->received_hide_submitter && (s->user[0] || s->mode == MODE_LOCAL))
    /* an authenticated or local submitter: no name, address, HELO or TLS
     * details of the client leave (Postfix's smtpd_hide_client_session) */
    return buffer_puts(b, "Received: by ") || buffer_puts(b, s->cfg->hostname) || buffer_puts(b, " (postern) with ") ||
           buffer_puts(b, protocol(s)) || buffer_puts(b, " id ") || buffer_puts(b, id) || buffer_puts(b, ";\n\t") ||
           buffer_puts(b, when) || buffer_puts(b, "\n") ? -1 : 0;
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
