/* access.c - access map keys and values (see access.h and the FILE FORMATS
 * section of postern-maps.8, which must say the same as this file). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include "byte.h"
#include "case.h"
#include "num.h"
#include "scan.h"
#include "str.h"
#include "address.h"
#include "access.h"

#define IPV6_PREFIX_GROUPS 7   /* prefixes of 7 down to 1 groups of 16 bits */

/* add_key - append s[0..len) and its terminating NUL to keys */
static int add_key(stralloc *keys, const char *s, size_t len)
{
  if (!stralloc_catb(keys, s, len) || !stralloc_0(keys)) { errno = ENOMEM; return -1; }
  return 0;
}

/* keys_ipv4 - a.b.c.d, a.b.c, a.b, a */
static int keys_ipv4(const unsigned char *a, stralloc *keys)
{
  char buf[16];
  size_t len = 0, ends[4];
  int i;
  for (i = 0; i < 4; i++) {
    if (i) buf[len++] = '.';
    len += num_fmt(buf + len, a[i]);
    ends[i] = len;
  }
  for (i = 3; i >= 0; i--)
    if (add_key(keys, buf, ends[i]) == -1) return -1;
  return 4;
}

/* keys_ipv6 - the inet_ntop form, then 7 down to 1 expanded groups */
static int keys_ipv6(const unsigned char *a, stralloc *keys)
{
  char canon[INET6_ADDRSTRLEN], buf[40];
  size_t len = 0, ends[IPV6_PREFIX_GROUPS];
  int i;
  if (!inet_ntop(AF_INET6, a, canon, sizeof canon)) return -1;
  if (add_key(keys, canon, str_len(canon)) == -1) return -1;
  for (i = 0; i < IPV6_PREFIX_GROUPS; i++) {
    if (i) buf[len++] = ':';
    len += num_xfmt(buf + len, (unsigned long)a[2 * i] << 8 | a[2 * i + 1]);
    ends[i] = len;
  }
  for (i = IPV6_PREFIX_GROUPS - 1; i >= 0; i--)
    if (add_key(keys, buf, ends[i]) == -1) return -1;
  return 1 + IPV6_PREFIX_GROUPS;
}

int access_keys_ip(const char *ip, stralloc *keys)
{
  unsigned char a[16];
  stralloc_zero(keys);
  if (inet_pton(AF_INET, ip, a) == 1) return keys_ipv4(a, keys);
  if (inet_pton(AF_INET6, ip, a) == 1) {
    if (IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a)) return keys_ipv4(a + 12, keys);
    return keys_ipv6(a, keys);
  }
  errno = EINVAL;
  return -1;
}

/* labels_ok - d[0..len) is dot-separated non-empty labels of letters,
 * digits, '-', '_' or (internationalized names) bytes over 127 */
static int labels_ok(const char *d, size_t len)
{
  size_t i;
  if (len == 0 || d[0] == '.' || d[len - 1] == '.') return 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)d[i];
    if (c == '.') { if (d[i + 1] == '.') return 0; continue; }
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
    if (c != '-' && c != '_' && c < 128) return 0;
  }
  return 1;
}

/* domain_keys - d[0..len) and each parent domain down to the last label;
 * an address literal ([1.2.3.4]) has no parents */
static int domain_keys(const char *d, size_t len, stralloc *keys)
{
  size_t i;
  int n = 0;
  if (d[0] == '[') return add_key(keys, d, len) == -1 ? -1 : 1;
  for (i = 0; i < len; i++) {
    if (i > 0 && d[i - 1] != '.') continue;
    if (add_key(keys, d + i, len - i) == -1) return -1;
    n++;
  }
  return n;
}

int access_keys_host(const char *host, stralloc *keys)
{
  char h[MAP_KEY_MAX];
  size_t len = str_len(host);
  stralloc_zero(keys);
  if (len > 0 && host[len - 1] == '.') len--;
  if (len > ADDR_DOMAIN_MAX || !labels_ok(host, len)) { errno = EINVAL; return -1; }
  byte_copy(h, len, host);
  case_lowerb(h, len);
  return domain_keys(h, len, keys);
}

/* domain_ok - the domain of an address: labels, or a literal in [] */
static int domain_ok(const char *d, size_t len)
{
  if (len >= 2 && d[0] == '[') return d[len - 1] == ']' && byte_chr(d + 1, len - 2, ']') == len - 2;
  return labels_ok(d, len);
}

int access_keys_address(const char *addr, stralloc *keys)
{
  char a[MAP_KEY_MAX];
  size_t len = str_len(addr), at, i;
  int n;
  stralloc_zero(keys);
  if (len == 0) return add_key(keys, "<>", 2) == -1 ? -1 : 1;
  if (len > MAP_KEY_MAX) { errno = EINVAL; return -1; }
  for (i = 0; i < len; i++)
    if ((unsigned char)addr[i] < 32 || addr[i] == 127) { errno = EINVAL; return -1; }
  byte_copy(a, len, addr);
  case_lowerb(a, len);
  at = address_at(a, len);
  if (at == 0) { errno = EINVAL; return -1; }
  if (at == len) {   /* a bare local part: user@ only ("@" with its NUL) */
    if (!stralloc_catb(keys, a, len) || !stralloc_catb(keys, "@", 2)) { errno = ENOMEM; return -1; }
    return 1;
  }
  if (a[len - 1] == '.') len--;
  if (!domain_ok(a + at + 1, len - at - 1)) { errno = EINVAL; return -1; }
  if (add_key(keys, a, len) == -1 || add_key(keys, a, at + 1) == -1) return -1;
  n = domain_keys(a + at + 1, len - at - 1, keys);
  return n == -1 ? -1 : n + 2;
}

/* set_text - copy s[0..len) into sa, NUL-terminated (not counted) */
static int set_text(stralloc *sa, const char *s, size_t len)
{
  if (!stralloc_copyb(sa, s, len) || !stralloc_0(sa)) { errno = ENOMEM; return -1; }
  sa->len--;
  return 0;
}

/* set_reply - fill r as a refusal with code, status and text */
static int set_reply(struct access_result *r, int action, const char *code,
                     const char *status, size_t slen, const char *text, size_t tlen)
{
  r->action = action;
  byte_copy(r->code, 3, code);
  r->code[3] = 0;
  byte_copy(r->status, slen, status);
  r->status[slen] = 0;
  if (tlen == 0) { text = "Access denied"; tlen = 13; }
  return set_text(&r->text, text, tlen);
}

static int digit(char c) { return c >= '0' && c <= '9'; }

/* scan_status - length of an enhanced status code "C.S.D" of class c at
 * s (1 to 3 digits for S and D), ending at len or a space; 0 if none */
static size_t scan_status(const char *s, size_t len, char c)
{
  size_t i = 2, part, n;
  if (len < 5 || s[0] != c || s[1] != '.') return 0;
  for (part = 0; part < 2; part++) {
    for (n = 0; i < len && digit(s[i]) && n < 3; i++) n++;
    if (n == 0) return 0;
    if (part == 0) { if (i >= len || s[i] != '.') return 0; i++; }
  }
  return (i == len || s[i] == ' ') ? i : 0;
}

/* scan_status_colon - length of an enhanced status code "C.S.D" at s
 * followed by a colon (sendmail's ERROR:5.7.1:550 text); 0 if none */
static size_t scan_status_colon(const char *s, size_t len)
{
  size_t i = byte_chr(s, len, ':');
  if (i == len || i > 11 || scan_status(s, i, s[0]) != i) return 0;
  return i;
}

/* invalid - the value is not one access_parse accepts */
static int invalid(void)
{
  errno = EINVAL;
  return -1;
}

/* skip_spaces - first position at or after i that is not a space */
static size_t skip_spaces(const char *s, size_t len, size_t i)
{
  while (i < len && s[i] == ' ') i++;
  return i;
}

/* printable - s[0..len) is printable ASCII */
static int printable(const char *s, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++)
    if (s[i] < 32 || s[i] > 126) return 0;
  return 1;
}

/* parse_error - the part after "ERROR:": "4xx" or "5xx", then optionally
 * an enhanced status code of the same class, then optionally text */
static int parse_error(const char *s, size_t len, struct access_result *r)
{
  char status[16] = "5.7.1";
  size_t i, n;
  if (len < 3 || (s[0] != '4' && s[0] != '5') || s[1] < '0' || s[1] > '5'
      || !digit(s[2]) || (len > 3 && s[3] != ' '))
    return invalid();
  status[0] = s[0];
  i = skip_spaces(s, len, 3);
  n = scan_status(s + i, len - i, s[0]);
  if (n == 0 && len - i >= 2 && digit(s[i]) && s[i + 1] == '.')
    return invalid();   /* a status code of the wrong class, or malformed */
  if (n) {
    byte_copy(status, n, s + i);
    status[n] = 0;
    i = skip_spaces(s, len, i + n);
  }
  if (len - i > ACCESS_TEXT_MAX || !printable(s + i, len - i)) return invalid();
  return set_reply(r, ACCESS_ERROR, s, status, str_len(status), s + i, len - i);
}

/* unquote - "text" is text (sendmail writes ERROR:"550 text") */
static void unquote(const char **s, size_t *len)
{
  if (*len >= 2 && (*s)[0] == '"' && (*s)[*len - 1] == '"') { (*s)++; *len -= 2; }
}

/* parse_error_sendmail - sendmail's spellings of the part after "ERROR:":
 * "550 text" in quotes, and the status first, "5.7.1:550 text" or
 * 5.7.1:"550 text"; rewritten into the plain form parse_error reads */
static int parse_error_sendmail(const char *s, size_t len, struct access_result *r)
{
  char buf[16 + 4 + ACCESS_TEXT_MAX + 4];
  const char *status = s;
  size_t n = 0;
  if (len > 1 && (s[0] == '4' || s[0] == '5') && s[1] == '.')
    n = scan_status_colon(s, len);
  if (n == 0) { unquote(&s, &len); return parse_error(s, len, r); }
  s += n + 1; len -= n + 1;                /* after the colon */
  unquote(&s, &len);
  if (len < 3 || len + n + 2 > sizeof buf || (len > 3 && s[3] != ' ')) return invalid();
  /* "550" + " " + status + rest of the text */
  byte_copy(buf, 3, s);
  buf[3] = ' ';
  byte_copy(buf + 4, n, status);
  byte_copy(buf + 4 + n, len - 3, s + 3);
  return parse_error(buf, 4 + n + len - 3, r);
}

int access_parse(const char *v, size_t len, struct access_result *r)
{
  static const struct { const char *word; int action; } words[] = {
    { "OK", ACCESS_OK }, { "RELAY", ACCESS_RELAY },
    { "REJECT", ACCESS_REJECT }, { "DISCARD", ACCESS_DISCARD },
    { "SKIP", ACCESS_SKIP },
  };
  size_t i;
  r->action = ACCESS_NONE;
  r->code[0] = r->status[0] = 0;
  if (set_text(&r->text, "", 0) == -1) return -1;
  for (i = 0; i < sizeof words / sizeof words[0]; i++) {
    if (len != str_len(words[i].word) || case_diffb(v, len, words[i].word)) continue;
    if (words[i].action == ACCESS_REJECT) return set_reply(r, ACCESS_REJECT, "550", "5.7.1", 5, "", 0);
    r->action = words[i].action;
    return 0;
  }
  if (len >= 6 && case_diffb(v, 6, "ERROR:") == 0) {
    if (parse_error_sendmail(v + 6, len - 6, r) == 0) return 0;
    r->action = ACCESS_NONE;
    return -1;
  }
  return invalid();
}

/* ipv4_prefix_ok - 1 to 4 decimal parts 0-255 without leading zeros */
static int ipv4_prefix_ok(const char *s, size_t len)
{
  size_t i = 0, n, parts = 0;
  unsigned long v;
  for (;;) {
    for (n = 0, v = 0; i < len && digit(s[i]) && n < 4; i++, n++) v = v * 10 + (unsigned long)(s[i] - '0');
    if (n == 0 || n > 3 || v > 255 || (n > 1 && s[i - n] == '0')) return 0;
    if (++parts > 4) return 0;
    if (i == len) return 1;
    if (s[i++] != '.' || i == len) return 0;
  }
}

/* ipv6_prefix - 1 to 7 groups of 1-4 hex digits, rewritten into out
 * without leading zeros: 1 done, 0 not a prefix, -1 no memory */
static int ipv6_prefix(const char *s, size_t len, stralloc *out)
{
  char buf[40];
  size_t i = 0, n, groups = 0, o = 0;
  unsigned long v;
  for (;;) {
    for (n = 0, v = 0; i < len && n < 5 && scan_fromhex((unsigned char)s[i]) >= 0; i++, n++)
      v = v * 16 + (unsigned long)scan_fromhex((unsigned char)s[i]);
    if (n == 0 || n > 4 || ++groups > IPV6_PREFIX_GROUPS) return 0;
    o += num_xfmt(buf + o, v);
    if (i == len) break;
    if (s[i++] != ':' || i == len) return 0;
    buf[o++] = ':';
  }
  if (!stralloc_copyb(out, buf, o)) return -1;
  return 1;
}

/* ipv6_key - an IPv6 address in inet_ntop form (IPv4-mapped ones as IPv4)
 * or a prefix; 1, 0 neither, -1 no memory */
static int ipv6_key(const char *s, size_t len, stralloc *out)
{
  char buf[INET6_ADDRSTRLEN];
  unsigned char a[16];
  stralloc keys = { 0 };
  int r = 1;
  if (len >= sizeof buf) return 0;
  byte_copy(buf, len, s);
  buf[len] = 0;
  if (inet_pton(AF_INET6, buf, a) != 1) return ipv6_prefix(s, len, out);
  if (access_keys_ip(buf, &keys) == -1) r = -1;   /* the first key is the address */
  else if (!stralloc_copyb(out, keys.s, str_len(keys.s))) r = -1;
  stralloc_free(&keys);
  return r;
}

/* tag_of - the role tag a key starts with (Connect:, From:, To:, any
 * case): its length, ACCESS_KIND_* role in *role; 0 untagged; -1 a tag
 * postern does not know (a word of letters before a colon) */
static int tag_of(const char *k, size_t len, int *role)
{
  static const struct { const char *tag; int role; } tags[] = {
    { "connect:", ACCESS_KIND_IP }, { "from:", ACCESS_KIND_FROM }, { "to:", ACCESS_KIND_TO },
  };
  size_t i, n;
  *role = ACCESS_KIND_ADDRESS;
  for (i = 0; i < sizeof tags / sizeof tags[0]; i++) {
    n = str_len(tags[i].tag);
    if (len > n && !case_diffb(k, n, tags[i].tag)) { *role = tags[i].role; return (int)n; }
  }
  for (i = 0; i < len && ((k[i] | 32) >= 'a' && (k[i] | 32) <= 'z'); i++)
    ;
  if (i > 0 && i < len && k[i] == ':' && (i < len - 1 && k[i + 1] != ':'))
    for (n = 0; n < i; n++)
      if (scan_fromhex((unsigned char)k[n]) < 0) return -1;   /* not IPv6 hex: a tag */
  return 0;
}

/* key_error - an invalid key with its reason */
static int key_error(struct access_key *key, const char *why)
{
  key->why = why;
  return 0;
}

/* key_add - one key (with the tag prepended) into key->keys */
static int key_add(struct access_key *key, const char *tag, size_t tlen, const char *k, size_t len)
{
  if (!stralloc_catb(&key->keys, tag, tlen) || !stralloc_catb(&key->keys, k, len) || !stralloc_0(&key->keys))
    return -1;
  key->count++;
  return 1;
}

/* cidr_count - how many keys a prefix of plen bits expands to when keys
 * exist every step bits (and for the whole address of bits); the key
 * length in bits goes to *klen */
static unsigned long cidr_count(unsigned plen, unsigned step, unsigned bits, unsigned *klen)
{
  unsigned k = plen ? (plen + step - 1) / step * step : step;
  if (k > bits - step && k < bits) k = bits;   /* IPv6: no 113-127 bit keys */
  *klen = k;
  return k - plen >= 31 ? ACCESS_CIDR_KEYS_MAX + 1UL : 1UL << (k - plen);
}

/* cidr_host_bits - are bits plen.. of the address a (of n bytes) zero? */
static int cidr_host_bits(const unsigned char *a, size_t n, unsigned plen)
{
  unsigned b;
  for (b = plen; b < n * 8; b++)
    if (a[b / 8] & (0x80 >> (b % 8))) return 1;
  return 0;
}

/* cidr_key - the access key of the first klen bits of address a: dotted
 * octets (IPv4) or hex groups (IPv6), the address itself in its lookup
 * spelling when klen covers it all */
static int cidr_key(const unsigned char *a, int v6, unsigned klen, stralloc *out)
{
  char buf[INET6_ADDRSTRLEN + 8];
  size_t o = 0;
  unsigned i, parts = klen / (v6 ? 16 : 8);
  if (v6 && klen == 128) {
    if (!inet_ntop(AF_INET6, a, buf, sizeof buf)) return -1;
    return stralloc_copys(out, buf) ? 1 : -1;
  }
  for (i = 0; i < parts; i++) {
    if (i) buf[o++] = v6 ? ':' : '.';
    o += v6 ? num_xfmt(buf + o, (unsigned long)a[2 * i] << 8 | a[2 * i + 1]) : num_fmt(buf + o, a[i]);
  }
  return stralloc_copyb(out, buf, o) ? 1 : -1;
}

/* cidr_keys - address/plen expanded into the keys lookups use: each
 * prefix of the next key length under it */
static int cidr_keys(struct access_key *key, const char *tag, size_t tlen, const char *k, size_t len)
{
  char ip[INET6_ADDRSTRLEN];
  unsigned char a[16];
  stralloc one = { 0 };
  size_t slash = byte_rchr(k, len, '/');
  unsigned long plen, count, i;
  unsigned klen, bits;
  int v6, r = 1;
  if (slash == 0 || slash >= sizeof ip || slash + 1 == len || scan_ulongn(k + slash + 1, len - slash - 1, &plen) != len - slash - 1)
    return key_error(key, "not an address/prefix-length (CIDR) key");
  byte_copy(ip, slash, k);
  ip[slash] = 0;
  if (inet_pton(AF_INET, ip, a) == 1) v6 = 0;
  else if (inet_pton(AF_INET6, ip, a) == 1) v6 = 1;
  else return key_error(key, "the part before the / is not an IPv4 or IPv6 address");
  bits = v6 ? 128 : 32;
  if (plen > bits) return key_error(key, "prefix length over the address's bits");
  if (v6 && IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a)) return key_error(key, "write an IPv4-mapped prefix as IPv4");
  if (cidr_host_bits(a, bits / 8, (unsigned)plen)) return key_error(key, "bits set after the prefix length (not a network address)");
  count = cidr_count((unsigned)plen, v6 ? 16 : 8, bits, &klen);
  if (count > ACCESS_CIDR_KEYS_MAX) return key_error(key, "prefix expands to over 4096 keys: use a prefix length that is a multiple of 8 (IPv4) or 16 (IPv6), or a longer one");
  key->prefix = (int)plen;
  for (i = 0; i < count && r == 1; i++) {
    unsigned b, n = klen - (unsigned)plen;
    for (b = 0; b < n; b++) {   /* the host part of the key length: i's bits */
      unsigned bit = (unsigned)plen + b, on = (unsigned)(i >> (n - 1 - b)) & 1;
      a[bit / 8] = (unsigned char)((a[bit / 8] & ~(0x80 >> (bit % 8))) | (on ? 0x80 >> (bit % 8) : 0));
    }
    r = cidr_key(a, v6, klen, &one);
    if (r == 1) r = key_add(key, tag, tlen, one.s, one.len);
  }
  stralloc_free(&one);
  return r;
}

/* local_ok - no control characters (UTF-8 local parts are allowed) */
static int local_ok(const char *s, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++)
    if ((unsigned char)s[i] < 32 || s[i] == 127) return 0;
  return 1;
}

/* address_key_bad - why k is not user@domain, user@ (any local part without control
 * characters), a bare domain, or <> */
static const char *address_key_bad(const char *k, size_t len)
{
  size_t at;
  if (len == 2 && k[0] == '<' && k[1] == '>') return 0;
  at = address_at(k, len);
  if (at == len) return labels_ok(k, len) ? 0 : "not a host name, domain, address or IP address";
  if (at == 0) return "an address key needs a local part (user@domain or user@), or write the domain alone";
  if (!local_ok(k, at)) return "control character in a local part";
  if (at + 1 == len) return 0;
  return domain_ok(k + at + 1, len - at - 1) ? 0 : "the domain after @ is not a domain or address literal";
}

/* key_ip - an IPv4 or IPv6 address or prefix (untagged or Connect:) */
static int key_ip(struct access_key *key, const char *tag, size_t tlen, const char *k, size_t len, int v6)
{
  stralloc out = { 0 };
  int r;
  if (!v6) {
    if (!ipv4_prefix_ok(k, len)) return key_error(key, "neither an IPv4 address nor an IPv4 prefix of 1 to 4 numbers");
    return key_add(key, tag, tlen, k, len);
  }
  r = ipv6_key(k, len, &out);
  if (r == 1) r = key_add(key, tag, tlen, out.s, out.len);
  else if (r == 0) key_error(key, "neither an IPv6 address nor a prefix of 1 to 7 groups");
  stralloc_free(&out);
  return r;
}

int access_key_parse(const char *k, size_t len, struct access_key *key)
{
  char buf[MAP_KEY_MAX];
  char tag[16];
  size_t i, tlen;
  int role, t;
  stralloc_zero(&key->keys);
  key->count = 0;
  key->prefix = -1;
  key->why = 0;
  if (len == 0 || len > MAP_KEY_MAX) return key_error(key, "empty or over-long key");
  byte_copy(buf, len, k);
  case_lowerb(buf, len);
  t = tag_of(buf, len, &role);
  if (t == -1) return key_error(key, "unknown tag: want Connect:, From: or To:");
  tlen = (size_t)t;
  byte_copy(tag, tlen, buf);
  k = buf + tlen;
  len -= tlen;
  if (byte_chr(k, len, '/') < len) {
    if (role == ACCESS_KIND_FROM || role == ACCESS_KIND_TO) return key_error(key, "an address prefix only matches clients: untagged or Connect:");
    return cidr_keys(key, tag, tlen, k, len);
  }
  if (byte_chr(k, len, '@') == len) {
    for (i = 0; i < len && (digit(k[i]) || k[i] == '.'); i++)
      ;
    if (i == len || byte_chr(k, len, ':') < len) {
      if (role == ACCESS_KIND_FROM || role == ACCESS_KIND_TO) return key_error(key, "an IP address key only matches clients: untagged or Connect:");
      return key_ip(key, tag, tlen, k, len, i != len);
    }
  }
  if (len > 1 && k[len - 1] == '.') len--;   /* example.com. is example.com */
  if (role == ACCESS_KIND_IP && byte_chr(k, len, '@') < len) return key_error(key, "Connect: matches client addresses and host names, not mail addresses");
  if (role == ACCESS_KIND_IP && len == 2 && k[0] == '<') return key_error(key, "Connect: cannot match the null sender");
  if ((key->why = address_key_bad(k, len))) return 0;
  return key_add(key, tag, tlen, k, len);
}

void access_key_free(struct access_key *key)
{
  stralloc_free(&key->keys);
}

int access_key_normalize(const char *k, size_t len, stralloc *out)
{
  struct access_key key = { { 0 }, 0, -1, 0 };
  int r = access_key_parse(k, len, &key);
  if (r == 1 && key.count != 1) r = 0;     /* a prefix that needs expanding */
  if (r == 1 && !stralloc_copyb(out, key.keys.s, key.keys.len - 1)) r = -1;
  access_key_free(&key);
  return r;
}

/* subject_keys - the keys of kind for subject */
static int subject_keys(int kind, const char *subject, stralloc *keys)
{
  switch (kind) {
  case ACCESS_KIND_IP: return access_keys_ip(subject, keys);
  case ACCESS_KIND_HOST: return access_keys_host(subject, keys);
  case ACCESS_KIND_ADDRESS: case ACCESS_KIND_FROM: case ACCESS_KIND_TO: return access_keys_address(subject, keys);
  }
  errno = EINVAL;
  return -1;
}

/* kind_tag - the tag a role's keys may carry ("" for untagged only) */
static const char *kind_tag(int kind)
{
  switch (kind) {
  case ACCESS_KIND_IP: case ACCESS_KIND_HOST: return "connect:";
  case ACCESS_KIND_FROM: return "from:";
  case ACCESS_KIND_TO: return "to:";
  }
  return "";
}

/* lookup_tagged - key k (klen) with the role's tag, then without */
static int lookup_tagged(struct map *m, const char *tag, const char *k, size_t klen,
                         stralloc *tagged, stralloc *value)
{
  int found = 0;
  if (*tag) {
    if (!stralloc_copys(tagged, tag) || !stralloc_catb(tagged, k, klen)) { errno = ENOMEM; return -1; }
    if (tagged->len <= MAP_KEY_MAX) found = map_lookup(m, tagged->s, tagged->len, value);
    if (found != 0) return found == 1 ? 2 : -1;
  }
  return map_lookup(m, k, klen, value);
}

int access_check(struct map *m, int kind, const char *subject, struct access_result *r)
{
  static stralloc keys, value, tagged;   /* reused: smtp-receive checks every command */
  const char *tag = kind_tag(kind);
  size_t pos, klen;
  int found;
  r->action = ACCESS_NONE;
  if (subject_keys(kind, subject, &keys) == -1) return -1;
  for (pos = 0; pos < keys.len; pos += klen + 1) {
    klen = str_len(keys.s + pos);
    found = lookup_tagged(m, tag, keys.s + pos, klen, &tagged, &value);
    if (found == 0) continue;
    if (found == -1) return -1;
    if (found == 2 ? set_text(&r->key, tagged.s, tagged.len) == -1 : set_text(&r->key, keys.s + pos, klen) == -1) return -1;
    if (access_parse(value.s, value.len, r) == -1) {
      if (errno == EINVAL) errno = EPROTO;
      return -1;
    }
    if (r->action == ACCESS_SKIP) { r->action = ACCESS_NONE; return 0; }   /* stop here: no key decides */
    return 1;
  }
  return 0;
}

void access_result_free(struct access_result *r)
{
  stralloc_free(&r->text);
  stralloc_free(&r->key);
  r->action = ACCESS_NONE;
}
