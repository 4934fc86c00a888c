/* dest.c - destinations as queue-run names them (queue-run.8, routes in
 * postern-maps.8) and the TLS policy that goes with each:
 *
 *   smtp:host[:port]           MX lookup for host (port 25)
 *   smtp:[host][:port]         no MX lookup: host's own A/AAAA, or a literal
 *   smtps:[host][:port]        the same with TLS from the first byte (465)
 *   lmtp:unix:/path            LMTP over a unix socket
 *   lmtp:host:port, lmtp:[host]:port   LMTP over TCP (port 24), never MX
 *
 * "smtp:" followed by exactly the relayhost setting is the relayhost,
 * whose own text may carry a scheme (relayhost = smtps:[h]:465).  The
 * part after the scheme is the key in the tls-policy and relay-auth maps. */
#include <arpa/inet.h>
#include "byte.h"
#include "case.h"
#include "str.h"
#include "map.h"
#include "rs.h"

/* scheme - strip a known scheme from *s; 1 found */
static int scheme(struct dest *d, const char **s)
{
  if (!case_diffb(*s, 5, "smtp:")) { d->proto = PROTO_SMTP; d->port = 25; *s += 5; return 1; }
  if (!case_diffb(*s, 6, "smtps:")) { d->proto = PROTO_SMTP; d->implicit_tls = 1; d->port = 465; *s += 6; return 1; }
  if (!case_diffb(*s, 5, "lmtp:")) { d->proto = PROTO_LMTP; d->port = 24; *s += 5; return 1; }
  return 0;
}

/* port - a decimal port 1..65535 at s[0..len) */
static const char *port(struct dest *d, const char *s, size_t len)
{
  unsigned long v = 0;
  size_t i;
  if (!len || len > 5) return "bad port";
  for (i = 0; i < len; i++) {
    if (s[i] < '0' || s[i] > '9') return "bad port";
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  if (v == 0 || v > 65535) return "bad port";
  d->port = v;
  return 0;
}

/* host - copy and check a host name or address: letters, digits, '-',
 * '.', '_', and ':' in an IPv6 literal; a trailing dot is dropped */
static const char *host(struct dest *d, const char *s, size_t len, int literal)
{
  size_t i;
  if (literal && len > 5 && !case_diffb(s, 5, "IPv6:")) { s += 5; len -= 5; }
  if (len > 1 && s[len - 1] == '.') len--;
  if (!len || len > RS_HOST_MAX) return "bad host name";
  for (i = 0; i < len; i++) {
    char c = s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '.' || c == '_' || (c == ':' && literal)) continue;
    return "bad host name";
  }
  byte_copy(d->host, len, s);
  d->host[len] = 0;
  return 0;
}

/* inet - host[:port], [host][:port] or a bare IPv6 address */
static const char *inet(struct dest *d, const char *s)
{
  size_t len = str_len(s), close, colon;
  unsigned char a[16];
  const char *why;
  if (s[0] == '[') {
    close = str_chr(s, ']');
    if (close == len) return "missing ]";
    d->mx = 0;
    if ((why = host(d, s + 1, close - 1, 1))) return why;
    if (s[close + 1] == 0) return 0;
    if (s[close + 1] != ':') return "junk after ]";
    return port(d, s + close + 2, len - close - 2);
  }
  if (inet_pton(AF_INET6, s, a) == 1) { d->mx = 0; return host(d, s, len, 1); }
  colon = str_rchr(s, ':');
  if (colon < len && (why = port(d, s + colon + 1, len - colon - 1))) return why;
  if (colon < len && byte_chr(s, colon, ':') != colon) return "bad host name";
  return host(d, s, colon, 0);
}

/* dest_parse - d from the destination s; 0, or what is wrong with it */
const char *dest_parse(struct dest *d, const char *s, const char *relayhost)
{
  size_t rl = relayhost ? str_len(relayhost) : 0;
  byte_zero(d, sizeof *d);
  if (rl && !case_diffb(s, 5, "smtp:") && !str_diff(s + 5, relayhost)) {
    d->relayhost = 1;
    s = relayhost;
    if (!scheme(d, &s)) { d->proto = PROTO_SMTP; d->port = 25; }
  } else if (!scheme(d, &s)) return "unknown scheme (smtp:, smtps:, lmtp:)";
  if (str_len(s) >= sizeof d->key) return "destination too long";
  str_copy(d->key, s);
  if (d->proto == PROTO_LMTP && !case_diffb(s, 5, "unix:")) {
    s += 5;
    if (s[0] != '/' || str_len(s) >= sizeof d->path) return "bad unix socket path";
    str_copy(d->path, s);
    str_copy(d->host, "localhost");
    return 0;
  }
  d->mx = d->proto == PROTO_SMTP;
  return inet(d, s);
}

/* dest_policy_word - none, may, encrypt, verify as TLSP_*; -1 unknown */
int dest_policy_word(const char *s, size_t len)
{
  static const char *const w[] = { "none", "may", "encrypt", "verify" };
  int i;
  for (i = 0; i < 4; i++)
    if (str_len(w[i]) == len && !case_diffb(s, len, w[i])) return i;
  return -1;
}

/* option - one word after the policy in a tls-policy entry */
static const char *option(struct dest *d, const char *w, size_t len)
{
  if (len == 14 && !case_diffb(w, 14, "plaintext-auth")) { d->plaintext_auth = 1; return 0; }
  if (len > 6 && len - 6 <= RS_HOST_MAX && !case_diffb(w, 6, "match=")) {
    byte_copy(d->match, len - 6, w + 6);
    d->match[len - 6] = 0;
    return 0;
  }
  return "unknown option in tls-policy entry";
}

/* dest_policy - d->tls from a tls-policy map value (or 0: the default for
 * the kind of route); 0, or why the setting is bad (a config error).  A
 * route we hold a password for is a smarthost whatever its name: it gets
 * the relayhost's default, so the password goes to a verified peer only
 * unless the administrator says otherwise. */
const char *dest_policy(struct dest *d, const struct config *c, const char *v)
{
  int smarthost = d->relayhost || (d->has_cred && !d->path[0]);
  const char *def = smarthost ? c->relayhost_tls_policy : d->proto == PROTO_LMTP ? "none" : c->smtp_tls_policy;
  const char *why;
  size_t n;
  if (!v) v = def;
  while (*v == ' ' || *v == '\t') v++;
  n = 0;
  while (v[n] && v[n] != ' ' && v[n] != '\t') n++;
  if ((d->tls = dest_policy_word(v, n)) == -1) return "unknown TLS policy (none, may, encrypt, verify)";
  for (v += n; *v; v += n) {
    while (*v == ' ' || *v == '\t') v++;
    for (n = 0; v[n] && v[n] != ' ' && v[n] != '\t'; n++) {}
    if (n && (why = option(d, v, n))) return why;
  }
  if (d->implicit_tls && d->tls < TLSP_ENCRYPT) d->tls = TLSP_ENCRYPT;
  if (d->path[0] && d->tls != TLSP_NONE) return "no TLS over a unix socket";
  return 0;
}

/* dest_lookup_policy - the tls-policy map entry for the route (its key,
 * then its host); 1 found, 0 none, -1 the map cannot be read */
int dest_lookup_policy(const struct dest *d, const char *map_dir, stralloc *v)
{
  int r = map_lookup_in(map_dir, "tls-policy", d->key, str_len(d->key), v);
  if (r == 0 && str_diff(d->key, d->host)) r = map_lookup_in(map_dir, "tls-policy", d->host, str_len(d->host), v);
  return r;
}
