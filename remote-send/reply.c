/* reply.c - SMTP replies (RFC 5321 4.2) and EHLO keywords, from untrusted
 * servers: every line is checked (three digits, the same code on each
 * line, '-' or ' ' after it), the number of lines and the text kept are
 * bounded, controls never reach a result line or the log.  Pure functions
 * on memory: the fuzz target and the unit tests call them directly. */
#include "byte.h"
#include "case.h"
#include "str.h"
#include "rs.h"

void reply_init(struct reply *r)
{
  r->code = 0;
  r->done = 0;
  r->lines = 0;
  r->status[0] = 0;
  r->text[0] = 0;
  r->len = 0;
}

/* digits - count of decimal digits at s, at most max */
static size_t digits(const char *s, size_t len, size_t max)
{
  size_t i = 0;
  while (i < len && i < max && s[i] >= '0' && s[i] <= '9') i++;
  return i;
}

/* status_len - length of an enhanced status code "c.sss.ddd" of class c at
 * s (RFC 3463: 1-3 digits, 1-3 digits) followed by a blank or the end; 0 none */
static size_t status_len(const char *s, size_t len, char c)
{
  size_t a, b;
  if (len < 5 || s[0] != c || s[1] != '.') return 0;
  a = digits(s + 2, len - 2, 3);
  if (!a || 2 + a >= len || s[2 + a] != '.') return 0;
  b = digits(s + 3 + a, len - 3 - a, 3);
  if (!b) return 0;
  if (3 + a + b < len && s[3 + a + b] != ' ') return 0;
  return 3 + a + b;
}

/* append - text to r->text, controls as '?', bounded */
static void append(struct reply *r, const char *s, size_t len)
{
  size_t i;
  if (r->len && r->len < RS_REPLY_TEXT_MAX && len) r->text[r->len++] = ' ';
  for (i = 0; i < len && r->len < RS_REPLY_TEXT_MAX; i++) {
    unsigned char c = (unsigned char)s[i];
    r->text[r->len++] = c < 32 || c == 127 ? '?' : (char)c;
  }
  r->text[r->len] = 0;
}

/* reply_line - one line of a reply, without its LF (a CR before it is
 * removed here): 1 the reply is complete, 0 more lines follow, -1 the line
 * is not part of a valid reply */
int reply_line(struct reply *r, const char *line, size_t len)
{
  unsigned long code;
  size_t st;
  int final;
  if (r->done) return -1;
  if (len && line[len - 1] == '\r') len--;
  if (len < 3 || digits(line, len, 3) != 3 || line[0] < '2' || line[0] > '5') return -1;
  if (len > 3 && line[3] != ' ' && line[3] != '-') return -1;
  final = len == 3 || line[3] == ' ';
  code = (unsigned long)(line[0] - '0') * 100 + (unsigned long)(line[1] - '0') * 10 + (unsigned long)(line[2] - '0');
  if (line[1] > '5') return -1;
  if (r->code && (int)code != r->code) return -1;
  if (++r->lines > RS_REPLY_LINES_MAX) return -1;
  r->code = (int)code;
  line += len > 3 ? 4 : 3;
  len -= len > 3 ? 4 : 3;
  st = status_len(line, len, (char)('0' + r->code / 100));
  if (st && r->lines == 1 && st < sizeof r->status) { byte_copy(r->status, st, line); r->status[st] = 0; }
  if (st && st == str_len(r->status) && !byte_diff(line, st, r->status)) {
    line += st; len -= st;
    while (len && *line == ' ') { line++; len--; }
  }
  append(r, line, len);
  r->done = final;
  return final;
}

/* reply_format - "550 5.1.1 text" into out[max] (NUL-terminated): the
 * enhanced status code is the server's, or X.0.0 of the reply's class */
void reply_format(const struct reply *r, char *out, size_t max)
{
  char head[32];
  size_t n = 0, i;
  if (!max) return;
  head[n++] = (char)('0' + r->code / 100 % 10);
  head[n++] = (char)('0' + r->code / 10 % 10);
  head[n++] = (char)('0' + r->code % 10);
  head[n++] = ' ';
  if (r->status[0]) n += str_copy(head + n, r->status);
  else { head[n++] = head[0]; n += str_copy(head + n, ".0.0"); }
  if (r->len) head[n++] = ' ';
  for (i = 0; i < n && i + 1 < max; i++) out[i] = head[i];
  for (n = 0; n < r->len && i + 1 < max; n++) out[i++] = r->text[n];
  out[i] = 0;
}

void ehlo_init(struct ehlo *e)
{
  byte_zero(e, sizeof *e);
}

/* is - the word w[0..len) is keyword k, case ignored */
static int is(const char *w, size_t len, const char *k)
{
  return str_len(k) == len && !case_diffb(w, len, k);
}

/* word - the next blank-separated word of s[*pos..len) */
static size_t word(const char *s, size_t len, size_t *pos, const char **w)
{
  size_t n = 0;
  while (*pos < len && (s[*pos] == ' ' || s[*pos] == '=')) (*pos)++;
  *w = s + *pos;
  while (*pos < len && s[*pos] != ' ' && s[*pos] != '=') { (*pos)++; n++; }
  return n;
}

/* ehlo_line - one EHLO keyword line (the text after "250-"; not the first
 * line, which names the server) */
void ehlo_line(struct ehlo *e, const char *s, size_t len)
{
  const char *w;
  size_t pos = 0, n = word(s, len, &pos, &w);
  if (is(w, n, "PIPELINING")) e->pipelining = 1;
  else if (is(w, n, "8BITMIME")) e->eightbit = 1;
  else if (is(w, n, "SMTPUTF8")) e->smtputf8 = 1;
  else if (is(w, n, "DSN")) e->dsn = 1;
  else if (is(w, n, "STARTTLS")) e->starttls = 1;
  else if (is(w, n, "SIZE")) {
    unsigned long v = 0;
    n = word(s, len, &pos, &w);
    e->size_given = 1;
    size_t i;
    n = n < 20 && digits(w, n, 20) == n ? n : 0;   /* not a number: no limit known */
    for (i = 0; i < n; i++) v = v * 10 + (unsigned long)(w[i] - '0');
    e->size = v;
  } else if (is(w, n, "AUTH"))
    while ((n = word(s, len, &pos, &w)) != 0) {
      if (is(w, n, "PLAIN")) e->auth_plain = 1;
      if (is(w, n, "LOGIN")) e->auth_login = 1;
    }
}
