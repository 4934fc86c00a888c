/* hops.h - how many hops a message has made: its Received: and
 * Delivered-To: header fields, counted as the bytes stream past (any
 * split, LF or CRLF line ends), up to the end of the header section.
 * Every path into the spool checks the count against hop_count_limit
 * (smtp-receive at the end of the data, sendmail, the spool writer of
 * lib/inject.c), so two MTAs routing to each other stop after a bounded
 * number of rounds (RFC 5321 6.3). */
#ifndef HOPS_H
#define HOPS_H
#include <stddef.h>

#define HOPS_NAME_MAX 16   /* bytes of a field name kept: longer ones never match */

struct hops {
  unsigned long count;     /* Received: and Delivered-To: fields so far */
  int state;               /* where the scanner is (hops.c) */
  char name[HOPS_NAME_MAX];
  size_t len;              /* bytes of the current field name seen */
};

/* hops_start - a new message */
void hops_start(struct hops *h);

/* hops_feed - the next len bytes of the message */
void hops_feed(struct hops *h, const char *buf, size_t len);

/* hops_over - is the count above limit (0: no limit)? */
int hops_over(const struct hops *h, unsigned long limit);
#endif
