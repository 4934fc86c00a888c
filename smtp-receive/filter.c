/* filter.c - smtpd_milters: the session's events go to the milters as they
 * happen (lib/milter.c), so that a milter's refusal is the reply to the
 * command it is about: MAIL, each RCPT, DATA, and the end of the data.
 *
 * The connections are opened at the first MAIL (a client that never
 * sends one costs the milters nothing); CONNECT and HELO are sent then.
 * With milters the message is kept in a memory file while it arrives,
 * not streamed to the injector, because their header changes come only
 * after its end: at the end of the data it goes to the milters, then,
 * changed as they asked, to the injector, our Received: header first.
 * A refused or discarded message never reaches the injector; a
 * quarantined one is queued with the envelope's Q tag (held).
 * Without smtpd_milters every hook returns after one test of a string:
 * no memory file, no socket, no system call. */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "byte.h"
#include "str.h"
#include "exitcode.h"
#include "log.h"
#include "milter.h"
#include "num.h"
#include "wbuf.h"
#include "smtp.h"

static struct milter_conf conf;      /* smtpd_milters, parsed at the first MAIL */
static struct milter_set set;        /* the connections of this session */
static int state;                    /* 0 not set up, 1 ready, -1 bad setting */
static const char *conf_error;       /* why the setting was refused */
static int msgfd = -1;               /* the memory file of the message under way */
static buffer sink;                  /* the data reader writes into it */
static char sinkbuf[65536];
static struct injector inj;          /* the injector of a filtered message */
static char reply[MILTER_REPLY_MAX]; /* filter_end's answer */

int filter_on(const struct session *s)
{
  return s->cfg->smtpd_milters[0] != 0;
}

/* daemon_name - {daemon_name}: which door the mail came through */
static const char *daemon_name(int mode)
{
  switch (mode) {
  case MODE_MX: return "mx";
  case MODE_SUBMISSION: return "submission";
  case MODE_SMTPS: return "smtps";
  default: return "local";
  }
}

/* sock_text - an address and port of fd 0 (peer or local) */
static int sock_text(int peer, char *ip, size_t iplen, unsigned int *port)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  int r = peer ? getpeername(0, (struct sockaddr *)&ss, &len) : getsockname(0, (struct sockaddr *)&ss, &len);
  ip[0] = 0; *port = 0;
  if (r == -1) return -1;
  if (ss.ss_family == AF_INET) {
    *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    return inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip, (socklen_t)iplen) ? 4 : -1;
  }
  if (ss.ss_family == AF_INET6) {
    *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, ip, (socklen_t)iplen) ? 6 : -1;
  }
  return -1;
}

/* setup - parse the list, the connection's macros; 0 or -1 */
static int setup(struct session *s)
{
  char ip[64], num[NUM_ULONG];
  unsigned int port;
  int fam;
  if (state) return state == 1 ? 0 : -1;
  if ((conf_error = milter_conf_parse(&conf, s->cfg->smtpd_milters, s->cfg))) {
    state = -1;
    log_event(0, "status", "tempfail", "detail", "configuration error", "reason", conf_error,
              "value", s->cfg->smtpd_milters, (char *)0);
    return -1;
  }
  milter_init(&set, &conf);
  state = 1;
  milter_macro(&set, "j", s->cfg->hostname);
  milter_macro(&set, "{daemon_name}", daemon_name(s->mode));
  if (s->mode != MODE_LOCAL && sock_text(0, ip, sizeof ip, &port) > 0) milter_macro(&set, "{daemon_addr}", ip);
  if (s->mode == MODE_LOCAL || !s->ip[0]) {
    milter_client(&set, "localhost", "127.0.0.1", 0, '4');
    milter_macro(&set, "{client_addr}", "127.0.0.1");   /* OpenDKIM and rspamd treat local mail as internal */
    milter_macro(&set, "{client_name}", "localhost");
    return 0;
  }
  fam = sock_text(1, ip, sizeof ip, &port);
  if (s->proxied || fam < 0) port = 0;      /* the balancer's port says nothing */
  milter_client(&set, s->name, s->ip, port, byte_chr(s->ip, str_len(s->ip), ':') < str_len(s->ip) ? '6' : '4');
  milter_macro(&set, "{client_addr}", s->ip);
  milter_macro(&set, "{client_name}", s->name);
  if (port) milter_macro(&set, "{client_port}", num_str(num, port));
  return 0;
}

/* session_macros - what may have changed since the last MAIL: TLS, AUTH */
static void session_macros(struct session *s)
{
  char v[128];
  size_t sp = byte_chr(s->tls_info, str_len(s->tls_info), ' ');
  byte_copy(v, sp, s->tls_info);
  v[sp] = 0;
  milter_macro(&set, "{tls_version}", s->tls ? v : "");
  milter_macro(&set, "{cipher}", s->tls && s->tls_info[sp] ? s->tls_info + sp + 1 : "");
  milter_macro(&set, "{auth_type}", s->user[0] ? s->auth_mech : "");
  milter_macro(&set, "{auth_authen}", s->user);
  milter_macro(&set, "i", "");
  milter_macro(&set, "{rcpt_addr}", "");
}

/* args - "<addr>\0" then each blank-separated parameter of rest, NUL-ended */
static const char *args(const char *addr, size_t alen, const char *rest, size_t len, size_t *out)
{
  static stralloc a;
  size_t i = 0;
  a.len = 0;
  if (!stralloc_copys(&a, "<") || !stralloc_catb(&a, addr, alen) || !stralloc_catb(&a, ">", 2)) return 0;
  while (i < len) {
    size_t j;
    while (i < len && rest[i] == ' ') i++;
    for (j = i; j < len && rest[j] != ' '; j++) {}
    if (j > i && (!stralloc_catb(&a, rest + i, j - i) || !stralloc_catb(&a, "", 1))) return 0;
    i = j;
  }
  *out = a.len;
  return a.s;
}

/* verdict - a milter's verdict on a command: 0 go on, 1 refused (reply) */
static int verdict(struct session *s, int v, char *out)
{
  if (v == MILTER_DISCARD) { s->discard = 1; return 0; }   /* accepted, never injected */
  if (v == MILTER_CONTINUE) return 0;
  /* a multi-line reply longer than a command's reply buffer is cut to its
   * last line, which milter_reply_text bounds to 512 bytes */
  size_t len = str_len(set.reply), start = 0;
  if (len >= SMTP_REPLY_MAX)
    for (start = len; start > 0 && set.reply[start - 1] != '\n'; start--) {}
  byte_copy(out, len - start + 1, set.reply + start);
  return 1;
}

int filter_mail(struct session *s, const char *arg, size_t len, char *out)
{
  char addr[ADDR_PATH_MAX + 1];
  size_t alen, rest, n;
  const char *a;
  int v;
  if (!filter_on(s)) return 0;
  if (setup(s) == -1) { str_copy(out, "451 4.3.5 Configuration error; try again later"); return 1; }
  if (parse_path(arg, len, "FROM:", addr, &alen, &rest)) return 0;   /* checked by txn.c */
  session_macros(s);
  addr[alen] = 0;
  milter_macro(&set, "{mail_addr}", addr);
  if ((v = milter_helo(&set, s->helo)) != MILTER_CONTINUE) return verdict(s, v, out);
  if (!(a = args(addr, alen, arg + rest, len - rest, &n))) { str_copy(out, "451 4.3.0 Out of memory"); return 1; }
  return verdict(s, milter_mail(&set, a, n), out);
}

int filter_rcpt(struct session *s, const char *addr, size_t alen, const char *arg, size_t len, char *out)
{
  char rcpt[ADDR_PATH_MAX + 1], tmp[ADDR_PATH_MAX + 1];
  size_t tl, rest, n;
  const char *a;
  if (!filter_on(s) || state != 1) return 0;
  if (parse_path(arg, len, "TO:", tmp, &tl, &rest)) return 0;
  byte_copy(rcpt, alen, addr);
  rcpt[alen] = 0;
  milter_macro(&set, "{rcpt_addr}", rcpt);
  if (!(a = args(addr, alen, arg + rest, len - rest, &n))) { str_copy(out, "451 4.3.0 Out of memory"); return 1; }
  return verdict(s, milter_rcpt(&set, a, n), out);
}

int filter_begin(struct session *s, struct data *d, const char *rid, char *out)
{
  if (setup(s) == -1) { str_copy(out, "451 4.3.5 Configuration error; try again later"); return 0; }
  set.log_id = 0;
  milter_macro(&set, "i", rid);
  if (verdict(s, milter_data(&set), out)) return 0;
  if (s->discard) { data_start(d, 0, s->cfg->smtpd_line_limit, s->cfg->message_size_limit); return 1; }
  if ((msgfd = memfd_create("smtp-receive", MFD_CLOEXEC)) == -1) {
    smtp_log(s, "tempfail", "unable to make a memory file");
    str_copy(out, "451 4.3.0 Unable to queue the message, try again later");
    return 0;
  }
  wbuf_init(&sink, msgfd, sinkbuf, sizeof sinkbuf);
  data_start(d, &sink, s->cfg->smtpd_line_limit, s->cfg->message_size_limit);
  return 1;
}

/* inject - the message, changed as the milters asked, to the injector */
static const char *inject(struct session *s, const char *rid, const stralloc *recv, const char *msg, size_t len,
                          char *qid, const char **status)
{
  static char r[SMTP_REPLY_MAX];
  const char *why;
  if (set.quarantine[0] && (why = envelope_quarantine(&s->env, set.quarantine, str_len(set.quarantine)))) {
    log_event(0, "rid", rid, "status", "tempfail", "detail", "quarantine reason refused", "reason", why, (char *)0);
    return "451 4.3.0 Unable to quarantine the message, try again later";
  }
  if (inject_start(&inj, s->cfg, rid) == -1) {
    smtp_log(s, "tempfail", "unable to start the injector");
    return "451 4.3.0 Unable to queue the message, try again later";
  }
  int ok = milter_write_message(&set, &inj.msg, recv->s, recv->len, msg, len) == 0;
  if (inject_finish(&inj, &s->env, ok, r, qid) == EXIT_DONE) *status = set.quarantine[0] ? "quarantined" : "queued";
  return r;
}

/* received - our Received: header, as the injector gets it */
static int received(struct session *s, const char *rid, stralloc *sa)
{
  buffer b;
  sa->len = 0;
  if (buffer_tosa(&b, sa) != 0) return -1;
  int r = inject_received(&b, s, rid) == -1 || buffer_flush(&b) == -1 ? -1 : 0;
  buffer_close(&b);
  return r;
}

const char *filter_end(struct session *s, int data_error, const char *rid, char *qid, const char **status)
{
  static stralloc recv;
  struct stat st;
  char *msg = 0;
  const char *r = "451 4.3.0 Unable to queue the message, try again later";
  int v;
  *status = "refused";
  qid[0] = 0;
  if (msgfd == -1) return r;
  if (data_error != DATA_OK || wbuf_flush(&sink) == -1 || fstat(msgfd, &st) == -1) goto done;
  if (st.st_size && (msg = mmap(0, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, msgfd, 0)) == MAP_FAILED) { msg = 0; goto done; }
  if (received(s, rid, &recv) == -1) goto done;
  v = milter_message(&set, recv.s, recv.len, msg ? msg : "", (size_t)st.st_size);
  if (v == MILTER_DISCARD) { r = "250 2.0.0 Ok: discarded"; *status = "discarded"; }
  else if (v != MILTER_CONTINUE) { str_copy(reply, set.reply); r = reply; }
  else r = inject(s, rid, &recv, msg ? msg : "", (size_t)st.st_size, qid, status);
done:
  if (msg) munmap(msg, (size_t)st.st_size);
  close(msgfd);
  msgfd = -1;
  return r;
}

void filter_reset(struct session *s)
{
  if (!filter_on(s) || state != 1) return;
  if (msgfd != -1) { close(msgfd); msgfd = -1; }
  milter_abort(&set);
}
