/* routes.c - the routes map (a mailertable): which keys and values are
 * valid, and the one spelling of a value that queue-run and remote-send
 * read.  postern-maps checks every line with these when compiling, and
 * queue-run reads values through routes_value again, so a cdb made by
 * other means (tinycdb's cdb -c) gets the same answers.
 *
 * Keys: a domain, .domain (its subdomains), or "." (every domain that no
 * other key and no relayhost sends elsewhere).
 * Values, the method in any case:
 *   smtp:host[:port]  smtp:[host][:port]   (also sendmail's esmtp:, relay:,
 *                                            smtp8: and dsmtp:, the same)
 *   smtps:[host][:port]
 *   lmtp:unix:/path  lmtp:host:port  lmtp:[host]:port
 *   local:  local:user                      (deliver here, to that user)
 *   error:D.S.N text  error:D.S.N:NNN text  error:NNN text */
#include "byte.h"
#include "case.h"
#include "str.h"
#include "routes.h"

#define ROUTES_TEXT_MAX 400   /* bytes of text in an error: value */

/* invalid - *why, 0 */
static int invalid(const char **why, const char *what)
{
  *why = what;
  return 0;
}

static int digit(char c) { return c >= '0' && c <= '9'; }

/* host_char - letters, digits, '-', '.', '_' (and ':' in a literal) */
static int host_char(char c, int literal)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || digit(c) || c == '-' || c == '.' || c == '_'
         || (literal && c == ':');
}

/* port_ok - 1 to 65535 in decimal */
static int port_ok(const char *s, size_t len)
{
  unsigned long v = 0;
  size_t i;
  if (len == 0 || len > 5) return 0;
  for (i = 0; i < len; i++) {
    if (!digit(s[i])) return 0;
    v = v * 10 + (unsigned long)(s[i] - '0');
  }
  return v >= 1 && v <= 65535;
}

/* inet_ok - host[:port], [host][:port] or a bare IPv6 address */
static int inet_ok(const char *s, size_t len, const char **why)
{
  size_t i, close, colon, colons = 0;
  if (len == 0) return invalid(why, "no host after the method");
  if (s[0] == '[') {
    close = byte_chr(s, len, ']');
    if (close == len || close == 1) return invalid(why, "[host] without its ] or empty");
    for (i = 1; i < close; i++)
      if (!host_char(s[i], 1)) return invalid(why, "a character that no host name or address has");
    if (close + 1 == len) return 1;
    if (s[close + 1] != ':' || !port_ok(s + close + 2, len - close - 2)) return invalid(why, "after ] only :port (1-65535) may follow");
    return 1;
  }
  for (i = 0; i < len; i++) colons += s[i] == ':';
  if (colons > 1) {   /* an IPv6 address without brackets: no port */
    for (i = 0; i < len; i++)
      if (!host_char(s[i], 1)) return invalid(why, "a character that no host name or address has");
    return 1;
  }
  colon = byte_chr(s, len, ':');
  if (colon < len && !port_ok(s + colon + 1, len - colon - 1)) return invalid(why, "the port is not 1-65535");
  if (colon == 0) return invalid(why, "no host before the port");
  for (i = 0; i < colon; i++)
    if (!host_char(s[i], 0)) return invalid(why, "a character that no host name has (no %1 substitution or wildcard)");
  return 1;
}

/* lmtp_ok - unix:/path, or a host and port */
static int lmtp_ok(const char *s, size_t len, const char **why)
{
  size_t i;
  if (len > 5 && !case_diffb(s, 5, "unix:")) {
    if (s[5] != '/') return invalid(why, "lmtp:unix: needs an absolute socket path");
    for (i = 5; i < len; i++)
      if (s[i] == ' ' || s[i] == '\t') return invalid(why, "a blank in the socket path");
    return 1;
  }
  return inet_ok(s, len, why);
}

/* local_ok - empty, or a user name (a local part without @ or blanks) */
static int local_ok(const char *s, size_t len, const char **why)
{
  size_t i;
  for (i = 0; i < len; i++)
    if (s[i] == '@' || s[i] == ' ' || s[i] == '\t' || s[i] == '/') return invalid(why, "local: takes a user name, nothing else");
  return len <= 64 ? 1 : invalid(why, "the user name is over 64 bytes");
}

/* status_len - length of an enhanced status code C.S.D of class 4 or 5
 * at s (1 to 3 digits after each dot); 0 if none */
static size_t status_len(const char *s, size_t len)
{
  size_t i = 2, n, part;
  if (len < 5 || (s[0] != '4' && s[0] != '5') || s[1] != '.') return 0;
  for (part = 0; part < 2; part++) {
    for (n = 0; i < len && digit(s[i]) && n < 3; i++) n++;
    if (n == 0) return 0;
    if (part == 0) { if (i >= len || s[i] != '.') return 0; i++; }
  }
  return i;
}

/* error_value - error:D.S.N text, error:D.S.N:NNN text or error:NNN
 * text into "error:D.S.N text" */
static int error_value(const char *s, size_t len, stralloc *out, const char **why)
{
  size_t n = status_len(s, len), i, slen;
  char status[16];
  if (n == 0) {   /* error:NNN text: the reply code's class */
    if (len < 3 || (s[0] != '4' && s[0] != '5') || !digit(s[1]) || !digit(s[2]) || (len > 3 && s[3] != ' '))
      return invalid(why, "error: needs an enhanced status code (error:5.1.1 text) or a reply code 4xx/5xx");
    status[0] = s[0]; byte_copy(status + 1, 4, ".0.0");
    slen = 5;
    i = 3;
  } else {
    byte_copy(status, n, s);
    slen = i = n;
    if (i < len && s[i] == ':') {   /* sendmail: D.S.N:NNN text */
      if (len - i < 4 || s[i + 1] != s[0] || !digit(s[i + 2]) || !digit(s[i + 3]) || (len - i > 4 && s[i + 4] != ' '))
        return invalid(why, "error:D.S.N:NNN with a reply code of another class");
      i += 4;
    } else if (i < len && s[i] != ' ') return invalid(why, "error: a malformed enhanced status code");
  }
  while (i < len && s[i] == ' ') i++;
  if (len - i > ROUTES_TEXT_MAX) return invalid(why, "error: text over 400 bytes");
  for (n = i; n < len; n++)
    if ((unsigned char)s[n] < 32 || s[n] == 127) return invalid(why, "a control character in the text");
  if (!stralloc_copys(out, "error:") || !stralloc_catb(out, status, slen)) return -1;
  if (len > i && (!stralloc_catb(out, " ", 1) || !stralloc_catb(out, s + i, len - i))) return -1;
  return 1;
}

int routes_value(const char *v, size_t len, stralloc *out, const char **why)
{
  static const struct { const char *method; const char *as; } methods[] = {
    { "smtp:", "smtp:" }, { "esmtp:", "smtp:" }, { "relay:", "smtp:" }, { "smtp8:", "smtp:" },
    { "dsmtp:", "smtp:" }, { "smtps:", "smtps:" }, { "lmtp:", "lmtp:" }, { "local:", "local:" },
    { "error:", "error:" },
  };
  size_t i, m = 0, n;
  int r;
  *why = 0;
  for (i = 0; i < sizeof methods / sizeof methods[0]; i++) {
    n = str_len(methods[i].method);
    if (len >= n && !case_diffb(v, n, methods[i].method)) { m = n; break; }
  }
  if (m == 0) return invalid(why, "unknown method: want smtp:, esmtp:, relay:, smtps:, lmtp:, local: or error:");
  v += m; len -= m;
  if (!str_diff(methods[i].as, "error:")) return error_value(v, len, out, why);
  if (!str_diff(methods[i].as, "local:")) r = local_ok(v, len, why);
  else if (!str_diff(methods[i].as, "lmtp:")) r = lmtp_ok(v, len, why);
  else if (!str_diff(methods[i].as, "smtps:") && (len == 0 || v[0] != '['))
    r = invalid(why, "smtps: takes [host][:port] (no MX lookup)");
  else r = inet_ok(v, len, why);
  if (r != 1) return r;
  if (!stralloc_copys(out, methods[i].as) || !stralloc_catb(out, v, len)) return -1;
  return 1;
}

int routes_key_ok(const char *k, size_t len)
{
  size_t i;
  if (len == 1 && k[0] == '.') return 1;   /* the default */
  if (len > 0 && k[0] == '.') { k++; len--; }
  if (len > 1 && k[len - 1] == '.') len--;
  if (len == 0 || len > 255 || k[0] == '.') return 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)k[i];
    if (c == '.') { if (i + 1 < len && k[i + 1] == '.') return 0; continue; }
    if (!host_char((char)c, 0) && c < 128) return 0;
  }
  return 1;
}
