/* routes.h - keys and values of the routes map (a mailertable); see
 * routes.c and postern-maps(8). */
#ifndef ROUTES_H
#define ROUTES_H
#include <stddef.h>
#include "stralloc.h"

/* routes_value - check v[0..len) and put its one spelling into out
 * (sendmail's esmtp:, relay:, smtp8:, dsmtp: become smtp:; error:D.S.N:NNN
 * text and error:NNN text become error:D.S.N text): 1 valid, 0 invalid
 * (*why says why), -1 out of memory.  out is not NUL-terminated. */
int routes_value(const char *v, size_t len, stralloc *out, const char **why);

/* routes_key_ok - a domain, .domain or "." (any case, a trailing dot
 * allowed): 1, else 0 (nothing could ever be looked up under it) */
int routes_key_ok(const char *k, size_t len);
#endif
