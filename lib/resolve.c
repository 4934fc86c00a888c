/* resolve.c - DNS questions (see resolve.h), with libowfat's resolver.
 *
 * libowfat takes each question's id and source port from dns_random,
 * which is predictable until dns_random_init is given secret bytes: every
 * process would then ask with the same ids from the same ports, and a
 * blind off-path spoofer could answer for us (the PTR and A records of a
 * client, a DNSBL, a sender's domain, an MX).  So the first question of
 * a process seeds it from getrandom(2), here, where no program can forget
 * it; without random bytes no question is asked (a temporary failure). */
#include <errno.h>
#include <sys/random.h>
#include <arpa/inet.h>
#include "byte.h"
#include "dns.h"
#include "iopause.h"
#include "ip6.h"
#include "taia.h"
#include "str.h"
#include "stralloc.h"
#include "resolve.h"

/* nibbles - the reversed name of an IPv6 address in a DNSBL */
static int nibbles(stralloc *name, const unsigned char *a)
{
  static const char hex[] = "0123456789abcdef";
  int i;
  for (i = 15; i >= 0; i--) {
    char x[4] = { hex[a[i] & 15], '.', hex[a[i] >> 4], '.' };
    if (!stralloc_catb(name, x, 4)) return -1;
  }
  return 0;
}

/* octets - the reversed name of an IPv4 address in a DNSBL */
static int octets(stralloc *name, const unsigned char *a)
{
  int i;
  for (i = 3; i >= 0; i--) {
    char x[4];
    size_t n = 0;
    if (a[i] >= 100) x[n++] = (char)('0' + a[i] / 100);
    if (a[i] >= 10) x[n++] = (char)('0' + a[i] / 10 % 10);
    x[n++] = (char)('0' + a[i] % 10);
    if (!stralloc_catb(name, x, n) || !stralloc_append(name, ".")) return -1;
  }
  return 0;
}

static int ask_family(const char *name, stralloc *out, int six);

int resolve_dnsbl(const char *ip, const char *zone, char answer[16])
{
  static stralloc name, out;
  unsigned char a[16];
  int r;
  stralloc_zero(&name);
  answer[0] = 0;
  if (inet_pton(AF_INET, ip, a) == 1) r = octets(&name, a);
  else if (inet_pton(AF_INET6, ip, a) == 1)
    r = IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a) ? octets(&name, a + 12) : nibbles(&name, a);
  else return 0;
  if (r == -1 || !stralloc_cats(&name, zone) || !stralloc_0(&name)) return -1;
  if ((r = ask_family(name.s, &out, 0)) != 0) return r == RESOLVE_NXDOMAIN ? 0 : -1;
  if (out.len < 4 || (unsigned char)out.s[0] != 127) return 0;
  if (!inet_ntop(AF_INET, out.s, answer, 16)) answer[0] = 0;
  return 1;
}

static unsigned int limit_seconds;   /* per question; 0: libowfat's own schedule */

void resolve_timeout(unsigned long seconds)
{
  limit_seconds = seconds > 3600 ? 3600 : (unsigned int)seconds;
}

/* seed - dns_random from the kernel, once per process; 0, or -1 */
static int seed(void)
{
  static int done;
  char s[128];
  if (done) return 0;
  if (getrandom(s, sizeof s, 0) != (ssize_t)sizeof s) return -1;
  dns_random_init(s);
  byte_zero(s, sizeof s);
  done = 1;
  return 0;
}

/* transmit - dns_resolve with an overall bound: libowfat's stub waits up
 * to 59 s for a silent server, and 11 s after a SERVFAIL or REFUSED from
 * the only server listed, before it gives up.  0 answered (the packet is
 * in dns_resolve_tx), -1 temporary failure. */
static int transmit(const char *q, const char type[2])
{
  struct taia stamp, deadline, limit;
  char servers[256];
  iopause_fd x[1];
  int r;
  if (seed() == -1) return -1;
  if (!limit_seconds) return dns_resolve(q, type);
  if (dns_resolvconfip(servers) == -1) return -1;
  if (dns_transmit_start(&dns_resolve_tx, servers, 1, q, type, V6any) == -1) return -1;
  taia_now(&stamp);
  taia_uint(&limit, limit_seconds);
  taia_add(&limit, &limit, &stamp);
  for (;;) {
    taia_now(&stamp);
    if (!taia_less(&stamp, &limit)) { dns_transmit_free(&dns_resolve_tx); errno = ETIMEDOUT; return -1; }
    deadline = limit;
    dns_transmit_io(&dns_resolve_tx, x, &deadline);
    iopause(x, 1, &deadline, &stamp);
    r = dns_transmit_get(&dns_resolve_tx, x, &stamp);
    if (r == -1) return -1;
    if (r == 1) return 0;
  }
}

/* ask - one question for name (dotted) of type; 0 answered (the packet
 * is in dns_resolve_tx), RESOLVE_NXDOMAIN, -1 temporary failure.  A
 * dotted name of more than 255 bytes does not exist.  dns_domain_fromdot
 * drops empty labels ("a..b" asks for a.b) and refuses a label of more
 * than 63 bytes (as it does when out of memory): that is the -1. */
static int ask(const char *name, const char *type)
{
  char *q = 0;
  size_t len = str_len(name);
  int r;
  if (len > 255 || !dns_domain_fromdot(&q, name, len)) return len > 255 ? RESOLVE_NXDOMAIN : -1;
  r = transmit(q, type);
  dns_domain_free(&q);
  if (r == -1) return -1;
  if (dns_resolve_tx.packetlen >= 4 && (dns_resolve_tx.packet[3] & 15) == 3) return RESOLVE_NXDOMAIN;
  return 0;
}

int resolve_mx(const char *domain, stralloc *out)
{
  int r = ask(domain, DNS_T_MX);
  if (!stralloc_copys(out, "")) return -1;
  if (r) return r;
  if (dns_mx_packet(out, dns_resolve_tx.packet, dns_resolve_tx.packetlen) == -1) return -1;
  return out->len > 0;
}

/* ask_family - AAAA or A records of name into out */
static int ask_family(const char *name, stralloc *out, int six)
{
  int r = ask(name, six ? DNS_T_AAAA : DNS_T_A);
  if (!stralloc_copys(out, "")) return -1;
  if (r) return r;
  if ((six ? dns_ip6_packet : dns_ip4_packet)(out, dns_resolve_tx.packet, dns_resolve_tx.packetlen) == -1) return -1;
  return 0;
}

int resolve_family(const char *name, int six, stralloc *out)
{
  int r = ask_family(name, out, six);
  if (r) return r;
  out->len -= out->len % (six ? 16 : 4);
  return out->len > 0;
}

int resolve_ip(const char *name, stralloc *ip6, stralloc *ip4)
{
  int r6 = ask_family(name, ip6, 1);
  int r4 = r6 == RESOLVE_NXDOMAIN ? RESOLVE_NXDOMAIN : ask_family(name, ip4, 0);
  if (r6 == RESOLVE_NXDOMAIN || r4 == RESOLVE_NXDOMAIN) {
    ip6->len = ip4->len = 0;
    return RESOLVE_NXDOMAIN;
  }
  ip6->len -= ip6->len % 16;
  ip4->len -= ip4->len % 4;
  if (ip6->len || ip4->len) return 1;
  return r6 == -1 || r4 == -1 ? -1 : 0;
}

int resolve_name(const char *ip, stralloc *out)
{
  char q[DNS_NAME6_DOMAIN];
  unsigned char a[16];
  if (!stralloc_copys(out, "")) return -1;
  if (inet_pton(AF_INET, ip, a) == 1) dns_name4_domain(q, (const char *)a);
  else if (inet_pton(AF_INET6, ip, a) == 1) dns_name6_domain(q, (const char *)a);
  else return 0;
  if (transmit(q, DNS_T_PTR) == -1) return -1;
  if (dns_resolve_tx.packetlen >= 4 && (dns_resolve_tx.packet[3] & 15) == 3) return 0;
  if (dns_name_packet(out, dns_resolve_tx.packet, dns_resolve_tx.packetlen) == -1) return -1;
  return out->len > 0;
}
