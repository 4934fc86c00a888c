/* hops.c - the hop count of a message (hops.h).
 *
 * A line that starts with a blank continues the field before it (folded,
 * RFC 5322 2.2.3) and is skipped.  Any other line up to its colon is a
 * field name, compared without regard to case, with blanks allowed
 * before the colon (the obsolete syntax of RFC 5322 4.5).  An empty line,
 * or a line that is not a header field, ends the header section: the
 * body is never looked at, so a quoted message inside it does not count. */
#include "case.h"
#include "hops.h"

enum { H_BOL, H_NAME, H_BLANK, H_SKIP, H_CR, H_DONE };

void hops_start(struct hops *h)
{
  h->count = 0;
  h->state = H_BOL;
  h->len = 0;
}

/* is - the name seen is n (lower case) */
static int is(const struct hops *h, const char *n, size_t len)
{
  return h->len == len && !case_diffb(h->name, len, n);
}

/* name_end - the colon after a field name: count it if it is one of ours */
static void name_end(struct hops *h)
{
  if (is(h, "received", 8) || is(h, "delivered-to", 12)) h->count++;
  h->state = H_SKIP;
}

/* step - one byte */
static void step(struct hops *h, unsigned char c)
{
  switch (h->state) {
  case H_BOL:
    h->len = 0;
    if (c == '\n') h->state = H_DONE;
    else if (c == '\r') h->state = H_CR;
    else if (c == ' ' || c == '\t') h->state = H_SKIP;
    else if (c > 32 && c < 127 && c != ':') { h->name[h->len++] = (char)c; h->state = H_NAME; }
    else h->state = H_DONE;
    return;
  case H_NAME:
    if (c == ':') { name_end(h); return; }
    if (c == ' ' || c == '\t') { h->state = H_BLANK; return; }
    if (c <= 32 || c >= 127) { h->state = H_DONE; return; }
    if (h->len < HOPS_NAME_MAX) h->name[h->len] = (char)c;
    if (h->len <= HOPS_NAME_MAX) h->len++;   /* too long: never matches */
    return;
  case H_BLANK:                      /* "Received :" */
    if (c == ':') name_end(h);
    else if (c != ' ' && c != '\t') h->state = H_DONE;
    return;
  case H_SKIP:
    if (c == '\n') h->state = H_BOL;
    return;
  case H_CR:                         /* CR at the start of a line: the end */
    h->state = H_DONE;
    return;
  }
}

void hops_feed(struct hops *h, const char *buf, size_t len)
{
  size_t i;
  for (i = 0; i < len && h->state != H_DONE; i++) {
    if (h->state == H_SKIP) {        /* the common case: the rest of a line */
      while (i < len && buf[i] != '\n') i++;
      if (i == len) return;
    }
    step(h, (unsigned char)buf[i]);
  }
}

int hops_over(const struct hops *h, unsigned long limit)
{
  return limit && h->count > limit;
}
