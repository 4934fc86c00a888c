/* envelope.c - read, check and write envelopes (envelope(5)).
 *
 * The one reader and writer of the injection envelope.  Everything in it is
 * checked when it is set, so an envelope that exists in memory is valid,
 * whether it came from a caller, from the spool or from our own code: an
 * address with a newline can never become a second recipient. */
#include <stdlib.h>
#include "byte.h"
#include "case.h"
#include "num.h"
#include "scan.h"
#include "address.h"
#include "envelope.h"
#include "getln.h"

static const char nomem[] = "out of memory";

void envelope_init(struct envelope *e)
{
  byte_zero(e, sizeof *e);
}

void envelope_free(struct envelope *e)
{
  stralloc_free(&e->pool);
  free(e->rcpt);
  envelope_init(e);
}

/* pool_add - store a NUL-terminated copy, return its offset (0: no memory) */
static unsigned long pool_add(struct envelope *e, const char *s, size_t len)
{
  if (e->pool.len == 0 && !stralloc_copyb(&e->pool, "", 1)) return 0;
  unsigned long off = e->pool.len;
  if (!stralloc_catb(&e->pool, s, len) || !stralloc_0(&e->pool)) return 0;
  return off;
}

/* text_ok - the A, I and H tags: no controls; UTF-8 is kept as it is */
static const char *text_ok(const char *v, size_t len)
{
  size_t i;
  if (len == 0) return "empty value";
  for (i = 0; i < len; i++)
    if ((unsigned char)v[i] < 32 || v[i] == 127) return "control character in value";
  return 0;
}

static int hexdigit(char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

/* xtext_ok - RFC 3461 xtext: printable ASCII except '+' and '=', or "+HH" */
static const char *xtext_ok(const char *v, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)v[i];
    if (c == '+') {
      if (len - i < 3 || !hexdigit(v[i + 1]) || !hexdigit(v[i + 2])) return "bad xtext escape";
      i += 2;
    } else if (c < 33 || c > 126 || c == '=') return "invalid character in xtext";
  }
  return 0;
}

/* orcpt_ok - "addr-type;xtext" (RFC 3461 4.2) */
static const char *orcpt_ok(const char *v, size_t len)
{
  size_t semi = byte_chr(v, len, ';'), i;
  if (len > ENV_ORCPT_MAX) return "ORCPT too long";
  if (semi == 0 || semi == len || semi + 1 == len) return "ORCPT is not addr-type;address";
  for (i = 0; i < semi; i++) {
    char c = v[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-'))
      return "invalid ORCPT address type";
  }
  return xtext_ok(v + semi + 1, len - semi - 1);
}

/* word_is - v equals w, ignoring ASCII case */
static int word_is(const char *v, size_t len, const char *w)
{
  size_t n = 0;
  while (w[n]) n++;
  return len == n && case_diffb(v, len, w) == 0;
}

/* notify_ok - "NEVER", or a list of SUCCESS, FAILURE, DELAY, each once */
static const char *notify_ok(const char *v, size_t len)
{
  static const char *const words[] = { "SUCCESS", "FAILURE", "DELAY" };
  unsigned int seen = 0, i;
  size_t start = 0, end;
  if (word_is(v, len, "NEVER")) return 0;
  while (start <= len) {
    end = start + byte_chr(v + start, len - start, ',');
    for (i = 0; i < 3; i++)
      if (word_is(v + start, end - start, words[i])) break;
    if (i == 3) return "invalid NOTIFY value";
    if (seen & (1U << i)) return "repeated NOTIFY value";
    seen |= 1U << i;
    start = end + 1;
  }
  return 0;
}

/* number_ok - a decimal number that fits in an unsigned long */
static const char *number_ok(const char *v, size_t len)
{
  unsigned long n;
  if (len == 0 || len > 20 || scan_ulongn(v, len, &n) != len) return "not a number";
  return 0;
}

/* tag_check - is v a valid value for message tag t? */
static const char *tag_check(char t, const char *v, size_t len, int mode)
{
  switch (t) {
  case 'E': return len > ENV_ENVID_MAX ? "ENVID too long" : len ? xtext_ok(v, len) : "empty ENVID";
  case 'R': return word_is(v, len, "FULL") || word_is(v, len, "HDRS") ? 0 : "RET is not FULL or HDRS";
  case 'B': return word_is(v, len, "7BIT") || word_is(v, len, "8BITMIME") ||
                   word_is(v, len, "BINARYMIME") ? 0 : "invalid BODY value";
  case 'U': return len ? "U takes no value" : 0;
  case 'A': case 'I': case 'H': return text_ok(v, len);
  case 'Q': return len ? text_ok(v, len) : "empty quarantine reason";   /* a milter quarantined it */
  case 'P': case 'D':          /* recorded by spool-inject itself */
    return mode == ENV_STORED ? number_ok(v, len) : "tag is reserved for spool-inject";
  default: return "unknown tag";
  }
}

/* upper - keywords are stored in their canonical upper case */
static void upper(char *s)
{
  for (; *s; s++)
    if (*s >= 'a' && *s <= 'z') *s = (char)(*s - 'a' + 'A');
}

const char *envelope_set_sender(struct envelope *e, const char *s, size_t len)
{
  const char *why;
  if (e->has_sender) return "more than one sender";
  if (e->nrcpt) return "sender after recipients";
  if (len && (why = address_check(s, len, ADDR_UTF8))) return why;
  if (!(e->sender = pool_add(e, s, len))) return nomem;
  e->has_sender = 1;
  return 0;
}

const char *envelope_set_tag(struct envelope *e, char tag, const char *v, size_t len, int mode)
{
  const char *why;
  if (tag < 'A' || tag > 'Z') return "unknown tag";
  if ((why = tag_check(tag, v, len, mode))) return why;
  if (e->nrcpt) return "message tag after recipients";
  if (e->tag[tag - 'A']) return "repeated tag";
  if (!(e->tag[tag - 'A'] = pool_add(e, v, len))) return nomem;
  if (tag == 'R' || tag == 'B') upper(e->pool.s + e->tag[tag - 'A']);
  return 0;
}

const char *envelope_add_rcpt(struct envelope *e, const char *s, size_t len)
{
  const char *why;
  if (!e->has_sender) return "recipient before sender";
  if ((why = address_check(s, len, ADDR_UTF8))) return why;
  if (e->nrcpt >= ENV_RCPT_MAX) return "too many recipients";
  if (e->nrcpt == e->arcpt) {
    unsigned int n = e->arcpt ? e->arcpt * 2 : 16;
    struct envelope_rcpt *r = realloc(e->rcpt, n * sizeof *r);
    if (!r) return nomem;
    e->rcpt = r;
    e->arcpt = n;
  }
  struct envelope_rcpt *r = &e->rcpt[e->nrcpt];
  byte_zero(r, sizeof *r);
  if (!(r->addr = pool_add(e, s, len))) return nomem;
  e->nrcpt++;
  return 0;
}

const char *envelope_set_rcpt_tag(struct envelope *e, char tag, const char *v, size_t len)
{
  const char *why;
  unsigned long *slot;
  if (!e->nrcpt) return "recipient tag before any recipient";
  struct envelope_rcpt *r = &e->rcpt[e->nrcpt - 1];
  if (tag == 'N') { slot = &r->notify; why = notify_ok(v, len); }
  else if (tag == 'O') { slot = &r->orcpt; why = orcpt_ok(v, len); }
  else return "unknown recipient tag";
  if (why) return why;
  if (*slot) return "repeated recipient tag";
  if (!(*slot = pool_add(e, v, len))) return nomem;
  if (tag == 'N') upper(e->pool.s + *slot);
  return 0;
}

const char *envelope_stamp(struct envelope *e, unsigned long uid, unsigned long when)
{
  char num[NUM_ULONG];
  unsigned long *slot[2] = { &e->tag['P' - 'A'], &e->tag['D' - 'A'] };
  unsigned long value[2] = { uid, when };
  int i;
  for (i = 0; i < 2; i++) {
    size_t n = num_fmt(num, value[i]);
    if (!(*slot[i] = pool_add(e, num, n))) return nomem;
  }
  return 0;
}

/* has_8bit - a byte >= 0x80 in a NUL-terminated string */
static int has_8bit(const char *s)
{
  while (*s) if ((unsigned char)*s++ >= 0x80) return 1;
  return 0;
}

const char *envelope_finish(const struct envelope *e)
{
  unsigned int i;
  if (!e->has_sender) return "no sender";
  if (!e->nrcpt) return "no recipients";
  if (e->tag['U' - 'A']) return 0;
  if (has_8bit(envelope_sender(e))) return "UTF-8 address without the U tag";
  for (i = 0; i < e->nrcpt; i++)
    if (has_8bit(envelope_rcpt(e, i))) return "UTF-8 address without the U tag";
  return 0;
}

/* envelope_line - apply one line (without LF) */
static const char *envelope_line(struct envelope *e, const char *x, size_t len, int mode)
{
  if (byte_chr(x, len, 0) != len || byte_chr(x, len, '\r') != len) return "NUL or CR in envelope";
  if (x[0] == 'F') return envelope_set_sender(e, x + 1, len - 1);
  if (x[0] == 'T') return envelope_add_rcpt(e, x + 1, len - 1);
  if ((x[0] == 'N' || x[0] == 'O') && e->nrcpt) return envelope_set_rcpt_tag(e, x[0], x + 1, len - 1);
  if (x[0] == 'V') return "repeated version line";
  return envelope_set_tag(e, x[0], x + 1, len - 1, mode);
}

int envelope_read(struct envelope *e, buffer *b, int mode, const char **why)
{
  char line[ENV_LINE_MAX];
  size_t len;
  int first = 1;
  *why = 0;
  for (;;) {
    int r = getln(b, line, sizeof line, &len);
    if (r == GETLN_ERROR) return ENV_IOERR;
    if (r == GETLN_EOF || r == GETLN_PARTIAL) { *why = "envelope ends before its end line"; return ENV_TRUNC; }
    if (r == GETLN_LONG) { *why = "envelope line too long"; return ENV_BAD; }
    if (first) {
      if (len != 2 || line[0] != 'V' || line[1] != '1') { *why = "not a V1 envelope"; return ENV_BAD; }
      first = 0;
      continue;
    }
    if (len == 0) break;
    if ((*why = envelope_line(e, line, len, mode))) return *why == nomem ? ENV_NOMEM : ENV_BAD;
    if (e->pool.len > ENV_BYTES_MAX) { *why = "envelope too large"; return ENV_BAD; }
  }
  if ((*why = envelope_finish(e))) return ENV_BAD;
  return ENV_OK;
}

/* put_line - one "Xvalue\n" line */
static int put_line(buffer *b, char tag, const char *v)
{
  return buffer_put(b, &tag, 1) == 0 && buffer_puts(b, v) == 0 && buffer_put(b, "\n", 1) == 0 ? 0 : -1;
}

const char *envelope_quarantine(struct envelope *e, const char *v, size_t len)
{
  const char *why = tag_check('Q', v, len, ENV_INPUT);
  if (why) return why;
  if (e->tag['Q' - 'A']) return "repeated tag";
  if (!(e->tag['Q' - 'A'] = pool_add(e, v, len))) return nomem;
  return 0;
}

int envelope_write(buffer *b, const struct envelope *e)
{
  static const char order[] = "EPDRBUAIHQ";   /* message tags, a fixed order */
  unsigned int i;
  if (envelope_finish(e)) return -1;
  if (buffer_puts(b, "V1\n") || put_line(b, 'F', envelope_sender(e))) return -1;
  for (i = 0; order[i]; i++) {
    const char *v = envelope_tag(e, order[i]);
    if (v && put_line(b, order[i], v)) return -1;
  }
  for (i = 0; i < e->nrcpt; i++) {
    if (put_line(b, 'T', envelope_rcpt(e, i))) return -1;
    if (e->rcpt[i].notify && put_line(b, 'N', envelope_rcpt_notify(e, i))) return -1;
    if (e->rcpt[i].orcpt && put_line(b, 'O', envelope_rcpt_orcpt(e, i))) return -1;
  }
  return buffer_put(b, "\n", 1) == 0 ? 0 : -1;
}

const char *envelope_sender(const struct envelope *e)
{
  return e->has_sender ? e->pool.s + e->sender : 0;
}

const char *envelope_tag(const struct envelope *e, char tag)
{
  if (tag < 'A' || tag > 'Z' || !e->tag[tag - 'A']) return 0;
  return e->pool.s + e->tag[tag - 'A'];
}

const char *envelope_rcpt(const struct envelope *e, unsigned int i)
{
  return i < e->nrcpt ? e->pool.s + e->rcpt[i].addr : 0;
}

const char *envelope_rcpt_notify(const struct envelope *e, unsigned int i)
{
  return i < e->nrcpt && e->rcpt[i].notify ? e->pool.s + e->rcpt[i].notify : 0;
}

const char *envelope_rcpt_orcpt(const struct envelope *e, unsigned int i)
{
  return i < e->nrcpt && e->rcpt[i].orcpt ? e->pool.s + e->rcpt[i].orcpt : 0;
}
