/* wbuf.h - buffered writes whose errors are never lost.
 *
 * libowfat 0.32 (Debian 12) loses write errors: buffer_flush and buffer_put
 * return 0 after a failed write(2) (a 32-bit -1 tested as a 64-bit value),
 * so a full disk would look like success.  Every postern write that
 * promises something goes through wbuf_init and is checked with wbuf_flush,
 * which reports the first error of the descriptor. */
#ifndef WBUF_H
#define WBUF_H
#include <sys/types.h>
#include "buffer.h"

/* wbuf_init - buffer_init with the error-keeping write operation */
void wbuf_init(buffer *b, int fd, char *space, size_t len);

/* wbuf_write - the operation itself: writes everything or records errno
 * for fd (and then pretends success so libowfat does not loop) */
ssize_t wbuf_write(int fd, const char *buf, size_t len);

/* wbuf_timeout - from now on (until the next wbuf_init of fd) a write to
 * fd waits at most seconds for the reader (0: no bound); a timeout is the
 * descriptor's error, ETIMEDOUT */
void wbuf_timeout(int fd, unsigned long seconds);

/* wbuf_flush - flush b; 0, or -1 with errno of the first failed write
 * since wbuf_init (the error is then cleared) */
int wbuf_flush(buffer *b);

/* wbuf_error - the pending error of fd (0: none), cleared by the call */
int wbuf_error(int fd);
#endif
