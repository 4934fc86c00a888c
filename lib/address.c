/* address.c - RFC 5321 mailbox syntax (see address.h) */
#include <arpa/inet.h>
#include <string.h>
#include "case.h"
#include "address.h"

/* utf8_ok - s[0..len) is well-formed UTF-8 (RFC 3629): no overlong forms,
 * no surrogates, nothing above U+10FFFF */
static int utf8_ok(const char *s, size_t len)
{
  size_t i = 0;
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    unsigned int n, cp, k;
    if (c < 0x80) { i++; continue; }
    if (c >= 0xc2 && c <= 0xdf) { n = 1; cp = c & 0x1f; }
    else if (c >= 0xe0 && c <= 0xef) { n = 2; cp = c & 0x0f; }
    else if (c >= 0xf0 && c <= 0xf4) { n = 3; cp = c & 0x07; }
    else return 0;
    if (len - i <= n) return 0;
    for (k = 1; k <= n; k++) {
      unsigned char t = (unsigned char)s[i + k];
      if ((t & 0xc0) != 0x80) return 0;
      cp = cp << 6 | (t & 0x3f);
    }
    if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (n == 3 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
    i += n + 1;
  }
  return 1;
}

/* atext - RFC 5321 atext; with ADDR_UTF8 any octet >= 0x80 (RFC 6531) */
static int atext(unsigned char c, int flags)
{
  if (c >= 0x80) return flags & ADDR_UTF8;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c && strchr("!#$%&'*+-/=?^_`{|}~", c) != 0;
}

/* dot_string - Atom *("." Atom) */
static const char *dot_string(const char *s, size_t len, int flags)
{
  size_t i;
  if (len == 0) return "empty local part";
  if (s[0] == '.' || s[len - 1] == '.') return "local part starts or ends with a dot";
  for (i = 0; i < len; i++) {
    if (s[i] == '.') {
      if (s[i + 1] == '.') return "two dots in a row in local part";
    } else if (!atext((unsigned char)s[i], flags))
      return "invalid character in local part";
  }
  return 0;
}

/* quoted_string - DQUOTE *(qtextSMTP / quoted-pairSMTP) DQUOTE */
static const char *quoted_string(const char *s, size_t len, int flags)
{
  size_t i;
  if (len < 2 || s[len - 1] != '"') return "unterminated quoted local part";
  for (i = 1; i + 1 < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\\') {
      i++;
      if (i + 1 >= len) return "backslash at end of quoted local part";
      c = (unsigned char)s[i];
      if (c < 32 || c > 126) return "invalid quoted pair in local part";
    } else if (c == '"') return "stray quote in local part";
    else if (c >= 0x80 ? !(flags & ADDR_UTF8) : (c < 32 || c > 126))
      return "invalid character in quoted local part";
  }
  return 0;
}

/* label - Let-dig [Ldh-str], at most 63 octets */
static const char *label(const char *s, size_t len, int flags)
{
  size_t i;
  if (len == 0) return "empty label in domain";
  if (len > 63) return "label in domain too long";
  if (s[0] == '-' || s[len - 1] == '-') return "label in domain starts or ends with a hyphen";
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-') continue;
    if (c >= 0x80 && (flags & ADDR_UTF8)) continue;
    return "invalid character in domain";
  }
  return 0;
}

/* literal - "[1.2.3.4]" or "[IPv6:...]" */
static const char *literal(const char *s, size_t len)
{
  char buf[64];
  unsigned char addr[16];
  if (len < 3 || s[len - 1] != ']') return "unterminated address literal";
  len -= 2; s++;
  if (len >= sizeof buf) return "address literal too long";
  if (len > 5 && case_diffb(s, 5, "IPv6:") == 0) {
    memcpy(buf, s + 5, len - 5); buf[len - 5] = 0;
    return inet_pton(AF_INET6, buf, addr) == 1 ? 0 : "invalid IPv6 address literal";
  }
  memcpy(buf, s, len); buf[len] = 0;
  return inet_pton(AF_INET, buf, addr) == 1 ? 0 : "invalid address literal";
}

const char *address_domain_check(const char *s, size_t len, int flags)
{
  size_t start = 0, i;
  const char *why;
  if (len == 0) return "empty domain";
  if (len > ADDR_DOMAIN_MAX) return "domain too long";
  if ((flags & ADDR_UTF8) && !utf8_ok(s, len)) return "malformed UTF-8 in domain";
  if (s[0] == '[') return literal(s, len);
  for (i = 0; i <= len; i++) {
    if (i < len && s[i] != '.') continue;
    if ((why = label(s + start, i - start, flags))) return why;
    start = i + 1;
  }
  return 0;
}

size_t address_at(const char *s, size_t len)
{
  size_t i, at = len;
  int quoted = 0;
  for (i = 0; i < len; i++) {
    if (quoted && s[i] == '\\') { i++; continue; }
    if (s[i] == '"') quoted = !quoted;
    else if (s[i] == '@' && !quoted) at = i;
  }
  return at;
}

const char *address_check(const char *s, size_t len, int flags)
{
  size_t at, i;
  const char *why;
  if (len == 0) return "empty address";
  if (len > ADDR_MAX) return "address too long";
  for (i = 0; i < len; i++)
    if ((unsigned char)s[i] < 32 || s[i] == 127) return "control character in address";
  if (s[0] == '@') return "source routes are not accepted";
  if ((flags & ADDR_UTF8) && !utf8_ok(s, len)) return "malformed UTF-8 in address";
  at = address_at(s, len);
  if (at == len)
    return len == 10 && case_diffb(s, 10, "postmaster") == 0 ? 0 : "address has no domain";
  if (at > ADDR_LOCAL_MAX) return "local part too long";
  why = s[0] == '"' ? quoted_string(s, at, flags) : dot_string(s, at, flags);
  if (why) return why;
  return address_domain_check(s + at + 1, len - at - 1, flags);
}
