/* log.c - key=value event lines (see log.h) */
#include <stdarg.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include "buffer.h"
#include "scan.h"
#include "str.h"
#include "config.h"
#include "log.h"

static const char *program = "postern";   /* prefix of every line */
static int to_syslog;                     /* 1: syslog, 0: stderr */

/* stderr_is_journal - systemd's documented test: $JOURNAL_STREAM names
 * the device and inode of fd 2 when it is connected to the journal */
static int stderr_is_journal(void)
{
  const char *js = getenv("JOURNAL_STREAM");
  unsigned long dev, ino;
  struct stat st;
  size_t n;
  if (!js || !(n = scan_ulong(js, &dev)) || js[n] != ':') return 0;
  if (!scan_ulong(js + n + 1, &ino)) return 0;
  if (fstat(2, &st) == -1) return 0;
  return st.st_dev == dev && st.st_ino == ino;
}

/* syslog_reachable - a syslog daemon takes connections on /dev/log (the
 * socket syslog(3) writes to, datagram or stream); with none, syslog(3)
 * would drop every line without a word */
static int syslog_reachable(void)
{
  static const int types[2] = { SOCK_DGRAM, SOCK_STREAM };
  struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
  int i, fd, ok = 0;
  for (i = 0; i < 2 && !ok; i++) {
    if ((fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0)) == -1) continue;
    ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
    close(fd);
  }
  return ok;
}

/* stderr_is_client - fd 2 is closed, or is the client's connection
 * (inetd hands the socket over as fds 0, 1 and 2): no place for log lines */
static int stderr_is_client(void)
{
  struct stat e, s;
  int fd;
  if (fstat(2, &e) == -1) return 1;
  if (!S_ISSOCK(e.st_mode)) return 0;
  for (fd = 0; fd < 2; fd++)
    if (fstat(fd, &s) == 0 && s.st_dev == e.st_dev && s.st_ino == e.st_ino) return 1;
  return 0;
}

/* auto_to_syslog - log = auto: stderr when it is the journal; else syslog
 * when a daemon listens on /dev/log; with none, stderr (a supervisor's log
 * pipe, a terminal), except where stderr is no log: the client's socket,
 * or spool-inject's fd 2, its caller's reply channel, whose callers log
 * every outcome themselves (spool-inject.8).  There syslog stays, and its
 * lines are lost until a syslog daemon listens. */
static int auto_to_syslog(const char *name)
{
  if (stderr_is_journal()) return 0;
  if (syslog_reachable()) return 1;
  return str_equal(name, "spool-inject") || stderr_is_client();
}

void log_init(const char *name, int target)
{
  program = name;
  /* a set-id run's stderr and environment are its caller's: JOURNAL_STREAM
   * cannot divert its lines from syslog */
  to_syslog = target == LOGTO_SYSLOG || (target == LOGTO_AUTO && (config_setid() || auto_to_syslog(name)));
  if (to_syslog) openlog("postern", LOG_PID, LOG_MAIL);
}

const char *log_name(void)
{
  return program;
}

static int cut;   /* the line being formatted did not fit */

/* put - append bytes to out, keeping room for "..." */
static void put(char *out, unsigned long *n, const char *s, unsigned long len)
{
  while (len && *n < LOG_LINE_MAX - 4) { out[(*n)++] = *s++; len--; }
  if (len) cut = 1;
}

/* put_value - a value, quoted if it has blanks or quotes; controls as \xHH */
static void put_value(char *out, unsigned long *n, const char *v)
{
  static const char hex[] = "0123456789abcdef";
  unsigned long i, len = str_len(v);
  int quote = len == 0;
  for (i = 0; i < len; i++)
    if (v[i] == ' ' || v[i] == '"' || v[i] == '\t') quote = 1;
  if (quote) put(out, n, "\"", 1);
  for (i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)v[i];
    if (ch < 32 || ch == 127) {
      char esc[4] = { '\\', 'x', hex[ch >> 4], hex[ch & 15] };
      put(out, n, esc, 4);
    } else if (ch == '"' || ch == '\\') {
      char esc[2] = { '\\', (char)ch };
      put(out, n, esc, 2);
    } else put(out, n, v + i, 1);
  }
  if (quote) put(out, n, "\"", 1);
}

unsigned long log_vformat(char *out, const char *id, const char *const *kv, unsigned int count)
{
  unsigned long n = 0;
  unsigned int i;
  cut = 0;
  put(out, &n, program, str_len(program));
  put(out, &n, ":", 1);
  if (id) { put(out, &n, " id=", 4); put_value(out, &n, id); }
  for (i = 0; i + 1 < count; i += 2) {
    put(out, &n, " ", 1);
    put(out, &n, kv[i], str_len(kv[i]));
    put(out, &n, "=", 1);
    put_value(out, &n, kv[i + 1] ? kv[i + 1] : "");
  }
  if (cut) { out[n++] = '.'; out[n++] = '.'; out[n++] = '.'; }
  return n;
}

void log_event(const char *id, ...)
{
  const char *kv[64];
  char line[LOG_LINE_MAX + 1];
  unsigned int count = 0;
  va_list ap;
  va_start(ap, id);
  while (count < 64) {
    const char *k = va_arg(ap, const char *);
    if (!k) break;
    kv[count++] = k;
    kv[count++] = va_arg(ap, const char *);
  }
  va_end(ap);
  unsigned long n = log_vformat(line, id, kv, count);
  if (to_syslog) {
    line[n] = 0;
    syslog(LOG_INFO, "%s", line);
    return;
  }
  line[n++] = '\n';
  /* one write, so lines of concurrent processes never interleave; a log
   * that cannot be written must not stop mail */
  if (write(2, line, n) < 0) return;
}
