/* resolve.c - DNS questions (see resolve.h), with libowfat's resolver */
#include <arpa/inet.h>
#include "byte.h"
#include "dns.h"
#include "str.h"
#include "stralloc.h"
#include "resolve.h"

/* ask_ip4 - A records of name into out: 1, 0 none, -1 temporary */
static int ask_ip4(stralloc *out, const stralloc *name)
{
  if (dns_ip4(out, name) == -1) return -1;
  return out->len >= 4;
}

int resolve_mail_domain(const char *domain)
{
  static stralloc name, out;   /* reused: a session asks more than once */
  int r;
  if (!stralloc_copys(&name, domain)) return -1;
  if (dns_mx(&out, &name) == -1) return -1;
  if (out.len) return 1;
  if ((r = ask_ip4(&out, &name)) != 0) return r;
  if (dns_ip6(&out, &name) == -1) return -1;
  return out.len >= 16;
}

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
  if (r == -1 || !stralloc_cats(&name, zone)) return -1;
  if ((r = ask_ip4(&out, &name)) != 1) return r;
  if ((unsigned char)out.s[0] != 127) return 0;
  if (!inet_ntop(AF_INET, out.s, answer, 16)) answer[0] = 0;
  return 1;
}
