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
#include "case.h"
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
static int ask(const char *name, const char *type);

/* answers_127 - keep only the 127.0.0.0/8 addresses of out (4 bytes
 * each): a DNSBL's listing codes; anything else is a broken list */
static void answers_127(stralloc *out)
{
  size_t i, n = 0;
  for (i = 0; i + 4 <= out->len; i += 4)
    if ((unsigned char)out->s[i] == 127) { byte_copy(out->s + n, 4, out->s + i); n += 4; }
  out->len = n;
}

/* dnsbl_name - the DNSBL query name of ip in zone */
static int dnsbl_name(const char *ip, const char *zone, stralloc *name)
{
  unsigned char a[16];
  int r;
  stralloc_zero(name);
  if (inet_pton(AF_INET, ip, a) == 1) r = octets(name, a);
  else if (inet_pton(AF_INET6, ip, a) == 1)
    r = IN6_IS_ADDR_V4MAPPED((struct in6_addr *)a) ? octets(name, a + 12) : nibbles(name, a);
  else return 0;
  if (r == -1 || !stralloc_cats(name, zone) || !stralloc_0(name)) return -1;
  return 1;
}

int resolve_dnsbl_codes(const char *ip, const char *zone, stralloc *codes)
{
  static stralloc name;
  int r = dnsbl_name(ip, zone, &name);
  stralloc_zero(codes);
  if (r != 1) return r;
  if ((r = ask_family(name.s, codes, 0)) != 0) return r == RESOLVE_NXDOMAIN ? 0 : -1;
  codes->len -= codes->len % 4;
  answers_127(codes);
  return codes->len > 0;
}

int resolve_dnsbl_text(const char *ip, const char *zone, stralloc *text)
{
  static stralloc name;
  int r = dnsbl_name(ip, zone, &name);
  stralloc_zero(text);
  if (r != 1) return r;
  if ((r = ask(name.s, DNS_T_TXT)) != 0) return r == RESOLVE_NXDOMAIN ? 0 : -1;
  if (dns_txt_packet(text, dns_resolve_tx.packet, dns_resolve_tx.packetlen) == -1) return -1;
  return text->len > 0;
}

int resolve_dnsbl(const char *ip, const char *zone, char answer[16])
{
  static stralloc codes;
  int r = resolve_dnsbl_codes(ip, zone, &codes);
  answer[0] = 0;
  if (r == 1 && !inet_ntop(AF_INET, codes.s, answer, 16)) answer[0] = 0;
  return r;
}

static unsigned int limit_seconds;   /* per question; 0: libowfat's own schedule */

/* The servers to ask (dns_servers, dns_domain_servers in postern.conf):
 * none set means /etc/resolv.conf's.  A per-domain list applies to the
 * names under its domain, the longest domain winning (split DNS: the
 * inside's names from the inside's servers). */
#define RESOLVE_DOMAINS_MAX 32
static char servers_all[256];           /* 16 addresses in libowfat's form */
static int servers_all_set;
static struct { char domain[256]; size_t len; char ip[256]; } servers_dom[RESOLVE_DOMAINS_MAX];
static unsigned int servers_ndom;

/* server_list - "ip,ip ..." (up to 16, IPv4 or IPv6) into out[256]; 0, or
 * -1 when one is not an address */
static int server_list(const char *s, size_t len, char out[256])
{
  char buf[64];
  unsigned char a[16];
  size_t i = 0, n, k = 0;
  byte_zero(out, 256);
  while (i < len) {
    while (i < len && (s[i] == ',' || s[i] == ' ')) i++;
    for (n = 0; i + n < len && s[i + n] != ',' && s[i + n] != ' '; n++)
      ;
    if (n == 0) break;
    if (n >= sizeof buf || k == 16) return -1;
    byte_copy(buf, n, s + i);
    buf[n] = 0;
    if (inet_pton(AF_INET, buf, a) == 1) { byte_copy(out + 16 * k, 12, V4mappedprefix); byte_copy(out + 16 * k + 12, 4, a); }
    else if (inet_pton(AF_INET6, buf, a) == 1) byte_copy(out + 16 * k, 16, a);
    else return -1;
    k++;
    i += n;
  }
  return k ? 0 : -1;
}

const char *resolve_servers(const char *all, const char *per_domain)
{
  const char *p = per_domain;
  servers_all_set = 0;
  servers_ndom = 0;
  if (*all) {
    if (server_list(all, str_len(all), servers_all) == -1) return "dns_servers: not a list of 1 to 16 IP addresses";
    servers_all_set = 1;
  }
  while (*p) {   /* domain=ip,ip domain=ip ... */
    size_t n = 0, eq;
    while (*p == ' ') p++;
    while (p[n] && p[n] != ' ') n++;
    if (n == 0) break;
    eq = byte_chr(p, n, '=');
    if (eq == 0 || eq == n || eq >= sizeof servers_dom[0].domain || servers_ndom == RESOLVE_DOMAINS_MAX)
      return "dns_domain_servers: want domain=ip,ip ... (at most 32 domains)";
    byte_copy(servers_dom[servers_ndom].domain, eq, p);
    servers_dom[servers_ndom].len = eq;
    if (eq > 1 && p[eq - 1] == '.') servers_dom[servers_ndom].len--;
    case_lowerb(servers_dom[servers_ndom].domain, servers_dom[servers_ndom].len);
    if (server_list(p + eq + 1, n - eq - 1, servers_dom[servers_ndom].ip) == -1)
      return "dns_domain_servers: not a list of 1 to 16 IP addresses after =";
    servers_ndom++;
    p += n;
  }
  return 0;
}

/* servers_for - the servers to ask about the (wire format) name q */
static int servers_for(const char *q, char out[256])
{
  static stralloc dot;
  size_t best = 0;
  unsigned int i, pick = RESOLVE_DOMAINS_MAX;
  if (servers_ndom) {
    stralloc_zero(&dot);
    if (!dns_domain_todot_cat(&dot, q)) return -1;
    case_lowerb(dot.s, dot.len);
    for (i = 0; i < servers_ndom; i++) {
      size_t n = servers_dom[i].len;
      if (n <= best || n > dot.len || byte_diff(dot.s + dot.len - n, n, servers_dom[i].domain)) continue;
      if (n < dot.len && dot.s[dot.len - n - 1] != '.') continue;   /* whole labels */
      best = n;
      pick = i;
    }
    if (pick < RESOLVE_DOMAINS_MAX) { byte_copy(out, 256, servers_dom[pick].ip); return 0; }
  }
  if (servers_all_set) { byte_copy(out, 256, servers_all); return 0; }
  return dns_resolvconfip(out);
}

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
  if (servers_for(q, servers) == -1) return -1;
  if (dns_transmit_start(&dns_resolve_tx, servers, 1, q, type, V6any) == -1) return -1;
  taia_now(&stamp);
  taia_uint(&limit, limit_seconds ? limit_seconds : 60);
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
