/* forward.c - the recipient's own mail: ~/.forward+EXT or ~/.forward (owned
 * by the user, not writable by group or others, else ignored with a log
 * line), else mailbox_command, mail_spool_directory/USER (mbox) or
 * ~/home_mailbox (Maildir when it ends in '/').
 *
 * A .forward holds the items of an aliases right-hand side (addresses,
 * |program, /file), one or more per line, '#' lines ignored, at most
 * FORWARD_ITEMS_MAX of them (a longer one is ignored whole, as an
 * unparsable one is: never half of it).  The user's own name or address
 * means "my mailbox".  Addresses are forwarded by
 * injecting one copy, with our Delivered-To: added and the original
 * sender kept, through the configured injector (spool-inject). */
#include <stdlib.h>
#include <sysexits.h>
#include "byte.h"
#include "case.h"
#include "str.h"
#include "address.h"
#include "aliases.h"
#include "exitcode.h"
#include "forward.h"
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

/* read_forward - path's contents if it may be used: 1, 0 absent, -1
 * ignored (logged), -3 out of memory */
static int read_forward(struct ld *d, const char *path, stralloc *text)
{
  const char *why;
  int r = forward_read(path, d->uid, text, &why);
  if (r >= 0 || r == -3) return r;
  log_event(getenv("QUEUE_ID"), "to", d->recipient, "forward", path, "status", "ignored", "reason", why, (char *)0);
  return -1;
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
 * parsable, empty or more than FORWARD_ITEMS_MAX items (counted before
 * any is delivered) */
static int apply(struct ld *d, const char *path, const stralloc *text, struct ld_result *r)
{
  static stralloc rhs;
  static struct fwd f;
  const char *why = 0;
  struct ld_result one;
  int n;
  if (forward_rhs(text, &rhs) == -1) { ld_temp(r, "4.3.0", "out of memory", 0); return 0; }
  if ((n = aliases_split(rhs.s, rhs.len, none, 0, &why)) > FORWARD_ITEMS_MAX) why = "more than 100 items";
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
  for (pass = 0; pass < 2; pass++) {
    int p = forward_path(&path, d->home, d->ext.s, d->ext.len ? d->ext.len - 1 : 0, pass);
    int got = p == 1 ? read_forward(d, path.s, &text) : 0;
    if (p == -1 || got == -3) { ld_temp(r, "4.3.0", "out of memory", 0); return; }
    if (got == 1 && apply(d, path.s, &text, r) == 0) return;
  }
  mailbox(d, r);
}
