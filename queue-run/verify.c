/* verify.c - queue-run --route ADDRESS...: how each address would be
 * routed (sendmail -bv), with the routing code deliveries use, so the
 * answer is never a second opinion.  Nothing is queued or delivered and
 * the spool is not touched, so any user may ask; the routing decisions
 * are logged to stderr only (not the mail log).
 *
 * What local-deliver would refuse is reported as an error, not as
 * deliverable: a |program not in program_dir (the same rule as
 * local-deliver/program.c), and the items of a user's ~/.forward
 * (~/.forward+EXT first), by local-deliver's own rules (lib/forward.c:
 * owned by the user, not writable by group or others, at most 100 items,
 * an ignored file passed over for the next; :include: refused).  A
 * .forward the caller may not read is reported: the answer
 * is then the mailbox, with a word that the file may say otherwise.
 * The addresses a .forward names are routed once more (one level).
 * fd 1: one line per delivery item (queue-run.8):
 *   INDEX TAB KIND TAB ADDRESS TAB USER TAB DESTINATION TAB TEXT */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/stat.h>
#include "buffer.h"
#include "byte.h"
#include "case.h"
#include "errmsg.h"
#include "address.h"
#include "aliases.h"
#include "forward.h"
#include "num.h"
#include "str.h"
#include "wbuf.h"
#include "qr.h"

/* refuse - item i cannot be delivered: an error item with text */
static void refuse(struct work *w, unsigned int i, const char *a, const char *b)
{
  static stralloc t;
  if (!stralloc_copys(&t, a) || !stralloc_cats(&t, b)) die(EX_TEMPFAIL, "out of memory");
  w->item[i].kind = KIND_ERROR;
  if (work_set_text(w, &w->item[i], t.s, t.len) == -1) die(EX_TEMPFAIL, "out of memory");
}

/* note - a word on item i (kept as it is) */
static void note(struct work *w, unsigned int i, const char *a, const char *b)
{
  static stralloc t;
  if (!stralloc_copys(&t, a) || !stralloc_cats(&t, b)) die(EX_TEMPFAIL, "out of memory");
  if (work_set_text(w, &w->item[i], t.s, t.len) == -1) die(EX_TEMPFAIL, "out of memory");
}

/* program_check - a |command item: the base name of its first word must
 * be a regular executable file in program_dir, as local-deliver checks */
static void program_check(struct work *w, unsigned int i)
{
  static stralloc path;
  const char *cmd = work_s(w, w->item[i].dest), *base;
  struct stat st;
  size_t n, k;
  if (*cmd == '|') cmd++;
  while (*cmd == ' ' || *cmd == '\t') cmd++;
  for (n = 0; cmd[n] && cmd[n] != ' ' && cmd[n] != '\t'; n++) {}
  for (base = cmd, k = 0; k < n; k++) if (cmd[k] == '/') base = cmd + k + 1;
  n -= (size_t)(base - cmd);
  if (!*qr_cfg.program_dir) { refuse(w, i, "5.7.1 program delivery is not allowed here", ""); return; }
  if (!stralloc_copys(&path, qr_cfg.program_dir) || !stralloc_cats(&path, "/") || !stralloc_catb(&path, base, n)
      || !stralloc_0(&path)) die(EX_TEMPFAIL, "out of memory");
  if (!n || (n == 1 && base[0] == '.') || (n == 2 && base[0] == '.' && base[1] == '.')
      || stat(path.s, &st) == -1 || !S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
    path.len = 0;
    if (!stralloc_catb(&path, base, n) || !stralloc_0(&path)) die(EX_TEMPFAIL, "out of memory");
    refuse(w, i, "5.7.1 program not in the allowed directory: ", path.s);
  }
}

/* struct fwd - walking one .forward for item u */
struct fwd {
  struct router *r;
  struct work *w;
  unsigned int u;            /* the user's item */
  const struct passwd *pw;
  int self;                  /* the user's own mailbox is one of the items */
  stralloc addrs;            /* addresses to route, NUL-separated */
};

/* none - aliases_split's counting pass */
static int none(void *arg, const struct alias_item *it) { (void)arg; (void)it; return 0; }

/* is_self - the item names the user's own mailbox (local-deliver's rule) */
static int is_self(struct fwd *f, const char *s, size_t len)
{
  const char *rcpt = work_s(f->w, f->w->item[f->u].addr);
  size_t at = address_at(s, len), ulen = str_len(f->pw->pw_name), rl = str_len(rcpt), rat = address_at(rcpt, rl);
  const char *dom = s + at + 1;
  size_t dlen = at < len ? len - at - 1 : 0;
  if (at != ulen || case_diffb(s, at, f->pw->pw_name)) return 0;
  if (at == len) return 1;
  return (rat < rl && dlen == rl - rat - 1 && !case_diffb(dom, dlen, rcpt + rat + 1))
      || (dlen == str_len(qr_cfg.domain) && !case_diffb(dom, dlen, qr_cfg.domain))
      || (dlen == str_len(qr_cfg.hostname) && !case_diffb(dom, dlen, qr_cfg.hostname));
}

/* fwd_item - one item of the .forward: an item of its own, or an address
 * kept for routing */
static int fwd_item(void *arg, const struct alias_item *it)
{
  struct fwd *f = arg;
  struct item *u = &f->w->item[f->u];
  unsigned int orig = u->orig;
  char buf[ALIAS_ITEM_MAX + 2];
  const char *user = f->pw->pw_name, *addr;
  static stralloc a;
  if (!stralloc_copys(&a, work_s(f->w, u->addr)) || !stralloc_0(&a)) return -1;
  addr = a.s;
  if (it->type == ALIAS_ADDRESS) {
    if (is_self(f, it->s, it->len)) { f->self = 1; return 0; }
    if (!stralloc_catb(&f->addrs, it->s, it->len)) return -1;
    if (address_at(it->s, it->len) == it->len && (!stralloc_cats(&f->addrs, "@") || !stralloc_cats(&f->addrs, qr_cfg.domain))) return -1;
    return stralloc_0(&f->addrs) ? 0 : -1;
  }
  if (it->type == ALIAS_PIPE) {
    buf[0] = '|'; byte_copy(buf + 1, it->len, it->s); buf[it->len + 1] = 0;
    if (!work_add(f->w, orig, ST_PENDING, KIND_PROGRAM, user, buf, addr)) return -1;
    program_check(f->w, f->w->n - 1);
    return 0;
  }
  byte_copy(buf, it->len, it->s); buf[it->len] = 0;
  if (!work_add(f->w, orig, ST_PENDING, it->type == ALIAS_FILE ? KIND_FILE : KIND_ERROR, user, buf, addr)) return -1;
  if (it->type != ALIAS_FILE) refuse(f->w, f->w->n - 1, "5.7.1 :include: is not allowed in .forward", "");
  return 0;
}

/* forward_use - path's text as right-hand side rhs and its items in f,
 * if delivery would use the file: 1; 0 absent; -1 ignored, noted (the
 * next file is tried, as delivery does); -2 unreadable by us, noted */
static int forward_use(struct work *w, unsigned int u, const char *path, struct fwd *f, stralloc *text, stralloc *rhs)
{
  const char *why;
  int got = forward_read(path, f->pw->pw_uid, text, &why), n;
  if (got == -3) die(EX_TEMPFAIL, "out of memory");
  if (got == -2) { note(w, u, "its .forward cannot be read by you, so where it sends the mail is not known: ", path); return -2; }
  if (got == 0) return 0;
  if (got == 1) {
    if (forward_rhs(text, rhs) == -1) die(EX_TEMPFAIL, "out of memory");
    why = 0;
    if ((n = aliases_split(rhs->s, rhs->len, none, 0, &why)) > FORWARD_ITEMS_MAX) why = "more than 100 items";
    if (!why && n > 0) return 1;
    if (!why) return -1;   /* empty: delivery goes on to the next file too, without a word */
  }
  note(w, u, "its .forward is ignored: ", why);
  return -1;
}

/* forward_check - item u, a user's own mail: what the user's .forward
 * makes of it (~/.forward+EXT, then ~/.forward: forward.h) */
static void forward_check(struct router *r, struct work *w, unsigned int u)
{
  static stralloc path, text, rhs;
  static struct fwd f;
  const struct passwd *pw = getpwnam(work_s(w, w->item[u].user));
  const char *addr = work_s(w, w->item[u].addr), *why = 0;
  size_t len = str_len(addr), at = address_at(addr, len), plus = byte_chr(addr, at, '+');
  unsigned long off;
  unsigned int orig = w->item[u].orig;
  int pass, got = 0;
  if (!qr_cfg.allow_forward || !pw || !pw->pw_dir) return;
  f.r = r; f.w = w; f.u = u; f.pw = pw; f.self = 0; f.addrs.len = 0;
  for (pass = 0; pass < 2 && got != 1; pass++) {
    int p = forward_path(&path, pw->pw_dir, addr + plus + (plus < at), plus < at ? at - plus - 1 : 0, pass);
    if (p == -1) die(EX_TEMPFAIL, "out of memory");
    if (p == 1 && (got = forward_use(w, u, path.s, &f, &text, &rhs)) == -2) return;
  }
  if (got != 1) return;
  if (aliases_split(rhs.s, rhs.len, fwd_item, &f, &why) == -1) die(EX_TEMPFAIL, "out of memory");
  if (f.self) note(w, u, "kept in the mailbox by its .forward", "");
  else w->item[u].status = ST_GONE;
  for (off = 0; off < f.addrs.len; off += str_len(f.addrs.s + off) + 1)
    if (route_rcpt(r, w, orig, f.addrs.s + off) == -1) die(EX_TEMPFAIL, "out of memory");
}

/* check - what local-deliver would refuse or change, for the items the
 * routing made and those a .forward adds (one level of .forward) */
static void check(struct router *r, struct work *w)
{
  unsigned int i, n = w->n;
  for (i = 0; i < w->n; i++) {
    if (w->item[i].kind == KIND_PROGRAM) program_check(w, i);
    else if (w->item[i].kind == KIND_USER && i < n) forward_check(r, w, i);
  }
}

int verify_route(char **addrs, unsigned int n)
{
  static char space[8192];
  static struct router r;
  static struct work w;
  buffer out;
  char num[NUM_ULONG];
  unsigned int i;
  for (i = 0; i < n; i++) {
    const char *s = addrs[i];
    for (; *s; s++)
      if ((unsigned char)*s < 32 || *s == 127) die(EX_USAGE, "control character in an address");
  }
  wbuf_init(&out, 1, space, sizeof space);
  route_open(&r, &qr_cfg);
  work_init(&w);
  for (i = 0; i < n; i++)
    if (route_rcpt(&r, &w, i, addrs[i]) == -1) die(EX_TEMPFAIL, "out of memory");
  check(&r, &w);
  for (i = 0; i < w.n; i++) {
    const struct item *it = &w.item[i];
    if (it->status == ST_GONE) continue;
    buffer_puts(&out, num_str(num, it->orig)); buffer_puts(&out, "\t");
    buffer_puts(&out, route_kind_name(it->kind)); buffer_puts(&out, "\t");
    buffer_puts(&out, work_s(&w, it->addr)); buffer_puts(&out, "\t");
    buffer_puts(&out, work_s(&w, it->user)); buffer_puts(&out, "\t");
    buffer_puts(&out, work_s(&w, it->dest)); buffer_puts(&out, "\t");
    buffer_puts(&out, work_s(&w, it->text)); buffer_puts(&out, "\n");
  }
  return wbuf_flush(&out) == 0 ? 0 : EX_IOERR;
}
