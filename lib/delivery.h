/* delivery.h - the delivery protocol's result lines (DESIGN.md): what
 * local-deliver, local-spawn and remote-send write on fd 1 and what
 * queue-run's jobs read back, one line per recipient:
 *   rcpt TAB ok|passed|defer|fail TAB text
 * The words are written and read only here (delivery.c).  They are not
 * the state file's item letters (queue-run's ST_*): a result is what one
 * try learned, an item status what the queue keeps. */
#ifndef DELIVERY_H
#define DELIVERY_H
#include <stddef.h>
#include "buffer.h"

enum {
  DELIVERY_NONE,      /* no result (an unknown word) */
  DELIVERY_OK,        /* delivered */
  DELIVERY_PASSED,    /* accepted by a next hop that took the DSN request */
  DELIVERY_DEFER,     /* failed for now: try again */
  DELIVERY_FAIL       /* failed for good */
};

/* delivery_put - the line for rcpt with result res and text into b
 * (not flushed); 0, or -1 when b fails */
int delivery_put(buffer *b, const char *rcpt, int res, const char *text);

/* delivery_parse - a line line[0..len) (LF excluded): its recipient
 * line[0..*rlen), its result, and its text (*text, *tlen; empty when
 * the line has none).  The result, DELIVERY_NONE for a line that is not
 * one. */
int delivery_parse(const char *line, size_t len, size_t *rlen, const char **text, size_t *tlen);
#endif
