/* getln.h - bounded line reading from a libowfat buffer.  Untrusted input
 * is read into a fixed array sized to the protocol limit; an overlong line
 * is reported, never truncated silently. */
#ifndef GETLN_H
#define GETLN_H
#include <stddef.h>
#include "buffer.h"

enum {
  GETLN_LINE,     /* a whole line; *len bytes in x, the LF consumed, not stored */
  GETLN_EOF,      /* end of input before any byte */
  GETLN_PARTIAL,  /* bytes then end of input without LF; *len bytes in x */
  GETLN_LONG,     /* more than max bytes before the LF: x holds the first max,
                     the rest of the line is still unread (see getln_skip) */
  GETLN_ERROR     /* read error, errno set */
};

int getln(buffer *b, char *x, size_t max, size_t *len);
int getln_skip(buffer *b);   /* discard through the next LF: 0 done, -1 EOF or error */
#endif
