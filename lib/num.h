/* num.h - decimal formatting.  libowfat's fmt.h declares fmt_ulong and
 * friends __attribute__((pure)) although they write through dest, which lets
 * the compiler assume the buffer is unchanged after the call (gcc warns of
 * "uninitialized" reads); these do the same job with an honest prototype. */
#ifndef NUM_H
#define NUM_H
#include <stddef.h>

#define NUM_ULONG 21   /* bytes for any unsigned long, NUL included */

size_t num_fmt(char *dest, unsigned long n);                  /* no NUL added */
size_t num_fmt0(char *dest, unsigned long n, size_t width);   /* zero-padded */
char *num_str(char dest[NUM_ULONG], unsigned long n);         /* NUL-terminated */
size_t num_xfmt(char *dest, unsigned long n);                 /* lower-case hex */
#endif
