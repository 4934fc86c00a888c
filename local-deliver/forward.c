/* forward.c - the recipient's own mail: ~/.forward+EXT or ~/.forward (owned
 * by the user, not writable by group or others, else ignored with a log
 * line), else mailbox_command, mail_spool_directory/USER (mbox) or
 * ~/home_mailbox (Maildir when it ends in '/').
 *
 * A .forward holds the items of an aliases right-hand side (addresses,
 * |program, /file), one or more per line, '#' lines ignored, at most
 * LD_FORWARD_ITEMS_MAX of them (a longer one is ignored whole, as an
 * unparsable one is: never half of it).  The user's own name or address
 * means "my mailbox".  Addresses are forwarded by
 * injecting one copy, with our Delivered-To: added and the original
 * sender kept, through the configured injector (spool-inject). */
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "byte.h"
#include "case.h"
#include "str.h"
#include "address.h"
#include "aliases.h"
#include "exitcode.h"
#include "log.h"
#include "num.h"
#include "ld.h"

/* struct fwd - the items of one .forward */
struct fwd {
  struct ld *d;
  stralloc rcpts;           /* addresses to forward to, NUL-separated */
  unsigned int nrcpt, self;
  struct ld_result worst;   /* the outcome so far */
};

/* merge - keep the worst outcome: temporary over permanent over done */
static void merge(struct ld_result *worst, const struct ld_result *r)
{
  int wc = exitcode_class(worst->code), rc = exitcode_class(r->code);
  if (rc == EXIT_DONE) return;
  if (wc == EXIT_TEMP || (wc == EXIT_PERM && rc == EXIT_PERM)) return;
  *worst = *r;
}

/* read_forward - path's contents if it may be used: 1, 0 absent, -1 ignored */
static int read_forward(struct ld *d, const char *path, stralloc *text)
{
  struct stat st;
  char buf[4096];
  const char *why = 0;
  int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK);
  if (fd == -1) {
    if (errno == ENOENT || errno == ENOTDIR) return 0;
    why = "unable to open";
  } else if (fstat(fd, &st) == -1) why = "unable to stat";
  else if (!S_ISREG(st.st_mode)) why = "not a regular file";
  else if (st.st_uid != d->uid) why = "not owned by the user";
  else if (st.st_mode & 022) why = "writable by group or others";
  else if (st.st_size > LD_FORWARD_MAX) why = "too large";
  text->len = 0;
  while (!why) {
    ssize_t r = read(fd, buf, sizeof buf);
    if (r == 0) break;
    if (r == -1 || text->len + (size_t)r > LD_FORWARD_MAX) why = "unable to read";
    else if (!stralloc_catb(text, buf, (size_t)r)) why = "out of memory";
  }
  if (fd != -1) close(fd);
  if (!why) return 1;
  log_event(getenv("QUEUE_ID"), "to", d->recipient, "forward", path, "status", "ignored", "reason", why, (char *)0);
  return -1;
}

/* unbackslash - sendmail's "\user" (deliver to my mailbox, no further
 * forwarding) is the user's own name here: drop a backslash that starts
 * an item outside quotes */
static void unbackslash(stralloc *rhs)
{
  size_t i, o = 0;
  int quoted = 0, start = 1;
  for (i = 0; i < rhs->len; i++) {
    char c = rhs->s[i];
    if (c == '"') quoted = !quoted;
    if (!quoted && start && c == '\\') { start = 0; continue; }
    if (!quoted && c == ',') start = 1;
    else if (c != ' ' && c != '\t') start = 0;
    rhs->s[o++] = c;
  }
  rhs->len = o;
}

/* join - the lines of a .forward as one right-hand side */
static int join(const stralloc *text, stralloc *rhs)
{
  size_t pos = 0;
  rhs->len = 0;
  while (pos < text->len) {
    size_t n = byte_chr(text->s + pos, text->len - pos, '\n'), i = 0;
    const char *l = text->s + pos;
    while (i < n && (l[i] == ' ' || l[i] == '\t')) i++;
    if (i < n && l[i] != '#') {
      if (rhs->len && !stralloc_cats(rhs, ",")) return -1;
      if (!stralloc_catb(rhs, l, n)) return -1;
    }
    pos += n + 1;
  }
  return 0;
}

/* is_self - the item names the user's own mailbox */
static int is_self(const struct ld *d, const char *s, size_t len)
{
  size_t at = address_at(s, len), ulen = str_len(d->user);
  const char *dom = s + at + 1;
  size_t dlen = at < len ? len - at - 1 : 0;
  if (at != ulen || case_diffb(s, at, d->user)) return 0;
  if (at == len) return 1;
  return (dlen == str_len(d->domain.s) && !case_diffb(dom, dlen, d->domain.s))
      || (dlen == str_len(d->cfg.domain) && !case_diffb(dom, dlen, d->cfg.domain))
      || (dlen == str_len(d->cfg.hostname) && !case_diffb(dom, dlen, d->cfg.hostname));
}

/* add_rcpt - qualify and remember an address to forward to */
static int add_rcpt(struct fwd *f, const char *s, size_t len)
{
  size_t start = f->rcpts.len;
  if (!stralloc_catb(&f->rcpts, s, len)) return -1;
  if (address_at(s, len) == len && (!stralloc_cats(&f->rcpts, "@") || !stralloc_cats(&f->rcpts, f->d->cfg.domain)))
    return -1;
  if (address_check(f->rcpts.s + start, f->rcpts.len - start, ADDR_UTF8)) { f->rcpts.len = start; return 0; }
  if (!stralloc_0(&f->rcpts)) return -1;
  f->nrcpt++;
  return 0;
}

/* item - deliver or collect one .forward item */
static int item(void *arg, const struct alias_item *it)
{
  struct fwd *f = arg;
  struct ld_result r;
  char buf[ALIAS_ITEM_MAX + 1];
  byte_copy(buf, it->len, it->s);
  buf[it->len] = 0;
  switch (it->type) {
  case ALIAS_ADDRESS:
    if (is_self(f->d, it->s, it->len)) { f->self = 1; return 0; }
    return add_rcpt(f, it->s, it->len);
  case ALIAS_PIPE: ld_program(f->d, buf, 0, &r); break;
  case ALIAS_FILE: ld_mbox(f->d, buf, &r); break;
  default: ld_perm(&r, EX_NOPERM, "5.7.1", ":include: is not allowed in .forward", 0); break;
  }
  merge(&f->worst, &r);
  return 0;
}

/* mailbox - the default delivery, without .forward */
static void mailbox(struct ld *d, struct ld_result *r)
{
  static stralloc path;
  const char *hm = d->cfg.home_mailbox;
  if (*d->cfg.mailbox_command) { ld_program(d, d->cfg.mailbox_command, 1, r); return; }
  if (*d->cfg.mail_spool_directory) {
    if (!stralloc_copys(&path, d->cfg.mail_spool_directory) || !stralloc_cats(&path, "/")
        || !stralloc_cats(&path, d->user) || !stralloc_0(&path)) { ld_temp(r, "4.3.0", "out of memory", 0); return; }
    ld_mbox(d, path.s, r);
    return;
  }
  if (!stralloc_copys(&path, d->home) || !stralloc_cats(&path, "/") || !stralloc_cats(&path, hm)
      || !stralloc_0(&path)) { ld_temp(r, "4.3.0", "out of memory", 0); return; }
  if (*hm && hm[str_len(hm) - 1] == '/') ld_maildir(d, path.s, r);
  else ld_mbox(d, path.s, r);
}

/* none - an item counted, nothing done (apply's first walk) */
static int none(void *arg, const struct alias_item *it)
{
  (void)arg; (void)it;
  return 0;
}

/* apply - run the items of a .forward; 0 done (r set), -1 unusable: not
 * parsable, empty or more than LD_FORWARD_ITEMS_MAX items (counted before
 * any is delivered) */
static int apply(struct ld *d, const char *path, const stralloc *text, struct ld_result *r)
{
  static stralloc rhs;
  static struct fwd f;
  const char *why = 0;
  struct ld_result one;
  int n;
  if (join(text, &rhs) == -1) { ld_temp(r, "4.3.0", "out of memory", 0); return 0; }
  unbackslash(&rhs);
  if ((n = aliases_split(rhs.s, rhs.len, none, 0, &why)) > LD_FORWARD_ITEMS_MAX) why = "more than 100 items";
  if (why) {
    log_event(getenv("QUEUE_ID"), "to", d->recipient, "forward", path, "status", "ignored", "reason", why, (char *)0);
    return -1;
  }
  if (n <= 0) return -1;
  byte_zero(&f, sizeof f);
  f.d = d;
  ld_ok(&f.worst, "delivered", 0);
  if (aliases_split(rhs.s, rhs.len, item, &f, &why) == -1) { ld_temp(r, "4.3.0", "out of memory", 0); return 0; }
  if (f.self) { mailbox(d, &one); merge(&f.worst, &one); }
  if (f.nrcpt) { ld_forward_inject(d, &f.rcpts, f.nrcpt, &one); merge(&f.worst, &one); }
  *r = f.worst;
  if (r->code == 0) ld_ok(r, "delivered as .forward says", 0);
  stralloc_free(&f.rcpts);
  return 0;
}

void ld_user(struct ld *d, struct ld_result *r)
{
  static stralloc path, text;
  int pass;
  if (!d->cfg.allow_forward) { mailbox(d, r); return; }   /* the site turned .forward off */
  for (pass = d->ext.len > 1 ? 0 : 1; pass < 2; pass++) {
    if (!stralloc_copys(&path, d->home) || !stralloc_cats(&path, "/.forward")
        || (pass == 0 && (!stralloc_cats(&path, "+") || !stralloc_cats(&path, d->ext.s)))
        || !stralloc_0(&path)) { ld_temp(r, "4.3.0", "out of memory", 0); return; }
    if (pass == 0 && byte_chr(d->ext.s, d->ext.len, '/') != d->ext.len) continue;
    if (read_forward(d, path.s, &text) == 1 && apply(d, path.s, &text, r) == 0) return;
  }
  mailbox(d, r);
}
