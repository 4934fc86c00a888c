/* date.h - the dates postern writes: RFC 5322 date-time (Date:,
 * Received:, delivery reports) and the asctime form of an mbox From_ line. */
#ifndef DATE_H
#define DATE_H
#include <stddef.h>

#define DATE_MAX 40   /* bytes of either form, NUL included */

/* date_rfc5322 - "Thu, 1 Jan 1970 00:00:00 +0000" of t into out[DATE_MAX],
 * NUL-terminated: local time with its offset when local is not 0, else
 * UTC; the epoch if t cannot be converted.  Returns the length. */
size_t date_rfc5322(char *out, unsigned long t, int local);

/* date_asctime - "Thu Jan  1 00:00:00 1970" of t in UTC into
 * out[DATE_MAX], NUL-terminated (the date of an mbox From_ line).
 * Returns the length. */
size_t date_asctime(char *out, unsigned long t);
#endif
