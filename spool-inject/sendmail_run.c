/* sendmail_run.c - running the programs sendmail drives (the injector,
 * queue-run, smtp-receive, postern-maps), and reading queue-run's
 * machine-readable listing (mailq --json, sendmail -qR/-qS/-qI).
 *
 * Children start with posix_spawn (vfork: no copy of our memory) and get
 * our environment; their stderr is captured so that the injector's last
 * line, its SMTP reply, can be passed on.  A child that runs longer than
 * SM_CHILD_SECONDS is killed, which counts as a temporary failure. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "byte.h"
#include "case.h"
#include "errmsg.h"
#include "str.h"
#include "exitcode.h"
#include "inject.h"
#include "scan.h"
#include "spool.h"
#include "sendmail.h"

extern char **environ;

#define ERR_KEEP 65536   /* bytes of a child's stderr kept */

static volatile pid_t running;   /* the child the alarm kills */

void sm_say(const char *a, const char *b, const char *c)
{
  const char *part[5] = { argv0 ? argv0 : "sendmail", ": ", a, b, c };
  char out[2048];
  size_t n = 0, i, k;
  for (i = 0; i < 5; i++)
    for (k = 0; part[i][k] && n < sizeof out - 1; k++) {
      unsigned char ch = (unsigned char)part[i][k];
      out[n++] = ch < 32 || ch == 127 ? '?' : (char)ch;
    }
  out[n++] = '\n';
  if (write(2, out, n) < 0) return;
}

int sm_path(stralloc *sa, const struct config *cfg, const char *name)
{
  return stralloc_copys(sa, cfg->libexec_dir) && stralloc_cats(sa, "/") && stralloc_cats(sa, name)
      && stralloc_0(sa) ? 0 : -1;
}

/* on_alarm - the child ran too long */
static void on_alarm(int sig)
{
  (void)sig;
  if (running > 0) kill(running, SIGKILL);
}

/* keep_err - append to r->err, keeping only the last ERR_KEEP bytes */
static void keep_err(struct sm_result *r, const char *x, size_t n)
{
  if (!stralloc_catb(&r->err, x, n)) return;
  if (r->err.len > 2 * ERR_KEEP) {
    byte_copy(r->err.s, ERR_KEEP, r->err.s + r->err.len - ERR_KEEP);
    r->err.len = ERR_KEEP;
  }
}

/* last_line - the last non-empty line of r->err into r->reply */
static void last_line(struct sm_result *r)
{
  size_t end = r->err.len, start;
  while (end && (r->err.s[end - 1] == '\n' || r->err.s[end - 1] == '\r')) end--;
  if (!end) { r->reply[0] = 0; return; }
  start = byte_rchr(r->err.s, end, '\n');
  start = start < end ? start + 1 : 0;
  if (end - start > SM_REPLY_MAX) end = start + SM_REPLY_MAX;
  byte_copy(r->reply, end - start, r->err.s + start);
  r->reply[end - start] = 0;
}

/* drain - read the child's pipes until both are closed */
static int drain(int errfd, int outfd, stralloc *out_sa, struct sm_result *r)
{
  char buf[8192];
  struct pollfd p[2];
  int open_fds = 1 + (outfd != -1);
  p[0].fd = errfd; p[0].events = POLLIN;
  p[1].fd = outfd; p[1].events = POLLIN;
  while (open_fds) {
    unsigned int i;
    if (poll(p, outfd != -1 ? 2 : 1, -1) == -1) { if (errno == EINTR) continue; return -1; }
    for (i = 0; i < 2; i++) {
      ssize_t n;
      if (p[i].fd < 0 || !p[i].revents) continue;
      n = read(p[i].fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) { p[i].fd = -1; open_fds--; continue; }
      if (i == 0) keep_err(r, buf, (size_t)n);
      else if (!stralloc_catb(out_sa, buf, (size_t)n)) return -1;
    }
  }
  return 0;
}

/* wait_child - its exit code; a signal or a lost child is EX_TEMPFAIL */
static int wait_child(pid_t pid)
{
  int status;
  while (waitpid(pid, &status, 0) == -1)
    if (errno != EINTR) return EX_TEMPFAIL;
  return exitcode_wait(status);
}

/* collect - the child's stderr (and stdout into out_sa) until it ends,
 * within SM_CHILD_SECONDS; its exit code and last line into r */
static void collect(pid_t pid, int errfd, int outfd, stralloc *out_sa, struct sm_result *r)
{
  struct sigaction sa, old;
  r->err.len = 0;
  r->reply[0] = 0;
  byte_zero(&sa, sizeof sa);
  sa.sa_handler = on_alarm;
  sigaction(SIGALRM, &sa, &old);
  running = pid;
  alarm(SM_CHILD_SECONDS);
  if (drain(errfd, outfd, out_sa, r) == -1) kill(pid, SIGKILL);
  r->code = wait_child(pid);
  alarm(0);
  running = 0;
  sigaction(SIGALRM, &old, 0);
  close(errfd);
  if (outfd != -1) close(outfd);
  last_line(r);
}

int sm_run(char *const argv[], int in, int out, stralloc *out_sa, struct sm_result *r)
{
  posix_spawn_file_actions_t fa;
  int errp[2], outp[2] = { -1, -1 }, e;
  pid_t pid;
  if (pipe2(errp, O_CLOEXEC) == -1) return -1;
  if (out_sa && pipe2(outp, O_CLOEXEC) == -1) { close(errp[0]); close(errp[1]); return -1; }
  posix_spawn_file_actions_init(&fa);
  if (in != -1) posix_spawn_file_actions_adddup2(&fa, in, 0);
  if (out_sa) posix_spawn_file_actions_adddup2(&fa, outp[1], 1);
  else if (out != -1) posix_spawn_file_actions_adddup2(&fa, out, 1);
  posix_spawn_file_actions_adddup2(&fa, errp[1], 2);
  e = posix_spawn(&pid, argv[0], &fa, 0, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(errp[1]);
  if (outp[1] != -1) close(outp[1]);
  if (e) { close(errp[0]); if (outp[0] != -1) close(outp[0]); errno = e; return -1; }
  collect(pid, errp[0], outp[0], out_sa, r);
  return 0;
}

int sm_run_injector(const struct config *cfg, int in, int out, struct sm_result *r)
{
  char *argv[2] = { (char *)cfg->injector, 0 };
  int errp[2];
  pid_t pid;
  if (!inject_inline_ok(cfg)) return sm_run(argv, in, out, 0, r);
  if (pipe2(errp, O_CLOEXEC) == -1) return -1;
  pid = inject_fork(cfg, 0, in, out, errp[1]);
  close(errp[1]);
  if (pid == -1) { close(errp[0]); return -1; }
  collect(pid, errp[0], -1, 0, r);
  return 0;
}

void sm_exec(char *const argv[])
{
  execve(argv[0], argv, environ);
}

int sm_queue_allowed(const struct config *cfg)
{
  stralloc q = { 0 };
  struct stat st;
  int ok;
  if (getuid() == 0) return 1;
  if (!stralloc_copys(&q, cfg->spool) || !stralloc_cats(&q, "/" SPOOL_QUEUE) || !stralloc_0(&q)) return 1;
  ok = stat(q.s, &st) == -1 || st.st_uid == getuid();   /* no spool: queue-run says why */
  stralloc_free(&q);
  return ok;
}

/* ------------------------------------------------------------ listing */

/* field - the k-th TAB-separated field of line[0..len) */
static const char *field(const char *line, size_t len, unsigned int k, size_t *flen)
{
  size_t start = 0, end;
  for (;;) {
    end = start + byte_chr(line + start, len - start, '\t');
    if (!k--) { *flen = end - start; return line + start; }
    if (end >= len) { *flen = 0; return 0; }
    start = end + 1;
  }
}

/* utf8_len - length of a well-formed UTF-8 sequence at s, or 0 */
static size_t utf8_len(const unsigned char *s, size_t len)
{
  size_t n, k;
  unsigned int cp;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) { n = 2; cp = s[0] & 0x1f; }
  else if (s[0] >= 0xe0 && s[0] <= 0xef) { n = 3; cp = s[0] & 0x0f; }
  else if (s[0] >= 0xf0 && s[0] <= 0xf4) { n = 4; cp = s[0] & 0x07; }
  else return 0;
  if (len < n) return 0;
  for (k = 1; k < n; k++) {
    if ((s[k] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[k] & 0x3f);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  return n;
}

int sm_json_string(stralloc *out, const char *s, size_t len)
{
  static const char hex[] = "0123456789abcdef";
  size_t i = 0;
  if (!stralloc_cats(out, "\"")) return -1;
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    size_t n;
    if (c == '"' || c == '\\') { char e[2] = { '\\', (char)c }; if (!stralloc_catb(out, e, 2)) return -1; i++; }
    else if (c < 32 || c == 127) {
      char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
      if (!stralloc_catb(out, e, 6)) return -1;
      i++;
    } else if (c < 0x80) { if (!stralloc_catb(out, s + i, 1)) return -1; i++; }
    else if ((n = utf8_len((const unsigned char *)s + i, len - i))) { if (!stralloc_catb(out, s + i, n)) return -1; i += n; }
    else { if (!stralloc_cats(out, "\\ufffd")) return -1; i++; }
  }
  return stralloc_cats(out, "\"") ? 0 : -1;
}

/* json_number - a field that must be a decimal number */
static int json_number(stralloc *out, const char *s, size_t len)
{
  unsigned long v;
  if (!len || len > 20 || scan_ulongn(s, len, &v) != len) return -1;
  return stralloc_catb(out, s, len) ? 0 : -1;
}

/* json_key - ,"key": (comma unless first) */
static int json_key(stralloc *out, const char *key, int first)
{
  return (first || stralloc_cats(out, ",")) && stralloc_cats(out, "\"") && stralloc_cats(out, key)
      && stralloc_cats(out, "\":") ? 0 : -1;
}

/* json_m - start a message object from an M line */
static int json_m(stralloc *out, const char *line, size_t len)
{
  size_t l[5];
  const char *f[5];
  unsigned int k;
  for (k = 0; k < 5; k++) if (!(f[k] = field(line, len, k, &l[k]))) return -1;
  return stralloc_cats(out, "{") && json_key(out, "queue_id", 1) == 0 && sm_json_string(out, f[1], l[1]) == 0
      && json_key(out, "arrival_time", 0) == 0 && json_number(out, f[3], l[3]) == 0
      && json_key(out, "message_size", 0) == 0 && json_number(out, f[2], l[2]) == 0
      && json_key(out, "sender", 0) == 0 && sm_json_string(out, f[4], l[4]) == 0
      && stralloc_cats(out, ",\"recipients\":[") ? 0 : -1;
}

/* json_r - one recipient object from an R line */
static int json_r(stralloc *out, const char *line, size_t len, int first)
{
  static const char *const keys[] = { 0, 0, "address", "status", "tries", "next_try", "destination", "reason" };
  size_t l;
  unsigned int k;
  if ((!first && !stralloc_cats(out, ",")) || !stralloc_cats(out, "{")) return -1;
  for (k = 2; k < 8; k++) {
    const char *f = field(line, len, k, &l);
    if (!f || json_key(out, keys[k], k == 2) == -1) return -1;
    if ((k == 4 || k == 5) ? json_number(out, f, l) == -1 : sm_json_string(out, f, l) == -1) return -1;
  }
  return stralloc_cats(out, "}") ? 0 : -1;
}

int sm_json(const char *text, size_t len, stralloc *out)
{
  size_t pos = 0;
  int in_msg = 0, first = 1;
  while (pos < len) {
    size_t n = byte_chr(text + pos, len - pos, '\n');
    const char *line = text + pos;
    pos += n + 1;
    if (n == 0) continue;
    if (line[0] == 'M' && n > 1 && line[1] == '\t') {
      if (in_msg && !stralloc_cats(out, "]}\n")) return -1;
      if (json_m(out, line, n) == -1) return -1;
      in_msg = 1; first = 1;
    } else if (line[0] == 'R' && n > 1 && line[1] == '\t' && in_msg) {
      if (json_r(out, line, n, first) == -1) return -1;
      first = 0;
    } else return -1;
  }
  if (in_msg && !stralloc_cats(out, "]}\n")) return -1;
  return 0;
}

/* contains - sub occurs in s[0..len), ASCII case ignored */
static int contains(const char *s, size_t len, const char *sub)
{
  size_t n = str_len(sub), i;
  for (i = 0; i + n <= len; i++)
    if (!case_diffb(s + i, n, sub)) return 1;
  return 0;
}

long sm_select_ids(const char *text, size_t len, char kind, const char *sub, stralloc *ids)
{
  size_t pos = 0, l, idl = 0;
  const char *id = 0, *f;
  long count = 0;
  int taken = 0;
  ids->len = 0;
  while (pos < len) {
    size_t n = byte_chr(text + pos, len - pos, '\n');
    const char *line = text + pos;
    int match = 0;
    pos += n + 1;
    if (n < 2 || line[1] != '\t') continue;
    if (line[0] == 'M') {
      id = field(line, n, 1, &idl);
      taken = 0;
      if (kind == 'I') match = contains(id, idl, sub);
      else if (kind == 'S' && (f = field(line, n, 4, &l))) match = contains(f, l, sub);
    } else if (line[0] == 'R' && id && kind == 'R' && (f = field(line, n, 2, &l))) {
      size_t sl;
      const char *st = field(line, n, 3, &sl);
      match = contains(f, l, sub) && st && sl == 7 && !byte_diff(st, 7, "pending");
    }
    if (match && !taken && id) {
      if (!stralloc_catb(ids, id, idl) || !stralloc_0(ids)) return -1;
      taken = 1;
      count++;
    }
  }
  return count;
}
