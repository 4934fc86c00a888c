/* proxy.c - the PROXY protocol (HAProxy's proxy-protocol.txt, versions 1
 * and 2), so that hubs behind a load balancer see the real client.  Only
 * a connection from an address listed in smtpd_proxy_trusted must start
 * with the header, and only its header is believed; from anyone else the
 * bytes would be an SMTP command (and an early talker).  The header is
 * peeked at on the socket and then read to its exact length, past io_in,
 * within the command timeout: what follows it (a TLS ClientHello on the
 * smtps port, pipelined commands) stays in the socket for the session. */
#include <errno.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include "byte.h"
#include "scan.h"
#include "str.h"
#include "smtp.h"

#define PROXY_V1_MAX 107         /* bytes of a version 1 line, CRLF included */
#define PROXY_V2_MAX 536         /* bytes of version 2 addresses and TLVs we accept */

static const char v2sig[12] = { '\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n' };

/* parse_ip - text address into a[16]: its length (4 or 16), 0 if none */
static int parse_ip(const char *s, unsigned char *a)
{
  if (inet_pton(AF_INET, s, a) == 1) return 4;
  if (inet_pton(AF_INET6, s, a) == 1) return 16;
  return 0;
}

/* prefix - "net" or "net/bits" into n[16]: its address length (4 or
 * 16) and *bits, or 0 if the word is neither */
static int prefix(const char *word, size_t len, unsigned char *n, unsigned long *bits)
{
  char net[64];
  size_t slash = byte_chr(word, len, '/');
  int nlen;
  if (slash >= sizeof net) return 0;
  byte_copy(net, slash, word);
  net[slash] = 0;
  if (!(nlen = parse_ip(net, n))) return 0;
  *bits = (unsigned long)nlen * 8;
  if (slash < len && (slash + 1 == len || scan_ulongn(word + slash + 1, len - slash - 1, bits) != len - slash - 1 ||
                      *bits > (unsigned long)nlen * 8)) return 0;
  return nlen;
}

/* in_prefix - does the address a (alen bytes) lie in "net" or "net/bits"? */
static int in_prefix(const unsigned char *a, int alen, const char *word, size_t len)
{
  unsigned char n[16];
  unsigned long bits;
  if (prefix(word, len, n, &bits) != alen) return 0;
  if (byte_diff(a, bits / 8, n)) return 0;
  if (bits % 8 == 0) return 1;
  return ((a[bits / 8] ^ n[bits / 8]) & (0xff00 >> (bits % 8))) == 0;
}

/* next_word - the next blank or comma separated word of *list (its
 * length, 0 at the end); *list moves past it */
static size_t next_word(const char **list, const char **word)
{
  size_t w = 0;
  while (**list == ' ' || **list == ',' || **list == '\t') (*list)++;
  *word = *list;
  while ((*list)[w] && (*list)[w] != ' ' && (*list)[w] != ',' && (*list)[w] != '\t') w++;
  *list += w;
  return w;
}

/* proxy_trusted - is ip in the blank or comma separated list of
 * addresses and prefixes? */
int proxy_trusted(const char *ip, const char *list)
{
  unsigned char a[16];
  int alen = parse_ip(ip, a);
  const char *w;
  size_t len;
  if (!alen) return 0;
  while ((len = next_word(&list, &w)))
    if (in_prefix(a, alen, w, len)) return 1;
  return 0;
}

const char *proxy_list_bad(const char *list)
{
  static char bad[64];
  unsigned char n[16];
  unsigned long bits;
  const char *w;
  size_t len;
  while ((len = next_word(&list, &w)))
    if (!prefix(w, len, n, &bits)) {
      if (len >= sizeof bad) len = sizeof bad - 1;
      byte_copy(bad, len, w);
      bad[len] = 0;
      return bad;
    }
  return 0;
}

/* set_client - the header's source address as s->ip (IPv4-mapped IPv6
 * shown as IPv4); 1, or -1 */
static int set_client(struct session *s, const unsigned char *a, int alen)
{
  int v4 = alen == 4 || IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a);
  const unsigned char *p = alen == 16 && v4 ? a + 12 : a;
  return inet_ntop(v4 ? AF_INET : AF_INET6, p, s->ip, sizeof s->ip) ? 1 : -1;
}

/* field - the next field of line[*pos..len) into out[max]: exactly one
 * space, then bytes up to the next space or the end */
static int field(const char *line, size_t len, size_t *pos, char *out, size_t max)
{
  size_t i = *pos, n = 0;
  if (i >= len || line[i] != ' ') return -1;
  i++;
  while (i < len && line[i] != ' ') {
    if (n + 1 >= max) return -1;
    out[n++] = line[i++];
  }
  out[n] = 0;
  *pos = i;
  return n ? 0 : -1;
}

/* port - a decimal port number */
static int port(const char *p)
{
  unsigned long v;
  size_t n = str_len(p);
  return n <= 5 && scan_ulongn(p, n, &v) == n && v <= 65535 ? 0 : -1;
}

/* v1 - " TCP4|TCP6 src dst sport dport" or " UNKNOWN ..." after "PROXY",
 * line[0..len) without the CRLF */
static int v1(struct session *s, const char *line, size_t len)
{
  char proto[8], src[48], dst[48], sp[8], dp[8];
  unsigned char a[16], b[16];
  size_t pos = 0;
  int alen;
  if (field(line, len, &pos, proto, sizeof proto)) return -1;
  if (!str_diff(proto, "UNKNOWN")) return 0;        /* the balancer's own check */
  if (field(line, len, &pos, src, sizeof src) || field(line, len, &pos, dst, sizeof dst) ||
      field(line, len, &pos, sp, sizeof sp) || field(line, len, &pos, dp, sizeof dp) || pos != len)
    return -1;
  if (port(sp) || port(dp)) return -1;
  alen = !str_diff(proto, "TCP4") ? 4 : !str_diff(proto, "TCP6") ? 16 : 0;
  if (!alen || parse_ip(src, a) != alen || parse_ip(dst, b) != alen) return -1;
  return set_client(s, a, alen);
}

/* v2 - the binary header h[0..len): signature, version and command,
 * family, length, addresses */
static int v2(struct session *s, const unsigned char *h, size_t len)
{
  const unsigned char *body = h + 16;
  size_t blen = len - 16;
  if ((h[12] & 0xf0) != 0x20) return -1;
  if ((h[12] & 0x0f) == 0) return 0;                   /* LOCAL: a health check */
  if ((h[12] & 0x0f) != 1) return -1;
  switch (h[13]) {
  case 0x11: return blen >= 12 ? set_client(s, body, 4) : -1;     /* TCP over IPv4 */
  case 0x21: return blen >= 36 ? set_client(s, body, 16) : -1;    /* TCP over IPv6 */
  case 0x00: return 0;                                  /* UNSPEC: keep the socket's address */
  default: return -1;                                   /* UDP, unix sockets: not ours */
  }
}

int proxy_length(const char *buf, size_t len)
{
  size_t i, n = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
  if (byte_diff(buf, len < 5 ? len : 5, "PROXY") == 0) {
    for (i = 5; i + 1 < n; i++)
      if (buf[i] == '\r' && buf[i + 1] == '\n') return (int)(i + 2);
    return len >= PROXY_V1_MAX ? -1 : 0;
  }
  if (byte_diff(buf, len < 12 ? len : 12, v2sig)) return -1;
  if (len < 16) return 0;
  n = 16 + ((size_t)(unsigned char)buf[14] << 8 | (unsigned char)buf[15]);
  if (n > 16 + PROXY_V2_MAX) return -1;
  return len < n ? 0 : (int)n;
}

int proxy_parse(struct session *s, const char *buf, size_t len)
{
  if (len >= 7 && !byte_diff(buf, 5, "PROXY")) return v1(s, buf + 5, len - 7);
  if (len >= 16 && !byte_diff(buf, 12, v2sig)) return v2(s, (const unsigned char *)buf, len);
  return -1;
}

/* now_ms - a monotonic clock in milliseconds */
static long long now_ms(void)
{
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* peek - wait until the socket holds a whole header (its length), or -1
 * (not a header, the connection ended, the deadline passed) */
static int peek(int fd, char *buf, size_t max, long long deadline)
{
  for (;;) {
    struct pollfd p = { fd, POLLIN, 0 };
    long long left = deadline - now_ms();
    ssize_t n;
    int k;
    if (left <= 0) return -1;
    if (poll(&p, 1, left > 60000 ? 60000 : (int)left) == -1 && errno != EINTR) return -1;
    if (!p.revents) continue;
    do n = recv(fd, buf, max, MSG_PEEK); while (n == -1 && errno == EINTR);
    if (n <= 0) return -1;
    if ((k = proxy_length(buf, (size_t)n)) > 0) return k;
    if (k < 0) {   /* not a header: take what came, so that our close is a clean one */
      if (recv(fd, buf, (size_t)n, 0) < 0) { /* the connection is dropped anyway */ }
      return -1;
    }
    usleep(10000);   /* the rest of the header is on its way: poll would not wait */
  }
}

/* proxy_read - 1 when a trusted balancer's header gave the real client
 * (now in s->ip), 0 when there is nothing to believe (an untrusted peer,
 * a health check), -1 a trusted peer sent no valid header */
int proxy_read(struct session *s, const char *trusted)
{
  char buf[16 + PROXY_V2_MAX];
  int k;
  if (!proxy_trusted(s->ip, trusted)) return 0;
  k = peek(io_fd(), buf, sizeof buf, now_ms() + (long long)s->cfg->smtpd_timeout * 1000);
  if (k <= 0) return -1;
  if (recv(io_fd(), buf, (size_t)k, MSG_WAITALL) != k) return -1;   /* exactly the header */
  return proxy_parse(s, buf, (size_t)k);
}
