/* auth.c - SMTP AUTH (RFC 4954) with the PLAIN (RFC 4616) and LOGIN
 * mechanisms, offered only in submission and implicit-TLS modes and only
 * once TLS is up, checked against the passwd map (user, then a crypt(3)
 * hash: yescrypt, SHA-512, ...), or by a checkpassword-style program
 * (smtpd_auth_program) that gets "user\0password\0\0" on its fd 3.
 *
 * crypt(3) comes from libcrypt.so.1 (Debian's essential libcrypt1),
 * loaded with dlopen on the first AUTH: the port-25 processes, which never
 * authenticate, do not pay for relocating it at every connection.
 *
 * An unknown or locked user costs the same crypt(3) as a wrong password
 * (against a hash from the same map: the same kind and cost), so the time
 * of the answer does not tell which users exist.
 *
 * With smtpd_sender_login_map, an authenticated client may use only the
 * MAIL FROM addresses the map gives to its login (auth_sender).
 *
 * Failures are rate-limited: each is answered only after
 * smtpd_auth_failure_delay seconds, and after smtpd_auth_failure_limit of
 * them the connection is closed.  They are logged with the user name,
 * never the password. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>
#include "byte.h"
#include "case.h"
#include "getln.h"
#include "str.h"
#include "textcode.h"
#include "child.h"
#include "log.h"
#include "smtp.h"

#define AUTH_LINE_MAX 12288    /* bytes of one base64 response line (RFC 4954 4) */
#define AUTH_FIELD_MAX 255     /* bytes of a user name or a password */
#define AUTH_ARGS_MAX 16       /* words of smtpd_auth_program */
#define AUTH_PROGRAM_SECONDS 30   /* the longest a password check may take */

extern char **environ;

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

/* pause_ms - sleep; a signal does not cut it short */
static void pause_ms(unsigned long ms)
{
  struct timespec t;
  if (ms > 3600000) ms = 3600000;
  t.tv_sec = (time_t)(ms / 1000);
  t.tv_nsec = (long)(ms % 1000) * 1000000;
  while (nanosleep(&t, &t) == -1 && errno == EINTR) ;
}

/* split - the blank-separated words of cmd into argv (copied to buf);
 * the number of words, or -1 if there are too many */
static int split(const char *cmd, stralloc *buf, char **argv)
{
  size_t i;
  int n = 0;
  if (!stralloc_copys(buf, cmd) || !stralloc_0(buf)) return -1;
  for (i = 0; i < buf->len - 1; ) {
    while (buf->s[i] == ' ' || buf->s[i] == '\t') buf->s[i++] = 0;
    if (!buf->s[i]) break;
    if (n == AUTH_ARGS_MAX) return -1;
    argv[n++] = buf->s + i;
    while (buf->s[i] && buf->s[i] != ' ' && buf->s[i] != '\t') i++;
  }
  argv[n] = 0;
  return n;
}

/* spawn_checker - argv with fd 3 reading from fd, 0 and 1 on /dev/null,
 * fd 2 ours; its pid, or -1 */
static pid_t spawn_checker(char **argv, int fd)
{
  const int fds[CHILD_FDS] = { CHILD_NULL, CHILD_NULL, CHILD_OURS, fd };
  pid_t pid;
  return child_spawn(&pid, argv, 0, fds, 0) == -1 ? -1 : pid;
}

/* finish - wait for the checker, at most AUTH_PROGRAM_SECONDS (then it is
 * killed); its wait status, or -1 */
static int finish(pid_t pid)
{
  int st;
  return child_reap(pid, AUTH_PROGRAM_SECONDS, &st) == -1 ? -1 : st;
}

int auth_program_ok(const char *cmd)
{
  static stralloc words;
  char *argv[AUTH_ARGS_MAX + 1];
  return split(cmd, &words, argv) > 0;
}

/* program_check - smtpd_auth_program, the checkpassword interface: fd 3
 * carries "user\0password\0\0"; exit 0 accepts, 1 refuses, anything else
 * (2 misuse, 111 temporary, a signal, a timeout) is a temporary failure */
static int program_check(const char *cmd, const char *user, const char *pass)
{
  static stralloc words;
  char *argv[AUTH_ARGS_MAX + 1], data[2 * AUTH_FIELD_MAX + 3];
  size_t ul = str_len(user), pl = str_len(pass);
  int p[2], fd, st, sent;
  pid_t pid;
  if (split(cmd, &words, argv) <= 0) return -1;
  if (pipe2(p, O_CLOEXEC) == -1) return -1;
  /* fd 3 of the child is a dup2 target: the source must not be 3 itself */
  if ((fd = fcntl(p[0], F_DUPFD_CLOEXEC, 10)) == -1) { close(p[0]); close(p[1]); return -1; }
  close(p[0]);
  pid = spawn_checker(argv, fd);
  close(fd);
  if (pid == -1) { close(p[1]); return -1; }
  byte_copy(data, ul + 1, user);
  byte_copy(data + ul + 1, pl + 1, pass);
  data[ul + pl + 2] = 0;
  /* at most 513 bytes: the pipe takes them without blocking */
  sent = write(p[1], data, ul + pl + 3) == (ssize_t)(ul + pl + 3);
  byte_zero(data, sizeof data);
  close(p[1]);
  st = finish(pid);
  if (!sent || st == -1 || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st) == 0 ? 1 : WEXITSTATUS(st) == 1 ? 0 : -1;
}

#define AUTH_DUMMY_SCAN 100   /* passwd records looked at for a dummy hash */

/* usable - a hash crypt can check (not empty, not locked with ! or *) */
static int usable(const stralloc *h)
{
  return h->len > 0 && h->s[0] != '!' && h->s[0] != '*';
}

/* dummy_hash - a usable hash of the passwd map (the first of its first
 * records), kept for the process; 0 if there is none */
static const char *dummy_hash(const struct session *s)
{
  static stralloc fn, key, value;
  static int looked;
  struct map m = {0};
  unsigned long pos = 0;
  int i;
  if (looked) return value.len ? value.s : 0;
  looked = 1;
  if (!stralloc_copys(&fn, s->cfg->map_dir) || !stralloc_cats(&fn, "/passwd.cdb") || !stralloc_0(&fn)) return 0;
  if (map_open(&m, fn.s) != 1) return 0;
  for (i = 0; i < AUTH_DUMMY_SCAN; i++)
    if (map_next(&m, &pos, &key, &value) != 1 || usable(&value)) break;
  map_close(&m);
  if (i == AUTH_DUMMY_SCAN || !usable(&value)) value.len = 0;
  return value.len ? value.s : 0;
}

/* auth_check - 1 the password is right, 0 wrong or unknown user, -1 a
 * temporary failure (map, libcrypt or the program unavailable) */
int auth_check(const struct session *s, const char *user, const char *pass)
{
  static stralloc hash;
  crypt_fn c;
  const char *h, *d;
  int r;
  if (s->cfg->smtpd_auth_program[0]) return program_check(s->cfg->smtpd_auth_program, user, pass);
  r = map_lookup_in(s->cfg->map_dir, "passwd", user, str_len(user), &hash);
  if (r == -1) return -1;
  if (r == 0 || !usable(&hash)) {    /* unknown or locked: the same work */
    if ((d = dummy_hash(s)) && (c = load_crypt())) c(pass, d);
    return 0;
  }
  if (!(c = load_crypt())) return -1;
  if (!(h = c(pass, hash.s)) || h[0] == '*') return 0;
  return same(h, hash.s);
}

/* owner - is login among the comma or blank separated names of v? */
static int owner(const stralloc *v, const char *login)
{
  size_t i = 0, n, ll = str_len(login);
  while (i < v->len) {
    while (i < v->len && (v->s[i] == ',' || v->s[i] == ' ' || v->s[i] == '\t')) i++;
    for (n = 0; i + n < v->len && v->s[i + n] != ',' && v->s[i + n] != ' ' && v->s[i + n] != '\t'; n++) ;
    if (n && n == ll && !case_diffb(v->s + i, n, login)) return 1;
    i += n;
  }
  return 0;
}

/* auth_sender - may the authenticated user send as addr[0..len)?  With
 * smtpd_sender_login_map, the address, else "@domain", must list the
 * login (as Postfix's smtpd_sender_login_maps with
 * reject_sender_login_mismatch); the null sender is always allowed.  0
 * yes, 1 no with reply. */
int auth_sender(const struct session *s, const char *addr, size_t len, char *reply)
{
  static stralloc owners;
  const char *map = s->cfg->smtpd_sender_login_map;
  size_t at = byte_rchr(addr, len, '@');
  int r;
  if (!s->user[0] || !map[0] || len == 0) return 0;
  r = map_lookup_in(s->cfg->map_dir, map, addr, len, &owners);
  if (r == 0 && at < len) r = map_lookup_in(s->cfg->map_dir, map, addr + at, len - at, &owners);
  if (r == -1) { str_copy(reply, "451 4.3.0 Temporary lookup failure"); return 1; }
  if (r == 1 && owner(&owners, s->user)) return 0;
  stralloc t = {0};
  if (stralloc_copys(&t, "553 5.7.1 Sender address rejected: not owned by user ") && stralloc_cats(&t, s->user) &&
      t.len < SMTP_REPLY_MAX) {
    byte_copy(reply, t.len, t.s);
    reply[t.len] = 0;
  } else str_copy(reply, "553 5.7.1 Sender address rejected: not owned by the authenticated user");
  stralloc_free(&t);
  return 1;
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
  io_command_deadline(s->cfg->smtpd_timeout);   /* each response line, as a command */
  io_puts("334 ");
  io_puts(challenge);
  io_put("\r\n", 2);
  if ((len = response(s, line)) < 0) return -1;
  if (len == 1 && line[0] == '*') return -2;
  return decode(line, (size_t)len, out, max);
}

/* failed - one more failure: logged, answered late; too many end the
 * session */
static void failed(struct session *s, const char *mech, const char *user, const char *reply)
{
  s->auth_failures++;
  log_event(0, "status", "auth-failed", "client", s->ip, "mech", mech, "user", user, (char *)0);
  io_flush();                       /* earlier replies are not held back */
  pause_ms(s->cfg->smtpd_auth_failure_delay * 1000);
  if (s->auth_failures >= s->cfg->smtpd_auth_failure_limit) {
    smtp_log(s, "reject", "too many failed authentications");
    smtp_quit(s, "421 4.7.0 Too many failed authentications; closing the connection");
  }
  smtp_reply(s, reply);
}

/* verdict - check user and pass, reply, count failures */
static void verdict(struct session *s, const char *mech, const char *user, const char *pass)
{
  int r = auth_check(s, user, pass);
  if (r == 1) {
    str_copy(s->user, user);
    str_copy(s->auth_mech, mech);     /* {auth_type} for milters */
    s->relay_client = 1;
    log_event(0, "status", "auth", "client", s->ip, "mech", mech, "user", user, (char *)0);
    smtp_reply(s, "235 2.7.0 Authentication successful");
    return;
  }
  if (r == -1) {
    log_event(0, "status", "auth-tempfail", "client", s->ip, "mech", mech, "user", user, (char *)0);
    smtp_reply(s, "454 4.7.0 Temporary authentication failure");
    return;
  }
  failed(s, mech, user, "535 5.7.8 Authentication credentials invalid");
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
    failed(s, "PLAIN", buf + z1 + 1, "535 5.7.8 Authorization identity refused");
    byte_zero(buf, sizeof buf);
    return;
  }
  verdict(s, "PLAIN", buf + z1 + 1, buf + z2 + 1);
  byte_zero(buf, sizeof buf);
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
  verdict(s, "LOGIN", user, pass);
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
