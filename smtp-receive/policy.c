/* policy.c - who may send what to whom: the access map (client address,
 * client name, sender, recipient), DNSBLs, the sender domain check,
 * relay control and recipient verification, load shedding.
 *
 * With smtpd_delay_checks (the default) a refusal of the client or the
 * sender is kept and given at RCPT, so the log line names the recipient
 * and an access OK for a recipient such as postmaster can still be seen.
 * A recipient is accepted only if its domain is ours (hostname, domain,
 * local-domains) and the user exists, or the virtual map has it, or its
 * domain is in relay-domains, or the client may relay (access RELAY,
 * AUTH, -bs).  Local parts that route (%, !, a quoted @) are never
 * accepted from a client that may not relay: no classic open-relay trick
 * gets through, whatever a later router would make of it.  A host-name
 * key of the access map grants RELAY only with smtpd_relay_by_name = yes:
 * names come from the client's own DNS. */
#include <errno.h>
#include <arpa/inet.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include "access.h"
#include "log.h"
#include "localnames.h"
#include "address.h"
#include "byte.h"
#include "case.h"
#include "resolve.h"
#include "str.h"
#include "smtp.h"

static const char tempfail[] = "451 4.3.0 Temporary lookup failure";
static const char relay_denied[] = "554 5.7.1 Relay access denied";
static int map_trouble;           /* a map could not be opened: temporary */

/* the maps every session consults, and where they live in a session */
static const char *const map_names[] = { "access", "local-domains", "relay-domains", "virtual", "aliases" };
#define MAPS (sizeof map_names / sizeof map_names[0])

static void session_maps(struct session *s, struct map *m[MAPS])
{
  m[0] = &s->access; m[1] = &s->local_domains; m[2] = &s->relay_domains; m[3] = &s->virtual_map; m[4] = &s->aliases;
}

/* map_path - map_dir/name.cdb into fn; 0, or -1 out of memory */
static int map_path(const struct session *s, stralloc *fn, const char *name)
{
  return stralloc_copys(fn, s->cfg->map_dir) && stralloc_cats(fn, "/") && stralloc_cats(fn, name) &&
         stralloc_cats(fn, ".cdb") && stralloc_0(fn) ? 0 : -1;
}

/* open_one - map_dir/name.cdb into m; a missing map is an empty one */
static void open_one(const struct session *s, struct map *m, const char *name)
{
  stralloc fn = {0};
  if (map_path(s, &fn, name) == -1) {
    map_trouble = 1;
    return;
  }
  if (map_open(m, fn.s) == -1) {
    map_trouble = 1;
    log_event(0, "map", fn.s, "status", errno == EPERM ? "unsafe" : "unreadable",
              "reason", errno == EPERM ? "writable by group or others (or its directory is)" : strerror(errno), (char *)0);
  }
  stralloc_free(&fn);
}

/* maps - open the maps once per session */
static void maps(struct session *s)
{
  struct map *m[MAPS];
  unsigned int i;
  if (s->maps_opened) return;
  s->maps_opened = 1;
  session_maps(s, m);
  for (i = 0; i < MAPS; i++) open_one(s, m[i], map_names[i]);
}

int policy_maps_ready(struct session *s)
{
  struct map *m[MAPS];
  static stralloc fn;
  unsigned int i;
  session_maps(s, m);
  for (i = 0; i < MAPS; i++) {
    int r;
    if (m[i]->open) r = map_refresh(m[i]);   /* one stat while it is the same file */
    else r = map_path(s, &fn, map_names[i]) == -1 ? -1 : map_open(m[i], fn.s);
    if (r == -1) return -1;
  }
  s->maps_opened = 1;
  return 0;
}

void policy_maps_take(struct session *s, struct session *ready)
{
  struct map *to[MAPS], *from[MAPS];
  unsigned int i;
  session_maps(s, to);
  session_maps(ready, from);
  for (i = 0; i < MAPS; i++) *to[i] = *from[i];
  s->maps_opened = 1;
}

void policy_close(struct session *s)
{
  struct map *m[MAPS];
  unsigned int i;
  session_maps(s, m);
  for (i = 0; i < MAPS; i++) map_close(m[i]);
}

/* lookup - 1 found, 0 not, -1 error; a closed map finds nothing */
static int lookup(struct map *m, const char *key, size_t len)
{
  static stralloc value;
  if (!m->open) return 0;
  return map_lookup(m, key, len, &value);
}

/* set_reply - "code status text" of an access refusal into reply */
static void set_reply(char *reply, const struct access_result *r, const char *what)
{
  stralloc sa = {0};
  reply[0] = 0;
  if (!stralloc_copys(&sa, r->code) || !stralloc_cats(&sa, " ") || !stralloc_cats(&sa, r->status) ||
      !stralloc_cats(&sa, " ") || !stralloc_cats(&sa, what) ||
      !stralloc_catb(&sa, r->text.s, r->text.len)) {
    str_copy(reply, "451 4.3.0 Out of memory");
    return;
  }
  if (sa.len >= SMTP_REPLY_MAX) sa.len = SMTP_REPLY_MAX - 1;
  byte_copy(reply, sa.len, sa.s);
  reply[sa.len] = 0;
  stralloc_free(&sa);
}

/* access - look subject up; the action (ACCESS_NONE if no key matched),
 * -1 on a lookup failure; a refusal's reply goes to reply */
static int access(struct session *s, int kind, const char *subject, const char *what, char *reply)
{
  struct access_result r = {0};
  int found, action;
  if (!s->access.open) return ACCESS_NONE;
  found = access_check(&s->access, kind, subject, &r);
  if (found == -1 && errno == EINVAL) found = 0;   /* nothing could match */
  if (found == -1) { access_result_free(&r); return -1; }
  action = found ? r.action : ACCESS_NONE;
  if (action == ACCESS_REJECT || action == ACCESS_ERROR) set_reply(reply, &r, what);
  access_result_free(&r);
  return action;
}

/* client_access - the client's address, then its name.  A name comes
 * from the client's own DNS (PTR, confirmed by its A/AAAA records): it
 * may refuse, but RELAY by name only with smtpd_relay_by_name = yes;
 * otherwise that key counts as OK, and the log says so. */
static int client_access(struct session *s, char *reply)
{
  int a = access(s, ACCESS_KIND_IP, s->ip, "Client host rejected: ", reply);
  if (a == ACCESS_NONE && str_diff(s->name, "unknown")) {
    a = access(s, ACCESS_KIND_HOST, s->name, "Client host rejected: ", reply);
    if (a == ACCESS_RELAY && !s->cfg->smtpd_relay_by_name) {
      smtp_log(s, "warning", "access: RELAY for a host name ignored (smtpd_relay_by_name = no), taken as OK; "
               "grant RELAY by address");
      a = ACCESS_OK;
    }
  }
  return a;
}

/* struct zone - one entry of smtpd_dnsbl_zones: the zone and the codes
 * that count as a listing (none given: any 127.0.0.0/8 answer) */
struct zone { char name[256]; unsigned char code[8][4]; unsigned int ncode; };

/* zone_next - the next entry of smtpd_dnsbl_zones from *z: "zone" or
 * "zone=127.0.0.2,127.0.0.4" (blank or comma separated; an address after
 * a zone= is one of its codes); 1, 0 at the end, -1 malformed */
static int zone_next(const char **z, struct zone *out)
{
  char word[256];
  size_t n;
  out->ncode = 0;
  for (;;) {
    while (**z == ' ' || **z == ',') (*z)++;
    for (n = 0; (*z)[n] && (*z)[n] != ' ' && (*z)[n] != ','; n++)
      ;
    if (n == 0) return out->name[0] ? 1 : 0;
    if (n >= sizeof word) return -1;
    byte_copy(word, n, *z);
    word[n] = 0;
    if (out->name[0] && out->ncode && byte_chr(word, n, '=') == n && byte_chr(word, n, '.') < n
        && inet_pton(AF_INET, word, out->code[out->ncode < 8 ? out->ncode : 7]) == 1) {
      if (out->ncode == 8) return -1;     /* at most 8 codes per zone */
      out->ncode++;
      *z += n;
      continue;
    }
    if (out->name[0]) return 1;            /* a new zone starts: this one is done */
    size_t eq = byte_chr(word, n, '=');
    if (eq == 0) return -1;
    byte_copy(out->name, eq, word);
    out->name[eq] = 0;
    *z += n;
    if (eq < n && inet_pton(AF_INET, word + eq + 1, out->code[out->ncode++]) != 1) return -1;
  }
}

/* zone_listed - does one of codes (4 bytes each) count for zone z? */
static int zone_listed(const struct zone *z, const stralloc *codes)
{
  size_t i;
  unsigned int k;
  if (z->ncode == 0) return codes->len > 0;
  for (i = 0; i + 4 <= codes->len; i += 4)
    for (k = 0; k < z->ncode; k++)
      if (byte_equal(codes->s + i, 4, z->code[k])) return 1;
  return 0;
}

/* dnsbl_reply - "554 5.7.1 Service unavailable; client [ip] blocked using
 * zone", then the zone's TXT record for the listing (printable ASCII
 * only, cut to fit the reply) */
static void dnsbl_reply(struct session *s, const char *zone)
{
  static stralloc text;
  stralloc r = {0};
  size_t i;
  if (!stralloc_copys(&r, "554 5.7.1 Service unavailable; client [") || !stralloc_cats(&r, s->ip) ||
      !stralloc_cats(&r, "] blocked using ") || !stralloc_cats(&r, zone)) r.len = 0;
  if (r.len && resolve_dnsbl_text(s->ip, zone, &text) == 1 && stralloc_cats(&r, "; "))
    for (i = 0; i < text.len && r.len < SMTP_REPLY_MAX - 1; i++)
      if (!stralloc_append(&r, text.s[i] >= 32 && text.s[i] < 127 ? &text.s[i] : "?")) break;
  if (r.len == 0 || r.len >= SMTP_REPLY_MAX) {
    if (r.len >= SMTP_REPLY_MAX) r.len = SMTP_REPLY_MAX - 1;
    else { str_copy(s->client_reject, "554 5.7.1 Service unavailable; client blocked by a DNSBL"); stralloc_free(&r); return; }
  }
  byte_copy(s->client_reject, r.len, r.s);
  s->client_reject[r.len] = 0;
  stralloc_free(&r);
}

/* dnsbl - the first zone of smtpd_dnsbl_zones that lists the client with
 * a code it counts; an unreachable list blocks nothing */
static void dnsbl(struct session *s)
{
  static stralloc codes;
  const char *z = s->cfg->smtpd_dnsbl_zones;
  struct zone zone;
  int r;
  for (;;) {
    zone.name[0] = 0;
    if ((r = zone_next(&z, &zone)) != 1) break;    /* a malformed entry is caught at start-up */
    if (resolve_dnsbl_codes(s->ip, zone.name, &codes) != 1 || !zone_listed(&zone, &codes)) continue;
    dnsbl_reply(s, zone.name);
    return;
  }
}

int policy_dnsbl_zones_ok(const char *zones)
{
  struct zone zone;
  int r;
  do { zone.name[0] = 0; r = zone_next(&zones, &zone); } while (r == 1);
  return r == 0;
}

/* policy_connect - what we think of the client, before the greeting */
void policy_connect(struct session *s)
{
  int a;
  if (s->mode == MODE_LOCAL) { s->relay_client = s->client_ok = 1; return; }
  maps(s);
  a = client_access(s, s->client_reject);
  if (a == -1) str_copy(s->client_reject, tempfail);
  if (a == ACCESS_OK) s->client_ok = 1;
  if (a == ACCESS_RELAY) s->client_ok = s->relay_client = 1;
  if (a == ACCESS_DISCARD) s->client_discard = 1;
  if (a == ACCESS_NONE && s->cfg->smtpd_dnsbl_zones[0]) dnsbl(s);
}

/* null_mx - is the MX list (resolve_mx's format) one "." record (RFC 7505)? */
static int null_mx(const stralloc *mx)
{
  return mx->len >= 3 && (mx->len == 3 || (mx->len == 4 && mx->s[2] == '.')) && mx->s[mx->len - 1] == 0;
}

/* domain_status - can mail go back to domain d? 1 yes (an MX, or else an
 * address record), 0 no (no such domain, no records, a null MX), -1
 * temporary failure; why names the refusal */
static int domain_status(const char *d, const char **why)
{
  static stralloc mx, ip6, ip4;
  int r = resolve_mx(d, &mx);
  *why = "550 5.1.8 Sender address rejected: domain has no MX or address record";
  if (r == 1 && null_mx(&mx)) { *why = "550 5.7.27 Sender address rejected: domain does not accept mail (null MX)"; return 0; }
  if (r == 1) return 1;
  if (r == RESOLVE_NXDOMAIN) { *why = "550 5.1.8 Sender address rejected: domain not found"; return 0; }
  if (r == 0) r = resolve_ip(d, &ip6, &ip4);
  if (r == 1) return 1;
  if (r == -1) return -1;
  if (r == RESOLVE_NXDOMAIN) *why = "550 5.1.8 Sender address rejected: domain not found";
  return 0;
}

/* sender_domain - the MAIL FROM domain must exist (smtpd_sender_dns_check) */
static int sender_domain(const char *addr, size_t len, char *reply)
{
  size_t at = address_at(addr, len);
  const char *d = addr + at + 1, *why;
  if (at == len) return 0;                        /* <postmaster> */
  if (d[0] == '[') return 0;                      /* an address literal */
  if (byte_chr(d, len - at - 1, '.') == len - at - 1) {
    str_copy(reply, "550 5.1.8 Sender address rejected: domain is not fully qualified");
    return 1;
  }
  switch (domain_status(d, &why)) {
  case 1: return 0;
  case 0: str_copy(reply, why); return 1;
  default: str_copy(reply, "450 4.1.8 Sender address rejected: domain lookup failed temporarily"); return 1;
  }
}

/* policy_sender - MAIL FROM: 0 accepted (a delayed refusal may be kept in
 * s->sender_reject), 1 refused now with reply */
int policy_sender(struct session *s, const char *addr, size_t len, char *reply)
{
  int a;
  if (s->client_reject[0] && !s->set.delay_checks) { str_copy(reply, s->client_reject); return 1; }
  if (s->mode == MODE_LOCAL) return 0;
  maps(s);
  if (s->client_discard) s->discard = 1;
  a = access(s, ACCESS_KIND_FROM, addr, "Sender address rejected: ", reply);
  if (a == -1) str_copy(reply, tempfail);
  if (a == ACCESS_DISCARD) s->discard = 1;
  if (a == ACCESS_NONE && len && s->set.sender_dns_check && !s->client_ok && !s->user[0] && !client_loopback(s->ip))
    a = sender_domain(addr, len, reply) ? ACCESS_REJECT : ACCESS_NONE;
  if (a != -1 && a != ACCESS_REJECT && a != ACCESS_ERROR) return 0;
  if (!s->set.delay_checks) return 1;
  str_copy(s->sender_reject, reply);
  return 0;
}

/* lower - ASCII lower-case copy of s[0..len) into out (NUL-terminated) */
static void lower(char *out, const char *s, size_t len)
{
  byte_copy(out, len, s);
  out[len] = 0;
  case_lowerb(out, len);
}

/* is_local_domain - a key of local-domains, and hostname or localhost
 * unless local_delivery says otherwise: the same list queue-run delivers
 * locally (domain only qualifies bare names); 1, 0, -1 */
static int is_local_domain(struct session *s, const char *d, size_t len)
{
  int own = localnames_is(s->cfg, d, len) ? localnames_local(s->cfg, &s->local_domains) : 0;
  if (own != 0) return own;
  return lookup(&s->local_domains, d, len);
}

/* is_relay_domain - the domain or a parent written ".parent" */
static int is_relay_domain(struct session *s, const char *d, size_t len)
{
  size_t i;
  int r = lookup(&s->relay_domains, d, len);
  for (i = 0; r == 0 && i < len; i++)
    if (d[i] == '.') r = lookup(&s->relay_domains, d + i, len - i);
  return r;
}

/* in_virtual - "user@domain" or "@domain" in the virtual map */
static int in_virtual(struct session *s, const char *a, size_t len, size_t at)
{
  int r = lookup(&s->virtual_map, a, len);
  if (r == 0) r = lookup(&s->virtual_map, a + at, len - at);
  return r;
}

/* user_exists - an alias or a system user called local[0..len) */
static int user_exists(struct session *s, const char *local, size_t len)
{
  char name[ADDR_LOCAL_MAX + 1];
  int r;
  if (len == 10 && !case_diffb(local, len, "postmaster")) return 1;
  if ((r = lookup(&s->aliases, local, len)) != 0) return r;
  if (len > ADDR_LOCAL_MAX || local[0] == '"') return 0;
  lower(name, local, len);
  errno = 0;
  if (getpwnam(name)) return 1;
  return errno == 0 || errno == ENOENT || errno == ESRCH || errno == EBADF || errno == EPERM ? 0 : -1;
}

/* verify - a recipient in a local domain: the user, or user before '+' */
static int verify(struct session *s, const char *a, size_t len, size_t at)
{
  size_t plus = byte_chr(a, at, '+');
  int r = in_virtual(s, a, len, at);
  if (r == 0) r = user_exists(s, a, at);
  if (r == 0 && plus > 0 && plus < at) r = user_exists(s, a, plus);
  return r;
}

/* routing - does the local part route somewhere else (%, !, quoted @)? */
static int routing(const char *a, size_t at)
{
  return byte_chr(a, at, '%') < at || byte_chr(a, at, '!') < at || byte_chr(a, at, '@') < at;
}

/* refuse - copy a fixed refusal */
static int refuse(char *reply, const char *why)
{
  str_copy(reply, why);
  return 1;
}

/* destination - may this recipient be accepted at all? 0 or 1 (reply) */
static int destination(struct session *s, const char *a, size_t len, int rcpt_action, char *reply)
{
  size_t at = address_at(a, len);
  const char *d = a + at + 1;
  size_t dlen = len - at - 1;
  int may_relay = s->relay_client || s->user[0] || rcpt_action == ACCESS_RELAY;
  int r;
  if (routing(a, at) && !may_relay) return refuse(reply, relay_denied);
  if (d[0] != '[' && (r = is_local_domain(s, d, dlen)) != 0) {
    if (r == -1) return refuse(reply, tempfail);
    if (!s->set.verify_recipients || rcpt_action == ACCESS_OK) return 0;
    if ((r = verify(s, a, len, at)) == 1) return 0;
    return refuse(reply, r == -1 ? tempfail : "550 5.1.1 Recipient address rejected: User unknown in local recipient table");
  }
  if ((r = in_virtual(s, a, len, at)) != 0) return r == 1 ? 0 : refuse(reply, tempfail);
  if (d[0] != '[' && (r = is_relay_domain(s, d, dlen)) != 0) {
    if (r == -1) return refuse(reply, tempfail);
    return rcpt_action == ACCESS_OK ? 0 : verify_relay(s, a, len, reply);   /* verify.c */
  }
  return may_relay ? 0 : refuse(reply, relay_denied);
}

/* policy_rcpt - RCPT TO: 0 accepted, 1 refused with reply.  An access
 * OK for the recipient (abuse@, postmaster@ of a local domain) lets it
 * hear from a client or sender whose mail is otherwise refused; it still
 * has to be a destination we accept. */
int policy_rcpt(struct session *s, const char *addr, size_t len, char *reply)
{
  char a[ADDR_MAX + 1];
  int action;
  if (len == 10 && !case_diffb(addr, len, "postmaster")) return 0;   /* RFC 5321 4.5.1 */
  if (map_trouble && s->mode != MODE_LOCAL) return refuse(reply, tempfail);
  if (len > ADDR_MAX) return refuse(reply, "501 5.1.3 Address too long");
  lower(a, addr, len);   /* the domain decides; local parts are compared folded too */
  maps(s);
  action = s->mode == MODE_LOCAL ? ACCESS_NONE
                                 : access(s, ACCESS_KIND_TO, addr, "Recipient address rejected: ", reply);
  if (action == -1) return refuse(reply, tempfail);
  if (action == ACCESS_REJECT || action == ACCESS_ERROR) return 1;
  if (action != ACCESS_OK && s->client_reject[0]) return refuse(reply, s->client_reject);
  if (action != ACCESS_OK && s->sender_reject[0]) return refuse(reply, s->sender_reject);
  if (action == ACCESS_DISCARD) { s->discard = 1; return 0; }
  return destination(s, a, len, action, reply);
}

/* policy_overloaded - is the 1-minute load average above max (0: off)? */
int policy_overloaded(double max)
{
  double load[1];
  if (max <= 0) return 0;
  if (getloadavg(load, 1) != 1) return 0;
  return load[0] > max;
}
