/* test_envelope.c - the envelope of envelope(5) (lib/envelope.c): reading
 * in both modes, the canonical written form, the round trip, every refusal
 * with its reason, the building API (no header or recipient injection) and
 * envelope_stamp. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buffer.h"
#include "stralloc.h"
#include "envelope.h"
#include "t.h"

static char name[512];
static const char *named(const char *a, const char *b)
{
  snprintf(name, sizeof name, "%s: %s", a, b);
  return name;
}

/* A read op over memory that hands out at most chunk bytes per call, so the
 * reader is tested across every possible split of its input; fail makes it
 * return an error instead. */
static const char *src;
static size_t srclen, srcpos, chunk;
static int fail_read;
static ssize_t memread(int fd, char *buf, size_t len)
{
  size_t n = srclen - srcpos;
  (void)fd;
  if (fail_read) { errno = EIO; return -1; }
  if (n > len) n = len;
  if (n > chunk) n = chunk;
  memcpy(buf, src + srcpos, n);
  srcpos += n;
  return (ssize_t)n;
}

/* failwrite - a write op that always fails */
static ssize_t failwrite(int fd, const char *buf, size_t len)
{
  (void)fd; (void)buf; (void)len;
  errno = ENOSPC;
  return -1;
}

/* readenv - envelope_read of s[0..len) through a buffer of bufsize bytes fed
 * chunk bytes at a time (bufsize 0: buffer_frombuf over the whole input) */
static int readenv(struct envelope *e, const char *s, size_t len, int mode,
                   size_t bufsize, size_t chunksize, const char **why)
{
  static char space[8192];
  buffer b;
  envelope_init(e);
  if (bufsize == 0) {
    buffer_frombuf(&b, s, len);
  } else {
    src = s; srclen = len; srcpos = 0; chunk = chunksize;
    buffer_init(&b, memread, 0, space, bufsize);
  }
  return envelope_read(e, &b, mode, why);
}

/* writeenv - envelope_write into sa; 0 or -1 */
static int writeenv(const struct envelope *e, stralloc *sa)
{
  buffer b;
  int r;
  sa->len = 0;
  if (buffer_tosa(&b, sa) != 0) return -1;
  r = envelope_write(&b, e);
  if (buffer_flush(&b) == -1) r = -1;
  buffer_close(&b);
  return r;
}

struct good {
  const char *name;
  const char *in;
  int mode;
  const char *out;   /* canonical form; 0: the same as in */
};

static const struct good goods[] = {
  { "minimal envelope", "V1\nFa@b.example\nTc@d.example\n\n", ENV_INPUT, 0 },
  { "null sender", "V1\nF\nTc@d.example\n\n", ENV_INPUT, 0 },
  { "bare postmaster as recipient and sender", "V1\nFpostmaster\nTPostmaster\n\n", ENV_INPUT, 0 },
  { "several recipients keep their order",
    "V1\nFa@b.example\nTz@d.example\nTa@d.example\nTm@d.example\n\n", ENV_INPUT, 0 },
  { "every message tag in canonical order",
    "V1\nFs@x.example\nEid+2B1\nRFULL\nB8BITMIME\nU\nAuser name\nI[192.0.2.1] mail.example.net\nHhelo.example\nTa@b.example\n\n",
    ENV_INPUT, 0 },
  { "message tags in any order come out canonical",
    "V1\nHhelo.example\nFs@x.example\nIclient\nAuser\nU\nBbinarymime\nRhdrs\nEenv\nTa@b.example\n\n",
    ENV_INPUT,
    "V1\nFs@x.example\nEenv\nRHDRS\nBBINARYMIME\nU\nAuser\nIclient\nHhelo.example\nTa@b.example\n\n" },
  { "B 7bit is upper-cased", "V1\nFs@x.example\nB7bit\nTa@b.example\n\n", ENV_INPUT,
    "V1\nFs@x.example\nB7BIT\nTa@b.example\n\n" },
  { "N and O after T, N upper-cased, O kept",
    "V1\nFs@x.example\nTa@b.example\nOrfc822;A+2Bx@b.example\nNsuccess,delay\nTb@b.example\nNnever\nTc@b.example\nOrfc822;c@b.example\n\n",
    ENV_INPUT,
    "V1\nFs@x.example\nTa@b.example\nNSUCCESS,DELAY\nOrfc822;A+2Bx@b.example\nTb@b.example\nNNEVER\nTc@b.example\nOrfc822;c@b.example\n\n" },
  { "NOTIFY with all three values", "V1\nF\nTa@b.example\nNFAILURE,SUCCESS,DELAY\n\n", ENV_INPUT, 0 },
  { "P and D in a stored envelope", "V1\nFa@b.example\nD1700000000\nP1000\nTc@d.example\n\n", ENV_STORED,
    "V1\nFa@b.example\nP1000\nD1700000000\nTc@d.example\n\n" },
  { "P 0 in a stored envelope", "V1\nFa@b.example\nP0\nD0\nTc@d.example\n\n", ENV_STORED, 0 },
  { "stored envelope without P and D", "V1\nFa@b.example\nTc@d.example\n\n", ENV_STORED, 0 },
  { "UTF-8 addresses with U",
    "V1\nFj\xc3\xb6rg@b\xc3\xbc" "cher.example\nU\nT\xe7\x94\xa8\xe6\x88\xb7@example.com\n\n", ENV_INPUT, 0 },
  { "UTF-8 in A, I and H without U",
    "V1\nF\nAj\xc3\xb6rg\nI[192.0.2.1] m\xc3\xbc.example\nHm\xc3\xbc.example\nTa@b.example\n\n", ENV_INPUT, 0 },
  { "message tag before the sender", "V1\nB7BIT\nFa@b.example\nTc@d.example\n\n", ENV_INPUT,
    "V1\nFa@b.example\nB7BIT\nTc@d.example\n\n" },
  { "quoted recipient with @ and escaped quote",
    "V1\nF\"x@y\"@b.example\nT\"a\\\"b\"@d.example\nT\"c d\"@[IPv6:::1]\n\n", ENV_INPUT, 0 },
  { "ENVID with every kind of xtext", "V1\nFa@b.example\nE!az~+3D+2B09AZ\nTc@d.example\n\n", ENV_INPUT, 0 },
  { "ORCPT with a hyphenated type", "V1\nF\nTa@b.example\nOx-type;abc\n\n", ENV_INPUT, 0 },
};

/* check_good - the case reads, writes its canonical form, and that form
 * reads back and writes the same bytes */
static void check_good(const struct good *g)
{
  struct envelope e, e2;
  stralloc out = {0}, out2 = {0};
  const char *why;
  const char *want = g->out ? g->out : g->in;
  int r = readenv(&e, g->in, strlen(g->in), g->mode, 0, 0, &why);
  T_OK(named("reads", g->name), r == ENV_OK);
  if (r != ENV_OK) printf("#   result %d: %s\n", r, why ? why : "(no reason)");
  T_OK(named("no reason on success", g->name), why == 0);
  T_OK(named("writes", g->name), writeenv(&e, &out) == 0);
  T_STR(named("canonical form", g->name), want, out.s, out.len);
  r = readenv(&e2, out.s, out.len, g->mode, 0, 0, &why);
  T_OK(named("written form reads back", g->name), r == ENV_OK);
  T_OK(named("written form writes back", g->name), writeenv(&e2, &out2) == 0);
  T_STR(named("round trip is stable", g->name), want, out2.s, out2.len);
  envelope_free(&e2);
  envelope_free(&e);
  /* the same bytes through a 1-byte buffer and through 3-byte reads */
  r = readenv(&e, g->in, strlen(g->in), g->mode, 1, 1, &why);
  T_OK(named("reads through a 1-byte buffer", g->name), r == ENV_OK && writeenv(&e, &out2) == 0 &&
       out2.len == out.len && memcmp(out.s, out2.s, out.len) == 0);
  envelope_free(&e);
  r = readenv(&e, g->in, strlen(g->in), g->mode, 7, 3, &why);
  T_OK(named("reads through 3-byte reads", g->name), r == ENV_OK && writeenv(&e, &out2) == 0 &&
       out2.len == out.len && memcmp(out.s, out2.s, out.len) == 0);
  envelope_free(&e);
  stralloc_free(&out);
  stralloc_free(&out2);
}

struct bad {
  const char *name;
  const char *in;
  size_t len;          /* 0: strlen */
  int mode;
  int want;            /* ENV_BAD or ENV_TRUNC */
  const char *why;     /* a part of the reason, or 0 for any */
};

#define HEAD "V1\nFa@b.example\n"
#define RCPT "Tc@d.example\n"
static const struct bad bads[] = {
  /* framing */
  { "empty input", "", 0, ENV_INPUT, ENV_TRUNC, "end line" },
  { "only the version line", "V1\n", 0, ENV_INPUT, ENV_TRUNC, "end line" },
  { "no end line", HEAD RCPT, 0, ENV_INPUT, ENV_TRUNC, "end line" },
  { "partial last line", HEAD "Tc@d.example", 0, ENV_INPUT, ENV_TRUNC, "end line" },
  { "partial version line", "V1", 0, ENV_INPUT, ENV_TRUNC, 0 },
  { "partial last line with an unknown tag", HEAD RCPT "Xfoo", 0, ENV_INPUT, ENV_TRUNC, "end line" },
  { "no end line in stored mode", HEAD RCPT, 0, ENV_STORED, ENV_TRUNC, "end line" },
  { "no V1 line", "Fa@b.example\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "V1" },
  { "version 2", "V2\nFa@b.example\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "V1" },
  { "lower-case version", "v1\nFa@b.example\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "V1" },
  { "version line with a blank", "V1 \nFa@b.example\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "V1" },
  { "empty first line", "\n", 0, ENV_INPUT, ENV_BAD, "V1" },
  { "repeated version line", "V1\nV1\nFa@b.example\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "version" },
  { "NUL in a line", HEAD "Tc@d.ex\0ample\n\n", sizeof HEAD - 1 + 16, ENV_INPUT, ENV_BAD, "NUL" },
  { "NUL as a whole line", HEAD RCPT "\0\n\n", sizeof HEAD - 1 + sizeof RCPT - 1 + 3, ENV_INPUT, ENV_BAD, "NUL" },
  { "CR before LF", HEAD "Tc@d.example\r\n\n", 0, ENV_INPUT, ENV_BAD, "CR" },
  { "CR inside a line", HEAD "Tc@d.exa\rmple\n\n", 0, ENV_INPUT, ENV_BAD, "CR" },
  { "CR LF end line", HEAD RCPT "\r\n", 0, ENV_INPUT, ENV_BAD, 0 },
  { "CR in the version line", "V1\r\nFa@b.example\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, 0 },
  /* tags */
  { "unknown tag", HEAD "Xfoo\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "unknown tag" },
  { "unknown tag in stored mode", HEAD "Xfoo\n" RCPT "\n", 0, ENV_STORED, ENV_BAD, "unknown tag" },
  { "lower-case tag", HEAD "tc@d.example\n\n", 0, ENV_INPUT, ENV_BAD, "unknown tag" },
  { "digit as tag", HEAD "1\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "unknown tag" },
  { "control character as tag", HEAD "\x01x\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, 0 },
  { "repeated message tag", HEAD "B7BIT\nB8BITMIME\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "repeated" },
  { "repeated U", HEAD "U\nU\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "repeated" },
  { "repeated sender", HEAD "Fx@y.example\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "sender" },
  { "sender after recipients", HEAD RCPT "Fx@y.example\n\n", 0, ENV_INPUT, ENV_BAD, "sender" },
  { "message tag after T", HEAD RCPT "B7BIT\n\n", 0, ENV_INPUT, ENV_BAD, "after" },
  { "U after T", HEAD RCPT "U\n\n", 0, ENV_INPUT, ENV_BAD, "after" },
  { "E after T", HEAD RCPT "Eabc\n\n", 0, ENV_INPUT, ENV_BAD, "after" },
  { "H after T", HEAD RCPT "Hhelo\n\n", 0, ENV_INPUT, ENV_BAD, "after" },
  { "N before any T", HEAD "NSUCCESS\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, 0 },
  { "O before any T", HEAD "Orfc822;a@b\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, 0 },
  { "repeated N for one recipient", HEAD RCPT "NSUCCESS\nNFAILURE\n\n", 0, ENV_INPUT, ENV_BAD, "repeated" },
  { "repeated O for one recipient", HEAD RCPT "Orfc822;a@b\nOrfc822;a@b\n\n", 0, ENV_INPUT, ENV_BAD, "repeated" },
  { "P in an input envelope", HEAD "P1000\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "reserved" },
  { "D in an input envelope", HEAD "D1700000000\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "reserved" },
  { "P not a number in stored mode", HEAD "Pabc\n" RCPT "\n", 0, ENV_STORED, ENV_BAD, "number" },
  { "P empty in stored mode", HEAD "P\n" RCPT "\n", 0, ENV_STORED, ENV_BAD, "number" },
  { "D negative in stored mode", HEAD "D-1\n" RCPT "\n", 0, ENV_STORED, ENV_BAD, "number" },
  { "D with a trailing blank in stored mode", HEAD "D17 \n" RCPT "\n", 0, ENV_STORED, ENV_BAD, "number" },
  { "D of 21 digits in stored mode", HEAD "D100000000000000000000\n" RCPT "\n", 0, ENV_STORED, ENV_BAD, "number" },
  { "repeated P in stored mode", HEAD "P1\nP2\n" RCPT "\n", 0, ENV_STORED, ENV_BAD, "repeated" },
  /* whole-envelope rules */
  { "no recipients", HEAD "\n", 0, ENV_INPUT, ENV_BAD, "no recipients" },
  { "no sender", "V1\n\n", 0, ENV_INPUT, ENV_BAD, "no sender" },
  { "recipient before sender", "V1\n" RCPT "Fa@b.example\n\n", 0, ENV_INPUT, ENV_BAD, "before sender" },
  { "UTF-8 recipient without U", HEAD "T\xe7\x94\xa8\xe6\x88\xb7@example.com\n\n", 0, ENV_INPUT, ENV_BAD, "UTF-8" },
  { "UTF-8 sender without U", "V1\nFj\xc3\xb6rg@example.com\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "UTF-8" },
  { "UTF-8 domain without U", HEAD "Ta@b\xc3\xbc" "cher.example\n\n", 0, ENV_INPUT, ENV_BAD, "UTF-8" },
  /* addresses */
  { "empty recipient", HEAD "T\n\n", 0, ENV_INPUT, ENV_BAD, "empty" },
  { "recipient without domain", HEAD "Troot\n\n", 0, ENV_INPUT, ENV_BAD, "domain" },
  { "recipient in angle brackets", HEAD "T<c@d.example>\n\n", 0, ENV_INPUT, ENV_BAD, 0 },
  { "sender in angle brackets", "V1\nF<>\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, 0 },
  { "recipient with a blank", HEAD "Tc d@e.example\n\n", 0, ENV_INPUT, ENV_BAD, 0 },
  { "recipient with a TAB", HEAD "Tc\t@e.example\n\n", 0, ENV_INPUT, ENV_BAD, "control" },
  { "recipient with DEL", HEAD "Tc\x7f@e.example\n\n", 0, ENV_INPUT, ENV_BAD, "control" },
  { "source-routed recipient", HEAD "T@a:c@d.example\n\n", 0, ENV_INPUT, ENV_BAD, "source route" },
  /* value rules */
  { "RET not FULL or HDRS", HEAD "RPARTIAL\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "RET" },
  { "empty RET", HEAD "R\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "RET" },
  { "BODY 8BIT", HEAD "B8BIT\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "BODY" },
  { "U with a value", HEAD "Ux\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "no value" },
  { "empty A", HEAD "A\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "empty" },
  { "empty I", HEAD "I\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "empty" },
  { "empty H", HEAD "H\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "empty" },
  { "TAB in A", HEAD "Aa\tb\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "control" },
  { "DEL in H", HEAD "Hh\x7f\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "control" },
  { "ESC in I", HEAD "I\x1b[1m\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "control" },
  { "NOTIFY NEVER,SUCCESS", HEAD RCPT "NNEVER,SUCCESS\n\n", 0, ENV_INPUT, ENV_BAD, "NOTIFY" },
  { "NOTIFY SUCCESS,NEVER", HEAD RCPT "NSUCCESS,NEVER\n\n", 0, ENV_INPUT, ENV_BAD, "NOTIFY" },
  { "NOTIFY NEVER,NEVER", HEAD RCPT "NNEVER,NEVER\n\n", 0, ENV_INPUT, ENV_BAD, "NOTIFY" },
  { "NOTIFY SUCCESS twice", HEAD RCPT "NSUCCESS,SUCCESS\n\n", 0, ENV_INPUT, ENV_BAD, "repeated" },
  { "NOTIFY success and SUCCESS", HEAD RCPT "NSUCCESS,DELAY,success\n\n", 0, ENV_INPUT, ENV_BAD, "repeated" },
  { "NOTIFY empty", HEAD RCPT "N\n\n", 0, ENV_INPUT, ENV_BAD, "NOTIFY" },
  { "NOTIFY with a trailing comma", HEAD RCPT "NSUCCESS,\n\n", 0, ENV_INPUT, ENV_BAD, "NOTIFY" },
  { "NOTIFY with a leading comma", HEAD RCPT "N,SUCCESS\n\n", 0, ENV_INPUT, ENV_BAD, "NOTIFY" },
  { "NOTIFY with a blank", HEAD RCPT "NSUCCESS, FAILURE\n\n", 0, ENV_INPUT, ENV_BAD, "NOTIFY" },
  { "NOTIFY unknown word", HEAD RCPT "NSOMETIMES\n\n", 0, ENV_INPUT, ENV_BAD, "NOTIFY" },
  { "ORCPT without a semicolon", HEAD RCPT "Orfc822\n\n", 0, ENV_INPUT, ENV_BAD, "ORCPT" },
  { "ORCPT without a type", HEAD RCPT "O;a@b.example\n\n", 0, ENV_INPUT, ENV_BAD, "ORCPT" },
  { "ORCPT without an address", HEAD RCPT "Orfc822;\n\n", 0, ENV_INPUT, ENV_BAD, "ORCPT" },
  { "ORCPT type with a blank", HEAD RCPT "Orfc 822;a@b\n\n", 0, ENV_INPUT, ENV_BAD, "type" },
  { "ORCPT with a blank", HEAD RCPT "Orfc822;a b@c\n\n", 0, ENV_INPUT, ENV_BAD, "xtext" },
  { "ORCPT with =", HEAD RCPT "Orfc822;a=b@c\n\n", 0, ENV_INPUT, ENV_BAD, "xtext" },
  { "ORCPT with a short escape", HEAD RCPT "Orfc822;a@b+2\n\n", 0, ENV_INPUT, ENV_BAD, "escape" },
  { "ORCPT with a non-hex escape", HEAD RCPT "Orfc822;a+ZZb\n\n", 0, ENV_INPUT, ENV_BAD, "escape" },
  { "ORCPT with UTF-8", HEAD RCPT "Orfc822;j\xc3\xb6rg@b\n\n", 0, ENV_INPUT, ENV_BAD, "xtext" },
  { "ENVID +2", HEAD "Eabc+2\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "escape" },
  { "ENVID + at the end", HEAD "Eabc+\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "escape" },
  { "ENVID lower-case hex escape", HEAD "Eabc+2b\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "escape" },
  { "ENVID with =", HEAD "Ea=b\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "xtext" },
  { "ENVID with a blank", HEAD "Ea b\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "xtext" },
  { "empty ENVID", HEAD "E\n" RCPT "\n", 0, ENV_INPUT, ENV_BAD, "ENVID" },
};

/* check_bad - the case is refused with the expected result and reason */
static void check_bad(const struct bad *c)
{
  struct envelope e;
  const char *why;
  size_t len = c->len ? c->len : strlen(c->in);
  int r = readenv(&e, c->in, len, c->mode, 0, 0, &why);
  int good = r == c->want && why && (!c->why || strstr(why, c->why));
  T_OK(named(c->want == ENV_TRUNC ? "truncated" : "refused", c->name), good);
  if (!good) printf("#   want %d \"%s\", got %d \"%s\"\n", c->want, c->why ? c->why : "",
                    r, why ? why : "(no reason)");
  envelope_free(&e);
  /* the same through a 1-byte buffer: the split must not matter */
  r = readenv(&e, c->in, len, c->mode, 1, 1, &why);
  T_OK(named("same through a 1-byte buffer", c->name), r == c->want && why);
  envelope_free(&e);
}

/* check_read - read s, expect want and a reason containing part */
static void check_read(const char *test, const char *s, size_t len, int mode, int want, const char *part)
{
  struct envelope e;
  const char *why;
  int r = readenv(&e, s, len, mode, 0, 0, &why);
  int good = r == want && (want == ENV_OK ? why == 0 : why && (!part || strstr(why, part)));
  T_OK(test, good);
  if (!good) printf("#   want %d, got %d \"%s\"\n", want, r, why ? why : "(no reason)");
  envelope_free(&e);
}

/* envelope_with - pre, then tag and n bytes of c as one line, then post, into sa */
static void envelope_with(stralloc *sa, const char *pre, char tag, char c, size_t n, const char *post)
{
  stralloc_copys(sa, pre);
  stralloc_catb(sa, &tag, 1);
  while (n--) stralloc_catb(sa, &c, 1);
  stralloc_cats(sa, "\n");
  stralloc_cats(sa, post);
}

static void limits(void)
{
  stralloc sa = {0};
  size_t i;

  /* 1000 bytes per line, the LF not counted */
  envelope_with(&sa, HEAD, 'I', 'i', 999, RCPT "\n");
  check_read("line of 1000 bytes is accepted", sa.s, sa.len, ENV_INPUT, ENV_OK, 0);
  envelope_with(&sa, HEAD, 'I', 'i', 1000, RCPT "\n");
  check_read("line of 1001 bytes is refused", sa.s, sa.len, ENV_INPUT, ENV_BAD, "too long");
  envelope_with(&sa, HEAD, 'I', 'i', 5000, RCPT "\n");
  check_read("line of 5001 bytes is refused", sa.s, sa.len, ENV_INPUT, ENV_BAD, "too long");
  envelope_with(&sa, HEAD, 'I', 'i', 1000, "");
  check_read("overlong last line without LF is refused, not truncated", sa.s, sa.len - 1, ENV_INPUT, ENV_BAD, "too long");

  /* ENVID: 100 bytes */
  envelope_with(&sa, HEAD, 'E', 'e', 100, RCPT "\n");
  check_read("ENVID of 100 bytes is accepted", sa.s, sa.len, ENV_INPUT, ENV_OK, 0);
  envelope_with(&sa, HEAD, 'E', 'e', 101, RCPT "\n");
  check_read("ENVID of 101 bytes is refused", sa.s, sa.len, ENV_INPUT, ENV_BAD, "ENVID");
  stralloc_copys(&sa, HEAD "E");
  for (i = 0; i < 32; i++) stralloc_cats(&sa, "+2B");
  stralloc_cats(&sa, "a\n" RCPT "\n");
  check_read("ENVID of 97 bytes with escapes is accepted", sa.s, sa.len, ENV_INPUT, ENV_OK, 0);
  stralloc_copys(&sa, HEAD "E");
  for (i = 0; i < 33; i++) stralloc_cats(&sa, "+2B");
  stralloc_cats(&sa, "ab\n" RCPT "\n");
  check_read("ENVID of 101 bytes with escapes is refused", sa.s, sa.len, ENV_INPUT, ENV_BAD, "ENVID");

  /* ORCPT: 500 bytes */
  stralloc_copys(&sa, HEAD RCPT "Orfc822;");
  for (i = 0; i < 493; i++) stralloc_cats(&sa, "o");
  stralloc_cats(&sa, "\n\n");
  check_read("ORCPT of 500 bytes is accepted", sa.s, sa.len, ENV_INPUT, ENV_OK, 0);
  stralloc_copys(&sa, HEAD RCPT "Orfc822;");
  for (i = 0; i < 494; i++) stralloc_cats(&sa, "o");
  stralloc_cats(&sa, "\n\n");
  check_read("ORCPT of 501 bytes is refused", sa.s, sa.len, ENV_INPUT, ENV_BAD, "ORCPT");

  /* P and D: decimal numbers */
  check_read("P of 19 digits is accepted in stored mode", HEAD "P1234567890123456789\n" RCPT "\n",
             sizeof HEAD + sizeof RCPT + 20, ENV_STORED, ENV_OK, 0);

  /* 100000 recipients */
  stralloc_copys(&sa, HEAD);
  for (i = 0; i < ENV_RCPT_MAX; i++) stralloc_cats(&sa, "Tr@x.example\n");
  stralloc_cats(&sa, "\n");
  check_read("100000 recipients are accepted", sa.s, sa.len, ENV_INPUT, ENV_OK, 0);
  sa.len--;
  stralloc_cats(&sa, "Tr@x.example\n\n");
  check_read("100001 recipients are refused", sa.s, sa.len, ENV_INPUT, ENV_BAD, "too many");

  /* 16 MiB of envelope data: 25000 recipients of 254 bytes with an ORCPT
   * of 500 bytes each make about 18 MiB */
  stralloc_copys(&sa, HEAD);
  {
    char line[1100];
    size_t n = 0;
    line[n++] = 'T';
    memset(line + n, 'l', 64); n += 64;
    line[n++] = '@';
    memset(line + n, 'd', 63); n += 63; line[n++] = '.';
    memset(line + n, 'd', 63); n += 63; line[n++] = '.';
    memset(line + n, 'd', 61); n += 61;
    line[n++] = '\n';
    memcpy(line + n, "Orfc822;", 8); n += 8;
    memset(line + n, 'o', 493); n += 493;
    line[n++] = '\n';
    T_OK("the 254-byte recipient and 500-byte ORCPT lines are built", n == (1 + 254 + 1) + (1 + 500 + 1));
    for (i = 0; i < 25000; i++) stralloc_catb(&sa, line, n);
  }
  stralloc_cats(&sa, "\n");
  check_read("more than 16 MiB of envelope data is refused", sa.s, sa.len, ENV_INPUT, ENV_BAD, "too large");
  stralloc_free(&sa);
}

static void reader_errors(void)
{
  static const char in[] = HEAD RCPT "\n";
  struct envelope e;
  const char *why = "x";
  buffer b;
  char space[16];
  int r;

  src = in; srclen = sizeof in - 1; srcpos = 0; chunk = 4096; fail_read = 1;
  envelope_init(&e);
  buffer_init(&b, memread, 0, space, sizeof space);
  r = envelope_read(&e, &b, ENV_INPUT, &why);
  T_OK("a read error is ENV_IOERR", r == ENV_IOERR);
  envelope_free(&e);
  fail_read = 0;

  /* a write error is reported, not swallowed */
  {
    char out[4];
    int w;
    envelope_init(&e);
    r = readenv(&e, in, sizeof in - 1, ENV_INPUT, 0, 0, &why);
    buffer_init(&b, failwrite, 1, out, sizeof out);
    w = envelope_write(&b, &e);
    if (w == 0) w = buffer_flush(&b);
    T_OK("a write error makes envelope_write or the flush fail", r == ENV_OK && w == -1);
    envelope_free(&e);
  }

  /* the reader stops at the end line and leaves what follows unread */
  {
    static const char two[] = HEAD RCPT "\nV1\nFx@y.example\n";
    char rest[64];
    buffer_frombuf(&b, two, sizeof two - 1);
    envelope_init(&e);
    r = envelope_read(&e, &b, ENV_INPUT, &why);
    T_OK("reading stops at the end line", r == ENV_OK);
    ssize_t n = buffer_get(&b, rest, sizeof rest);
    T_STR("bytes after the end line are left unread", "V1\nFx@y.example\n", rest, n > 0 ? (size_t)n : 0);
    envelope_free(&e);
  }
}

/* build - the building API, and that it refuses anything that would change
 * the meaning of the written envelope */
static void build(void)
{
  struct envelope e;
  stralloc out = {0};
  const char *why;

  envelope_init(&e);
  T_OK("new envelope has no sender", envelope_sender(&e) == 0);
  T_OK("new envelope is not finished: no sender", (why = envelope_finish(&e)) && strstr(why, "sender"));
  T_OK("new envelope cannot be written", writeenv(&e, &out) == -1);
  T_OK("add_rcpt before the sender is refused", envelope_add_rcpt(&e, "a@b.example", 11) != 0);
  T_OK("set_rcpt_tag before any recipient is refused", envelope_set_rcpt_tag(&e, 'N', "NEVER", 5) != 0);
  T_OK("set_sender refuses a LF and a second line", envelope_set_sender(&e, "a@b.example\nTevil@x.example", 26) != 0);
  T_OK("set_sender refuses a CR", envelope_set_sender(&e, "a@b.example\r", 12) != 0);
  T_OK("set_sender refuses a NUL inside", envelope_set_sender(&e, "a@b.ex\0ample", 12) != 0);
  T_OK("set_sender refuses a bad address", envelope_set_sender(&e, "a b@c", 5) != 0);
  T_OK("a refused sender is not set", envelope_sender(&e) == 0);
  T_OK("set_sender accepts the null sender", envelope_set_sender(&e, "", 0) == 0);
  T_OK("null sender reads back as the empty string", envelope_sender(&e) && *envelope_sender(&e) == 0);
  T_OK("set_sender refuses a second sender", envelope_set_sender(&e, "a@b.example", 11) != 0);
  T_OK("no recipients yet: finish says so", (why = envelope_finish(&e)) && strstr(why, "recipients"));
  T_OK("envelope without recipients cannot be written", writeenv(&e, &out) == -1);

  T_OK("set_tag refuses A with a LF", envelope_set_tag(&e, 'A', "u\nTevil@x.example", 17, ENV_INPUT) != 0);
  T_OK("set_tag refuses H with a LF", envelope_set_tag(&e, 'H', "h\nTevil@x.example", 17, ENV_INPUT) != 0);
  T_OK("set_tag refuses I with a CR LF", envelope_set_tag(&e, 'I', "i\r\nTevil@x.example", 18, ENV_INPUT) != 0);
  T_OK("set_tag refuses E with a LF", envelope_set_tag(&e, 'E', "e\nTevil@x.example", 17, ENV_INPUT) != 0);
  T_OK("set_tag refuses A with a NUL", envelope_set_tag(&e, 'A', "u\0v", 3, ENV_INPUT) != 0);
  T_OK("set_tag reads only len bytes of an ENVID: +2 at its end is bad", envelope_set_tag(&e, 'E', "ab+2B", 4, ENV_INPUT) != 0);
  T_OK("set_tag refuses P in input mode", envelope_set_tag(&e, 'P', "0", 1, ENV_INPUT) != 0);
  T_OK("set_tag refuses D in input mode", envelope_set_tag(&e, 'D', "0", 1, ENV_INPUT) != 0);
  T_OK("set_tag refuses a lower-case tag", envelope_set_tag(&e, 'b', "7BIT", 4, ENV_INPUT) != 0);
  T_OK("set_tag refuses a non-letter tag", envelope_set_tag(&e, '\n', "x", 1, ENV_INPUT) != 0);
  T_OK("set_tag refuses the T tag", envelope_set_tag(&e, 'T', "a@b.example", 11, ENV_INPUT) != 0);
  T_OK("set_tag refuses the F tag", envelope_set_tag(&e, 'F', "a@b.example", 11, ENV_INPUT) != 0);
  T_OK("set_tag refuses the V tag", envelope_set_tag(&e, 'V', "1", 1, ENV_INPUT) != 0);
  T_OK("set_tag refuses the N tag as a message tag", envelope_set_tag(&e, 'N', "NEVER", 5, ENV_INPUT) != 0);
  T_OK("refused tags stay absent", !envelope_tag(&e, 'A') && !envelope_tag(&e, 'H') &&
       !envelope_tag(&e, 'I') && !envelope_tag(&e, 'E') && !envelope_tag(&e, 'P') && !envelope_tag(&e, 'D'));
  T_OK("set_tag accepts A", envelope_set_tag(&e, 'A', "user", 4, ENV_INPUT) == 0);
  T_OK("set_tag accepts a lower-case BODY", envelope_set_tag(&e, 'B', "8bitmime", 8, ENV_INPUT) == 0);
  T_OK("BODY is stored upper-cased", envelope_tag(&e, 'B') && !strcmp(envelope_tag(&e, 'B'), "8BITMIME"));
  T_OK("set_tag refuses a repeated tag", envelope_set_tag(&e, 'A', "other", 5, ENV_INPUT) != 0);
  T_OK("envelope_tag of a lower-case letter is absent", envelope_tag(&e, 'a') == 0);

  T_OK("add_rcpt refuses a LF and a second recipient", envelope_add_rcpt(&e, "a@b.example\nTevil@x.example", 26) != 0);
  T_OK("add_rcpt refuses a trailing LF", envelope_add_rcpt(&e, "a@b.example\n", 12) != 0);
  T_OK("add_rcpt refuses a NUL", envelope_add_rcpt(&e, "a@b.example\0", 12) != 0);
  T_OK("add_rcpt refuses the empty address", envelope_add_rcpt(&e, "", 0) != 0);
  T_OK("refused recipients are not added", envelope_rcpt(&e, 0) == 0);
  T_OK("add_rcpt accepts an address", envelope_add_rcpt(&e, "a@b.example", 11) == 0);
  T_OK("set_rcpt_tag refuses O with a LF", envelope_set_rcpt_tag(&e, 'O', "rfc822;a@b\nTevil@x.example", 26) != 0);
  T_OK("set_rcpt_tag refuses N with a LF", envelope_set_rcpt_tag(&e, 'N', "NEVER\nTevil@x.example", 21) != 0);
  T_OK("set_rcpt_tag refuses an unknown tag", envelope_set_rcpt_tag(&e, 'X', "x", 1) != 0);
  T_OK("set_rcpt_tag reads only len bytes of an ORCPT: +2 at its end is bad",
       envelope_set_rcpt_tag(&e, 'O', "rfc822;a+2B", 10) != 0);
  T_OK("set_rcpt_tag refuses T", envelope_set_rcpt_tag(&e, 'T', "x@y.example", 11) != 0);
  T_OK("refused recipient tags stay absent", !envelope_rcpt_notify(&e, 0) && !envelope_rcpt_orcpt(&e, 0));
  T_OK("set_rcpt_tag accepts N", envelope_set_rcpt_tag(&e, 'N', "failure,delay", 13) == 0);
  T_OK("N is stored upper-cased", envelope_rcpt_notify(&e, 0) && !strcmp(envelope_rcpt_notify(&e, 0), "FAILURE,DELAY"));
  T_OK("set_rcpt_tag refuses a second N", envelope_set_rcpt_tag(&e, 'N', "NEVER", 5) != 0);
  T_OK("set_rcpt_tag accepts O", envelope_set_rcpt_tag(&e, 'O', "rfc822;a+2Bb@b.example", 22) == 0);
  T_OK("add_rcpt accepts a second address", envelope_add_rcpt(&e, "c@d.example", 11) == 0);
  T_OK("set_tag refuses a message tag after recipients", envelope_set_tag(&e, 'H', "helo", 4, ENV_INPUT) != 0);
  T_OK("set_sender refuses a sender after recipients", envelope_set_sender(&e, "x@y.example", 11) != 0);
  T_OK("add_rcpt refuses a UTF-8 address with a LF", envelope_add_rcpt(&e, "j\xc3\xb6@x\n", 7) != 0);
  T_OK("envelope_rcpt returns the recipients in order",
       envelope_rcpt(&e, 0) && !strcmp(envelope_rcpt(&e, 0), "a@b.example") &&
       envelope_rcpt(&e, 1) && !strcmp(envelope_rcpt(&e, 1), "c@d.example"));
  T_OK("envelope_rcpt beyond the last is 0", envelope_rcpt(&e, 2) == 0);
  T_OK("tags of the second recipient are absent", !envelope_rcpt_notify(&e, 1) && !envelope_rcpt_orcpt(&e, 1));
  T_OK("set_rcpt_tag reads only len bytes of a NOTIFY", envelope_set_rcpt_tag(&e, 'N', "neverx", 5) == 0 &&
       envelope_rcpt_notify(&e, 1) && !strcmp(envelope_rcpt_notify(&e, 1), "NEVER"));
  T_OK("rcpt tags beyond the last recipient are 0", !envelope_rcpt_notify(&e, 5) && !envelope_rcpt_orcpt(&e, 5));
  T_OK("built envelope is finished", envelope_finish(&e) == 0);
  T_OK("built envelope writes", writeenv(&e, &out) == 0);
  T_STR("built envelope has the canonical form",
        "V1\nF\nB8BITMIME\nAuser\nTa@b.example\nNFAILURE,DELAY\nOrfc822;a+2Bb@b.example\nTc@d.example\nNNEVER\n\n",
        out.s, out.len);

  /* envelope_stamp: P and D, replaced by a second stamp */
  T_OK("envelope_stamp succeeds", envelope_stamp(&e, 1000, 1700000000) == 0);
  T_OK("stamped P", envelope_tag(&e, 'P') && !strcmp(envelope_tag(&e, 'P'), "1000"));
  T_OK("stamped D", envelope_tag(&e, 'D') && !strcmp(envelope_tag(&e, 'D'), "1700000000"));
  T_OK("envelope_stamp again succeeds", envelope_stamp(&e, 0, 1700000001) == 0);
  T_OK("second stamp replaces P", envelope_tag(&e, 'P') && !strcmp(envelope_tag(&e, 'P'), "0"));
  T_OK("second stamp replaces D", envelope_tag(&e, 'D') && !strcmp(envelope_tag(&e, 'D'), "1700000001"));
  T_OK("stamped envelope writes", writeenv(&e, &out) == 0);
  T_STR("stamped envelope has one P and one D in canonical place",
        "V1\nF\nP0\nD1700000001\nB8BITMIME\nAuser\nTa@b.example\nNFAILURE,DELAY\nOrfc822;a+2Bb@b.example\nTc@d.example\nNNEVER\n\n",
        out.s, out.len);
  envelope_free(&e);
  check_read("stamped envelope reads in stored mode", out.s, out.len, ENV_STORED, ENV_OK, 0);
  check_read("stamped envelope is refused in input mode", out.s, out.len, ENV_INPUT, ENV_BAD, "reserved");

  /* stamping what a caller sent: the usual spool-inject path */
  {
    static const char in[] = "V1\nFa@b.example\nTc@d.example\n\n";
    int r = readenv(&e, in, sizeof in - 1, ENV_INPUT, 0, 0, &why);
    T_OK("stamp after envelope_read succeeds", r == ENV_OK && envelope_stamp(&e, 4294967295UL, 4102444800UL) == 0);
    T_OK("stamp after envelope_read writes", writeenv(&e, &out) == 0);
    T_STR("stamp after envelope_read has P and D after F",
          "V1\nFa@b.example\nP4294967295\nD4102444800\nTc@d.example\n\n", out.s, out.len);
    envelope_free(&e);
    check_read("stamped caller envelope reads in stored mode", out.s, out.len, ENV_STORED, ENV_OK, 0);
    /* whatever envelope_stamp writes, envelope_read must take back */
    r = readenv(&e, in, sizeof in - 1, ENV_INPUT, 0, 0, &why);
    T_OK("stamp with ULONG_MAX succeeds", r == ENV_OK && envelope_stamp(&e, ULONG_MAX, ULONG_MAX) == 0 &&
         writeenv(&e, &out) == 0);
    envelope_free(&e);
    check_read("stamp with ULONG_MAX reads back in stored mode", out.s, out.len, ENV_STORED, ENV_OK, 0);
  }

  /* envelope_free leaves an empty, reusable envelope */
  envelope_init(&e);
  T_OK("reused envelope accepts a sender", envelope_set_sender(&e, "a@b.example", 11) == 0);
  envelope_free(&e);
  T_OK("freed envelope has no sender", envelope_sender(&e) == 0 && e.nrcpt == 0);
  T_OK("freed envelope accepts a new sender", envelope_set_sender(&e, "x@y.example", 11) == 0);
  T_OK("UTF-8 recipient without U: finish refuses",
       envelope_add_rcpt(&e, "j\xc3\xb6@x.example", 12) == 0 && (why = envelope_finish(&e)) && strstr(why, "UTF-8"));
  T_OK("UTF-8 recipient without U cannot be written", writeenv(&e, &out) == -1);
  envelope_free(&e);
  stralloc_free(&out);
}

/* quarantine - the Q tag set after the recipients is written with the
 * message tags, reads back, and needs a printable reason */
static void quarantine(void)
{
  struct envelope e;
  stralloc out = {0};
  envelope_init(&e);
  T_OK("Q: sender", !envelope_set_sender(&e, "a@b.test", 8));
  T_OK("Q: recipient", !envelope_add_rcpt(&e, "c@d.test", 8));
  T_OK("Q: after the recipients", !envelope_quarantine(&e, "spam score 20", 13));
  T_OK("Q: only once", envelope_quarantine(&e, "again", 5) != 0);
  T_OK("Q: written", writeenv(&e, &out) == 0);
  T_STR("Q: before the recipients", "V1\nFa@b.test\nQspam score 20\nTc@d.test\n\n", out.s, out.len);
  envelope_free(&e);
  envelope_init(&e);
  T_OK("Q: empty reason refused", envelope_quarantine(&e, "", 0) != 0);
  T_OK("Q: control character refused", envelope_quarantine(&e, "a\tb", 3) != 0);
  envelope_free(&e);
  stralloc_free(&out);
}

int main(void)
{
  unsigned int i;
  for (i = 0; i < sizeof goods / sizeof goods[0]; i++) check_good(&goods[i]);
  for (i = 0; i < sizeof bads / sizeof bads[0]; i++) check_bad(&bads[i]);
  limits();
  reader_errors();
  build();
  quarantine();
  T_DONE();
}
