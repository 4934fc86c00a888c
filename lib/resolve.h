/* resolve.h - the few DNS questions postern asks, through libowfat's
 * stub resolver (it honours $DNSCACHEIP and /etc/resolv.conf, so tests
 * point it at a DNS server on 127.0.0.x).  Each answer is 1 (found),
 * 0 (no such name or no such record) or -1 (temporary failure). */
#ifndef RESOLVE_H
#define RESOLVE_H

/* resolve_mail_domain - does domain have an MX, A or AAAA record? */
int resolve_mail_domain(const char *domain);

/* resolve_dnsbl - is the address ip (text, IPv4 or IPv6) listed in the
 * DNSBL zone?  A listing is an A record in 127.0.0.0/8; the first one
 * goes to answer[16] as text. */
int resolve_dnsbl(const char *ip, const char *zone, char answer[16]);
#endif
