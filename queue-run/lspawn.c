/* lspawn.c - local-spawn's checks before it becomes a user (lspawn.h).
 *
 * local-spawn runs as root and becomes the user a request names; the
 * requests come from queue-run, which runs as postern-queue and handles
 * mail from anywhere.  So a request is checked against what root and the
 * user decided, never taken on trust (qmail's lspawn lets qmail-send
 * choose nothing but the address):
 *
 *   ~      the user's own mail (local-deliver then reads the user's own
 *          .forward, as the user): the recipient's local part, up to its
 *          first '+' and lower-cased, is the user's name (as route.c's
 *          local_user finds it), its domain is local (as route.c decides,
 *          local_delivery included), and the account is a
 *          mail recipient: uid at least local_min_uid or named in
 *          local_allowed_users, its shell not in local_refuse_shells.
 *   |cmd, /file, /mailbox, /maildir/
 *          found again under the recipient where route.c found it: an item
 *          of the recipient's value in the aliases map (local part, then
 *          local part up to '+'; local domains only), else in the virtual
 *          map (the address, then @domain), or of an :include: file named
 *          there (nested ones too); and to run as the user that value
 *          gives it: virtual_user, or the owner of the include file when
 *          that is not root (a root-owned one keeps its parent's user).  A virtual value that is a path is the mailbox
 *          itself, delivered as virtual_user.
 *
 * The maps must be owned by root and writable by nobody else; an include
 * file must be a regular file (not a symlink) writable by nobody but its
 * owner, in a directory others cannot write (unless sticky).  A delivery
 * not found that way is deferred (the maps may have changed since the
 * message was routed; unsure means temporary); an account that is not a
 * mail recipient fails (5.1.1). */
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include "byte.h"
#include "str.h"
#include "address.h"
#include "aliases.h"
#include "localnames.h"
#include "map.h"
#include "qr.h"
#include "lspawn.h"

/* struct req - one request being checked */
struct req {
  const struct config *cfg;
  const char *user, *rcpt, *dest;
  char *why;
};

/* say - why = "status what arg" (bounded, controls as '?'); returns code */
static int say(struct req *q, int code, const char *status, const char *what, const char *arg)
{
  const char *part[4] = { status, " ", what, arg ? arg : "" };
  size_t n = 0, i, k;
  for (k = 0; k < 4; k++)
    for (i = 0; part[k][i] && n < LSPAWN_WHY_MAX - 1; i++)
      q->why[n++] = (unsigned char)part[k][i] < 32 ? '?' : part[k][i];
  q->why[n] = 0;
  return code;
}

/* same - s equals x[0..len) exactly */
static int same(const char *s, const char *x, size_t len)
{
  return str_len(s) == len && byte_equal(s, len, x);
}

/* lower_same - s equals x[0..len) with x's ASCII upper case lowered */
static int lower_same(const char *s, const char *x, size_t len)
{
  size_t i;
  if (str_len(s) != len) return 0;
  for (i = 0; i < len; i++)
    if (s[i] != (x[i] >= 'A' && x[i] <= 'Z' ? x[i] + 32 : x[i])) return 0;
  return 1;
}

/* in_list - word is one of the blank- or comma-separated words of list;
 * a word without '/' also matches the base name of a path */
static int in_list(const char *list, const char *word)
{
  size_t wl = str_len(word), base = str_rchr(word, '/');
  const char *b = word + (word[base] ? base + 1 : 0);
  while (*list) {
    size_t n = 0;
    while (*list == ' ' || *list == '\t' || *list == ',') list++;
    while (list[n] && list[n] != ' ' && list[n] != '\t' && list[n] != ',') n++;
    if (n && ((n == wl && byte_equal(list, n, word)) || (byte_chr(list, n, '/') == n && same(b, list, n)))) return 1;
    list += n;
  }
  return 0;
}

/* map_trusted - open map_dir/name.cdb into m (zeroed by the caller), a
 * map only root can have written: 1 open, 0 no such map, -1 error
 * (q->why set; m closed) */
static int map_trusted(struct req *q, const char *name, struct map *m)
{
  static stralloc path;
  struct stat st;
  int r;
  if (!stralloc_copys(&path, q->cfg->map_dir) || !stralloc_cats(&path, "/") || !stralloc_cats(&path, name)
      || !stralloc_cats(&path, ".cdb") || !stralloc_0(&path)) return say(q, -1, "4.3.0", "out of memory", 0);
  if ((r = map_open(m, path.s)) != 1) return r == 0 ? 0 : say(q, -1, "4.3.0", "unable to read ", path.s);
  if (fstat(m->fd, &st) == 0 && st.st_uid == 0 && !(st.st_mode & 022)) return 1;
  map_close(m);
  return say(q, -1, "4.7.0", "map not owned by root or writable by others: ", path.s);
}

/* map_get - key in map_dir/name.cdb (map_trusted): 1 found (in v), 0
 * not (or no map), -1 error (q->why set) */
static int map_get(struct req *q, const char *name, const char *key, size_t len, stralloc *v)
{
  struct map m;
  int r;
  byte_zero(&m, sizeof m);
  if ((r = map_trusted(q, name, &m)) != 1) return r;
  if ((r = map_lookup(&m, key, len, v)) == -1) say(q, -1, "4.3.0", "unable to read the map ", name);
  map_close(&m);
  return r;
}

/* local_domain - a key of local-domains, and hostname or localhost unless
 * local_delivery says this host delivers nothing itself (route.c's
 * rule, lib/localnames.c): 1, 0, -1 */
static int local_domain(struct req *q, const char *d, size_t len)
{
  static stralloc v;
  struct map m;
  int own = 0;
  if (localnames_is(q->cfg, d, len)) {
    byte_zero(&m, sizeof m);
    if (map_trusted(q, "local-domains", &m) == -1) return -1;
    if ((own = localnames_local(q->cfg, &m)) == -1) say(q, -1, "4.3.5", "unable to tell whether this host's names are local", 0);
    map_close(&m);
    if (own != 0) return own;
  }
  return map_get(q, "local-domains", d, len, &v);
}

/* dir_safe - the directory holding path lets nobody else swap the file:
 * not writable by group or others unless sticky */
static int dir_safe(const char *path)
{
  char dir[ALIAS_ITEM_MAX + 1];
  struct stat st;
  size_t slash = str_rchr(path, '/');
  if (!path[slash] || slash >= sizeof dir) return 0;
  byte_copy(dir, slash ? slash : 1, path);
  dir[slash ? slash : 1] = 0;
  return stat(dir, &st) == 0 && (!(st.st_mode & 022) || (st.st_mode & S_ISVTX));
}

static int value_search(struct req *q, const char *rhs, size_t len, const char *as_user, unsigned int depth);

/* include_text - the lines of an :include: file joined into one value,
 * and the user its items run as (its owner; root's file: the user of the
 * value that names it, as route.c has it); 0, or -1 (not usable) */
static int include_text(const char *fn, stralloc *rhs, const char *parent_as, char *as_user, size_t as_max)
{
  stralloc text = { 0 };
  struct stat st;
  char buf[4096];
  ssize_t r = -1;
  size_t pos = 0;
  int fd = open(fn, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW);
  if (fd == -1) return -1;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && !(st.st_mode & 022) && dir_safe(fn))
    while ((r = read(fd, buf, sizeof buf)) > 0)
      if (text.len + (size_t)r > QR_INCLUDE_MAX || !stralloc_catb(&text, buf, (size_t)r)) { r = -1; break; }
  close(fd);
  if (r == 0 && st.st_uid == 0) str_copy(as_user, parent_as);   /* include_search checked its length */
  else if (r == 0) {
    struct passwd *pw = getpwuid(st.st_uid);
    if (!pw || str_len(pw->pw_name) >= as_max) r = -1;
    else str_copy(as_user, pw->pw_name);
  }
  for (rhs->len = 0; r == 0 && pos < text.len; pos++) {
    size_t n = byte_chr(text.s + pos, text.len - pos, '\n'), i = 0;
    while (i < n && (text.s[pos + i] == ' ' || text.s[pos + i] == '\t')) i++;
    if (i < n && text.s[pos + i] != '#' && ((rhs->len && !stralloc_cats(rhs, ",")) || !stralloc_catb(rhs, text.s + pos, n)))
      r = -1;
    pos += n;
  }
  stralloc_free(&text);
  return r == 0 ? 0 : -1;
}

/* include_search - the request among the items of an :include: file
 * named in a value whose items run as parent_as */
static int include_search(struct req *q, const char *path, size_t len, const char *parent_as, unsigned int depth)
{
  char fn[ALIAS_ITEM_MAX + 1], as_user[256];
  stralloc rhs = { 0 };
  int r = 0;
  if (depth >= QR_ALIAS_DEPTH_MAX || len >= sizeof fn || !len || path[0] != '/') return 0;
  byte_copy(fn, len, path);
  fn[len] = 0;
  if (str_len(parent_as) < sizeof as_user && include_text(fn, &rhs, parent_as, as_user, sizeof as_user) == 0)
    r = value_search(q, rhs.s, rhs.len, as_user, depth + 1);
  stralloc_free(&rhs);
  return r;
}

/* value_search - the request among the items of an alias or virtual
 * value (and its include files), to run as as_user: 1 found, 0 not */
static int value_search(struct req *q, const char *rhs, size_t len, const char *as_user, unsigned int depth)
{
  struct alias_iter it;
  struct alias_item item;
  int me = !str_diff(q->user, as_user);
  aliases_start(&it, rhs, len);
  while (aliases_next(&it, &item) == 1) {
    if (item.type == ALIAS_PIPE && me && q->dest[0] == '|' && same(q->dest + 1, item.s, item.len)) return 1;
    if (item.type == ALIAS_FILE && me && same(q->dest, item.s, item.len)) return 1;
    if (item.type == ALIAS_INCLUDE && include_search(q, item.s, item.len, as_user, depth)) return 1;
  }
  return 0;
}

/* item_found - a |cmd, /file or mailbox request, found again under its
 * recipient in the aliases or virtual map: LSPAWN_OK or LSPAWN_TEMP */
static int item_found(struct req *q)
{
  stralloc v = { 0 };
  size_t len = str_len(q->rcpt), at = address_at(q->rcpt, len), plus = byte_chr(q->rcpt, at, '+');
  int r = 0, local, is_virtual = 0, res;
  if (at >= len) return say(q, LSPAWN_TEMP, "4.7.0", "recipient without a domain: ", q->rcpt);
  if ((local = local_domain(q, q->rcpt + at + 1, len - at - 1)) == -1) return LSPAWN_TEMP;
  if (local) {
    r = map_get(q, "aliases", q->rcpt, at, &v);
    if (r == 0 && plus < at) r = map_get(q, "aliases", q->rcpt, plus, &v);
  }
  if (r == 0) {
    is_virtual = 1;
    r = map_get(q, "virtual", q->rcpt, len, &v);
    if (r == 0) r = map_get(q, "virtual", q->rcpt + at, len - at, &v);
  }
  if (r == -1) res = LSPAWN_TEMP;
  else if (r == 1 && is_virtual && v.len && v.s[0] == '/')       /* a virtual mailbox */
    res = same(q->dest, v.s, v.len) && !str_diff(q->user, q->cfg->virtual_user) ? LSPAWN_OK : LSPAWN_TEMP;
  else if (r == 1) res = value_search(q, v.s, v.len, q->cfg->virtual_user, 0) ? LSPAWN_OK : LSPAWN_TEMP;
  else res = LSPAWN_TEMP;
  if (res == LSPAWN_TEMP && r != -1) say(q, LSPAWN_TEMP, "4.7.0", "not a delivery of this recipient in the aliases or virtual map, as this user: ", q->dest);
  stralloc_free(&v);
  return res;
}

/* own_mail - a ~ request: the recipient names the user, in a local
 * domain, and the account receives mail */
static int own_mail(struct req *q, const struct passwd *pw)
{
  size_t len = str_len(q->rcpt), at = address_at(q->rcpt, len), plus = byte_chr(q->rcpt, at, '+');
  int local;
  if (at >= len || !lower_same(pw->pw_name, q->rcpt, plus))
    return say(q, LSPAWN_TEMP, "4.7.0", "the recipient is not this user's address: ", q->rcpt);
  if ((local = local_domain(q, q->rcpt + at + 1, len - at - 1)) != 1)
    return local == -1 ? LSPAWN_TEMP : say(q, LSPAWN_TEMP, "4.7.0", "not a local domain: ", q->rcpt + at + 1);
  if (pw->pw_uid < q->cfg->local_min_uid && !in_list(q->cfg->local_allowed_users, pw->pw_name))
    return say(q, LSPAWN_PERM, "5.1.1", "not a mail recipient (a system account, uid below local_min_uid): ", pw->pw_name);
  if (pw->pw_shell && *q->cfg->local_refuse_shells && in_list(q->cfg->local_refuse_shells, pw->pw_shell))
    return say(q, LSPAWN_PERM, "5.1.1", "not a mail recipient (its shell is in local_refuse_shells): ", pw->pw_name);
  return LSPAWN_OK;
}

int lspawn_check(const struct config *cfg, const char *user, const char *rcpt, const char *dest,
                 struct passwd **pw, char *why)
{
  struct req q = { cfg, user, rcpt, dest, why };
  int r = LSPAWN_OK;
  why[0] = 0;
  if (str_diff(dest, "~")) {
    if (dest[0] != '|' && dest[0] != '/') return say(&q, LSPAWN_TEMP, "4.7.0", "unknown destination form: ", dest);
    r = item_found(&q);      /* first: include owners are looked up with getpwuid */
  }
  if (r != LSPAWN_OK) return r;
  if (!(*pw = getpwnam(user))) return say(&q, LSPAWN_TEMP, "4.3.0", "the delivery user does not exist: ", user);
  if ((*pw)->pw_uid == 0) return say(&q, LSPAWN_TEMP, "4.3.5", "refusing to deliver as root", 0);
  return str_diff(dest, "~") ? LSPAWN_OK : own_mail(&q, *pw);
}
