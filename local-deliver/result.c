/* result.c - building local-deliver's outcome: a sysexits(3) code and one
 * reason text that starts with an enhanced status code (RFC 3463). */
#include <errno.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include "str.h"
#include "ld.h"

/* put - append s to r->text, bounded */
static void put(struct ld_result *r, const char *s)
{
  size_t n = str_len(r->text), i;
  for (i = 0; s && s[i] && n < LD_TEXT_MAX - 1; i++) {
    char c = s[i];
    r->text[n++] = (c == '\t' || c == '\n' || c == '\r') ? ' ' : c;
  }
  r->text[n] = 0;
}

/* set - code, then "status what arg" */
static void set(struct ld_result *r, int code, const char *status, const char *what, const char *arg)
{
  r->code = code;
  r->text[0] = 0;
  put(r, status);
  put(r, " ");
  put(r, what);
  put(r, arg);
}

void ld_ok(struct ld_result *r, const char *what, const char *arg)
{
  set(r, 0, "2.0.0", what, arg);
}

void ld_temp(struct ld_result *r, const char *status, const char *what, const char *arg)
{
  set(r, EX_TEMPFAIL, status, what, arg);
}

void ld_perm(struct ld_result *r, int code, const char *status, const char *what, const char *arg)
{
  set(r, code, status, what, arg);
}

/* ld_sys - a system error is temporary; a full disk or quota says so */
void ld_sys(struct ld_result *r, const char *what, const char *arg)
{
  int e = errno;
  const char *status = e == ENOSPC ? "4.3.1" : e == EDQUOT ? "4.2.2" : "4.3.0";
  set(r, EX_TEMPFAIL, status, what, arg);
  put(r, ": ");
  put(r, strerror(e));
}

/* The message is fd 0 from the offset it had when we were started to its
 * end (queue-run hands over a one-file message at its body's offset); the
 * bytes before it are never ours to read. */
static off_t origin;

int ld_mark(int fd)
{
  off_t at = lseek(fd, 0, SEEK_CUR);
  if (at == -1) return -1;
  origin = at;
  return 0;
}

off_t ld_start(void)
{
  return origin;
}

int ld_rewind(int fd)
{
  return lseek(fd, origin, SEEK_SET) == origin ? 0 : -1;
}
