/* result.c - recipients in, results out (DESIGN.md delivery protocol):
 * one line per recipient on fd 1, "rcpt TAB ok|passed|defer|fail TAB text", the
 * text a server reply with its enhanced status code, or our own reason
 * starting with one.  A recipient still without a result when the lines
 * are written is deferred. */
#include <unistd.h>
#include "byte.h"
#include "str.h"
#include "address.h"
#include "delivery.h"
#include "rs.h"

/* rcpt_parse - "address[TAB Nnotify][TAB Otype;xtext]" (the envelope(5)
 * tags of a recipient) into r; the TABs in arg become NULs.  0, or -1 */
int rcpt_parse(struct rcpt *r, char *arg)
{
  size_t n = str_chr(arg, '\t');
  char *p = arg + n;
  byte_zero(r, sizeof *r);
  r->addr = arg;
  if (address_check(arg, n, ADDR_UTF8)) return -1;
  while (*p) {
    char *f;
    *p++ = 0;
    f = p;
    p += str_chr(p, '\t');
    if (f[0] == 'N' && !r->notify && p > f + 1) r->notify = f + 1;
    else if (f[0] == 'O' && !r->orcpt && p > f + 1 && byte_chr(f, (size_t)(p - f), ';') < (size_t)(p - f)) r->orcpt = f + 1;
    else return -1;
    if (byte_chr(f, (size_t)(p - f), ' ') < (size_t)(p - f)) return -1;
  }
  return 0;
}

/* result_set - state and text for r (controls become blanks, bounded) */
void result_set(struct rcpt *r, int state, const char *text)
{
  size_t i;
  r->state = state;
  for (i = 0; text[i] && i < RS_TEXT_MAX; i++)
    r->text[i] = (unsigned char)text[i] < 32 || text[i] == 127 ? ' ' : text[i];
  r->text[i] = 0;
}

/* result_all - state and text for every recipient without a result */
void result_all(struct job *j, int state, const char *text)
{
  unsigned int i;
  for (i = 0; i < j->n; i++)
    if (j->r[i].state == RES_NONE) result_set(&j->r[i], state, text);
}

/* result_reply - the server's reply as r's result, with where it came
 * from: "550 5.1.1 text (mx.example.net[192.0.2.1] after RCPT TO)" */
void result_reply(struct rcpt *r, const struct reply *rep, const char *where)
{
  char t[RS_TEXT_MAX + 1];
  size_t n, w = str_len(where);
  reply_format(rep, t, sizeof t);
  n = str_len(t);
  if (w && n + w + 3 < sizeof t) {
    t[n++] = ' '; t[n++] = '(';
    n += str_copy(t + n, where);
    t[n++] = ')'; t[n] = 0;
  }
  result_set(r, rep->code < 300 ? RES_OK : rep->code < 500 ? RES_DEFER : RES_FAIL, t);
}

/* result_write - the lines on fd; 0, or -1 when they cannot be written.
 * A recipient accepted by a server that offered DSN is "passed", not
 * "ok": the server has the DSN request (RFC 3461: no "relayed" notice
 * from us then; it reports the delivery itself). */
int result_write(const struct job *j, int fd)
{
  static const int res[] = { DELIVERY_DEFER, DELIVERY_OK, DELIVERY_DEFER, DELIVERY_FAIL };   /* by RES_* */
  char space[8192];
  buffer b;
  unsigned int i;
  buffer_init(&b, (ssize_t (*)())write, fd, space, sizeof space);
  for (i = 0; i < j->n; i++) {
    const struct rcpt *r = &j->r[i];
    const char *text = r->state == RES_NONE ? "4.4.0 no result for this recipient" : r->text;
    if (delivery_put(&b, r->addr, r->state == RES_OK && r->dsn ? DELIVERY_PASSED : res[r->state], text) == -1) return -1;
  }
  return buffer_flush(&b);
}
