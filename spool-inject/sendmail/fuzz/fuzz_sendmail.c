/* fuzz_sendmail.c - libFuzzer target for what sendmail(8) reads from its
 * caller: the RFC 5322 address-list parser (rfc5322_addrlist), header
 * qualification (rfc5322_qualify_text), the header reader and body copy
 * (headers_read, headers_copy_body) with the header fixing on top
 * (fix_headers), display names (rfc5322_phrase) and the queue listing
 * conversions (listing_json, listing_select_ids).  Besides crashes it checks:
 * every mailbox span lies inside the input and in order; qualified text
 * parses again and qualifying it twice changes nothing; a display name we
 * write parses back to the one mailbox after it; the fixed header section
 * ends with the empty line and holds no Bcc:. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <strings.h>
#include <sys/mman.h>
#include <unistd.h>
#include "sendmail.h"

struct span { size_t len, count; };

/* span_ok - rfc5322_addrlist callback: the mailbox lies where it may */
static int span_ok(void *ctx, const struct rfc5322_mailbox *m)
{
  struct span *s = ctx;
  if (m->start > m->end || m->end > s->len) abort();
  if (!m->null && (m->local_end < m->start || m->local_end > m->end)) abort();
  if (m->len != strlen(m->addr)) abort();
  if (m->len > 2 * s->len + 2) abort();
  s->count++;
  return 0;
}

/* addresses - parse, qualify, qualify again */
static void addresses(const char *d, size_t n)
{
  static stralloc once, twice;
  struct span sp = { n, 0 }, sp2;
  const char *why;
  int r = rfc5322_addrlist(d, n, span_ok, &sp, &why);
  if (r != 0 && r != -1) abort();
  if (rfc5322_qualify_text(d, n, "ex.test", 0, "ex.test localhost", &once) == 0) {
    if (r != 0) abort();     /* qualified means it parsed */
    sp2.len = once.len; sp2.count = 0;
    if (rfc5322_addrlist(once.s, once.len, span_ok, &sp2, &why) != 0 || sp2.count != sp.count) abort();
    if (rfc5322_qualify_text(once.s, once.len, "ex.test", 0, "ex.test localhost", &twice) != 0) abort();
    if (twice.len != once.len || memcmp(twice.s, once.s, once.len)) abort();
  }
  rfc5322_qualify_text(d, n, "ex.test", "one@smart.test", "ex.test localhost", &once);
}

/* phrase - a display name we write parses back around its mailbox */
static int one_addr(void *ctx, const struct rfc5322_mailbox *m)
{
  if (m->null || strcmp(m->addr, "a@b.test")) abort();
  ++*(int *)ctx;
  return 0;
}
static void phrase(const char *d, size_t n)
{
  stralloc p = { 0 };
  const char *why;
  int count = 0;
  size_t i;
  if (n > SM_FULLNAME_MAX) n = SM_FULLNAME_MAX;
  for (i = 0; i < n; i++) if ((unsigned char)d[i] < 32 || d[i] == 127) return;   /* refused before */
  if (rfc5322_phrase(&p, d, n) == 0 && stralloc_cats(&p, " <a@b.test>")) {
    if (rfc5322_addrlist(p.s, p.len, one_addr, &count, &why) != 0 || count != 1) abort();
  }
  stralloc_free(&p);
}

/* message - headers read and fixed, the body copied */
static void message(const char *d, size_t n, int dot_ends)
{
  static char inspace[256], outspace[256];
  static struct message m;
  static struct rcpts rc;
  static stralloc hdr;
  struct fix f;
  buffer in, out;
  const char *why;
  int fd = memfd_create("in", 0), ofd = open("/dev/null", O_WRONLY);
  if (fd == -1 || ofd == -1 || write(fd, d, n) != (ssize_t)n || lseek(fd, 0, SEEK_SET) != 0) abort();
  buffer_init(&in, read, fd, inspace, sizeof inspace);
  buffer_init(&out, write, ofd, outspace, sizeof outspace);
  memset(&m, 0, sizeof m);
  m.in = &in; m.dot_ends = dot_ends;
  if (headers_read(&m, &why) == SM_OK) {
    memset(&f, 0, sizeof f);
    f.hostname = "mx.ex.test"; f.domain = "ex.test"; f.locals = "mx.ex.test ex.test localhost";
    f.login = "u"; f.fullname = "U Ser"; f.sender = "u@ex.test"; f.own = "u@ex.test"; f.random = "0";
    f.untrusted = n & 1; f.extract = 1; f.warn_flag = n & 2 ? 'f' : 0; f.rcpts = &rc;
    f.rewrite = n & 4 ? "one@smart.test" : 0;
    if (fix_headers(&m, &f, &hdr, &why) == 0) {
      size_t i;
      if (hdr.len < 2 || hdr.s[hdr.len - 1] != '\n' || hdr.s[hdr.len - 2] != '\n') abort();
      for (i = 0; i + 4 < hdr.len; i++)
        if ((i == 0 || hdr.s[i - 1] == '\n') && (hdr.s[i] == 'B' || hdr.s[i] == 'b') && !strncasecmp(hdr.s + i, "bcc:", 4)) abort();
    }
    headers_copy_body(&m, &out, n & 8 ? 100 : SM_NO_LIMIT);
  }
  headers_free(&m);
  rcpts_free(&rc);
  close(fd);
  close(ofd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static stralloc json, ids;
  const char *d = (const char *)data;
  if (size > 200000) return 0;
  addresses(d, size);
  phrase(d, size);
  message(d, size, 1);
  message(d, size, 0);
  json.len = 0;
  listing_json(d, size, &json);
  listing_select_ids(d, size, "IRS"[size % 3], "a", &ids);
  return 0;
}
