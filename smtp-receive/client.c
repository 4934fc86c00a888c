/* client.c - who the client is: its address (the socket's, or a trusted
 * PROXY header's, proxy.c) and its name.
 *
 * The name is what the access map's host keys, the log and Received:
 * show.  It is believed only when forward-confirmed: the PTR name of the
 * address must have an A or AAAA record holding that same address, as
 * Postfix and sendmail require, since anyone who owns an address block
 * can make its PTR records say anything.  Everything else is "unknown".
 * A loopback address is "localhost" without asking DNS; tcpserver's
 * $TCPREMOTEHOST is taken as it is (tcpserver made the lookup); with
 * smtpd_client_name_lookup=no no lookup is made at all. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <sys/socket.h>
#include "byte.h"
#include "case.h"
#include "resolve.h"
#include "str.h"
#include "smtp.h"

/* client_address - the peer of fd 0 (IPv4-mapped shown as IPv4); "" in
 * local mode, 0.0.0.0 if it cannot be known */
void client_address(struct session *s)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  str_copy(s->name, s->mode == MODE_LOCAL ? "localhost" : "unknown");   /* until client_name */
  if (s->mode == MODE_LOCAL) { s->ip[0] = 0; return; }
  str_copy(s->ip, "0.0.0.0");
  if (getpeername(0, (struct sockaddr *)&ss, &len) == -1) return;
  if (ss.ss_family == AF_INET) {
    if (!inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, s->ip, sizeof s->ip)) str_copy(s->ip, "0.0.0.0");
  } else if (ss.ss_family == AF_INET6) {
    struct in6_addr *a = &((struct sockaddr_in6 *)&ss)->sin6_addr;
    const void *p = IN6_IS_ADDR_V4MAPPED(a) ? (const void *)(a->s6_addr + 12) : (const void *)a;
    if (!inet_ntop(IN6_IS_ADDR_V4MAPPED(a) ? AF_INET : AF_INET6, p, s->ip, sizeof s->ip)) str_copy(s->ip, "0.0.0.0");
  } else if (ss.ss_family == AF_UNIX) str_copy(s->ip, "127.0.0.1");
}

/* client_name_ok - a host name we can use: letters, digits, '-' and '.',
 * no empty label, and a last label that is not all digits (a PTR record
 * saying "192.0.2.1" or "x.10.0.0.1" must not pass for an address) */
int client_name_ok(const char *n, size_t len)
{
  size_t i, label = 0;
  int alpha = 0;
  if (len == 0 || len > 253) return 0;
  for (i = 0; i < len; i++) {
    char c = n[i];
    if (c == '.') {
      if (label == 0 || n[i - 1] == '-') return 0;
      label = 0;
      alpha = 0;
      continue;
    }
    if (c == '-' && label == 0) return 0;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) alpha = 1;
    else if (!(c >= '0' && c <= '9') && c != '-') return 0;
    if (++label > 63) return 0;
  }
  return label > 0 && n[len - 1] != '-' && alpha;
}

/* client_loopback - 127.0.0.0/8, ::1 or no socket: a client on this host */
int client_loopback(const char *ip)
{
  /* 0.0.0.0: fd 0 is no socket (a pipe from inetd or a program here) */
  return !byte_diff(ip, 4, "127.") || !str_diff(ip, "::1") || !str_diff(ip, "0.0.0.0");
}

/* confirmed - does name have an address record equal to a (alen bytes)?
 * Only the client's own family is asked for. */
static int confirmed(const char *name, const unsigned char *a, size_t alen)
{
  static stralloc ips;
  size_t i;
  if (resolve_family(name, alen == 16, &ips) != 1) return 0;
  for (i = 0; i + alen <= ips.len; i += alen)
    if (!byte_diff(ips.s + i, alen, a)) return 1;
  return 0;
}

/* lookup - the forward-confirmed PTR name of ip into s->name (every
 * question bounded by resolve_timeout, set in main.c) */
static void lookup(struct session *s)
{
  static stralloc name;
  unsigned char a[16];
  size_t alen;
  if (inet_pton(AF_INET, s->ip, a) == 1) alen = 4;
  else if (inet_pton(AF_INET6, s->ip, a) == 1) alen = 16;
  else return;
  if (resolve_name(s->ip, &name) != 1 || !client_name_ok(name.s, name.len) || name.len >= sizeof s->name) return;
  byte_copy(s->name, name.len, name.s);
  s->name[name.len] = 0;
  case_lowerb(s->name, name.len);
  if (!confirmed(s->name, a, alen)) str_copy(s->name, "unknown");
}

/* client_name - s->name for the client at s->ip; when s->proxied the
 * socket's peer is the balancer, so $TCPREMOTEHOST names the wrong host */
void client_name(struct session *s)
{
  const char *env = getenv("TCPREMOTEHOST");
  str_copy(s->name, "unknown");
  if (s->mode == MODE_LOCAL) { str_copy(s->name, "localhost"); return; }
  if (!s->proxied && env && client_name_ok(env, str_len(env)) && str_len(env) < sizeof s->name) {
    str_copy(s->name, env);
    return;
  }
  if (client_loopback(s->ip)) { str_copy(s->name, "localhost"); return; }
  if (s->set.name_lookup) lookup(s);
}
