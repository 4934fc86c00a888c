/* localnames.h - are this host's own names local domains?  See
 * localnames.c and local_delivery in postern.conf(5). */
#ifndef LOCALNAMES_H
#define LOCALNAMES_H
#include <stddef.h>
#include "config.h"
#include "map.h"

/* localnames_local - 1 when hostname and localhost are local domains,
 * 0 when they are not (a null client), -1 local_delivery is not a known
 * word or local-domains cannot be read (the caller defers) */
int localnames_local(const struct config *c, struct map *local_domains);

/* localnames_is - is d[0..len) hostname or localhost (ASCII case
 * ignored)?  On a null client such an address is qualified with domain
 * and goes to the relayhost. */
int localnames_is(const struct config *c, const char *d, size_t len);
#endif
