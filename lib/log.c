/* log.c - key=value event lines (see log.h) */
#include <stdarg.h>
#include <stdlib.h>
#include <syslog.h>
#include <unistd.h>
#include <sys/stat.h>
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

void log_init(const char *name, int target)
{
  program = name;
  /* a set-id run's stderr and environment are its caller's: JOURNAL_STREAM
   * cannot divert its lines from syslog */
  to_syslog = target == LOGTO_SYSLOG || (target == LOGTO_AUTO && (config_setid() || !stderr_is_journal()));
  if (to_syslog) openlog("postern", LOG_PID, LOG_MAIL);
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
