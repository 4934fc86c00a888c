/* address.h - RFC 5321 address syntax.  Every address that enters postern
 * (SMTP, sendmail arguments, envelopes, maps) passes address_check. */
#ifndef ADDRESS_H
#define ADDRESS_H
#include <stddef.h>

#define ADDR_LOCAL_MAX 64      /* octets in a local part (RFC 5321 4.5.3.1.1) */
#define ADDR_DOMAIN_MAX 255    /* octets in a domain (4.5.3.1.2) */
#define ADDR_PATH_MAX 256      /* octets in "<" address ">" (4.5.3.1.3) */
#define ADDR_MAX (ADDR_PATH_MAX - 2)

#define ADDR_UTF8 1            /* allow UTF-8 in local part and domain (RFC 6531) */

/* address_check - 0 if s[0..len) is local@domain (or the bare postmaster),
 * else a short reason ("local part too long").  Rejects NUL, CR, LF, TAB and
 * every other control character, source routes and general literals. */
const char *address_check(const char *s, size_t len, int flags);

/* address_at - position of the '@' that separates local part and domain
 * (the last one outside a quoted string), or len if there is none */
size_t address_at(const char *s, size_t len);

/* address_domain_check - 0 if s[0..len) is a domain or address literal */
const char *address_domain_check(const char *s, size_t len, int flags);
#endif
