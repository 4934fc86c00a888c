/* mail.c - sendmail -bm (the default): read a message, build its
 * envelope, fix its header section and hand both to the injector.
 *
 * Everything on the command line is checked before a byte of the message
 * is read, so that a usage error (64) never eats the caller's message.
 * The message is read completely into a memory file before the injector
 * runs: the injector gets a finished, bounded message (and never half of
 * one), and a failed injection still has the text to return or to save.
 * Errors after the message was read follow -oe (sendmail.8): p prints,
 * q is quiet, m and w also mail a permanent failure back to the caller
 * or save a temporarily failed message in ~/dead.letter, e does the same
 * and then exits 0.  Nothing is ever dropped without a non-zero exit
 * status or a copy kept. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/time.h>
#include "byte.h"
#include "str.h"
#include "address.h"
#include "exitcode.h"
#include "hops.h"
#include "log.h"
#include "mbox.h"
#include "date.h"
#include "num.h"
#include "wbuf.h"
#include "sendmail.h"

/* struct caller - who runs us (the passwd entry of the real uid) */
struct caller {
  stralloc login, home, gecos;
  unsigned long uid;
  int trusted;
};

/* struct mail - one submission */
struct mail {
  const struct args *a;
  const struct config *cfg;
  struct caller who;
  stralloc sender;          /* envelope sender, NUL-terminated; "" null */
  stralloc own;             /* the caller's address (rewritten), NUL-terminated */
  stralloc locals;          /* "hostname domain localhost" */
  stralloc envid;           /* -V as xtext */
  struct rcpts rcpts;
  struct message m;
  stralloc hdr;             /* the fixed header section */
  int msgfd;                /* the finished message, or -1 */
  int complete;             /* msgfd holds all of it */
  int utf8;                 /* SMTPUTF8 needed */
  char quarantine[MILTER_QUARANTINE_MAX];   /* a milter quarantined it: the Q tag */
};

/* ---------------------------------------------------------------- errors */

/* usage - a command-line problem: nothing was read, nothing queued */
static int usage(const char *a, const char *b, const char *c)
{
  run_say(a, b, c);
  return EX_USAGE;
}

/* -------------------------------------------------------------- caller */

/* gecos_name - the full name of a gecos field: up to the first comma,
 * '&' standing for the login with a capital; "" if unusable */
static int gecos_name(stralloc *out, const char *gecos, const char *login)
{
  size_t i;
  out->len = 0;
  for (i = 0; gecos && gecos[i] && gecos[i] != ','; i++) {
    if (gecos[i] == '&') {
      char first = login[0] >= 'a' && login[0] <= 'z' ? (char)(login[0] - 32) : login[0];
      if (!stralloc_catb(out, &first, 1) || !stralloc_cats(out, login + (login[0] != 0))) return -1;
    } else if (!stralloc_catb(out, gecos + i, 1)) return -1;
    if ((unsigned char)gecos[i] < 32 || gecos[i] == 127 || out->len > SM_FULLNAME_MAX) { out->len = 0; break; }
  }
  return stralloc_0(out) ? 0 : -1;
}

/* in_group - the caller belongs to group name */
static int in_group(const char *name, size_t len, const struct passwd *pw)
{
  char g[256];
  gid_t list[256];
  struct group *gr;
  int n, i;
  if (len >= sizeof g) return 0;
  byte_copy(g, len, name);
  g[len] = 0;
  if (!(gr = getgrnam(g))) return 0;
  if (gr->gr_gid == pw->pw_gid || gr->gr_gid == getgid()) return 1;
  n = getgroups(256, list);
  for (i = 0; i < n; i++) if (list[i] == gr->gr_gid) return 1;
  for (i = 0; gr->gr_mem && gr->gr_mem[i]; i++) if (!str_diff(gr->gr_mem[i], pw->pw_name)) return 1;
  return 0;
}

/* trusted - root, or named (or in a %group) in sendmail_trusted_users */
static int trusted(const char *list, const struct passwd *pw)
{
  size_t i = 0, k;
  if (pw->pw_uid == 0) return 1;
  while (list[i]) {
    while (list[i] == ' ' || list[i] == ',') i++;
    for (k = i; list[k] && list[k] != ' ' && list[k] != ','; k++) ;
    if (k > i && list[i] == '%' && in_group(list + i + 1, k - i - 1, pw)) return 1;
    if (k > i && list[i] != '%' && str_len(pw->pw_name) == k - i && !byte_diff(list + i, k - i, pw->pw_name)) return 1;
    i = k;
  }
  return 0;
}

/* caller_load - the passwd entry of the real uid; 0, or an exit code */
static int caller_load(struct caller *w, const struct config *cfg)
{
  const char *home = getenv("HOME");
  char n[NUM_ULONG];
  struct passwd *pw;
  w->uid = (unsigned long)getuid();
  errno = 0;
  if (!(pw = getpwuid((uid_t)w->uid))) {
    if (errno && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM) {
      run_say("unable to read the password file: ", strerror(errno), "");
      return EX_TEMPFAIL;
    }
    run_say("no login name for user id ", num_str(n, w->uid), " (no passwd entry)");
    return EX_NOUSER;
  }
  if (!home || home[0] != '/' || str_len(home) > 4000) home = pw->pw_dir;
  if (!stralloc_copys(&w->login, pw->pw_name) || !stralloc_0(&w->login) || !stralloc_copys(&w->home, home)
      || !stralloc_0(&w->home) || gecos_name(&w->gecos, pw->pw_gecos, pw->pw_name) == -1) {
    run_say("out of memory", "", "");
    return EX_TEMPFAIL;
  }
  w->trusted = trusted(cfg->sendmail_trusted_users, pw);
  return 0;
}

/* printable - no control characters, at most max bytes */
static int printable(const char *s, size_t max)
{
  size_t i;
  for (i = 0; s[i]; i++)
    if (i >= max || (unsigned char)s[i] < 32 || s[i] == 127) return 0;
  return 1;
}

/* fullname - -F, else $NAME, else the gecos name */
static const char *fullname(const struct mail *x)
{
  const char *name = getenv("NAME");
  if (x->a->fullname) return x->a->fullname;
  if (name && printable(name, SM_FULLNAME_MAX)) return name;
  return x->who.gecos.s;
}

/* ------------------------------------------------------------- sender */

/* struct one - the single mailbox of a -f value */
struct one { unsigned int n; int null; stralloc addr; };

static int on_one(void *ctx, const struct rfc5322_mailbox *m)
{
  struct one *o = ctx;
  o->n++;
  if (m->null) o->null = 1;
  else if (!stralloc_copyb(&o->addr, m->addr, m->len)) return -2;
  return 0;
}

/* own_address - login@domain into sa */
static int own_address(stralloc *sa, const struct mail *x)
{
  return stralloc_copy(sa, &x->who.login) && stralloc_chop(sa) >= 0 && stralloc_cats(sa, "@")
      && stralloc_cats(sa, x->cfg->domain) && stralloc_0(sa) ? 0 : -1;
}

/* is_caller - addr is the caller's own (login, at a local domain) */
static int is_caller(const struct mail *x, const char *addr)
{
  size_t len = str_len(addr), at = address_at(addr, len), n = str_len(x->who.login.s);
  return at == n && !byte_diff(addr, n, x->who.login.s) && rfc5322_is_local(addr, len, x->locals.s);
}

/* sender_arg - the -f/-r value into x->sender: one address (qualified)
 * or the null sender; 0, or an exit code */
static int sender_arg(struct mail *x)
{
  const char *why, *s = x->a->sender;
  struct one o;
  int r;
  byte_zero(&o, sizeof o);
  r = rfc5322_addrlist(s, str_len(s), on_one, &o, &why);
  if (r == -1) r = usage("bad sender address: ", s, why);
  else if (r || o.n > 1) r = usage("more than one sender address: ", s, "");
  else if (!o.n || o.null) r = stralloc_copys(&x->sender, "") && stralloc_0(&x->sender) ? 0 : usage("out of memory", "", "");
  else if (rcpts_qualify(&x->sender, o.addr.s, o.addr.len, x->cfg->domain) == -1) r = usage("out of memory", "", "");
  else if ((why = address_check(x->sender.s, x->sender.len - 1, ADDR_UTF8))) r = usage("bad sender address: ", s, why);
  stralloc_free(&o.addr);
  return r;
}

/* sender_resolve - the envelope sender from -f/-r or the caller, and the
 * caller's own address; 0, or an exit code */
static int sender_resolve(struct mail *x)
{
  const char *rw = x->cfg->sendmail_rewrite_sender, *why;
  int r;
  if (*rw && (why = address_check(rw, str_len(rw), ADDR_UTF8))) {
    run_say("bad sendmail_rewrite_sender in the configuration: ", why, "");
    return EX_CONFIG;
  }
  if (own_address(&x->own, x) == -1) return usage("out of memory", "", "");
  if (!x->a->sender) {
    if (!stralloc_copy(&x->sender, &x->own)) return usage("out of memory", "", "");
  } else if ((r = sender_arg(x))) return r;
  if (*rw) {
    if (*x->sender.s && rfc5322_is_local(x->sender.s, x->sender.len - 1, x->locals.s)
        && (!stralloc_copys(&x->sender, rw) || !stralloc_0(&x->sender))) return usage("out of memory", "", "");
    if (!stralloc_copys(&x->own, rw) || !stralloc_0(&x->own)) return usage("out of memory", "", "");
  }
  return 0;
}

/* --------------------------------------------------------------- tags */

/* xtext - RFC 3461 xtext of s into out */
static int xtext(stralloc *out, const char *s)
{
  static const char hex[] = "0123456789ABCDEF";
  out->len = 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    char e[3] = { '+', hex[c >> 4], hex[c & 15] };
    if (c > 32 && c < 127 && c != '+' && c != '=') { if (!stralloc_catb(out, s, 1)) return -1; }
    else if (!stralloc_catb(out, e, 3)) return -1;
  }
  return 0;
}

/* tags_check - -B, -R, -V, -N and -F, before anything is read */
static int tags_check(struct mail *x)
{
  const struct args *a = x->a;
  struct envelope e;
  const char *why = 0;
  int r = 0;
  envelope_init(&e);
  envelope_set_sender(&e, "", 0);
  if (a->fullname && str_len(a->fullname) > SM_FULLNAME_MAX) r = usage("full name too long (-F)", "", "");
  else if (a->body && (why = envelope_set_tag(&e, 'B', a->body, str_len(a->body), ENV_INPUT)))
    r = usage("bad value for -B: ", a->body, " (7BIT, 8BITMIME or BINARYMIME)");
  else if (a->ret && (why = envelope_set_tag(&e, 'R', a->ret, str_len(a->ret), ENV_INPUT)))
    r = usage("bad value for -R: ", a->ret, " (full or hdrs)");
  else if (a->envid && (xtext(&x->envid, a->envid) == -1 || x->envid.len == 0 || x->envid.len > ENV_ENVID_MAX))
    r = usage("bad value for -V: ", a->envid, " (at most 100 bytes as xtext)");
  else if (envelope_add_rcpt(&e, "postmaster", 10)) r = usage("out of memory", "", "");
  else if (a->notify && (why = envelope_set_rcpt_tag(&e, 'N', a->notify, str_len(a->notify))))
    r = usage("bad value for -N: ", a->notify, " (never, or success, delay, failure separated by commas)");
  envelope_free(&e);
  return r;
}

/* ------------------------------------------------------- failures */

static int mail_back(struct mail *x, const char *reason);
static int dead_letter(struct mail *x);

/* failed - the message was not queued: tell, keep, return the exit code */
static int failed(struct mail *x, int code, const char *reply, const char *detail)
{
  static stralloc text;
  char uid[NUM_ULONG];
  const char *t = reply;
  if (stralloc_copys(&text, reply) && stralloc_cats(&text, detail ? detail : "") && stralloc_0(&text)) t = text.s;
  if (x->a->errmode != 'q') run_say(t, "", "");
  log_event(0, "status", "failed", "uid", num_str(uid, x->who.uid), "reply", t, (char *)0);
  if (x->a->errmode == 'm' || x->a->errmode == 'w' || x->a->errmode == 'e') {
    int done = -1;
    if (exitcode_class(code) == EXIT_PERM) done = mail_back(x, t);
    if (done == -1 && x->complete) done = dead_letter(x);
    if (done == 0 && x->a->errmode == 'e') return 0;
  }
  return code;
}

/* temp - a temporary failure of our own */
static int temp(struct mail *x, int code, const char *what)
{
  return failed(x, code, "451 4.3.0 ", what);
}

/* ----------------------------------------------------------- reading */

/* fix_setup - what the header fixing needs to know */
static void fix_setup(struct mail *x, struct fix *f)
{
  static char rnd[17];
  unsigned char b[8];
  struct timeval tv;
  unsigned int i;
  gettimeofday(&tv, 0);
  if (getrandom(b, sizeof b, GRND_NONBLOCK) != (ssize_t)sizeof b)
    for (i = 0; i < sizeof b; i++) b[i] = (unsigned char)((unsigned long)tv.tv_usec >> (i % 3 * 8) ^ (unsigned long)getpid() >> i);
  for (i = 0; i < sizeof b; i++) { rnd[2 * i] = "0123456789abcdef"[b[i] >> 4]; rnd[2 * i + 1] = "0123456789abcdef"[b[i] & 15]; }
  rnd[16] = 0;
  byte_zero(f, sizeof *f);
  f->hostname = x->cfg->hostname;
  f->domain = x->cfg->domain;
  f->locals = x->locals.s;
  f->login = x->who.login.s;
  f->uid = x->who.uid;
  f->hide = x->cfg->received_hide_submitter;
  f->fullname = fullname(x);
  f->sender = x->sender.s;
  f->own = x->own.s;
  f->rewrite = *x->cfg->sendmail_rewrite_sender ? x->cfg->sendmail_rewrite_sender : 0;
  if (x->a->sender && !x->who.trusted && !is_caller(x, x->sender.s) && str_diff(x->sender.s, x->own.s))
    f->warn_flag = x->a->sender_flag;
  f->untrusted = !x->who.trusted;
  f->extract = x->a->extract;
  f->now = (unsigned long)tv.tv_sec;
  f->usec = (unsigned long)tv.tv_usec;
  f->pid = (unsigned long)getpid();
  f->random = rnd;
  f->rcpts = &x->rcpts;
}

/* too_many_hops - the fixed header (our Received: included) counts more
 * Received: and Delivered-To: fields than hop_count_limit: a mail loop */
static int too_many_hops(const struct mail *x)
{
  struct hops h;
  hops_start(&h);
  hops_feed(&h, x->hdr.s, x->hdr.len);
  hops_feed(&h, "\n\n", 2);
  return hops_over(&h, x->cfg->hop_count_limit);
}

/* read_message - headers, fixed, then the body, into a memory file */
static int read_message(struct mail *x)
{
  static char inspace[65536], outspace[65536];
  buffer in = BUFFER_INIT(read, 0, inspace, sizeof inspace), out;
  unsigned long limit = x->cfg->message_size_limit;
  struct fix f;
  const char *why;
  int r;
  x->m.in = &in;
  x->m.dot_ends = x->a->dot_ends;
  r = headers_read(&x->m, &why);
  if (r == SM_EDATA) return failed(x, EX_DATAERR, "554 5.6.0 Message refused: ", why);
  if (r == SM_EIO) return failed(x, EX_IOERR, "451 4.3.0 Unable to read the message: ", strerror(errno));
  if (r) return temp(x, EX_TEMPFAIL, "Out of memory");
  fix_setup(x, &f);
  if (fix_headers(&x->m, &f, &x->hdr, &why) == -1)
    return str_diff(why, "out of memory") ? failed(x, EX_DATAERR, "554 5.1.3 Message refused: ", why) : temp(x, EX_TEMPFAIL, "Out of memory");
  if (too_many_hops(x)) return failed(x, EX_DATAERR, "554 5.4.0 Message refused: too many hops (Received: header fields), a mail loop?", 0);
  if ((x->msgfd = memfd_create("sendmail", MFD_CLOEXEC)) == -1) return temp(x, EX_OSERR, "Unable to make a memory file");
  if (limit && x->hdr.len > limit) return failed(x, EX_DATAERR, "552 5.3.4 Message size exceeds fixed limit", 0);
  wbuf_init(&out, x->msgfd, outspace, sizeof outspace);
  if (buffer_put(&out, x->hdr.s, x->hdr.len)) return temp(x, EX_TEMPFAIL, "Unable to keep the message in memory");
  r = headers_copy_body(&x->m, &out, limit ? limit - x->hdr.len : SM_NO_LIMIT);
  if (r == SM_EBIG) return failed(x, EX_DATAERR, "552 5.3.4 Message size exceeds fixed limit", 0);
  if (r == SM_EIO) return failed(x, EX_IOERR, "451 4.3.0 Unable to read the message: ", strerror(errno));
  if (r || wbuf_flush(&out) == -1) return temp(x, EX_TEMPFAIL, "Unable to keep the message in memory");
  x->complete = 1;
  return 0;
}

/* --------------------------------------------------------- injecting */

/* has_8bit - a byte >= 0x80 */
static int has_8bit(const char *s)
{
  for (; *s; s++) if ((unsigned char)*s >= 0x80) return 1;
  return 0;
}

/* envelope_memfd - the envelope in a memory file; its fd, or -1 */
static int envelope_memfd(struct mail *x)
{
  static char space[8192];
  struct envelope e;
  unsigned long off;
  const char *why = 0;
  buffer b;
  int fd = memfd_create("envelope", MFD_CLOEXEC);
  if (fd == -1) return -1;
  envelope_init(&e);
  why = envelope_set_sender(&e, x->sender.s, x->sender.len - 1);
  if (!why && x->envid.len) why = envelope_set_tag(&e, 'E', x->envid.s, x->envid.len, ENV_INPUT);
  if (!why && x->a->ret) why = envelope_set_tag(&e, 'R', x->a->ret, str_len(x->a->ret), ENV_INPUT);
  if (!why && x->a->body) why = envelope_set_tag(&e, 'B', x->a->body, str_len(x->a->body), ENV_INPUT);
  if (!why && (x->utf8 || x->a->smtputf8)) why = envelope_set_tag(&e, 'U', "", 0, ENV_INPUT);
  if (!why && x->quarantine[0]) why = envelope_set_tag(&e, 'Q', x->quarantine, str_len(x->quarantine), ENV_INPUT);
  for (off = 0; !why && off < x->rcpts.s.len; off += str_len(x->rcpts.s.s + off) + 1) {
    why = envelope_add_rcpt(&e, x->rcpts.s.s + off, str_len(x->rcpts.s.s + off));
    if (!why && x->a->notify) why = envelope_set_rcpt_tag(&e, 'N', x->a->notify, str_len(x->a->notify));
  }
  wbuf_init(&b, fd, space, sizeof space);
  if (why || envelope_write(&b, &e) == -1 || wbuf_flush(&b) == -1 || lseek(fd, 0, SEEK_SET) != 0) {
    close(fd);
    fd = -1;
  }
  envelope_free(&e);
  return fd;
}

/* show_log - the injector's lines before its reply (with -v or on failure) */
static void show_log(const struct child_result *res)
{
  size_t end = res->log.len, nl;
  while (end && res->log.s[end - 1] == '\n') end--;
  if (!end) return;
  nl = byte_rchr(res->log.s, end, '\n');
  if (nl < end && write(2, res->log.s, nl + 1) < 0) return;
}

/* inject - run the injector on the message and its envelope */
static int inject(struct mail *x)
{
  static struct child_result res;
  char n[NUM_ULONG];
  int envfd = envelope_memfd(x), r;
  if (envfd == -1) return temp(x, EX_TEMPFAIL, "Unable to write the envelope");
  if (lseek(x->msgfd, 0, SEEK_SET) != 0) { close(envfd); return temp(x, EX_OSERR, "Unable to rewind the message"); }
  r = run_injector(x->cfg, x->msgfd, envfd, &res);
  close(envfd);
  if (r == -1) return failed(x, EX_OSERR, "451 4.3.0 Unable to run the injector ", x->cfg->injector);
  if (x->a->verbose || res.code) show_log(&res);
  if (res.code == 0) {
    if (x->a->verbose) run_say(res.reply, "", "");
    return 0;
  }
  if (res.reply[0]) return failed(x, res.code, res.reply, 0);
  return failed(x, res.code, exitcode_class(res.code) == EXIT_PERM ? "554 5.3.0 The injector refused the message, exit code "
                : "451 4.3.0 The injector failed, exit code ", num_str(n, (unsigned long)res.code));
}

/* milters - non_smtpd_milters (filter.c): -1 go on, else the exit code */
static int milters(struct mail *x)
{
  char reply[MILTER_REPLY_MAX];
  int v = filter_milters(x->cfg, &x->msgfd, x->sender.s, &x->rcpts, x->who.login.s, x->quarantine, reply);
  if (v == MILTER_CONTINUE) return -1;
  if (v == MILTER_DISCARD) return 0;
  return failed(x, v == MILTER_REJECT ? EX_NOPERM : EX_TEMPFAIL, reply, 0);
}

/* rcpts_check - the -t recipients are addresses; UTF-8 needs SMTPUTF8 */
static int rcpts_check(struct mail *x)
{
  static stralloc text;
  unsigned long off;
  const char *why;
  x->utf8 = has_8bit(x->sender.s);
  for (off = 0; off < x->rcpts.s.len; off += str_len(x->rcpts.s.s + off) + 1) {
    const char *r = x->rcpts.s.s + off;
    if ((why = address_check(r, str_len(r), ADDR_UTF8))) {
      if (!stralloc_copys(&text, "<") || !stralloc_cats(&text, r) || !stralloc_cats(&text, ">: ")
          || !stralloc_cats(&text, why) || !stralloc_0(&text)) return temp(x, EX_TEMPFAIL, "Out of memory");
      return failed(x, EX_DATAERR, "554 5.1.3 Bad recipient address ", text.s);
    }
    if (has_8bit(r)) x->utf8 = 1;
  }
  return 0;
}

int mail_send(const struct args *a, const struct config *cfg)
{
  static struct mail x;
  const char *why = 0;
  int r;
  x.a = a; x.cfg = cfg; x.msgfd = -1;
  if (!stralloc_copys(&x.locals, cfg->hostname) || !stralloc_cats(&x.locals, " ") || !stralloc_cats(&x.locals, cfg->domain)
      || !stralloc_cats(&x.locals, " localhost") || !stralloc_0(&x.locals)) return usage("out of memory", "", "");
  if ((r = caller_load(&x.who, cfg)) || (r = sender_resolve(&x)) || (r = tags_check(&x))) return r;
  if (rcpts_args(a, cfg, &x.rcpts, &why) == -1) return usage(why, "", "");
  if (!a->extract && !x.rcpts.n) return usage("no recipients given (name them, or use -t to take them from the message)", "", "");
  if ((r = read_message(&x))) return r;
  if (!x.rcpts.n) return failed(&x, EX_DATAERR, "554 5.5.1 No recipient addresses found in the message header", 0);
  if ((r = rcpts_check(&x))) return r;
  if ((r = milters(&x)) != -1) return r;
  return inject(&x);
}

/* ------------------------------------------------ mail back, dead.letter */

/* copy_fd - the bytes of fd from the start to b */
static int copy_fd(buffer *b, int fd, unsigned long max)
{
  char buf[8192];
  unsigned long off = 0;
  ssize_t n;
  while (off < max && (n = pread(fd, buf, sizeof buf, (off_t)off)) != 0) {
    if (n < 0) { if (errno == EINTR) continue; return -1; }
    if (buffer_put(b, buf, (size_t)n)) return -1;
    off += (unsigned long)n;
  }
  return 0;
}

/* notice_text - the returned message's header and body */
static int notice_text(buffer *b, struct mail *x, const char *reason, const char *to)
{
  struct fix f;
  stralloc id = { 0 };
  char date[DATE_MAX];
  off_t size = x->complete ? lseek(x->msgfd, 0, SEEK_END) : 0;
  int ok;
  fix_setup(x, &f);
  date_rfc5322(date, f.now, 1);
  ok = fix_message_id(&id, &f) == 0
    && !buffer_puts(b, "From: Mail Delivery System <MAILER-DAEMON@") && !buffer_puts(b, x->cfg->hostname)
    && !buffer_puts(b, ">\nTo: <") && !buffer_puts(b, to) && !buffer_puts(b, ">\nSubject: Undelivered Mail: your message was not queued\nDate: ")
    && !buffer_puts(b, date) && !buffer_puts(b, "\nMessage-ID: ") && !buffer_put(b, id.s, id.len)
    && !buffer_puts(b, "\nAuto-Submitted: auto-replied\nMIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n"
                       "Content-Transfer-Encoding: 8bit\n\nThis is the sendmail program on ")
    && !buffer_puts(b, x->cfg->hostname)
    && !buffer_puts(b, ".\n\nYour message could not be queued for delivery, for this reason:\n\n    ")
    && !buffer_puts(b, reason) && !buffer_puts(b, "\n\n");
  stralloc_free(&id);
  if (!ok) return -1;
  if (x->complete && size >= 0 && (unsigned long)size <= SM_RETURN_MAX)
    return buffer_puts(b, "----- The message follows -----\n") || copy_fd(b, x->msgfd, (unsigned long)size) ? -1 : 0;
  if (x->complete) return buffer_puts(b, "----- The header of the message follows -----\n") || buffer_put(b, x->hdr.s, x->hdr.len) ? -1 : 0;
  return buffer_puts(b, "----- The header of the message, as far as it was read, follows -----\n")
      || buffer_put(b, x->m.hdr.s, x->m.hdr.len) || buffer_puts(b, "\n") ? -1 : 0;
}

/* mail_back - return a permanently refused message to the caller; 0 sent */
static int mail_back(struct mail *x, const char *reason)
{
  static char space[8192];
  static struct child_result res;
  stralloc to = { 0 };
  struct envelope e;
  buffer b;
  int fd = memfd_create("notice", MFD_CLOEXEC), envfd = memfd_create("envelope", MFD_CLOEXEC), ok;
  envelope_init(&e);
  ok = fd != -1 && envfd != -1 && own_address(&to, x) == 0;
  if (ok) { wbuf_init(&b, fd, space, sizeof space); ok = notice_text(&b, x, reason, to.s) == 0 && wbuf_flush(&b) == 0; }
  ok = ok && !envelope_set_sender(&e, "", 0) && !envelope_add_rcpt(&e, to.s, to.len - 1)
    && (!has_8bit(to.s) || !envelope_set_tag(&e, 'U', "", 0, ENV_INPUT));
  if (ok) { wbuf_init(&b, envfd, space, sizeof space); ok = envelope_write(&b, &e) == 0 && wbuf_flush(&b) == 0; }
  ok = ok && lseek(fd, 0, SEEK_SET) == 0 && lseek(envfd, 0, SEEK_SET) == 0
    && run_injector(x->cfg, fd, envfd, &res) == 0 && res.code == 0;
  if (ok && x->a->errmode != 'q') run_say("the message was returned to <", to.s, ">");
  envelope_free(&e);
  stralloc_free(&to);
  if (fd != -1) close(fd);
  if (envfd != -1) close(envfd);
  return ok ? 0 : -1;
}

/* dead_letter - append the message to ~/dead.letter as an mbox entry
 * (locked, all or nothing, synced with its directory: lib/mbox.c); 0 saved */
static int dead_letter(struct mail *x)
{
  stralloc path = { 0 }, why = { 0 };
  const char *what, *arg;
  int r;
  if (!stralloc_copys(&path, x->who.home.s) || !stralloc_cats(&path, "/dead.letter") || !stralloc_0(&path)) return -1;
  r = mbox_append(path.s, x->msgfd, 0, x->sender.s, "", 0, &what, &arg);
  if (x->a->errmode != 'q') {
    if (r == MBOX_OK) run_say("the message was saved in ", path.s, "");
    else if (stralloc_copys(&why, what) && stralloc_cats(&why, arg) && stralloc_cats(&why, r == MBOX_TEMP ? ": " : "")
             && stralloc_cats(&why, r == MBOX_TEMP ? strerror(errno) : "") && stralloc_0(&why))
      run_say("unable to save the message: ", why.s, "");
    else run_say("unable to save the message in ", path.s, "");
  }
  stralloc_free(&why);
  stralloc_free(&path);
  return r == MBOX_OK ? 0 : -1;
}
