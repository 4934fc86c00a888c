/* filter.c - non_smtpd_milters: a message submitted with sendmail
 * goes through the milters (lib/milter.c) after it was read and its header
 * fixed, before the injector runs: CONNECT as localhost, HELO, MAIL, one
 * RCPT per recipient, DATA, the header and body from the memory file, the
 * end of the message.  A refusal ends sendmail with the milter's reply
 * (nothing is queued); a discard ends it with 0 and a log line; header
 * changes and a quarantine give a new memory file (and the envelope's Q
 * tag).  Without non_smtpd_milters nothing here makes a system call.
 *
 * These milters run in the caller's process: they sign or mark local mail
 * for the administrator, but a local user who runs spool-inject himself
 * passes them by (sendmail.8, SECURITY). */
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "byte.h"
#include "str.h"
#include "log.h"
#include "spool.h"
#include "wbuf.h"
#include "sendmail.h"

/* message - the message stages on fd; rewrites *fd when it changed */
static int message(struct milter_set *ms, int *fd, char *reply)
{
  static char space[65536];
  struct stat st;
  char *msg = 0;
  buffer b;
  int v, nfd;
  if (fstat(*fd, &st) == -1) goto temp;
  if (st.st_size && (msg = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, *fd, 0)) == MAP_FAILED) goto temp;
  v = milter_message(ms, "", 0, st.st_size ? msg : "", (size_t)st.st_size);
  if (v == MILTER_CONTINUE && ms->nedit) {
    if ((nfd = memfd_create("sendmail", MFD_CLOEXEC)) == -1) goto temp;
    wbuf_init(&b, nfd, space, sizeof space);
    if (milter_write_message(ms, &b, "", 0, msg, (size_t)st.st_size) == -1 || wbuf_flush(&b) == -1) { close(nfd); goto temp; }
    close(*fd);
    *fd = nfd;
  }
  if (msg) munmap(msg, (size_t)st.st_size);
  if (v != MILTER_CONTINUE && v != MILTER_DISCARD) str_copy(reply, ms->reply);
  return v;
temp:
  if (msg && msg != MAP_FAILED) munmap(msg, (size_t)st.st_size);
  str_copy(reply, "451 4.3.0 Unable to keep the changed message in memory");
  return MILTER_TEMPFAIL;
}

/* addr_args - "<addr>\0" */
static int addr_args(stralloc *a, const char *addr)
{
  return stralloc_copys(a, "<") && stralloc_cats(a, addr) && stralloc_catb(a, ">", 2) ? 0 : -1;
}

/* stages - connect to the end of the message */
static int stages(struct milter_set *ms, const struct config *cfg, int *fd, const char *sender,
                  const struct rcpts *r, char *reply)
{
  static stralloc a;
  unsigned long off;
  int v;
  if ((v = milter_helo(ms, cfg->hostname)) != MILTER_CONTINUE) goto refused;
  milter_macro(ms, "{mail_addr}", sender);
  if (addr_args(&a, sender) == -1) goto nomem;
  if ((v = milter_mail(ms, a.s, a.len)) != MILTER_CONTINUE) goto refused;
  for (off = 0; off < r->s.len; off += str_len(r->s.s + off) + 1) {
    milter_macro(ms, "{rcpt_addr}", r->s.s + off);
    if (addr_args(&a, r->s.s + off) == -1) goto nomem;
    /* one refused recipient refuses the submission: sendmail has no
     * per-recipient answer to give */
    if ((v = milter_rcpt(ms, a.s, a.len)) != MILTER_CONTINUE) goto refused;
  }
  if ((v = milter_data(ms)) != MILTER_CONTINUE) goto refused;
  return message(ms, fd, reply);
refused:
  if (v != MILTER_DISCARD) str_copy(reply, ms->reply);
  return v;
nomem:
  str_copy(reply, "451 4.3.0 Out of memory");
  return MILTER_TEMPFAIL;
}

int filter_milters(const struct config *cfg, int *fd, const char *sender, const struct rcpts *r,
                   const char *login, char *quarantine, char *reply)
{
  static struct milter_conf conf;
  static struct milter_set ms;
  char id[SPOOL_ID_MAX];
  const char *why;
  int v;
  if (!cfg->non_smtpd_milters[0]) return MILTER_CONTINUE;
  if ((why = milter_conf_parse(&conf, cfg->non_smtpd_milters, cfg))) {
    log_event(0, "status", "tempfail", "detail", "configuration error", "reason", why, "value", cfg->non_smtpd_milters, (char *)0);
    str_copy(reply, "451 4.3.5 Configuration error in non_smtpd_milters");
    return MILTER_TEMPFAIL;
  }
  milter_init(&ms, &conf);
  spool_id(id);            /* for the milters' logs: the queue's own id is chosen by the injector */
  milter_client(&ms, "localhost", "127.0.0.1", 0, '4');
  if (milter_macro(&ms, "j", cfg->hostname) || milter_macro(&ms, "{daemon_name}", "local") ||
      milter_macro(&ms, "{client_addr}", "127.0.0.1") || milter_macro(&ms, "{client_name}", "localhost") ||
      milter_macro(&ms, "{auth_authen}", login) || milter_macro(&ms, "{auth_type}", "local") ||
      milter_macro(&ms, "i", id)) {
    str_copy(reply, "451 4.3.0 Out of memory");
    return MILTER_TEMPFAIL;
  }
  v = stages(&ms, cfg, fd, sender, r, reply);
  if (v == MILTER_CONTINUE && ms.quarantine[0]) str_copy(quarantine, ms.quarantine);
  if (v == MILTER_DISCARD) log_event(0, "status", "discarded", "rid", id, "from", sender, "by", "milter", (char *)0);
  milter_close(&ms);
  return v;
}
