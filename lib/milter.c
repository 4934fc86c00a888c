/* milter.c - the milter protocol, version 6, from the MTA's side: the
 * list of milters (milter_conf_parse), the packets (a 32-bit length in
 * network order, a command letter, its data), the stages of a session in
 * order, and the header changes asked for at the end of a message.
 *
 * Every packet from a milter is read with a deadline and a bound
 * (MILTER_PACKET_MAX) and decoded by milter_reply_parse, which does no
 * I/O and is fuzzed.  A milter that cannot be reached, times out, closes
 * the connection or sends what it may not send has failed: its
 * default_action decides (tempfail: the stage and every later one in the
 * session answer 451; accept: it is skipped, with a log line).  Changes
 * a milter asked for count only once its final answer to the end of the
 * message came, so a milter that fails half way commits none of them. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include "byte.h"
#include "case.h"
#include "scan.h"
#include "str.h"
#include "log.h"
#include "milter.h"

enum { SCOPE_CONN, SCOPE_MSG };
enum { T_COMMAND, T_CONTENT };

static const char reply_reject[] = "550 5.7.1 Command rejected";
static const char reply_tempfail[] = "451 4.7.1 Service unavailable - try again later";

/* ------------------------------------------------------------ the list */

/* spec_address - "inet:HOST:PORT" or "unix:/PATH" into s; 0 or why */
static const char *spec_address(struct milter_spec *s, const char *a, size_t len)
{
  unsigned long port;
  size_t colon;
  if (len > 5 && !byte_diff(a, 5, "unix:")) {
    if (a[5] != '/' || len - 5 >= sizeof s->path) return "unix: wants an absolute path of at most 107 bytes";
    byte_copy(s->path, len - 5, a + 5);
    s->path[len - 5] = 0;
    s->unix_socket = 1;
    return 0;
  }
  if (len <= 5 || byte_diff(a, 5, "inet:")) return "not inet:HOST:PORT or unix:/PATH";
  a += 5; len -= 5;
  colon = len;
  while (colon > 0 && a[colon - 1] != ':') colon--;
  if (colon < 2 || colon - 1 >= sizeof s->host) return "inet: wants a numeric address and a port";
  if (scan_ulongn(a + colon, len - colon, &port) != len - colon || !port || port > 65535 || len == colon)
    return "inet: bad port";
  if (a[0] == '[' && a[colon - 2] == ']') { byte_copy(s->host, colon - 3, a + 1); s->host[colon - 3] = 0; }
  else { byte_copy(s->host, colon - 1, a); s->host[colon - 1] = 0; }
  s->port = (unsigned int)port;
  {
    unsigned char tmp[16];
    if (inet_pton(AF_INET, s->host, tmp) != 1 && inet_pton(AF_INET6, s->host, tmp) != 1)
      return "inet: the host must be a numeric IPv4 or IPv6 address";
  }
  return 0;
}

/* spec_option - one ",key=value" */
static const char *spec_option(struct milter_spec *s, const char *o, size_t len)
{
  static const char *const keys[3] = { "connect=", "command=", "content=" };
  unsigned long *dst[3] = { &s->connect_seconds, &s->command_seconds, &s->content_seconds };
  char v[32];
  unsigned int k;
  for (k = 0; k < 3; k++) {
    size_t kl = str_len(keys[k]);
    if (len > kl && !byte_diff(o, kl, keys[k])) {
      if (len - kl >= sizeof v) return "timeout too long";
      byte_copy(v, len - kl, o + kl);
      v[len - kl] = 0;
      if (config_duration(v, dst[k]) == -1 || !*dst[k]) return "bad timeout";
      return 0;
    }
  }
  if (len == 23 && !byte_diff(o, 23, "default_action=tempfail")) { s->default_accept = 0; return 0; }
  if (len == 21 && !byte_diff(o, 21, "default_action=accept")) { s->default_accept = 1; return 0; }
  return "unknown option (connect=, command=, content=, default_action=)";
}

/* spec_parse - one entry */
static const char *spec_parse(struct milter_spec *s, const struct config *cfg, const char *e, size_t len)
{
  size_t i = byte_chr(e, len, ','), j;
  const char *why;
  byte_zero(s, sizeof *s);
  s->connect_seconds = cfg->milter_connect_timeout;
  s->command_seconds = cfg->milter_command_timeout;
  s->content_seconds = cfg->milter_content_timeout;
  if (!str_diff(cfg->milter_default_action, "accept")) s->default_accept = 1;
  else if (str_diff(cfg->milter_default_action, "tempfail")) return "milter_default_action is not tempfail or accept";
  if (len >= sizeof s->name) return "entry too long";
  byte_copy(s->name, i, e);
  s->name[i] = 0;
  if ((why = spec_address(s, e, i))) return why;
  while (i < len) {
    i++;
    j = i + byte_chr(e + i, len - i, ',');
    if ((why = spec_option(s, e + i, j - i))) return why;
    i = j;
  }
  return 0;
}

const char *milter_conf_parse(struct milter_conf *mc, const char *list, const struct config *cfg)
{
  size_t i = 0, j;
  const char *why;
  mc->n = 0;
  for (;;) {
    while (list[i] == ' ' || list[i] == '\t') i++;
    if (!list[i]) return 0;
    j = i;
    while (list[j] && list[j] != ' ' && list[j] != '\t') j++;
    if (mc->n == MILTER_MAX) return "more than 8 milters";
    if ((why = spec_parse(&mc->m[mc->n], cfg, list + i, j - i))) return why;
    mc->n++;
    i = j;
  }
}

/* --------------------------------------------------------- the parser */

static uint32_t get32(const char *p)
{
  const unsigned char *u = (const unsigned char *)p;
  return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/* name_ok - a header field name (RFC 5322 ftext) */
static int name_ok(const char *s, size_t len)
{
  size_t i;
  if (!len || len > 200) return 0;
  for (i = 0; i < len; i++)
    if ((unsigned char)s[i] < 33 || (unsigned char)s[i] > 126 || s[i] == ':') return 0;
  return 1;
}

/* value_ok - a header value: no NUL, each line break (LF or CRLF)
 * followed by a blank, nothing else below 32 but TAB */
static int value_ok(const char *s, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == '\r') {
      if (i + 1 >= len || s[i + 1] != '\n') return 0;
      continue;
    }
    if (c == '\n') {
      if (i + 1 >= len || (s[i + 1] != ' ' && s[i + 1] != '\t')) return 0;
      continue;
    }
    if ((c < 32 && c != '\t') || c == 127) return 0;
  }
  return 1;
}

/* cstr - a NUL-terminated string at p[0..len); its length, or -1 */
static long cstr(const char *p, size_t len)
{
  size_t n = byte_chr(p, len, 0);
  return n < len ? (long)n : -1;
}

/* name_value - "name\0value\0" exactly filling p[0..len) */
static int name_value(const char *p, size_t len, struct milter_reply *r)
{
  long n = cstr(p, len), v;
  if (n < 0) return -1;
  v = cstr(p + n + 1, len - (size_t)n - 1);
  if (v < 0 || (size_t)(n + 1 + v + 1) != len) return -1;
  r->name = p; r->namelen = (size_t)n;
  r->value = p + n + 1; r->valuelen = (size_t)v;
  return name_ok(r->name, r->namelen) && value_ok(r->value, r->valuelen) ? 0 : -1;
}

int milter_reply_parse(const char *pkt, size_t len, struct milter_reply *r)
{
  const char *d = pkt + 1;
  size_t n = len ? len - 1 : 0;
  long t;
  byte_zero(r, sizeof *r);
  if (!len) return -1;
  r->cmd = pkt[0];
  switch (r->cmd) {
  case 'a': case 'c': case 'd': case 'r': case 't': case 'p': case 's': case '4': case 'f':
    return n == 0 ? 0 : -1;
  case 'O':
    if (n < 12) return -1;
    r->version = get32(d); r->actions = get32(d + 4); r->protocol = get32(d + 8);
    r->symlists = d + 12; r->symlistslen = n - 12;
    return 0;
  case 'y': case 'q':
    t = cstr(d, n);
    if (t < 0 || (size_t)t + 1 != n || t == 0) return -1;
    r->value = d; r->valuelen = (size_t)t;
    return 0;
  case 'h':
    return name_value(d, n, r);
  case 'i': case 'm':
    if (n < 4) return -1;
    r->index = get32(d);
    return name_value(d + 4, n - 4, r);
  case '+': case '-': case '2': case 'e': case 'b':
    return 0;                     /* actions we refused: recognised, then refused by the caller */
  default:
    return -1;
  }
}

/* line_ok - one reply line: "ddd" then ' ' or '-' or its end, printable */
static int line_ok(const char *s, size_t len, char cls)
{
  size_t i;
  if (len < 3 || len > MILTER_REPLY_LINE_MAX || s[0] != cls) return 0;
  if (s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9') return 0;
  if (len > 3 && s[3] != ' ' && s[3] != '-') return 0;
  for (i = 0; i < len; i++)
    if ((unsigned char)s[i] < 32 || s[i] == 127) return 0;
  return 1;
}

int milter_reply_text(const char *text, size_t len, char *out)
{
  size_t pos = 0, o = 0;
  unsigned int lines = 0;
  char cls;
  if (len < 3 || (text[0] != '4' && text[0] != '5')) return 0;
  cls = text[0];
  while (pos < len) {
    size_t end = pos;
    while (end < len && text[end] != '\r' && text[end] != '\n') end++;
    size_t next = end;
    if (next < len && text[next] == '\r') { if (next + 1 >= len || text[next + 1] != '\n') return 0; next += 2; }
    else if (next < len) next++;
    if (!line_ok(text + pos, end - pos, cls) || ++lines > MILTER_REPLY_LINES_MAX) return 0;
    if (lines > 1 && byte_diff(text + pos, 3, out)) return 0;   /* one code for all lines */
    if (o + (end - pos) + 3 >= MILTER_REPLY_MAX) return 0;
    if (lines > 1) { out[o++] = '\r'; out[o++] = '\n'; }
    byte_copy(out + o, end - pos, text + pos);
    out[o + 3] = next < len ? '-' : ' ';     /* replaces the line's own mark, or follows a bare code */
    o += end - pos == 3 ? 4 : end - pos;
    pos = next;
  }
  out[o] = 0;
  return cls;
}

/* ------------------------------------------------------------- set-up */

void milter_init(struct milter_set *ms, const struct milter_conf *conf)
{
  unsigned int i;
  byte_zero(ms, sizeof *ms);
  ms->conf = conf;
  ms->family = 'U';
  for (i = 0; i < MILTER_MAX; i++) { ms->m[i].fd = -1; ms->m[i].spec = i < conf->n ? &conf->m[i] : 0; }
}

int milter_macro(struct milter_set *ms, const char *name, const char *value)
{
  unsigned int i;
  for (i = 0; i < ms->nmacros; i++)
    if (!str_diff(ms->macro_name[i], name)) break;
  if (i == MILTER_MACROS_MAX) return -1;
  if (i == ms->nmacros) { ms->macro_name[i] = name; ms->nmacros++; }
  return stralloc_copys(&ms->macro_value[i], value ? value : "") && stralloc_0(&ms->macro_value[i]) ? 0 : -1;
}

void milter_client(struct milter_set *ms, const char *name, const char *addr, unsigned int port, char family)
{
  size_t n = str_len(name), a = str_len(addr);
  if (n >= sizeof ms->client_name) n = sizeof ms->client_name - 1;
  if (a >= sizeof ms->client_addr) a = sizeof ms->client_addr - 1;
  byte_copy(ms->client_name, n, name); ms->client_name[n] = 0;
  byte_copy(ms->client_addr, a, addr); ms->client_addr[a] = 0;
  ms->client_port = port;
  ms->family = family;
}

/* ----------------------------------------------------------------- I/O */

static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* wait_fd - poll fd for ev until deadline; 1 ready, 0 timed out, -1 error */
static int wait_fd(int fd, short ev, long long deadline)
{
  struct pollfd p;
  for (;;) {
    long long left = deadline - now_ms();
    int r;
    if (left <= 0) return 0;
    p.fd = fd; p.events = ev; p.revents = 0;
    r = poll(&p, 1, left > 1000000 ? 1000000 : (int)left);
    if (r == -1 && errno == EINTR) continue;
    if (r == -1) return -1;
    if (r == 1) return 1;
  }
}

static unsigned long timeout_of(const struct milter *m, int kind)
{
  return kind == T_CONTENT ? m->spec->content_seconds : m->spec->command_seconds;
}

/* put_all - len bytes to the milter within its timeout; 0 or -1 (why set) */
static int put_all(struct milter *m, const char *p, size_t len, int kind, const char **why)
{
  long long deadline = now_ms() + (long long)timeout_of(m, kind) * 1000;
  while (len) {
    ssize_t w = send(m->fd, p, len, MSG_NOSIGNAL);
    if (w > 0) { p += w; len -= (size_t)w; continue; }
    if (w == -1 && errno == EINTR) continue;
    if (w == -1 && errno != EAGAIN) { *why = "write failed"; return -1; }
    int r = wait_fd(m->fd, POLLOUT, deadline);
    if (r == 0) { *why = "timeout writing"; return -1; }
    if (r == -1) { *why = "poll failed"; return -1; }
  }
  return 0;
}

/* get_all - exactly len bytes within deadline; 0 or -1 (why set) */
static int get_all(struct milter *m, char *p, size_t len, long long deadline, const char **why)
{
  while (len) {
    ssize_t n = read(m->fd, p, len);
    if (n > 0) { p += n; len -= (size_t)n; continue; }
    if (n == 0) { *why = "connection closed by the milter"; return -1; }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) { *why = "read failed"; return -1; }
    int r = wait_fd(m->fd, POLLIN, deadline);
    if (r == 0) { *why = "timeout waiting for the milter"; return -1; }
    if (r == -1) { *why = "poll failed"; return -1; }
  }
  return 0;
}

/* packet_add - one packet (length, cmd, data) after those waiting in
 * ms->out; 0 or -1 */
static int packet_add(struct milter_set *ms, char cmd, const char *d, size_t len, const char **why)
{
  unsigned char h[5];
  uint32_t n = (uint32_t)len + 1;
  h[0] = (unsigned char)(n >> 24); h[1] = (unsigned char)(n >> 16); h[2] = (unsigned char)(n >> 8); h[3] = (unsigned char)n;
  h[4] = (unsigned char)cmd;
  if (!stralloc_catb(&ms->out, (char *)h, 5) || !stralloc_catb(&ms->out, d, len)) { ms->out.len = 0; *why = "out of memory"; return -1; }
  return 0;
}

/* packet_send - one packet, with the macros waiting before it, in one
 * write: a command split over two segments would wait for the milter's
 * delayed ACK (Nagle) */
static int packet_send(struct milter_set *ms, struct milter *m, char cmd, const char *d, size_t len, int kind, const char **why)
{
  int r;
  if (packet_add(ms, cmd, d, len, why) == -1) return -1;
  r = put_all(m, ms->out.s, ms->out.len, kind, why);
  ms->out.len = 0;
  return r;
}

/* packet_read - one packet into ms->in, decoded into r; 0 or -1 */
static int packet_read(struct milter_set *ms, struct milter *m, int kind, struct milter_reply *r, const char **why)
{
  long long deadline = now_ms() + (long long)timeout_of(m, kind) * 1000;
  char h[4];
  uint32_t n;
  if (get_all(m, h, 4, deadline, why) == -1) return -1;
  n = get32(h);
  if (n == 0 || n > MILTER_PACKET_MAX) { *why = "packet length out of bounds"; return -1; }
  if (!stralloc_ready(&ms->in, n)) { *why = "out of memory"; return -1; }
  if (get_all(m, ms->in.s, n, deadline, why) == -1) return -1;
  ms->in.len = n;
  if (milter_reply_parse(ms->in.s, n, r) == -1) { *why = "malformed packet"; return -1; }
  return 0;
}

/* ------------------------------------------------------------ failures */

/* log_milter - one line about a milter */
static void log_milter(struct milter_set *ms, const struct milter *m, const char *status, const char *detail)
{
  log_event(ms->log_id, "milter", m->spec->name, "status", status, "detail", detail, (char *)0);
}

/* fail - the milter failed: close it; its default action decides */
static int fail(struct milter_set *ms, struct milter *m, const char *why)
{
  if (m->fd != -1) close(m->fd);
  m->fd = -1;
  m->failed = 1;
  str_copy(ms->why, "milter ");
  byte_copy(ms->why + 7, str_len(m->spec->name) < 150 ? str_len(m->spec->name) + 1 : 1, m->spec->name);
  log_milter(ms, m, m->spec->default_accept ? "skipped" : "tempfail", why);
  if (m->spec->default_accept) return MILTER_CONTINUE;
  str_copy(ms->reply, reply_tempfail);
  return MILTER_TEMPFAIL;
}

/* usable - may stage scope go to m?  *v is set for a failed tempfail milter */
static int usable(struct milter_set *ms, struct milter *m, int scope, int *v)
{
  *v = MILTER_CONTINUE;
  if (m->failed) {
    if (!m->spec->default_accept) { str_copy(ms->reply, reply_tempfail); *v = MILTER_TEMPFAIL; }
    return 0;
  }
  if (m->fd == -1 || m->done_conn) return 0;
  return !(scope == SCOPE_MSG && m->done_msg);
}

/* ------------------------------------------------------------- stages */

/* send_macros - every macro with a value, before command cmd */
static int send_macros(struct milter_set *ms, char cmd, const char **why)
{
  static stralloc d;
  unsigned int i;
  if (!stralloc_copyb(&d, &cmd, 1)) { *why = "out of memory"; return -1; }
  for (i = 0; i < ms->nmacros; i++) {
    if (ms->macro_value[i].len <= 1) continue;
    if (!stralloc_cats(&d, ms->macro_name[i]) || !stralloc_catb(&d, "", 1) ||
        !stralloc_catb(&d, ms->macro_value[i].s, ms->macro_value[i].len)) { *why = "out of memory"; return -1; }
  }
  if (d.len == 1) return 0;
  return packet_add(ms, 'D', d.s, d.len, why);     /* goes with the command */
}

/* refusal - the verdict of a reply letter; -1 if it is none */
static int refusal(struct milter_set *ms, const struct milter_reply *r)
{
  switch (r->cmd) {
  case 'r': str_copy(ms->reply, reply_reject); return MILTER_REJECT;
  case 't': str_copy(ms->reply, reply_tempfail); return MILTER_TEMPFAIL;
  case 'd': return MILTER_DISCARD;
  case 'y': {
    int c = milter_reply_text(r->value, r->valuelen, ms->reply);
    if (c == '5') return MILTER_REJECT;
    if (c == '4') return MILTER_TEMPFAIL;
    /* malformed or over-long: the class stays, the text is ours */
    log_event(ms->log_id, "status", "milter-reply-refused", "detail", "malformed or over-long custom reply", (char *)0);
    if (r->valuelen && r->value[0] == '4') { str_copy(ms->reply, reply_tempfail); return MILTER_TEMPFAIL; }
    str_copy(ms->reply, reply_reject);
    return MILTER_REJECT;
  }
  default: return -1;
  }
}

/* answer - the milter's answer to a stage (not the end of the message) */
static int answer(struct milter_set *ms, struct milter *m, int scope, int body, int kind)
{
  struct milter_reply r;
  const char *why;
  int v;
  for (;;) {
    if (packet_read(ms, m, kind, &r, &why) == -1) return fail(ms, m, why);
    if (r.cmd == 'p') continue;                 /* progress: the clock starts again */
    if (r.cmd == 'c') return MILTER_CONTINUE;
    if (r.cmd == 'a') { if (scope == SCOPE_CONN) m->done_conn = 1; else m->done_msg = 1; return MILTER_CONTINUE; }
    if (r.cmd == 's' && body) { m->skip_body = 1; return MILTER_CONTINUE; }
    if (r.cmd == '4' || r.cmd == 'f') return fail(ms, m, "the milter shut down");
    if ((v = refusal(ms, &r)) != -1) {
      log_event(ms->log_id, "milter", m->spec->name, "status", v == MILTER_DISCARD ? "discard" : v == MILTER_REJECT ? "reject" : "tempfail",
                "reply", v == MILTER_DISCARD ? "" : ms->reply, (char *)0);
      return v;
    }
    return fail(ms, m, "unexpected reply for this stage");
  }
}

/* stage - one event to every milter in order; the first refusal wins */
static int stage(struct milter_set *ms, char cmd, const char *d, size_t len, uint32_t no, uint32_t nr, int scope, int kind)
{
  unsigned int i;
  int v;
  for (i = 0; i < ms->conf->n; i++) {
    struct milter *m = &ms->m[i];
    const char *why;
    if (!usable(ms, m, scope, &v)) { if (v != MILTER_CONTINUE) return v; continue; }
    if (m->protocol & no) continue;
    if (scope == SCOPE_MSG) m->in_msg = 1;
    if ((cmd != 'L' && cmd != 'B' && send_macros(ms, cmd, &why) == -1) ||
        packet_send(ms, m, cmd, d, len, kind, &why) == -1) {
      if ((v = fail(ms, m, why)) != MILTER_CONTINUE) return v;
      continue;
    }
    if (m->protocol & nr) continue;
    if ((v = answer(ms, m, scope, cmd == 'B', kind)) != MILTER_CONTINUE) return v;
  }
  return MILTER_CONTINUE;
}

/* open_socket - a non-blocking connection to the milter */
static int open_socket(struct milter *m, const char **why)
{
  const struct milter_spec *s = m->spec;
  struct sockaddr_storage ss;
  socklen_t sl;
  int fd, r;
  byte_zero(&ss, sizeof ss);
  if (s->unix_socket) {
    struct sockaddr_un *u = (struct sockaddr_un *)&ss;
    u->sun_family = AF_UNIX;
    byte_copy(u->sun_path, str_len(s->path) + 1, s->path);
    sl = sizeof *u;
  } else if (inet_pton(AF_INET, s->host, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
    ((struct sockaddr_in *)&ss)->sin_family = AF_INET;
    ((struct sockaddr_in *)&ss)->sin_port = htons((uint16_t)s->port);
    sl = sizeof(struct sockaddr_in);
  } else {
    inet_pton(AF_INET6, s->host, &((struct sockaddr_in6 *)&ss)->sin6_addr);
    ((struct sockaddr_in6 *)&ss)->sin6_family = AF_INET6;
    ((struct sockaddr_in6 *)&ss)->sin6_port = htons((uint16_t)s->port);
    sl = sizeof(struct sockaddr_in6);
  }
  fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd == -1) { *why = "unable to make a socket"; return -1; }
  if (!s->unix_socket) {      /* each packet is complete when written: never wait to fill a segment */
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  if (connect(fd, (struct sockaddr *)&ss, sl) == -1) {
    int err = 0;
    socklen_t el = sizeof err;
    if (errno != EINPROGRESS) { close(fd); *why = "unable to connect"; return -1; }
    r = wait_fd(fd, POLLOUT, now_ms() + (long long)s->connect_seconds * 1000);
    if (r != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == -1 || err) {
      close(fd);
      *why = r == 0 ? "connect timeout" : "unable to connect";
      return -1;
    }
  }
  return fd;
}

/* negotiate - SMFIC_OPTNEG: version 6, our actions and protocol steps;
 * a milter that asks for a step we did not offer has failed.  Actions
 * beyond ours are not refused here: rspamd declares every action whatever
 * the MTA offers, and uses few.  The use of one we do not carry out ends
 * the message with a temporary failure and a log line (eom_one). */
static int negotiate(struct milter_set *ms, struct milter *m, const char **why)
{
  char d[12];
  struct milter_reply r;
  uint32_t w[3] = { MILTER_VERSION, MILTER_ACTIONS, (uint32_t)MILTER_PROTOCOL };
  unsigned int i;
  for (i = 0; i < 3; i++) {
    d[4 * i] = (char)(w[i] >> 24); d[4 * i + 1] = (char)(w[i] >> 16);
    d[4 * i + 2] = (char)(w[i] >> 8); d[4 * i + 3] = (char)w[i];
  }
  if (packet_send(ms, m, 'O', d, 12, T_COMMAND, why) == -1) return -1;
  if (packet_read(ms, m, T_COMMAND, &r, why) == -1) return -1;
  if (r.cmd != 'O') { *why = "no option negotiation reply"; return -1; }
  if (r.version < 2 || r.version > MILTER_VERSION) { *why = "unsupported protocol version"; return -1; }
  if (r.protocol & ~(uint32_t)MILTER_PROTOCOL) { *why = "the milter wants protocol steps postern did not offer"; return -1; }
  m->actions = r.actions;
  m->protocol = r.protocol;
  return 0;
}

/* connect_all - connect and negotiate with every milter not yet tried,
 * then SMFIC_CONNECT */
static int connect_all(struct milter_set *ms)
{
  static stralloc d;
  unsigned int i;
  int v;
  if (ms->connected) return ms->session_verdict;
  ms->connected = 1;
  for (i = 0; i < ms->conf->n; i++) {
    struct milter *m = &ms->m[i];
    const char *why;
    if ((m->fd = open_socket(m, &why)) == -1 || negotiate(ms, m, &why) == -1) {
      if ((v = fail(ms, m, why)) != MILTER_CONTINUE) {
        byte_copy(ms->session_reply, sizeof ms->reply, ms->reply);
        return ms->session_verdict = v;
      }
    }
  }
  d.len = 0;
  if (!stralloc_cats(&d, ms->client_name) || !stralloc_catb(&d, "", 1) || !stralloc_catb(&d, &ms->family, 1)) return MILTER_TEMPFAIL;
  if (ms->family != 'U') {
    char port[2] = { (char)(ms->client_port >> 8), (char)ms->client_port };
    if (!stralloc_catb(&d, port, 2) || !stralloc_cats(&d, ms->client_addr) || !stralloc_catb(&d, "", 1)) return MILTER_TEMPFAIL;
  }
  v = stage(ms, 'C', d.s, d.len, SMFIP_NOCONNECT, SMFIP_NR_CONN, SCOPE_CONN, T_COMMAND);
  if (v != MILTER_CONTINUE) {
    ms->session_verdict = v;
    byte_copy(ms->session_reply, sizeof ms->reply, ms->reply);
  }
  return v;
}

int milter_helo(struct milter_set *ms, const char *helo)
{
  unsigned int i;
  int v = connect_all(ms);
  if (v != MILTER_CONTINUE) { byte_copy(ms->reply, sizeof ms->reply, ms->session_reply); return v; }
  /* HELO again only when it changed (a new EHLO after STARTTLS) */
  for (i = 0; i < ms->conf->n; i++)
    if (ms->m[i].fd != -1 && !ms->m[i].done_conn && ms->m[i].helo.len && !str_diff(ms->m[i].helo.s, helo)) return MILTER_CONTINUE;
  v = stage(ms, 'H', helo, str_len(helo) + 1, SMFIP_NOHELO, SMFIP_NR_HELO, SCOPE_CONN, T_COMMAND);
  for (i = 0; i < ms->conf->n; i++)
    if (!stralloc_copys(&ms->m[i].helo, helo) || !stralloc_0(&ms->m[i].helo)) ms->m[i].helo.len = 0;
  if (v != MILTER_CONTINUE) { ms->session_verdict = v; byte_copy(ms->session_reply, sizeof ms->reply, ms->reply); }
  return v;
}

int milter_mail(struct milter_set *ms, const char *args, size_t len)
{
  if (ms->session_verdict != MILTER_CONTINUE) {
    byte_copy(ms->reply, sizeof ms->reply, ms->session_reply);
    return ms->session_verdict;
  }
  return stage(ms, 'M', args, len, SMFIP_NOMAIL, SMFIP_NR_MAIL, SCOPE_MSG, T_COMMAND);
}

int milter_rcpt(struct milter_set *ms, const char *args, size_t len)
{
  return stage(ms, 'R', args, len, SMFIP_NORCPT, SMFIP_NR_RCPT, SCOPE_MSG, T_COMMAND);
}

int milter_data(struct milter_set *ms)
{
  return stage(ms, 'T', "", 0, SMFIP_NODATA, SMFIP_NR_DATA, SCOPE_MSG, T_COMMAND);
}

/* ------------------------------------------------------- the message */

/* struct field - one header field: text[0..len) with its final LF */
struct field { const char *p; size_t len, namelen; };

/* field_len - the header field at p[0..len): its length with continuation
 * lines and the final LF, 0 if p does not start one; *namelen the name */
static size_t field_len(const char *p, size_t len, size_t *namelen)
{
  size_t colon = 0, i;
  while (colon < len && p[colon] != ':' && p[colon] != '\n') colon++;
  if (colon == len || p[colon] != ':') return 0;
  *namelen = colon;
  while (*namelen && (p[*namelen - 1] == ' ' || p[*namelen - 1] == '\t')) (*namelen)--;
  if (!name_ok(p, *namelen)) return 0;
  i = colon;
  for (;;) {
    while (i < len && p[i] != '\n') i++;
    if (i == len) return len;            /* the last line has no LF */
    i++;
    if (i == len || (p[i] != ' ' && p[i] != '\t')) return i;
  }
}

/* fields_split - the header fields of prefix and msg; *body is where
 * msg's header section ends (at its empty line, or at the first line that
 * is no field).  -1 if there are too many. */
static long fields_split(const char *prefix, size_t plen, const char *msg, size_t len, struct field *f, size_t max, size_t *body)
{
  size_t n = 0, pos = 0, l, nl;
  while (pos < plen && n < max && (l = field_len(prefix + pos, plen - pos, &nl))) {
    f[n].p = prefix + pos; f[n].len = l; f[n].namelen = nl; n++; pos += l;
  }
  pos = 0;
  while (pos < len && msg[pos] != '\n' && (l = field_len(msg + pos, len - pos, &nl))) {
    if (n == max) return -1;
    f[n].p = msg + pos; f[n].len = l; f[n].namelen = nl; n++; pos += l;
  }
  *body = pos;
  return (long)n;
}

/* header_packet - name\0value\0 of field f (the value from after the
 * colon, a leading blank kept only with leadspc, the final LF dropped) */
static int header_packet(stralloc *d, const struct field *f, int leadspc)
{
  size_t v = byte_chr(f->p, f->len, ':') + 1, end = f->len;
  if (end && f->p[end - 1] == '\n') end--;
  if (!leadspc && v < end && (f->p[v] == ' ' || f->p[v] == '\t')) v++;
  return stralloc_copyb(d, f->p, f->namelen) && stralloc_catb(d, "", 1) &&
         stralloc_catb(d, f->p + v, end - v) && stralloc_catb(d, "", 1) ? 0 : -1;
}

/* send_headers - every field to every milter that wants them */
static int send_headers(struct milter_set *ms, const struct field *f, long n)
{
  static stralloc d;
  unsigned int i;
  long k;
  int v;
  for (i = 0; i < ms->conf->n; i++) {
    struct milter *m = &ms->m[i];
    if (!usable(ms, m, SCOPE_MSG, &v)) { if (v != MILTER_CONTINUE) return v; continue; }
    if (m->protocol & SMFIP_NOHDRS) continue;
    for (k = 0; k < n && !m->done_msg && !m->failed; k++) {
      const char *why;
      if (header_packet(&d, &f[k], (m->protocol & SMFIP_HDR_LEADSPC) != 0) == -1) return MILTER_TEMPFAIL;
      if (packet_send(ms, m, 'L', d.s, d.len, T_CONTENT, &why) == -1) {
        if ((v = fail(ms, m, why)) != MILTER_CONTINUE) return v;
        break;
      }
      if (m->protocol & SMFIP_NR_HDR) continue;
      if ((v = answer(ms, m, SCOPE_MSG, 0, T_CONTENT)) != MILTER_CONTINUE) return v;
    }
  }
  return MILTER_CONTINUE;
}

/* send_body - the body in CRLF form, in chunks, to each milter */
static int send_body(struct milter_set *ms, const char *b, size_t len)
{
  static stralloc d;
  unsigned int i;
  int v;
  for (i = 0; i < ms->conf->n; i++) {
    struct milter *m = &ms->m[i];
    size_t pos = 0;
    if (!usable(ms, m, SCOPE_MSG, &v)) { if (v != MILTER_CONTINUE) return v; continue; }
    if (m->protocol & SMFIP_NOBODY) continue;
    m->skip_body = 0;
    while (pos < len && !m->skip_body && !m->done_msg && !m->failed) {
      const char *why;
      d.len = 0;
      while (pos < len && d.len < MILTER_CHUNK_MAX - 1) {
        size_t nl = byte_chr(b + pos, len - pos, '\n');
        size_t take = nl < MILTER_CHUNK_MAX - 1 - d.len ? nl : MILTER_CHUNK_MAX - 1 - d.len;
        if (!stralloc_catb(&d, b + pos, take)) return MILTER_TEMPFAIL;
        pos += take;
        if (take == nl && pos < len) { if (!stralloc_catb(&d, "\r\n", 2)) return MILTER_TEMPFAIL; pos++; }
      }
      if (packet_send(ms, m, 'B', d.s, d.len, T_CONTENT, &why) == -1) {
        if ((v = fail(ms, m, why)) != MILTER_CONTINUE) return v;
        break;
      }
      if (m->protocol & SMFIP_NR_BODY) continue;
      if ((v = answer(ms, m, SCOPE_MSG, 1, T_CONTENT)) != MILTER_CONTINUE) return v;
    }
  }
  return MILTER_CONTINUE;
}

int milter_edit_add(struct milter_set *ms, const struct milter_reply *r, int leadspc)
{
  struct milter_edit *e;
  unsigned long bytes = r->namelen + r->valuelen + 2;
  if (ms->nedit >= MILTER_EDITS_MAX || ms->edit_bytes + bytes > MILTER_EDIT_BYTES_MAX) return -1;
  if (ms->nedit == ms->aedit) {
    unsigned int na = ms->aedit ? 2 * ms->aedit : 16;
    struct milter_edit *ne = realloc(ms->edit, na * sizeof *ne);
    if (!ne) return -1;
    ms->edit = ne; ms->aedit = na;
  }
  e = &ms->edit[ms->nedit];
  if (!ms->pool.len && !stralloc_copyb(&ms->pool, "", 1)) return -1;
  e->op = r->cmd; e->index = r->index; e->leadspc = leadspc;
  e->name = ms->pool.len;
  if (!stralloc_catb(&ms->pool, r->name, r->namelen) || !stralloc_catb(&ms->pool, "", 1)) return -1;
  e->value = ms->pool.len;
  if (!stralloc_catb(&ms->pool, r->value, r->valuelen) || !stralloc_catb(&ms->pool, "", 1)) return -1;
  ms->nedit++;
  ms->edit_bytes += bytes;
  return 0;
}

/* eom_one - SMFIC_BODYEOB to one milter, its changes, its verdict */
static int eom_one(struct milter_set *ms, struct milter *m)
{
  unsigned int mark = ms->nedit;
  unsigned long mark_bytes = ms->edit_bytes;
  char q[MILTER_QUARANTINE_MAX];
  struct milter_reply r;
  const char *why;
  int v;
  q[0] = 0;
  if (send_macros(ms, 'E', &why) == -1 || packet_send(ms, m, 'E', "", 0, T_CONTENT, &why) == -1) return fail(ms, m, why);
  for (;;) {
    if (packet_read(ms, m, T_CONTENT, &r, &why) == -1) break;
    if (r.cmd == 'p') continue;
    if ((r.cmd == 'h' || r.cmd == 'i') && (m->actions & SMFIF_ADDHDRS)) {
      if (milter_edit_add(ms, &r, (m->protocol & SMFIP_HDR_LEADSPC) != 0) == -1) { why = "too many header changes"; break; }
      continue;
    }
    if (r.cmd == 'm' && (m->actions & SMFIF_CHGHDRS)) {
      if (milter_edit_add(ms, &r, (m->protocol & SMFIP_HDR_LEADSPC) != 0) == -1) { why = "too many header changes"; break; }
      continue;
    }
    if (r.cmd == 'q' && (m->actions & SMFIF_QUARANTINE)) {
      size_t n = r.valuelen < sizeof q - 1 ? r.valuelen : sizeof q - 1;
      size_t i;
      byte_copy(q, n, r.value);
      q[n] = 0;
      for (i = 0; i < n; i++) if ((unsigned char)q[i] < 32 || q[i] == 127) q[i] = ' ';
      continue;
    }
    if (r.cmd == 'c' || r.cmd == 'a') {
      m->in_msg = 0;
      if (q[0]) {
        str_copy(ms->quarantine, q);
        log_event(ms->log_id, "milter", m->spec->name, "status", "quarantine", "reason", q, (char *)0);
      }
      return MILTER_CONTINUE;
    }
    if ((v = refusal(ms, &r)) != -1) {
      m->in_msg = 0;
      ms->nedit = mark; ms->edit_bytes = mark_bytes;
      log_event(ms->log_id, "milter", m->spec->name, "status", v == MILTER_DISCARD ? "discard" : v == MILTER_REJECT ? "reject" : "tempfail",
                "reply", v == MILTER_DISCARD ? "" : ms->reply, (char *)0);
      return v;
    }
    why = r.cmd == '+' || r.cmd == '-' || r.cmd == '2' || r.cmd == 'e' || r.cmd == 'b'
          ? "the milter asked for an action postern does not support (change sender, recipients or body)"
          : "unexpected reply at the end of the message";
    break;
  }
  ms->nedit = mark; ms->edit_bytes = mark_bytes;   /* nothing half-changed */
  return fail(ms, m, why);
}

int milter_message(struct milter_set *ms, const char *prefix, size_t plen, const char *msg, size_t len)
{
  static struct field f[MILTER_HEADERS_MAX];
  size_t body;
  long n = fields_split(prefix, plen, msg, len, f, MILTER_HEADERS_MAX, &body);
  unsigned int i;
  int v;
  if (n < 0) { str_copy(ms->reply, "552 5.6.0 Too many header fields"); return MILTER_REJECT; }
  if ((v = send_headers(ms, f, n)) != MILTER_CONTINUE) return v;
  if ((v = stage(ms, 'N', "", 0, SMFIP_NOEOH, SMFIP_NR_EOH, SCOPE_MSG, T_CONTENT)) != MILTER_CONTINUE) return v;
  if (body < len && msg[body] == '\n') body++;    /* the empty line is not part of the body */
  if ((v = send_body(ms, msg + body, len - body)) != MILTER_CONTINUE) return v;
  for (i = 0; i < ms->conf->n; i++) {
    struct milter *m = &ms->m[i];
    if (!usable(ms, m, SCOPE_MSG, &v)) {
      if (v != MILTER_CONTINUE) return v;
      if (m->done_msg) m->in_msg = 0;
      continue;
    }
    if ((v = eom_one(ms, m)) != MILTER_CONTINUE) return v;
  }
  return MILTER_CONTINUE;
}

/* ------------------------------------------------------- the changes */

/* put_new - "name: value\n" (the value's CRLFs as LF) */
static int put_new(stralloc *out, const struct milter_set *ms, const struct milter_edit *e)
{
  const char *v = ms->pool.s + e->value;
  size_t len = str_len(v), i;
  /* with HDR_LEADSPC the value is verbatim, but one blank goes after the
   * colon when it has none (OpenDKIM's Authentication-Results:), as
   * Postfix does */
  int verbatim = e->leadspc && (v[0] == ' ' || v[0] == '\t' || v[0] == '\r' || v[0] == '\n');
  if (!stralloc_cats(out, ms->pool.s + e->name) || !stralloc_cats(out, verbatim ? ":" : ": ")) return -1;
  for (i = 0; i < len; i++)
    if (v[i] != '\r' && !stralloc_catb(out, v + i, 1)) return -1;
  return stralloc_catb(out, "\n", 1) ? 0 : -1;
}

/* struct slot - a field of the edited header: original or from an edit */
struct slot { const char *p; size_t len, namelen; const struct milter_edit *e; };

/* slot_named - does s carry header name? */
static int slot_named(const struct milter_set *ms, const struct slot *s, const char *name)
{
  size_t n = str_len(name);
  if (s->e) return !case_diffs(ms->pool.s + s->e->name, name);
  return s->namelen == n && !case_diffb(s->p, n, name);
}

/* slots_edit - apply every kept change to the slot list t[0..*n) */
static int slots_edit(const struct milter_set *ms, struct slot **t, size_t *n, size_t *a)
{
  unsigned int k;
  for (k = 0; k < ms->nedit; k++) {
    const struct milter_edit *e = &ms->edit[k];
    const char *name = ms->pool.s + e->name;
    size_t at = *n, i, seen = 0;
    int del = e->op == 'm' && !ms->pool.s[e->value];
    if (e->op == 'i') at = e->index < *n ? e->index : *n;
    if (e->op == 'm') {
      for (i = 0; i < *n; i++)
        if (slot_named(ms, &(*t)[i], name) && ++seen == (e->index ? e->index : 1)) break;
      if (i < *n) {
        if (del) { byte_copy(&(*t)[i], (*n - i - 1) * sizeof **t, &(*t)[i + 1]); (*n)--; }
        else { (*t)[i].e = e; (*t)[i].p = 0; }
        continue;
      }
      if (del) continue;            /* nothing to delete */
    }
    if (*n == *a) {
      size_t na = *a * 2 + 16;
      struct slot *nt = realloc(*t, na * sizeof *nt);
      if (!nt) return -1;
      *t = nt; *a = na;
    }
    byte_copyr(&(*t)[at + 1], (*n - at) * sizeof **t, &(*t)[at]);
    (*t)[at].e = e; (*t)[at].p = 0; (*t)[at].len = 0; (*t)[at].namelen = 0;
    (*n)++;
  }
  return 0;
}

/* edited - the fields f[0..n) with the changes into out */
static int edited(const struct milter_set *ms, const struct field *f, size_t n, stralloc *out)
{
  struct slot *t = 0;
  size_t tn = n, ta = n + 16, i;
  int r = -1;
  if (!(t = malloc(ta * sizeof *t))) return -1;
  for (i = 0; i < n; i++) { t[i].p = f[i].p; t[i].len = f[i].len; t[i].namelen = f[i].namelen; t[i].e = 0; }
  if (slots_edit(ms, &t, &tn, &ta) == -1) goto done;
  for (i = 0; i < tn; i++) {
    if (t[i].e) { if (put_new(out, ms, t[i].e) == -1) goto done; }
    else {
      if (!stralloc_catb(out, t[i].p, t[i].len)) goto done;
      if (t[i].len && t[i].p[t[i].len - 1] != '\n' && !stralloc_catb(out, "\n", 1)) goto done;
    }
  }
  r = 0;
done:
  free(t);
  return r;
}

int milter_edits_apply(const struct milter_set *ms, const char *hdr, size_t len, stralloc *out)
{
  static struct field f[MILTER_HEADERS_MAX];
  size_t body;
  long n = fields_split("", 0, hdr, len, f, MILTER_HEADERS_MAX, &body);
  if (n < 0) return -1;
  out->len = 0;
  if (edited(ms, f, (size_t)n, out) == -1) return -1;
  return stralloc_catb(out, hdr + body, len - body) ? 0 : -1;
}

int milter_write_message(const struct milter_set *ms, buffer *out, const char *prefix, size_t plen, const char *msg, size_t len)
{
  static struct field f[MILTER_HEADERS_MAX];
  static stralloc h;
  size_t body;
  long n;
  if (!ms->nedit) {     /* nothing changed: the bytes as they are */
    return buffer_put(out, prefix, plen) || buffer_put(out, msg, len) ? -1 : 0;
  }
  n = fields_split(prefix, plen, msg, len, f, MILTER_HEADERS_MAX, &body);
  h.len = 0;
  if (n < 0 || edited(ms, f, (size_t)n, &h) == -1) return -1;
  /* a header section that ended without LF had one added by edited() */
  if (body == len && len && msg[len - 1] != '\n') body = len;
  return buffer_put(out, h.s, h.len) || buffer_put(out, msg + body, len - body) ? -1 : 0;
}

void milter_abort(struct milter_set *ms)
{
  unsigned int i;
  for (i = 0; i < ms->conf->n; i++) {
    struct milter *m = &ms->m[i];
    const char *why;
    if (m->fd != -1 && m->in_msg && !m->failed && !m->done_conn)
      if (packet_send(ms, m, 'A', "", 0, T_COMMAND, &why) == -1) fail(ms, m, why);
    m->in_msg = m->done_msg = m->skip_body = 0;
  }
  ms->nedit = 0;
  ms->edit_bytes = 0;
  ms->pool.len = 0;
  ms->quarantine[0] = 0;
}

void milter_close(struct milter_set *ms)
{
  unsigned int i;
  for (i = 0; i < ms->conf->n; i++) {
    struct milter *m = &ms->m[i];
    const char *why;
    if (m->fd == -1) continue;
    if (packet_send(ms, m, 'Q', "", 0, T_COMMAND, &why) == -1) { /* it is gone anyway */ }
    close(m->fd);
    m->fd = -1;
  }
}
