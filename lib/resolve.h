/* resolve.h - the few DNS questions postern asks, through libowfat's
 * stub resolver (it honours $DNSCACHEIP and /etc/resolv.conf, so tests
 * point it at a DNS server on 127.0.0.x).  Each answer is 1 (found),
 * 0 (no such name or no such record) or -1 (temporary failure).  The
 * first question of a process seeds libowfat's query ids and source ports
 * from getrandom(2) (resolve.c). */
#ifndef RESOLVE_H
#define RESOLVE_H
#include "stralloc.h"

/* resolve_dnsbl - is the address ip (text, IPv4 or IPv6) listed in the
 * DNSBL zone?  A listing is an A record in 127.0.0.0/8; the first one
 * goes to answer[16] as text.  Bounded by resolve_timeout. */
int resolve_dnsbl(const char *ip, const char *zone, char answer[16]);

/* resolve_dnsbl_codes - every 127.0.0.0/8 address the DNSBL zone lists ip
 * with, 4 bytes each, into codes: 1 listed, 0 not, -1 temporary failure */
int resolve_dnsbl_codes(const char *ip, const char *zone, stralloc *codes);

/* resolve_dnsbl_text - the TXT record of ip's listing in zone (the
 * strings joined, as they came: the caller cleans them): 1, 0 none, -1 */
int resolve_dnsbl_text(const char *ip, const char *zone, stralloc *text);

/* resolve_servers - the servers every later question goes to: all (a
 * list of IP addresses, blank or comma separated; "" those of
 * /etc/resolv.conf or $DNSCACHEIP), and per_domain ("domain=ip,ip ...":
 * names under domain ask those, the longest domain winning).  0, or what
 * is wrong with a setting.  Always port 53. */
const char *resolve_servers(const char *all, const char *per_domain);

/* resolve_mx - the MX records of domain into out, as libowfat's dns_mx
 * gives them: per record 2 bytes of preference (big-endian), the name
 * (a null MX's name is "." or ""), a NUL.  1 found, 0 the domain exists
 * without MX records, RESOLVE_NXDOMAIN the domain does not exist, -1
 * temporary failure. */
#define RESOLVE_NXDOMAIN (-2)

/* resolve_timeout - from now on each question (resolve_mx, resolve_ip)
 * gives up after this many seconds, a temporary failure; 0 (the default)
 * leaves libowfat's own schedule (up to 59 s per question) */
void resolve_timeout(unsigned long seconds);
int resolve_mx(const char *domain, stralloc *out);

/* resolve_ip - the AAAA records of name (16 bytes each) into ip6 and its
 * A records (4 bytes each) into ip4.  1 at least one address, 0 none,
 * RESOLVE_NXDOMAIN no such name, -1 temporary failure of both questions
 * (one family failing temporarily while the other answers is 1: the
 * answer we have is used) */
int resolve_ip(const char *name, stralloc *ip6, stralloc *ip4);

/* resolve_family - only the AAAA (six) or only the A records of name into
 * out (16 or 4 bytes each): 1 some, 0 none, RESOLVE_NXDOMAIN, -1
 * temporary failure; bounded by resolve_timeout */
int resolve_family(const char *name, int six, stralloc *out);

/* resolve_name - the (first) PTR name of the address ip (text, IPv4 or
 * IPv6) into out, not checked against its A/AAAA records: 1 found, 0 none
 * or no such name, -1 temporary failure; bounded by resolve_timeout */
int resolve_name(const char *ip, stralloc *out);
#endif
