/* lines.c - reading line-by-line key/value files (lines.h) */
#include <errno.h>
#include <stdarg.h>
#include "byte.h"
#include "num.h"
#include "getln.h"
#include "lines.h"

static int blank(char c) { return c == ' ' || c == '\t'; }

int lines_check(const char *s, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c == 0) return LINES_NUL;
    if (c == '\r') return LINES_CR;
    if ((c < 32 && c != '\t') || c == 127) return LINES_CONTROL;
  }
  return LINES_GOOD;
}

const char *lines_why(int bad)
{
  switch (bad) {
  case LINES_LONG: return "line too long";
  case LINES_NUL: return "NUL byte";
  case LINES_CR: return "carriage return (DOS line end?)";
  case LINES_CONTROL: return "control character";
  }
  return "good line";
}

int lines_skip(const char *s, size_t len)
{
  size_t i = 0;
  while (i < len && blank(s[i])) i++;
  return i == len || s[i] == '#';
}

void lines_trim(const char **s, size_t *len)
{
  while (*len && blank((*s)[0])) { (*s)++; (*len)--; }
  while (*len && blank((*s)[*len - 1])) (*len)--;
}

int lines_split(const char *s, size_t len, char sep, const char **key, size_t *klen,
                const char **value, size_t *vlen)
{
  size_t k;
  lines_trim(&s, &len);
  if (sep) k = byte_chr(s, len, sep);
  else for (k = 0; k < len && !blank(s[k]); k++) {}
  if (sep && k == len) return -1;
  *key = s; *klen = k;
  *value = s + k + (sep && k < len); *vlen = len - k - (sep && k < len);
  lines_trim(key, klen);
  lines_trim(value, vlen);
  return 0;
}

int lines_report(struct lines *l, unsigned long no, ...)
{
  char num[NUM_ULONG];
  const char *part;
  va_list ap;
  int ok;
  num[num_fmt(num, no)] = 0;
  l->errors++;
  ok = stralloc_copys(&l->msg, "line ") && stralloc_cats(&l->msg, num) && stralloc_cats(&l->msg, ": ");
  va_start(ap, no);
  while (ok && (part = va_arg(ap, const char *))) ok = stralloc_cats(&l->msg, part);
  va_end(ap);
  if (!ok || !stralloc_0(&l->msg)) { errno = ENOMEM; return -1; }
  if (l->error) l->error(l->arg, l->msg.s);
  return 0;
}

void lines_init(struct lines *l, buffer *in, size_t max, long errors_max,
                void (*error)(void *arg, const char *message), void *arg)
{
  byte_zero(l, sizeof *l);
  l->in = in;
  l->max = max;
  l->errors_max = errors_max;
  l->error = error;
  l->arg = arg;
}

long lines_read(struct lines *l, lines_fn *fn, int (*end)(void *ctx), void *ctx)
{
  size_t len;
  int r, bad;
  if (!stralloc_ready(&l->line, l->max)) { errno = ENOMEM; return -1; }
  while (l->errors < l->errors_max) {
    r = getln(l->in, l->line.s, l->max, &len);
    if (r == GETLN_ERROR) return -1;
    if (r == GETLN_EOF) break;
    l->no++;
    if (r == GETLN_LONG) {
      getln_skip(l->in);   /* a read error shows up at the next getln */
      bad = LINES_LONG;
    } else bad = lines_check(l->line.s, len);
    if (fn(ctx, l->line.s, len, bad) == -1) return -1;
  }
  if (l->errors >= l->errors_max) return LINES_REPORT(l, l->no, "too many errors, giving up") == -1 ? -1 : l->errors;
  if (end && end(ctx) == -1) return -1;
  return l->errors;
}

void lines_free(struct lines *l)
{
  stralloc_free(&l->line);
  stralloc_free(&l->msg);
}
