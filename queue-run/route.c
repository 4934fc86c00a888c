/* route.c - routing one envelope recipient into delivery items, in
 * DESIGN.md's order: canonical form -> aliases (local domains only;
 * :include:, |cmd, /file; depth-limited) -> virtual -> local user (user+ext;
 * .forward is read by local-deliver as the user) -> routes (smtp:, lmtp:,
 * error:) -> relayhost -> MX.
 *
 * An address that comes back to itself through aliases or virtual (alice:
 * alice, alice@elsewhere) is delivered as if it had no alias, as sendmail
 * and Postfix do, and an :include: file reached again inside itself adds
 * nothing; a chain deeper than QR_ALIAS_DEPTH_MAX (aliases, virtual
 * rewrites and includes together) fails (5.4.6), and so does a recipient
 * whose expansion exceeds QR_EXPAND_ITEMS_MAX deliveries or
 * QR_EXPAND_STEPS_MAX addresses and include files (none of its deliveries
 * is made).  Routes and virtual mailbox values become destinations only
 * within QR_MAP_VALUE_MAX (a state file line must hold them), and an item
 * always carries a valid address (an invalid member fails the recipient
 * under its own address).  The items of a recipient are logged when its
 * expansion is complete (one line for a list that is too large).
 * |cmd and /file items run as virtual_user, or, inside an :include: file
 * not owned by root, as the owner of that file (sendmail's rule: whoever
 * can write the list decides, with his own rights, what it runs).
 * A lookup that fails (an unreadable map) leaves a KIND_ROUTE item: the
 * recipient is routed again at the next try.  One log line per item. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>
#include <sys/stat.h>
#include "byte.h"
#include "case.h"
#include "str.h"
#include "address.h"
#include "aliases.h"
#include "log.h"
#include "localnames.h"
#include "routes.h"
#include "qr.h"

/* struct walk - one recipient's expansion */
struct walk {
  struct router *r;
  struct work *w;
  unsigned int orig;
  const char *orig_addr;
  stralloc chain[QR_ALIAS_DEPTH_MAX + 2];   /* addresses being expanded */
  unsigned int depth;
  stralloc incl[QR_ALIAS_DEPTH_MAX];        /* :include: files being expanded */
  stralloc owner[QR_ALIAS_DEPTH_MAX];       /* and the users their items run as */
  unsigned int idepth;
  const char *as_user;      /* who runs |cmd and /file items now */
  unsigned int n0;          /* items of the message before this recipient */
  unsigned long steps;      /* addresses and include files expanded for this recipient */
  int overflow;             /* the expansion is too large: the recipient fails */
  unsigned int dups;        /* duplicates logged for this recipient */
  const char *why;          /* a failure inside an item callback */
};

static int expand(struct walk *k, const char *addr, size_t len);

void route_open(struct router *r, const struct config *cfg)
{
  static const char *const names[MAPS] = { "aliases", "virtual", "routes", "local-domains" };
  unsigned int i;
  r->cfg = cfg;
  for (i = 0; i < MAPS; i++) {
    if (!stralloc_copys(&r->path[i], cfg->map_dir) || !stralloc_cats(&r->path[i], "/")
        || !stralloc_cats(&r->path[i], names[i]) || !stralloc_cats(&r->path[i], ".cdb")
        || !stralloc_0(&r->path[i])) r->path[i].len = 0;
  }
  route_refresh(r);
}

/* route_refresh - open maps that appeared, reopen maps postern-maps
 * replaced; a map that cannot be read is logged and treated as a lookup
 * error (temporary), never as empty */
void route_refresh(struct router *r)
{
  unsigned int i;
  for (i = 0; i < MAPS; i++) {
    int ok = r->map[i].open ? map_refresh(&r->map[i]) : r->path[i].len ? map_open(&r->map[i], r->path[i].s) : 0;
    if (ok == -1 && !r->bad[i])
      log_event(0, "map", r->path[i].s, "status", errno == EPERM ? "unsafe" : "unreadable",
                errno == EPERM ? "reason" : (char *)0, "writable by group or others (or its directory is)", (char *)0);
    r->bad[i] = ok == -1;
  }
}

/* lookup - 1 found, 0 not, -1 error; a closed map is empty */
static int lookup(struct router *r, int which, const char *key, size_t len, stralloc *value)
{
  if (r->bad[which]) return -1;
  if (!r->map[which].open) return 0;
  return map_lookup(&r->map[which], key, len, value);
}

/* own_names - are hostname and localhost local (local_delivery)?  1, 0,
 * -1 (local-domains unreadable, or a bad setting: the recipient waits) */
static int own_names(struct router *r)
{
  if (r->bad[MAP_LOCAL_DOMAINS]) return -1;
  return localnames_local(r->cfg, &r->map[MAP_LOCAL_DOMAINS]);
}

/* is_local_domain - a key of local-domains, and hostname or localhost
 * unless local_delivery says this host delivers nothing itself.  Not
 * domain by itself: it qualifies bare names, and on a null client
 * (relayhost, no local-domains) root@domain must go to the smarthost, as
 * postern.conf(5)'s example promises; a hub lists its domains.  1, 0, -1 */
static int is_local_domain(struct router *r, const char *d, size_t len)
{
  static stralloc v;
  int own = localnames_is(r->cfg, d, len) ? own_names(r) : 0;
  if (own != 0) return own;
  return lookup(r, MAP_LOCAL_DOMAINS, d, len, &v);
}

int route_local_address(struct router *r, const char *addr)
{
  size_t len = str_len(addr), at = address_at(addr, len);
  if (at == len) return 1;                  /* a bare name is qualified with domain */
  return is_local_domain(r, addr + at + 1, len - at - 1) == 1;
}

const char *route_kind_name(int kind)
{
  switch (kind) {
  case KIND_USER: return "user";
  case KIND_MAILBOX: return "mailbox";
  case KIND_PROGRAM: return "program";
  case KIND_FILE: return "file";
  case KIND_REMOTE: return "remote";
  case KIND_ROUTE: return "retry";
  default: return "error";
  }
}

/* angle - "<addr>" in sa for the log, of any length ("<?>" without memory) */
static const char *angle(stralloc *sa, const char *addr)
{
  return stralloc_copys(sa, "<") && stralloc_cats(sa, addr) && stralloc_cats(sa, ">") && stralloc_0(sa) ? sa->s : "<?>";
}

/* add - one delivery item, logged; text for failures and retries.  The
 * same delivery reached twice is made once; past the expansion limits
 * nothing more is added (route_rcpt then fails the recipient).  addr is
 * stored as the item's recipient: it must be a valid address (the state
 * file refuses any other). */
static int add(struct walk *k, int kind, const char *user, const char *dest, const char *addr, const char *text)
{
  static stralloc to, orig;
  struct item *it;
  int status = kind == KIND_ERROR ? ST_FAILED : ST_PENDING;
  if (k->overflow) return 0;
  if (kind != KIND_ROUTE && work_find(k->w, kind, user, dest, addr)) {
    if (++k->dups <= QR_DUPLICATES_LOGGED)
      log_event(k->r->id, "to", angle(&to, addr), "orig_to", angle(&orig, k->orig_addr), "route", "duplicate", (char *)0);
    return 0;
  }
  if (k->w->n - k->n0 >= QR_EXPAND_ITEMS_MAX || k->w->n >= QR_ITEMS_MAX) { k->overflow = 1; return 0; }
  if (!(it = work_add(k->w, k->orig, status, kind, user, dest, addr))) return errno == E2BIG ? (k->overflow = 1, 0) : -1;
  return text && work_set_text(k->w, it, text, str_len(text)) == -1 ? -1 : 0;
}

/* log_items - one line per item the recipient was routed to, once its
 * expansion is complete: a list that turns out too large is logged as its
 * one failure, not as the thousands of items it was cut at */
static void log_items(struct walk *k)
{
  static stralloc to, orig;
  struct work *w = k->w;
  unsigned int i;
  const char *o = angle(&orig, k->orig_addr);
  for (i = k->n0; i < w->n; i++) {
    const struct item *it = &w->item[i];
    const char *t = angle(&to, work_s(w, it->addr)), *kind = route_kind_name(it->kind);
    if (it->text) log_event(k->r->id, "to", t, "orig_to", o, "route", kind, "reason", work_s(w, it->text), (char *)0);
    else if (it->user) log_event(k->r->id, "to", t, "orig_to", o, "route", kind, "dest", work_s(w, it->dest), "user", work_s(w, it->user), (char *)0);
    else log_event(k->r->id, "to", t, "orig_to", o, "route", kind, "dest", work_s(w, it->dest), (char *)0);
  }
}

/* add_about - a failure or retry item for addr whose text,
 * "status <about>: what", names about (the address it concerns; the text
 * is "status what" when about is too long for it) */
static int add_about(struct walk *k, int kind, const char *addr, const char *about, const char *status, const char *what)
{
  char text[QR_TEXT_MAX];
  size_t n = str_copy(text, status);
  if (n + str_len(about) + str_len(what) + 6 < sizeof text) {
    n += str_copy(text + n, " <");
    n += str_copy(text + n, about);
    n += str_copy(text + n, ">: ");
  } else text[n++] = ' ';
  if (n + str_len(what) < sizeof text) str_copy(text + n, what);
  else text[n] = 0;
  return add(k, kind, 0, 0, addr, text);
}

/* add_text - a failure or retry item for addr, "status <addr>: what" */
static int add_text(struct walk *k, int kind, const char *addr, const char *status, const char *what)
{
  return add_about(k, kind, addr, addr, status, what);
}

/* in_chain - addr is being expanded further up */
static int in_chain(const struct walk *k, const char *addr)
{
  unsigned int i;
  for (i = 0; i < k->depth; i++)
    if (!str_diff(k->chain[i].s, addr)) return 1;
  return 0;
}

/* canonical - lower-case domain, no trailing dot, qualified */
static int canonical(struct walk *k, const char *a, size_t len, stralloc *out)
{
  size_t at = address_at(a, len), i;
  if (!stralloc_copyb(out, a, at)) return -1;
  if (at == len) {
    if (!stralloc_cats(out, "@") || !stralloc_cats(out, k->r->cfg->domain)) return -1;
  } else {
    size_t end = len;
    if (end > at + 2 && a[end - 1] == '.') end--;
    /* a null client sends root@localhost on as root@domain */
    if (localnames_is(k->r->cfg, a + at + 1, end - at - 1) && !localnames_is(k->r->cfg, k->r->cfg->domain, str_len(k->r->cfg->domain))
        && own_names(k->r) == 0) {
      if (!stralloc_cats(out, "@") || !stralloc_cats(out, k->r->cfg->domain)) return -1;
    } else if (!stralloc_catb(out, a + at, end - at)) return -1;
  }
  for (i = at + 1; i < out->len; i++)
    if (out->s[i] >= 'A' && out->s[i] <= 'Z') out->s[i] = (char)(out->s[i] + 32);
  return stralloc_0(out) ? 0 : -1;
}

/* dir_safe - the directory holding path cannot be used to swap the file:
 * not writable by group or others unless sticky */
static int dir_safe(const char *path)
{
  stralloc dir = { 0 };
  struct stat st;
  size_t slash = str_rchr(path, '/');
  int ok = stralloc_copyb(&dir, path, slash ? slash : 1) && stralloc_0(&dir) && stat(dir.s, &st) == 0
           && (!(st.st_mode & 022) || (st.st_mode & S_ISVTX));
  stralloc_free(&dir);
  return ok;
}

/* include_read - an :include: file: absolute, regular (not a symlink), not writable by
 * group or others nor in a directory that lets others replace it,
 * bounded; its lines joined into one right-hand side, its owner in *uid */
static const char *include_read(const char *path, stralloc *rhs, uid_t *uid)
{
  static stralloc text;
  struct stat st;
  char buf[4096];
  size_t pos = 0;
  ssize_t r;
  int fd;
  if (path[0] != '/') return "include path is not absolute";
  /* O_NOFOLLOW: the owner of a symlink's target is not who wrote the
   * link, and the items would run as the target's owner */
  if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW)) == -1)
    return errno == ELOOP ? "include file is a symbolic link" : "unable to open include file";
  if (fstat(fd, &st) == -1 || !S_ISREG(st.st_mode) || (st.st_mode & 022) || !dir_safe(path)) {
    close(fd);
    return "unsafe include file (writable by group or others, or in such a directory)";
  }
  *uid = st.st_uid;
  text.len = 0;
  while ((r = read(fd, buf, sizeof buf)) > 0)
    if (text.len + (size_t)r > QR_INCLUDE_MAX || !stralloc_catb(&text, buf, (size_t)r)) { close(fd); return "include file too large"; }
  close(fd);
  if (r == -1) return "unable to read include file";
  rhs->len = 0;
  while (pos < text.len) {
    size_t n = byte_chr(text.s + pos, text.len - pos, '\n'), i = 0;
    while (i < n && (text.s[pos + i] == ' ' || text.s[pos + i] == '\t')) i++;
    if (i < n && text.s[pos + i] != '#')
      if ((rhs->len && !stralloc_cats(rhs, ",")) || !stralloc_catb(rhs, text.s + pos, n)) return "out of memory";
    pos += n + 1;
  }
  return 0;
}

static int rhs_expand(struct walk *k, const char *addr, const char *rhs, size_t len);

/* include - the items of an :include: file for addr; its commands and
 * files run as its owner (virtual_user when root owns it) */
static int include(struct walk *k, const char *addr, const char *path)
{
  stralloc rhs = { 0 };
  const char *why, *saved = k->as_user;
  struct passwd *pw;
  unsigned int i, d = k->idepth;
  uid_t uid = 0;
  int r;
  /* an include is a step too: nested lists must not be read without end
   * once the expansion is known to be too large */
  if (k->overflow) return 0;
  if (++k->steps > QR_EXPAND_STEPS_MAX) { k->overflow = 1; return 0; }
  for (i = 0; i < d; i++)
    if (!str_diff(k->incl[i].s, path)) return 0;      /* being expanded further up */
  if (k->depth + d >= QR_ALIAS_DEPTH_MAX) return add_text(k, KIND_ERROR, addr, "5.4.6", "alias expansion too deep");
  why = include_read(path, &rhs, &uid);
  if (!why && uid != 0) {
    errno = 0;
    if (!(pw = getpwuid(uid))) why = "the owner of the include file is not in the password file";
    else if (!stralloc_copys(&k->owner[d], pw->pw_name) || !stralloc_0(&k->owner[d])) why = "out of memory";
    else k->as_user = k->owner[d].s;
  }
  if (why) r = add_text(k, KIND_ROUTE, addr, "4.3.0", why);
  else if (!stralloc_copys(&k->incl[d], path) || !stralloc_0(&k->incl[d])) r = -1;
  else {
    k->idepth++;
    r = rhs_expand(k, addr, rhs.s, rhs.len);
    k->idepth--;
  }
  k->as_user = saved;
  stralloc_free(&rhs);
  return r;
}

/* alias_item - one item of an alias (or include) right-hand side */
static int alias_item(void *arg, const struct alias_item *item)
{
  struct walk *k = arg;
  const char *addr = k->chain[k->depth - 1].s;
  char buf[ALIAS_ITEM_MAX + 2];
  byte_copy(buf + 1, item->len, item->s);
  buf[item->len + 1] = 0;
  switch (item->type) {
  case ALIAS_ADDRESS: return expand(k, item->s, item->len);
  case ALIAS_PIPE: buf[0] = '|'; return add(k, KIND_PROGRAM, k->as_user, buf, addr, 0);
  case ALIAS_FILE: return add(k, KIND_FILE, k->as_user, buf + 1, addr, 0);
  default: return include(k, addr, buf + 1);
  }
}

/* rhs_expand - the items of an alias or include for addr (already on the chain) */
static int rhs_expand(struct walk *k, const char *addr, const char *rhs, size_t len)
{
  const char *why;
  if (aliases_split(rhs, len, alias_item, k, &why) >= 0) return 0;
  if (!why) return -1;          /* out of memory in a callback */
  return add_text(k, KIND_ERROR, addr, "5.3.5", why);
}

/* push - put addr on the chain; -1 too deep (reported) or no memory */
static int push(struct walk *k, const char *addr)
{
  if (k->depth + k->idepth >= QR_ALIAS_DEPTH_MAX) {
    k->why = "alias expansion too deep";
    return -2;
  }
  if (!stralloc_copys(&k->chain[k->depth], addr) || !stralloc_0(&k->chain[k->depth])) return -1;
  k->depth++;
  return 0;
}

/* value_ok - a map value that may become an item's destination: at most
 * QR_MAP_VALUE_MAX bytes (a state file line must hold it with the rest of
 * the item) and no control characters (nor may the state file) */
static int value_ok(const stralloc *v)
{
  size_t i;
  if (v->len > QR_MAP_VALUE_MAX) return 0;
  for (i = 0; i < v->len; i++)
    if ((unsigned char)v->s[i] < 32 || v->s[i] == 127) return 0;
  return 1;
}

/* via_map - expand value found for addr (alias or virtual rewrite); a
 * virtual mailbox path that value_ok refuses is a bad entry: the
 * recipient waits (4.3.5) until the map is fixed */
static int via_map(struct walk *k, const char *addr, const stralloc *v, int is_virtual)
{
  int r = push(k, addr);
  if (r == -2) return add_text(k, KIND_ERROR, addr, "5.4.6", k->why);
  if (r == -1) return -1;
  if (is_virtual && v->len && v->s[0] == '/')
    r = value_ok(v) ? add(k, KIND_MAILBOX, k->r->cfg->virtual_user, v->s, addr, 0)
                    : add_text(k, KIND_ROUTE, addr, "4.3.5", "bad virtual map entry");
  else
    r = rhs_expand(k, addr, v->s, v->len);
  k->depth--;
  return r;
}

/* local_user - a local domain's recipient without alias: a system user
 * (user+ext delivers to user, local-deliver reads .forward+ext) */
static int local_user(struct walk *k, const char *addr)
{
  char name[ADDR_LOCAL_MAX + 1];
  size_t at = address_at(addr, str_len(addr)), n = byte_chr(addr, at, '+'), i;
  struct passwd *pw;
  if (n > ADDR_LOCAL_MAX || n == 0) return add_text(k, KIND_ERROR, addr, "5.1.1", "user unknown");
  for (i = 0; i < n; i++) name[i] = addr[i] >= 'A' && addr[i] <= 'Z' ? (char)(addr[i] + 32) : addr[i];
  name[n] = 0;
  errno = 0;
  pw = byte_chr(name, n, '/') == n && name[0] != '.' ? getpwnam(name) : 0;
  if (!pw && errno && errno != ENOENT && errno != ESRCH && errno != EBADF && errno != EPERM)
    return add_text(k, KIND_ROUTE, addr, "4.3.0", "unable to read the password file");
  if (!pw && !str_diff(name, "postmaster"))
    return add_text(k, KIND_ROUTE, addr, "4.3.5", "no alias for postmaster: add one to aliases");
  if (!pw) return add_text(k, KIND_ERROR, addr, "5.1.1", "user unknown");
  if (pw->pw_uid == 0) return add_text(k, KIND_ROUTE, addr, "4.3.5", "root has no mailbox: alias root to a person");
  return add(k, KIND_USER, pw->pw_name, "~", addr, 0);
}

/* route_local - a routes entry local: or local:user: delivery here, to
 * the user of the address's local part or to the one named */
static int route_local(struct walk *k, const char *addr, const char *user, size_t len)
{
  stralloc a = { 0 };
  size_t at = address_at(addr, str_len(addr));
  int r;
  if (len == 0) return local_user(k, addr);
  if (!stralloc_copyb(&a, user, len) || !stralloc_cats(&a, addr + at) || !stralloc_0(&a)) return -1;
  r = local_user(k, a.s);
  stralloc_free(&a);
  return r;
}

/* route_value - a routes entry in routes_value's spelling (lib/routes.c,
 * so a cdb made by other means reads the same): smtp:, smtps:, lmtp:,
 * local:, error:D.S.N text; a value it refuses defers (4.3.5) */
static int route_value(struct walk *k, const char *addr, const stralloc *v)
{
  static stralloc route;
  const char *why;
  int r;
  if (!value_ok(v)) return add_text(k, KIND_ROUTE, addr, "4.3.5", "bad routes entry");
  r = routes_value(v->s, v->len, &route, &why);
  if (r == -1 || !stralloc_0(&route)) return -1;
  if (r == 0) return add_text(k, KIND_ROUTE, addr, "4.3.5", "bad routes entry");
  if (!case_diffb(route.s, 6, "local:")) return route_local(k, addr, route.s + 6, route.len - 7);
  if (!case_diffb(route.s, 6, "error:")) {
    const char *t = route.s + 6;
    return add(k, t[0] == '4' ? KIND_ROUTE : KIND_ERROR, 0, 0, addr, t);
  }
  return add(k, KIND_REMOTE, 0, route.s, addr, 0);
}

/* remote - routes (domain, then .parent suffixes), relayhost, else MX */
static int remote(struct walk *k, const char *addr)
{
  static stralloc v, dest;
  size_t len = str_len(addr), at = address_at(addr, len), p;
  const char *dom = addr + at + 1;
  size_t dlen = len - at - 1;
  int r = lookup(k->r, MAP_ROUTES, dom, dlen, &v);
  for (p = 0; r == 0 && p < dlen; p++)
    if (dom[p] == '.') r = lookup(k->r, MAP_ROUTES, dom + p, dlen - p, &v);
  if (r == 0) r = lookup(k->r, MAP_ROUTES, ".", 1, &v);   /* the default entry, before relayhost */
  if (r == -1) return add_text(k, KIND_ROUTE, addr, "4.3.0", "unable to read the routes map");
  if (r == 1) return route_value(k, addr, &v);
  if (!stralloc_copys(&dest, "smtp:") || !stralloc_cats(&dest, *k->r->cfg->relayhost ? k->r->cfg->relayhost : dom)
      || !stralloc_0(&dest)) return -1;
  return add(k, KIND_REMOTE, 0, dest.s, addr, 0);
}

/* map_step - aliases (local domains) then virtual; 1 handled, 0 neither */
static int map_step(struct walk *k, const char *addr, int local)
{
  stralloc v = { 0 };
  size_t len = str_len(addr), at = address_at(addr, len), plus = byte_chr(addr, at, '+');
  int r = 0, res = 0;
  if (local) {
    r = lookup(k->r, MAP_ALIASES, addr, at, &v);
    if (r == 0 && plus < at) r = lookup(k->r, MAP_ALIASES, addr, plus, &v);
    if (r == 1) res = via_map(k, addr, &v, 0);
  }
  if (r == 0) {
    r = lookup(k->r, MAP_VIRTUAL, addr, len, &v);
    if (r == 0) r = lookup(k->r, MAP_VIRTUAL, addr + at, len - at, &v);
    if (r == 1) res = via_map(k, addr, &v, 1);
  }
  if (r == -1) res = add_text(k, KIND_ROUTE, addr, "4.3.0", local ? "unable to read the aliases or virtual map" : "unable to read the virtual map");
  stralloc_free(&v);
  if (res == -1) return -1;
  return r != 0;
}

/* expand - route one address (canonicalized here) */
static int expand(struct walk *k, const char *a, size_t len)
{
  stralloc addr = { 0 };
  int local, r;
  if (k->overflow) return 0;
  if (++k->steps > QR_EXPAND_STEPS_MAX) { k->overflow = 1; return 0; }
  if (canonical(k, a, len, &addr) == -1) return -1;
  if (address_check(addr.s, addr.len - 1, ADDR_UTF8)) {
    /* the item is the recipient's own (valid) address: the state file
     * holds only valid ones; the text names the bad one */
    r = add_about(k, KIND_ERROR, k->orig_addr, addr.s, "5.1.3", "invalid address");
    stralloc_free(&addr);
    return r;
  }
  size_t at = address_at(addr.s, addr.len - 1);
  local = is_local_domain(k->r, addr.s + at + 1, addr.len - 2 - at);
  if (local == -1) r = add_text(k, KIND_ROUTE, addr.s, "4.3.0", "unable to read the local-domains map");
  else if (!in_chain(k, addr.s) && (r = map_step(k, addr.s, local)) != 0) r = r == -1 ? -1 : 0;
  else r = local ? local_user(k, addr.s) : remote(k, addr.s);
  stralloc_free(&addr);
  return r;
}

int route_rcpt(struct router *r, struct work *w, unsigned int orig, const char *addr)
{
  static struct walk k;
  unsigned int i;
  int res;
  k.r = r; k.w = w; k.orig = orig; k.orig_addr = addr; k.depth = 0; k.idepth = 0; k.why = 0;
  k.as_user = r->cfg->virtual_user;
  k.n0 = w->n; k.steps = 0; k.overflow = 0; k.dups = 0;
  res = expand(&k, addr, str_len(addr));
  for (i = 0; i < QR_ALIAS_DEPTH_MAX + 2; i++) k.chain[i].len = 0;
  if (res == 0 && k.overflow) {     /* none of its deliveries: fail it whole */
    work_truncate(w, k.n0);
    k.overflow = 0;
    k.steps = 0;
    res = add_text(&k, KIND_ERROR, addr, "5.4.6", "alias expansion too large");
  }
  if (res == 0) log_items(&k);
  return res;
}
