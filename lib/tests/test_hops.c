/* test_hops.c - the hop count: Received: and Delivered-To: in any case,
 * folded fields, blanks before the colon, CRLF or LF, any split of the
 * input, and nothing counted after the end of the header section. */
#include "t.h"
#include "../hops.h"

/* count - the count of msg fed in pieces of step bytes */
static unsigned long count(const char *msg, size_t step)
{
  struct hops h;
  size_t len = strlen(msg), i;
  hops_start(&h);
  for (i = 0; i < len; i += step) hops_feed(&h, msg + i, len - i < step ? len - i : step);
  return h.count;
}

/* every_split - the same count whatever the piece size */
static int every_split(const char *msg, unsigned long want)
{
  size_t step;
  for (step = 1; step <= strlen(msg) + 1; step++)
    if (count(msg, step) != want) return 0;
  return 1;
}

int main(void)
{
  struct hops h;
  T_OK("two Received:", every_split("Received: a\nReceived: b\nSubject: x\n\nbody\n", 2));
  T_OK("case ignored", every_split("RECEIVED: a\nreceived: b\nDelivered-TO: c\n\n", 3));
  T_OK("Delivered-To: counts", every_split("Delivered-To: a@b\nX: y\n\n", 1));
  T_OK("folded lines are one field", every_split("Received: a\n Received: b\n\tReceived: c\nReceived: d\n\n", 2));
  T_OK("blanks before the colon", every_split("Received : a\nReceived\t: b\n\n", 2));
  T_OK("CRLF line ends", every_split("Received: a\r\nReceived: b\r\n\r\nReceived: body\r\n", 2));
  T_OK("nothing counted in the body", every_split("Subject: x\n\nReceived: a\nReceived: b\n", 0));
  T_OK("a non-field line ends the header", every_split("Received: a\nnot a field\nReceived: b\n", 1));
  T_OK("other names do not count", every_split("Received-SPF: a\nX-Received: b\nReceivedx: c\nDelivered: d\n\n", 0));
  T_OK("a long name does not count", every_split("Receivedreceivedreceived: a\nReceived: b\n\n", 1));
  T_OK("a name without a colon ends it", every_split("Received\nReceived: b\n\n", 0));
  T_OK("a header without an end", every_split("Received: a\nReceived: b", 2));
  hops_start(&h);
  hops_feed(&h, "Received: a\nReceived: b\n\n", 25);
  T_OK("over: 2 > 1", hops_over(&h, 1));
  T_OK("not over: 2 > 2", !hops_over(&h, 2));
  T_OK("limit 0: no limit", !hops_over(&h, 0));
  T_DONE();
}
