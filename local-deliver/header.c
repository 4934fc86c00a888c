/* header.c - the headers local-deliver adds (Return-Path:, Delivered-To:)
 * and the loop check: a message that already carries our Delivered-To:
 * for this recipient has been here before (qmail's rule). */
#include <unistd.h>
#include "byte.h"
#include "case.h"
#include "str.h"
#include "buffer.h"
#include "address.h"
#include "ld.h"

/* split - LOCAL, EXTENSION (after the first '+') and DOMAIN of recipient */
static int split(struct ld *d)
{
  const char *a = d->recipient;
  size_t len = str_len(a), at = address_at(a, len), plus;
  if (!stralloc_copyb(&d->local, a, at) || !stralloc_0(&d->local)) return -1;
  plus = byte_chr(a, at, '+');
  if (!stralloc_copyb(&d->ext, a + (plus < at ? plus + 1 : at), plus < at ? at - plus - 1 : 0)
      || !stralloc_0(&d->ext)) return -1;
  if (!stralloc_copyb(&d->domain, a + (at < len ? at + 1 : len), at < len ? len - at - 1 : 0)
      || !stralloc_0(&d->domain)) return -1;
  return 0;
}

int ld_prepare(struct ld *d)
{
  if (split(d) == -1) return -1;
  if (!stralloc_copys(&d->prefix, "Return-Path: <") || !stralloc_cats(&d->prefix, d->sender)
      || !stralloc_cats(&d->prefix, ">\nDelivered-To: ")
      || !stralloc_cats(&d->prefix, d->recipient) || !stralloc_cats(&d->prefix, "\n"))
    return -1;
  return 0;
}

/* trim - strip blanks at both ends */
static void trim(const char **s, size_t *len)
{
  while (*len && (**s == ' ' || **s == '\t')) { (*s)++; (*len)--; }
  while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) (*len)--;
}

/* is_ours - a header line "Delivered-To: recipient" */
static int is_ours(const char *line, size_t len, const char *rcpt)
{
  const char *v;
  size_t vlen, rlen = str_len(rcpt);
  if (len < 13 || case_diffb(line, 13, "delivered-to:")) return 0;
  v = line + 13;
  vlen = len - 13;
  trim(&v, &vlen);
  return vlen == rlen && case_diffb(v, vlen, rcpt) == 0;
}

/* ld_loop - search the header (bounded) for our Delivered-To: */
int ld_loop(int fd, const char *recipient)
{
  char space[8192], line[1024];
  buffer b = BUFFER_INIT(read, fd, space, sizeof space);
  unsigned long seen = 0;
  size_t n = 0;
  char c;
  if (ld_rewind(fd) == -1) return -1;
  for (;;) {
    ssize_t r = buffer_get(&b, &c, 1);
    if (r < 0) return -1;
    if (r == 0 || ++seen > LD_HEADER_SCAN_MAX) break;
    if (c != '\n') { if (n < sizeof line) line[n++] = c; continue; }
    if (n == 0) break;                 /* end of the header */
    if (is_ours(line, n < sizeof line ? n : 0, recipient)) return 1;
    n = 0;
  }
  return ld_rewind(fd) == -1 ? -1 : 0;
}
