/* verify.c - recipients of relay-domains domains, checked at RCPT so that
 * a gateway never accepts mail it would have to bounce (backscatter).
 *
 * First the relay-recipients map (Postfix's relay_recipient_maps): when
 * it holds any key, the recipient must be a key (user@domain, or
 * user@domain for user+detail@domain) or its domain must be (@domain);
 * anything else is "550 5.1.1 User unknown in relay recipient table".  A
 * listed address is accepted as it is.
 *
 * Then, with smtpd_relay_verify, a recipient the map does not decide (no
 * map, or only an @domain entry matched) is asked about at the next hop:
 * queue-run --route gives its destination (the routing of a delivery),
 * remote-send -V asks the destination (its TLS policy, MAIL FROM:<>,
 * RCPT, RSET, no DATA).  A 2xx accepts, a 5xx to the RCPT refuses with
 * 550 5.1.1 and the hop's text, anything else (the hop down, a timeout,
 * 4xx, a probe the hop refuses at MAIL) is 450 4.1.1: never a false 550.
 * Both together may take smtpd_relay_verify_timeout; then 450.
 *
 * The answers are cached in smtpd_relay_verify_cache, one file per slot
 * (a hash of the address modulo smtpd_relay_verify_cache_size, so the
 * count is bounded by construction): "ok|fail TAB time TAB address TAB
 * text", the time of the answer in seconds since the epoch, written to a
 * temporary file and renamed.  A slot holding another address, an entry
 * older than its lifetime in force now, one from the future or a
 * malformed one is a miss.  The directory
 * belongs to the session user: a session can only change its own
 * accept/refuse answers through it (doc/architecture.md). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>      /* rename(2) only */
#include <time.h>
#include <unistd.h>
#include "byte.h"
#include "child.h"
#include "log.h"
#include "num.h"
#include "scan.h"
#include "str.h"
#include "smtp.h"

#define ENTRY_MAX 1024              /* bytes of one cache file */
#define TEXT_MAX 400                /* bytes of the hop's text kept and quoted */

enum { RR_LISTED, RR_UNLISTED, RR_UNDECIDED, RR_ERROR };
enum { ANS_OK, ANS_FAIL, ANS_DEFER, ANS_LOCAL };

static struct map rr;               /* relay-recipients.cdb */
static int rr_state;                /* 0 not opened, 1 keys, 2 none or empty, -1 unreadable */

/* rr_open - open the map once; is there any key in it? */
static int rr_open(const struct session *s)
{
  static stralloc fn, k, v;
  unsigned long pos = 0;
  int r;
  if (rr_state) return rr_state;
  if (!stralloc_copys(&fn, s->cfg->map_dir) || !stralloc_cats(&fn, "/relay-recipients.cdb") || !stralloc_0(&fn))
    return RR_ERROR;
  r = map_open(&rr, fn.s);
  if (r == 1) r = map_next(&rr, &pos, &k, &v);
  rr_state = r == 1 ? 1 : r == 0 ? 2 : -1;
  return rr_state;
}

/* rr_lookup - 1 found, 0 not, -1 error */
static int rr_lookup(const char *key, size_t len)
{
  static stralloc v;
  return map_lookup(&rr, key, len, &v);
}

/* rr_check - the map's word on a[0..len) (lower case, '@' at at) */
static int rr_check(const struct session *s, const char *a, size_t len, size_t at)
{
  char k[ADDR_MAX + 1];
  size_t plus = byte_chr(a, at, '+');
  int r, state = rr_open(s);
  if (state == -1) return RR_ERROR;
  if (state == 2) return RR_UNDECIDED;
  if ((r = rr_lookup(a, len)) != 0) return r == 1 ? RR_LISTED : RR_ERROR;
  if (plus > 0 && plus < at) {       /* user+detail@domain: user@domain */
    byte_copy(k, plus, a);
    byte_copy(k + plus, len - at, a + at);
    if ((r = rr_lookup(k, plus + len - at)) != 0) return r == 1 ? RR_LISTED : RR_ERROR;
  }
  if ((r = rr_lookup(a + at, len - at)) != 0) return r == 1 ? RR_UNDECIDED : RR_ERROR;
  return RR_UNLISTED;
}

/* --- the cache */

/* slot_name - dir/slot: FNV-1a of the address modulo the cache size */
static int slot_name(const struct session *s, const char *a, size_t len, stralloc *fn)
{
  unsigned long long h = 14695981039346656037ULL;
  char num[NUM_ULONG];
  size_t i;
  for (i = 0; i < len; i++) { h ^= (unsigned char)a[i]; h *= 1099511628211ULL; }
  num[num_fmt(num, (unsigned long)(h % s->cfg->smtpd_relay_verify_cache_size))] = 0;
  return stralloc_copys(fn, s->cfg->smtpd_relay_verify_cache) && stralloc_cats(fn, "/") &&
         stralloc_cats(fn, num) && stralloc_0(fn);
}

/* field - the next TAB-ended field of b[*p..n) */
static const char *field(char *b, size_t n, size_t *p)
{
  size_t start = *p, t = start + byte_chr(b + start, n - start, '\t');
  if (t == n) return 0;
  b[t] = 0;
  *p = t + 1;
  return b + start;
}

/* cache_get - a fresh answer for a: ANS_OK or ANS_FAIL (text set), or -1 */
static int cache_get(const struct session *s, const char *a, size_t len, char *text)
{
  static stralloc fn;
  char b[ENTRY_MAX + 1];
  const char *word, *when, *addr;
  unsigned long at, life, now = (unsigned long)time(0);
  size_t n = 0, p = 0;
  ssize_t got;
  int fd;
  if (!s->cfg->smtpd_relay_verify_cache[0] || !slot_name(s, a, len, &fn)) return -1;
  if ((fd = open(fn.s, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK)) == -1) return -1;
  while (n < sizeof b - 1 && (got = read(fd, b + n, sizeof b - 1 - n)) > 0) n += (size_t)got;
  close(fd);
  if (n == 0 || n >= sizeof b - 1 || b[n - 1] != '\n') return -1;
  b[--n] = 0;
  if (!(word = field(b, n, &p)) || !(when = field(b, n, &p)) || !(addr = field(b, n, &p))) return -1;
  if (str_equal(word, "ok")) life = s->cfg->smtpd_relay_verify_positive_expire;
  else if (str_equal(word, "fail")) life = s->cfg->smtpd_relay_verify_negative_expire;
  else return -1;
  /* the lifetime in force now: a shorter one set later applies at once */
  if (!when[0] || when[scan_ulong(when, &at)] || at > now || now - at >= life) return -1;
  if (str_len(addr) != len || !byte_equal(addr, len, a)) return -1;
  if (str_len(b + p) > TEXT_MAX) return -1;
  str_copy(text, b + p);
  return word[0] == 'o' ? ANS_OK : ANS_FAIL;
}

/* cache_put - remember an ok or fail answer for its lifetime (0: not at
 * all); a failure to write only costs a probe later */
static void cache_put(const struct session *s, const char *a, size_t len, int ans, const char *text)
{
  static stralloc fn, tmp, e;
  char num[NUM_ULONG];
  unsigned long life = ans == ANS_OK ? s->cfg->smtpd_relay_verify_positive_expire
                                     : s->cfg->smtpd_relay_verify_negative_expire;
  int fd, ok;
  if (!s->cfg->smtpd_relay_verify_cache[0] || life == 0 || !slot_name(s, a, len, &fn)) return;
  num[num_fmt(num, (unsigned long)time(0))] = 0;
  if (!stralloc_copys(&e, ans == ANS_OK ? "ok\t" : "fail\t") || !stralloc_cats(&e, num) ||
      !stralloc_cats(&e, "\t") || !stralloc_catb(&e, a, len) || !stralloc_cats(&e, "\t") ||
      !stralloc_cats(&e, text) || !stralloc_cats(&e, "\n") || e.len > ENTRY_MAX) return;
  num[num_fmt(num, (unsigned long)getpid())] = 0;
  if (!stralloc_copys(&tmp, s->cfg->smtpd_relay_verify_cache) || !stralloc_cats(&tmp, "/tmp.") ||
      !stralloc_cats(&tmp, num) || !stralloc_0(&tmp)) return;
  fd = open(tmp.s, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd == -1) return;
  ok = write(fd, e.s, e.len) == (ssize_t)e.len;
  if (close(fd) == -1) ok = 0;
  if (!ok || rename(tmp.s, fn.s) == -1) unlink(tmp.s);
}

/* --- the probe */

/* run - argv with its fd 1 into out, killed at the deadline; 0, or -1
 * (it failed, or it was late: *late) */
static int run(char **argv, stralloc *out, time_t deadline, int *late)
{
  struct child c;
  struct child_result r;
  time_t now = time(0);
  int ret;
  out->len = 0;
  *late = now >= deadline;
  if (*late) return -1;
  if (child_start(&c, argv, 0, CHILD_NULL, -1, out) == -1) return -1;
  r.log.s = 0; r.log.len = r.log.a = 0;
  child_wait(&c, (unsigned int)(deadline - now), CHILD_PASS_LOG, &r);
  *late = r.late;
  ret = r.code == 0 ? 0 : -1;
  stralloc_free(&r.log);
  return ret;
}

/* program - libexec_dir/name */
static const char *program(const struct session *s, stralloc *sa, const char *name)
{
  if (!stralloc_copys(sa, s->cfg->libexec_dir) || !stralloc_cats(sa, "/") || !stralloc_cats(sa, name) ||
      !stralloc_0(sa)) return 0;
  return sa->s;
}

/* first_line - fields of out's first line split at TABs into f[0..n) */
static unsigned int first_line(stralloc *out, char **f, unsigned int max)
{
  size_t i, end;
  unsigned int n = 0;
  if (!out->len || !stralloc_0(out)) return 0;
  end = byte_chr(out->s, out->len, '\n');
  out->s[end < out->len ? end : out->len - 1] = 0;
  f[n++] = out->s;
  for (i = 0; out->s[i] && n < max; i++)
    if (out->s[i] == '\t') { out->s[i] = 0; f[n++] = out->s + i + 1; }
  return n;
}

/* printable - text with controls and 8-bit bytes blanked, at most TEXT_MAX */
static void printable(char *out, const char *text)
{
  size_t i;
  for (i = 0; text[i] && i < TEXT_MAX; i++)
    out[i] = (unsigned char)text[i] < 32 || (unsigned char)text[i] > 126 ? ' ' : text[i];
  out[i] = 0;
}

/* route - the destination queue-run would send a to: ANS_DEFER (dest
 * set: probe it; or text set: route later), ANS_FAIL (text), ANS_LOCAL */
static int route(const struct session *s, const char *a, time_t deadline, char *dest, size_t max, char *text)
{
  static stralloc prog, out;
  char *argv[4], *f[6];
  int late;
  unsigned int n;
  dest[0] = 0;
  str_copy(text, "route lookup failed");
  if (!(argv[0] = (char *)program(s, &prog, "queue-run"))) return ANS_DEFER;
  argv[1] = "--route"; argv[2] = (char *)a; argv[3] = 0;
  if (run(argv, &out, deadline, &late) == -1) { if (late) str_copy(text, "route lookup timed out"); return ANS_DEFER; }
  if ((n = first_line(&out, f, 6)) < 6 || str_diff(f[0], "0")) return ANS_DEFER;
  if (str_equal(f[1], "error")) { printable(text, f[5]); return ANS_FAIL; }
  if (str_equal(f[1], "retry")) { printable(text, f[5]); return ANS_DEFER; }
  if (str_diff(f[1], "remote")) return ANS_LOCAL;
  if (str_len(f[4]) >= max || !f[4][0]) return ANS_DEFER;
  str_copy(dest, f[4]);
  return ANS_DEFER;
}

/* ask - remote-send -V dest a: ANS_OK, ANS_FAIL or ANS_DEFER, text set */
static int ask(const struct session *s, const char *a, const char *dest, time_t deadline, char *text)
{
  static stralloc prog, out;
  char *argv[5], *f[3];
  int late;
  str_copy(text, "probe failed");
  if (!(argv[0] = (char *)program(s, &prog, "remote-send"))) return ANS_DEFER;
  argv[1] = "-V"; argv[2] = (char *)dest; argv[3] = (char *)a; argv[4] = 0;
  if (run(argv, &out, deadline, &late) == -1) { if (late) str_copy(text, "probe timed out"); return ANS_DEFER; }
  if (first_line(&out, f, 3) != 3 || str_diff(f[0], a)) return ANS_DEFER;
  printable(text, f[2]);
  if (str_equal(f[1], "ok") || str_equal(f[1], "passed")) return ANS_OK;
  return str_equal(f[1], "fail") && text[0] == '5' ? ANS_FAIL : ANS_DEFER;
}

/* answer - the reply for a refusal: "code status what: text" */
static int answer(char *reply, const char *code, const char *what, const char *text)
{
  size_t n = str_copy(reply, code);
  n += str_copy(reply + n, what);
  if (text[0] && n + 2 + str_len(text) < SMTP_REPLY_MAX) {
    n += str_copy(reply + n, ": ");
    str_copy(reply + n, text);
  }
  return 1;
}

/* probe - the cache, else the route and the hop; 0 accepted, 1 refused */
static int probe(struct session *s, const char *a, size_t len, char *reply)
{
  char text[TEXT_MAX + 1], dest[1100];
  time_t deadline = time(0) + (time_t)s->cfg->smtpd_relay_verify_timeout;
  int ans = cache_get(s, a, len, text), cached = ans != -1;
  if (!cached) ans = route(s, a, deadline, dest, sizeof dest, text);
  if (!cached && ans == ANS_DEFER && dest[0]) {
    ans = ask(s, a, dest, deadline, text);
    if (ans == ANS_OK || ans == ANS_FAIL) cache_put(s, a, len, ans, text);
  }
  log_event(0, "verify", a, "status", ans == ANS_OK ? "deliverable" : ans == ANS_FAIL ? "undeliverable" :
            ans == ANS_LOCAL ? "local" : "unknown", "cached", cached ? "yes" : "no", "reply", text, (char *)0);
  if (ans == ANS_OK || ans == ANS_LOCAL) return 0;
  if (ans == ANS_FAIL) return answer(reply, "550 5.1.1 ", "Recipient address rejected: undeliverable address", text);
  return answer(reply, "450 4.1.1 ", "Recipient address rejected: unverified address", text);
}

int verify_relay(struct session *s, const char *a, size_t len, char *reply)
{
  size_t at = byte_rchr(a, len, '@');
  switch (rr_check(s, a, len, at)) {
  case RR_LISTED: return 0;
  case RR_UNLISTED:
    str_copy(reply, "550 5.1.1 Recipient address rejected: User unknown in relay recipient table");
    return 1;
  case RR_ERROR:
    str_copy(reply, "451 4.3.0 Temporary lookup failure");
    return 1;
  }
  if (!s->cfg->smtpd_relay_verify || s->mode == MODE_LOCAL) return 0;
  return probe(s, a, len, reply);
}
