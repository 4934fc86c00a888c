/* proxy.c - the PROXY protocol (HAProxy's proxy-protocol.txt, versions 1
 * and 2), so that hubs behind a load balancer see the real client.  Only
 * a connection from an address listed in smtpd_proxy_trusted must start
 * with the header, and only its header is believed; from anyone else the
 * bytes would be an SMTP command (and an early talker). */
#include <arpa/inet.h>
#include "byte.h"
#include "getln.h"
#include "scan.h"
#include "str.h"
#include "smtp.h"

#define PROXY_V1_MAX 107         /* bytes of a version 1 line, CRLF included */
#define PROXY_V2_MAX 536         /* bytes of version 2 addresses we accept */

static const char v2sig[12] = { '\r', '\n', '\r', '\n', 0, '\r', '\n', 'Q', 'U', 'I', 'T', '\n' };

/* listed - is ip a word of the blank or comma separated list? */
static int listed(const char *ip, const char *list)
{
  size_t n = str_len(ip);
  while (*list) {
    size_t w = 0;
    while (*list == ' ' || *list == ',') list++;
    while (list[w] && list[w] != ' ' && list[w] != ',') w++;
    if (w == n && w && !byte_diff(list, n, ip)) return 1;
    list += w;
  }
  return 0;
}

/* word - the next blank-separated word of s[*pos..len) into out[max] */
static int word(const char *s, size_t len, size_t *pos, char *out, size_t max)
{
  size_t i = *pos, n = 0;
  if (i < len && s[i] == ' ') i++;
  while (i < len && s[i] != ' ' && n + 1 < max) out[n++] = s[i++];
  out[n] = 0;
  *pos = i;
  return n ? 0 : -1;
}

/* v1 - "PROXY TCP4|TCP6|UNKNOWN src dst sport dport" (after "PROXY") */
static int v1(struct session *s)
{
  char line[PROXY_V1_MAX], proto[8], src[64];
  size_t len, pos = 0;
  unsigned char a[16];
  if (getln(&io_in, line, sizeof line - 5, &len) != GETLN_LINE) return -1;
  if (len == 0 || line[len - 1] != '\r') return -1;
  len--;
  if (word(line, len, &pos, proto, sizeof proto) == -1) return -1;
  if (!str_diff(proto, "UNKNOWN")) return 0;
  if (word(line, len, &pos, src, sizeof src) == -1) return -1;
  if (!str_diff(proto, "TCP4") && inet_pton(AF_INET, src, a) == 1) { str_copy(s->ip, src); return 0; }
  if (!str_diff(proto, "TCP6") && inet_pton(AF_INET6, src, a) == 1) { str_copy(s->ip, src); return 0; }
  return -1;
}

/* v2 - the binary header, after its 12-byte signature */
static int v2(struct session *s, const char *head)
{
  char body[PROXY_V2_MAX], rest[11];
  size_t len;
  if (buffer_getn(&io_in, rest, 11) != 11) return -1;
  if (byte_diff(head, 5, v2sig) || byte_diff(rest, 7, v2sig + 5)) return -1;
  len = (size_t)(unsigned char)rest[9] << 8 | (unsigned char)rest[10];
  if ((rest[7] & 0xf0) != 0x20 || len > sizeof body) return -1;
  if (len && buffer_getn(&io_in, body, len) != (ssize_t)len) return -1;
  if ((rest[7] & 0x0f) == 0) return 0;                 /* LOCAL: a health check */
  if ((rest[7] & 0x0f) != 1) return -1;
  if (rest[8] == 0x11 && len >= 12) return inet_ntop(AF_INET, body, s->ip, sizeof s->ip) ? 0 : -1;
  if (rest[8] == 0x21 && len >= 36) return inet_ntop(AF_INET6, body, s->ip, sizeof s->ip) ? 0 : -1;
  return rest[8] == 0 ? 0 : -1;                       /* UNSPEC: keep the socket's address */
}

/* proxy_read - 0 (s->ip is the real client when a trusted balancer sent
 * a header), -1 a trusted peer sent no valid header */
int proxy_read(struct session *s, int fd, const char *trusted)
{
  char head[5];
  (void)fd;
  if (!listed(s->ip, trusted)) return 0;
  io_timeout(s->cfg->smtpd_timeout);
  if (buffer_getn(&io_in, head, 5) != 5) return -1;
  if (!byte_diff(head, 5, "PROXY")) return v1(s);
  if (byte_diff(head, 5, v2sig)) return -1;        /* neither: do not wait for more */
  return v2(s, head);
}
