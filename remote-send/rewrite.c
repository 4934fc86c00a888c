/* rewrite.c - hiding the inside on the way out (remote-send.8 REWRITING):
 *
 *   masquerade_domains   user@host.sub.example.com becomes user@example.com
 *   generic.cdb          internal addresses to public ones (user@domain
 *                        and @domain keys), tried before masquerading
 *   smtp_received_headers  keep, strip-internal or ours-only
 *
 * Applied to the envelope sender and to the From:, Sender: and Reply-To:
 * fields of SMTP deliveries, except to destinations listed in
 * smtp_rewrite_exempt (the inside routes); never to LMTP.  Only the
 * addr-spec of a mailbox changes: display names, comments, folding and
 * every other field and the body stay byte for byte.  A field that is
 * not an address list, or is longer than REWRITE_FIELD_MAX, goes out as
 * it is (logged); a generic map that cannot be read, or holds an entry
 * that is no address, defers the message. */
#include <arpa/inet.h>
#include "byte.h"
#include "case.h"
#include "str.h"
#include "address.h"
#include "log.h"
#include "map.h"
#include "rfc5322.h"
#include "rs.h"

#define REWRITE_FIELD_MAX 65536   /* bytes of one address field parsed */
#define REWRITE_NETS_MAX 64       /* entries in smtp_internal_networks */

static const struct config *cfg;
static struct map gmap;
static int generic_tried;
static int received_mode;         /* RCV_* */
static struct net { int family; unsigned char ip[16]; unsigned int bits; } nets[REWRITE_NETS_MAX];
static unsigned int nnets;

enum { RCV_KEEP, RCV_INTERNAL, RCV_OURS };

/* word_next - the next blank- or comma-separated word of list at *i:
 * its start, length in *len; 0 at the end */
static const char *word_next(const char *list, size_t *i, size_t *len)
{
  size_t k;
  while (list[*i] == ' ' || list[*i] == ',' || list[*i] == '\t') (*i)++;
  if (!list[*i]) return 0;
  for (k = *i; list[k] && list[k] != ' ' && list[k] != ',' && list[k] != '\t'; k++) ;
  *len = k - *i;
  k = *i;
  *i += *len;
  return list + k;
}

/* net_parse - one "address/bits" (or a bare address) into n; 0 or -1 */
static int net_parse(const char *w, size_t len, struct net *n)
{
  char a[INET6_ADDRSTRLEN + 8];
  size_t slash = byte_chr(w, len, '/'), i;
  unsigned long bits = 0;
  if (slash >= sizeof a) return -1;
  byte_copy(a, slash, w);
  a[slash] = 0;
  n->family = str_chr(a, ':') < slash ? AF_INET6 : AF_INET;
  if (inet_pton(n->family, a, n->ip) != 1) return -1;
  if (slash == len) bits = n->family == AF_INET ? 32 : 128;
  else {
    if (slash + 1 == len || len - slash > 4) return -1;
    for (i = slash + 1; i < len; i++) {
      if (w[i] < '0' || w[i] > '9') return -1;
      bits = bits * 10 + (unsigned long)(w[i] - '0');
    }
  }
  if (bits > (n->family == AF_INET ? 32UL : 128UL)) return -1;
  n->bits = (unsigned int)bits;
  return 0;
}

/* in_net - is ip (family) inside n? */
static int in_net(const struct net *n, int family, const unsigned char *ip)
{
  unsigned int full = n->bits / 8, rest = n->bits % 8;
  if (n->family != family) return 0;
  if (byte_diff(n->ip, full, ip)) return 0;
  return !rest || ((n->ip[full] ^ ip[full]) & (0xff << (8 - rest)) & 0xff) == 0;
}

const char *rewrite_setup(const struct config *c)
{
  size_t i = 0, len;
  const char *w;
  cfg = c;
  if (!str_diff(c->smtp_received_headers, "keep")) received_mode = RCV_KEEP;
  else if (!str_diff(c->smtp_received_headers, "strip-internal")) received_mode = RCV_INTERNAL;
  else if (!str_diff(c->smtp_received_headers, "ours-only")) received_mode = RCV_OURS;
  else return "smtp_received_headers: want keep, strip-internal or ours-only";
  nnets = 0;
  while ((w = word_next(c->smtp_internal_networks, &i, &len))) {
    if (nnets == REWRITE_NETS_MAX) return "smtp_internal_networks: too many entries";
    if (net_parse(w, len, &nets[nnets++]) == -1) return "smtp_internal_networks: bad network (want address/bits)";
  }
  return 0;
}

/* listed - is key[0..klen) one of the words of list (ASCII case ignored)? */
static int listed(const char *list, const char *key, size_t klen)
{
  size_t i = 0, len;
  const char *w;
  while ((w = word_next(list, &i, &len)))
    if (len == klen && !case_diffb(w, len, key)) return 1;
  return 0;
}

/* generic_open - open generic.cdb once; 1 open, 0 none, -1 unreadable */
static int generic_open(void)
{
  static stralloc path;
  int r;
  if (generic_tried) return gmap.open;
  if (!stralloc_copys(&path, cfg->map_dir) || !stralloc_cats(&path, "/generic.cdb") || !stralloc_0(&path)) return -1;
  if ((r = map_open(&gmap, path.s)) == -1) return -1;
  generic_tried = 1;
  return r;
}

/* generic_get - look key[0..len) up in generic.cdb: 1 found (value in v),
 * 0 not (or no map), -1 the map cannot be read */
static int generic_get(const char *key, size_t len, stralloc *v)
{
  int r = generic_open();
  if (r != 1) return r;
  if (len > MAP_KEY_MAX) return 0;
  return map_lookup(&gmap, key, len, v);
}

int rewrite_applies(const struct dest *d)
{
  if (d->proto != PROTO_SMTP) return 0;
  if (listed(cfg->smtp_rewrite_exempt, d->key, str_len(d->key))) return 0;
  return *cfg->masquerade_domains || received_mode != RCV_KEEP || generic_open() != 0;
}

/* masquerade - the domain dom[0..len) as masquerade_domains wants it: the
 * first entry equal to it or a parent of it wins; "!entry" keeps it.
 * Returns the new domain's start in the list and its length in *nlen, or
 * 0 when it stays */
static const char *masquerade(const char *dom, size_t len, size_t *nlen)
{
  size_t i = 0, wl;
  const char *w;
  while ((w = word_next(cfg->masquerade_domains, &i, &wl))) {
    int keep = *w == '!';
    const char *m = w + keep;
    size_t ml = wl - (size_t)keep;
    if (!ml || ml > len) continue;
    if (case_diffb(dom + len - ml, ml, m)) continue;
    if (ml < len && dom[len - ml - 1] != '.') continue;
    if (keep || ml == len) return 0;
    *nlen = ml;
    return m;
  }
  return 0;
}

/* oom - *why for a failed allocation; -1 */
static int oom(const char **why)
{
  *why = "4.3.0 out of memory";
  return -1;
}

/* generic - a[0..len) (its '@' at at) by generic.cdb: the user@domain key,
 * else the @domain key, whose value may be a domain ("@d" or "d") or an
 * address.  1 found (the new address in out), 0 none, -1 failure (*why) */
static int generic(const char *a, size_t len, size_t at, stralloc *out, const char **why)
{
  static stralloc v, key;
  int r = generic_get(a, len, &v), domain_only = 0;
  if (r == 0) {
    if (!stralloc_copys(&key, "@") || !stralloc_catb(&key, a + at + 1, len - at - 1)) return oom(why);
    r = generic_get(key.s, key.len, &v);
    domain_only = r == 1 && (address_at(v.s, v.len) == 0 || address_at(v.s, v.len) == v.len);
  }
  if (r == -1) { *why = "4.3.5 unable to read generic.cdb"; return -1; }
  if (r == 0) return 0;
  if (domain_only) {
    size_t skip = v.s[0] == '@';
    if (!stralloc_copyb(out, a, at + 1) || !stralloc_catb(out, v.s + skip, v.len - skip)) return oom(why);
  } else if (!stralloc_copy(out, &v)) return oom(why);
  if (address_check(out->s, out->len, ADDR_UTF8)) { *why = "4.3.5 bad generic entry (not an address)"; return -1; }
  return 1;
}

int rewrite_address(const char *a, size_t len, stralloc *out, const char **why)
{
  size_t at = address_at(a, len), nlen;
  const char *m;
  int r;
  *why = 0;
  if (!len || at + 1 >= len || a[at + 1] == '[') return 0;
  if ((r = generic(a, len, at, out, why)) == -1) return -1;
  if (r == 1) return !(out->len == len && !byte_diff(out->s, len, a));
  if (!(m = masquerade(a + at + 1, len - at - 1, &nlen))) return 0;
  if (!stralloc_copyb(out, a, at + 1) || !stralloc_catb(out, m, nlen)) return oom(why);
  return 1;
}

/* struct fedit - in a field's text, [start, end) becomes addr */
struct fedit { size_t start, end; stralloc addr; };
/* struct fields - the edits of one address field */
struct fields {
  struct fedit e[RS_REWRITE_EDITS_MAX];
  unsigned int n;
  int too_many;
  const char *why;          /* a temporary failure */
};

/* on_mailbox - rfc5322_addrlist callback: note an edit for a rewritten mailbox */
static int on_mailbox(void *ctx, const struct rfc5322_mailbox *m)
{
  struct fields *f = ctx;
  int r;
  if (m->null || !m->qualified) return 0;
  if (f->n == RS_REWRITE_EDITS_MAX) { f->too_many = 1; return 1; }
  r = rewrite_address(m->addr, m->len, &f->e[f->n].addr, &f->why);
  if (r == -1) return -2;
  if (r == 1) { f->e[f->n].start = m->start; f->e[f->n].end = m->end; f->n++; }
  return 0;
}

/* field_is - is the field at s[0..len) named name (with its colon)? */
static int field_is(const char *s, size_t len, const char *name)
{
  size_t n = str_len(name);
  return len > n && s[n] == ':' && !case_diffb(s, n, name);
}

/* field_end - the end of the field starting at s[pos] (after its last
 * line's LF, continuation lines included), at most head */
static size_t field_end(const char *s, size_t pos, size_t head)
{
  for (;;) {
    size_t lf = pos + byte_chr(s + pos, head - pos, '\n');
    if (lf >= head) return head;
    pos = lf + 1;
    if (pos >= head || (s[pos] != ' ' && s[pos] != '\t')) return pos;
  }
}

/* client_ip - the address in brackets of a Received: field's from part
 * (the last "[...]" that is an IP address before " by "); 1 found */
static int client_ip(const char *s, size_t len, int *family, unsigned char *ip)
{
  size_t i = 0, end = len, k;
  int found = 0;
  while (i < len && (s[i] == ' ' || s[i] == '\t')) i++;
  if (len - i < 5 || case_diffb(s + i, 4, "from") || (s[i + 4] != ' ' && s[i + 4] != '\t')) return 0;
  for (k = i; k + 3 < len; k++)
    if ((s[k] == ' ' || s[k] == '\t' || s[k] == '\n') && !case_diffb(s + k + 1, 2, "by") &&
        (s[k + 3] == ' ' || s[k + 3] == '\t')) { end = k; break; }
  for (k = i; k < end; k++) {
    char a[INET6_ADDRSTRLEN + 8];
    size_t close, off = 0;
    if (s[k] != '[') continue;
    close = k + 1 + byte_chr(s + k + 1, end - k - 1, ']');
    if (close >= end) break;
    if (close - k - 1 > 5 && !case_diffb(s + k + 1, 5, "IPv6:")) off = 5;
    if (close - k - 1 - off >= sizeof a) continue;
    byte_copy(a, close - k - 1 - off, s + k + 1 + off);
    a[close - k - 1 - off] = 0;
    if (inet_pton(AF_INET, a, ip) == 1) { *family = AF_INET; found = 1; }
    else if (inet_pton(AF_INET6, a, ip) == 1) { *family = AF_INET6; found = 1; }
    k = close;
  }
  return found;
}

/* inside - does the Received: field body s[0..len) record a hop inside:
 * a client address in smtp_internal_networks, or none (a local submission)? */
static int inside(const char *s, size_t len)
{
  unsigned char ip[16];
  unsigned int i;
  int family;
  if (!client_ip(s, len, &family, ip)) return 1;
  for (i = 0; i < nnets; i++)
    if (in_net(&nets[i], family, ip)) return 1;
  return 0;
}

/* drop_received - is this Received: field (the nth, from 0) left out? */
static int drop_received(const char *body, size_t len, unsigned int nth)
{
  if (received_mode == RCV_OURS) return nth > 0;
  if (received_mode == RCV_INTERNAL) return inside(body, len);
  return 0;
}

/* address_field - the From:, Sender: or Reply-To: field s[0..len) (name
 * and colon included) rewritten into out; 0 done, -1 temporary failure */
static int address_field(const char *s, size_t len, size_t colon, stralloc *out, const char *id, const char **why)
{
  static struct fields f;
  size_t pos = 0, k;
  const char *bad = 0;
  int r;
  f.n = 0; f.too_many = 0; f.why = 0;
  if (len - colon - 1 > REWRITE_FIELD_MAX) bad = "field too long";
  else if ((r = rfc5322_addrlist(s + colon + 1, len - colon - 1, on_mailbox, &f, &bad)) == -2) { *why = f.why; return -1; }
  else if (f.too_many) bad = "too many addresses";
  if (bad) {
    char name[32];
    size_t n = colon < sizeof name - 1 ? colon : sizeof name - 1;
    byte_copy(name, n, s);
    name[n] = 0;
    log_event(id, "rewrite", name, "status", "unchanged", "reason", bad, (char *)0);
    return stralloc_catb(out, s, len) ? 0 : oom(why);
  }
  for (k = 0; k < f.n; k++) {
    if (!stralloc_catb(out, s + pos, colon + 1 + f.e[k].start - pos) || !stralloc_cat(out, &f.e[k].addr))
      return oom(why);
    pos = colon + 1 + f.e[k].end;
  }
  return stralloc_catb(out, s + pos, len - pos) ? 0 : oom(why);
}

int rewrite_message(const char *s, size_t len, stralloc *out, const char *id, const char **why)
{
  size_t head = data_head(s, len), pos = 0;
  unsigned int nth = 0;
  out->len = 0;
  *why = 0;
  while (pos < head) {
    size_t end = field_end(s, pos, head), n = end - pos;
    size_t colon = byte_chr(s + pos, n, ':');
    if (field_is(s + pos, n, "Received")) {
      if (!drop_received(s + pos + colon + 1, n - colon - 1, nth++) && !stralloc_catb(out, s + pos, n)) goto oom;
    } else if (field_is(s + pos, n, "From") || field_is(s + pos, n, "Sender") || field_is(s + pos, n, "Reply-To")) {
      if (address_field(s + pos, n, colon, out, id, why) == -1) return -1;
    } else if (!stralloc_catb(out, s + pos, n)) goto oom;
    pos = end;
  }
  if (out->len == head && !byte_diff(out->s, head, s)) return 0;   /* the body is not copied */
  if (!stralloc_catb(out, s + head, len - head)) goto oom;
  return 1;
oom:
  *why = "4.3.0 out of memory";
  return -1;
}
