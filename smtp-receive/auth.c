/* auth.c - SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN
 * mechanisms, offered only in submission and implicit-TLS modes and only
 * once TLS is up, checked against the passwd map (user, then a crypt(3)
 * hash: yescrypt, SHA-512, ...).
 *
 * crypt(3) comes from libcrypt.so.1 (Debian's essential libcrypt1),
 * loaded with dlopen on the first AUTH: the port-25 processes, which never
 * authenticate, do not pay for relocating it at every connection.
 *
 * Failures are logged with the user name, never the password, and after
 * smtpd_auth_failure_limit of them the connection is closed. */
#include <dlfcn.h>
#include "byte.h"
#include "case.h"
#include "getln.h"
#include "str.h"
#include "textcode.h"
#include "log.h"
#include "smtp.h"

#define AUTH_LINE_MAX 12288    /* bytes of one base64 response line (RFC 4954 4) */
#define AUTH_FIELD_MAX 255     /* bytes of a user name or a password */

typedef char *(*crypt_fn)(const char *, const char *);

/* load_crypt - crypt(3), or 0 if libcrypt cannot be loaded */
static crypt_fn load_crypt(void)
{
  static crypt_fn fn;
  static int tried;
  if (!tried) {
    void *h = dlopen("libcrypt.so.1", RTLD_NOW | RTLD_LOCAL);
    tried = 1;
    if (h) *(void **)&fn = dlsym(h, "crypt");
  }
  return fn;
}

/* same - constant-time comparison of two NUL-terminated strings */
static int same(const char *a, const char *b)
{
  size_t la = str_len(a), lb = str_len(b), i;
  unsigned char d = la != lb;
  for (i = 0; i < la && i < lb; i++) d |= (unsigned char)(a[i] ^ b[i]);
  return d == 0;
}

/* auth_check - 1 the password is right, 0 wrong or unknown user, -1 a
 * temporary failure (map or libcrypt unavailable) */
int auth_check(const struct session *s, const char *user, const char *pass)
{
  static stralloc hash;
  crypt_fn c;
  const char *h;
  int r = map_lookup_in(s->cfg->map_dir, "passwd", user, str_len(user), &hash);
  if (r != 1) return r;
  if (hash.len == 0 || hash.s[0] == '!' || hash.s[0] == '*') return 0;   /* locked */
  if (!(c = load_crypt())) return -1;
  if (!(h = c(pass, hash.s)) || h[0] == '*') return 0;
  return same(h, hash.s);
}

/* decode - base64 line[0..len) into out[max], NUL-terminated; length or -1 */
static long decode(const char *line, size_t len, char *out, size_t max)
{
  char in[AUTH_LINE_MAX + 1];
  size_t n = 0;
  if (len == 1 && line[0] == '=') { out[0] = 0; return 0; }   /* an empty initial response */
  if (len > AUTH_LINE_MAX || len / 4 * 3 + 3 > max) return -1;
  byte_copy(in, len, line);
  in[len] = 0;
  if (scan_base64(in, out, &n) != len) return -1;
  out[n] = 0;
  return (long)n;
}

/* response - read one client response line (after a 334) */
static long response(struct session *s, char *line)
{
  size_t len;
  int r = getln(&io_in, line, AUTH_LINE_MAX, &len);
  if (r == GETLN_EOF || r == GETLN_PARTIAL || r == GETLN_ERROR) smtp_lost(s);
  if (r == GETLN_LONG) { if (getln_skip(&io_in) == -1) smtp_lost(s); return -1; }
  if (len && line[len - 1] == '\r') len--;
  line[len] = 0;
  return (long)len;
}

/* ask - a 334 challenge, then the decoded answer in out[max]: its length,
 * -1 malformed, -2 the client cancelled with "*" */
static long ask(struct session *s, const char *challenge, char *out, size_t max)
{
  static char line[AUTH_LINE_MAX + 1];
  long len;
  io_puts("334 ");
  io_puts(challenge);
  io_put("\r\n", 2);
  if ((len = response(s, line)) < 0) return -1;
  if (len == 1 && line[0] == '*') return -2;
  return decode(line, (size_t)len, out, max);
}

/* verdict - check user and pass, reply, count failures */
static void verdict(struct session *s, const char *user, const char *pass)
{
  int r = auth_check(s, user, pass);
  if (r == 1) {
    str_copy(s->user, user);
    s->relay_client = 1;
    log_event(0, "status", "auth", "client", s->ip, "user", user, (char *)0);
    smtp_reply(s, "235 2.7.0 Authentication successful");
    return;
  }
  if (r == -1) {
    log_event(0, "status", "auth-tempfail", "client", s->ip, "user", user, (char *)0);
    smtp_reply(s, "454 4.7.0 Temporary authentication failure");
    return;
  }
  s->auth_failures++;
  log_event(0, "status", "auth-failed", "client", s->ip, "user", user, (char *)0);
  if (s->auth_failures >= s->cfg->smtpd_auth_failure_limit)
    smtp_quit(s, "421 4.7.0 Too many failed authentications; closing the connection");
  smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
}

/* fail - a malformed or cancelled exchange */
static void fail(struct session *s, long r)
{
  smtp_reply(s, r == -2 ? "501 5.7.0 Authentication cancelled" : "501 5.5.2 Cannot decode response");
}

/* plain - PLAIN: authzid NUL authcid NUL password, authzid empty or the same */
static void plain(struct session *s, const char *initial, size_t ilen)
{
  static char buf[AUTH_LINE_MAX];
  long n = ilen ? decode(initial, ilen, buf, sizeof buf) : ask(s, "", buf, sizeof buf);
  size_t z1, z2;
  if (n < 0) { fail(s, n); return; }
  z1 = byte_chr(buf, (size_t)n, 0);
  z2 = z1 < (size_t)n ? z1 + 1 + byte_chr(buf + z1 + 1, (size_t)n - z1 - 1, 0) : (size_t)n;
  if (z2 >= (size_t)n || z2 - z1 - 1 > AUTH_FIELD_MAX || (size_t)n - z2 - 1 > AUTH_FIELD_MAX ||
      z2 == z1 + 1) { fail(s, -1); return; }
  if (z1 && str_diff(buf, buf + z1 + 1)) {
    s->auth_failures++;
    smtp_reply(s, "535 5.7.8 Authorization identity refused");
    return;
  }
  verdict(s, buf + z1 + 1, buf + z2 + 1);
}

/* login - LOGIN: the user name, then the password, each asked for */
static void login(struct session *s, const char *initial, size_t ilen)
{
  static char user[AUTH_LINE_MAX], pass[AUTH_LINE_MAX];
  long n = ilen ? decode(initial, ilen, user, sizeof user) : ask(s, "VXNlcm5hbWU6", user, sizeof user);
  if (n < 0) { fail(s, n); return; }
  if (n == 0 || n > AUTH_FIELD_MAX || byte_chr(user, (size_t)n, 0) != (size_t)n) { fail(s, -1); return; }
  n = ask(s, "UGFzc3dvcmQ6", pass, sizeof pass);
  if (n < 0) { fail(s, n); return; }
  if (n > AUTH_FIELD_MAX || byte_chr(pass, (size_t)n, 0) != (size_t)n) { fail(s, -1); return; }
  verdict(s, user, pass);
  byte_zero(pass, sizeof pass);
}

/* auth_command - AUTH mechanism [initial-response] */
int auth_command(struct session *s, const char *arg, size_t len)
{
  size_t sp = byte_chr(arg, len, ' ');
  const char *initial = sp < len ? arg + sp + 1 : "";
  size_t ilen = sp < len ? len - sp - 1 : 0;
  if (s->mode != MODE_SUBMISSION && s->mode != MODE_SMTPS) { smtp_reply(s, "503 5.5.1 Error: authentication not enabled"); return 0; }
  if (!s->tls) { smtp_reply(s, "538 5.7.11 Encryption required for requested authentication mechanism"); return 0; }
  if (!s->helo_seen) { smtp_reply(s, "503 5.5.1 Error: send EHLO first"); return 0; }
  if (s->user[0]) { smtp_reply(s, "503 5.5.1 Error: already authenticated"); return 0; }
  if (s->in_mail) { smtp_reply(s, "503 5.5.1 Error: MAIL transaction in progress"); return 0; }
  if (sp == 5 && !case_diffb(arg, 5, "PLAIN")) plain(s, initial, ilen);
  else if (sp == 5 && !case_diffb(arg, 5, "LOGIN")) login(s, initial, ilen);
  else smtp_reply(s, "504 5.5.4 Unsupported authentication mechanism");
  return 0;
}
