/* mx.c - from a destination to the list of addresses to try (RFC 5321
 * 5.1): MX records by preference, random among equal preferences; no MX
 * means the domain's own A/AAAA; a null MX (RFC 7505) or a domain that
 * does not exist fails for good, a DNS failure is temporary.  A host's
 * addresses alternate IPv6 and IPv4 (RFC 8305), so an unusable family
 * costs one attempt, not all of them.  An MX that names us, or that
 * resolves to one of our addresses, ends the list there (RFC 5321 5.1:
 * only MX hosts preferred over us are tried): mail would loop.
 *
 * The same holds for every route, smtp:[host], lmtp:host, a relayhost or
 * an address literal: one of our own addresses on the port of one of our
 * own listeners (25, 465, 587: postern-smtpd, -smtps, -submission) is
 * smtp-receive itself, and the mail would come straight back.  Such a
 * route is the administrator's mistake: the mail is deferred (4.4.6)
 * until it is fixed, where a looping MX fails (5.4.6).  A content filter
 * or LMTP server on loopback listens on another port and is not ours.
 * remote-send's smtp.c also checks the greeting and the EHLO reply for
 * our own name (SMTP only: an LMTP server on this host may well use it). */
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include "byte.h"
#include "case.h"
#include "dns.h"
#include "str.h"
#include "num.h"
#include "resolve.h"
#include "rs.h"

struct mxrec { unsigned int pref, rnd; const char *name; };

/* fail - why = "status text name", returning class */
static int fail(stralloc *why, int class, const char *status, const char *text, const char *name)
{
  if (!stralloc_copys(why, status) || !stralloc_cats(why, " ") || !stralloc_cats(why, text)
      || !stralloc_cats(why, name)) return MX_TEMP;
  return class;
}

/* mx_interleave - alternate the families of n addresses, IPv6 first,
 * keeping the order within each family */
void mx_interleave(struct target *t, unsigned int n)
{
  struct target tmp[RS_ADDRS_MAX];
  unsigned int i6 = 0, i4 = 0, k = 0;
  int want = AF_INET6;
  if (n > RS_ADDRS_MAX) return;
  while (k < n) {
    unsigned int *i = want == AF_INET6 ? &i6 : &i4;
    while (*i < n && t[*i].family != want) (*i)++;
    if (*i < n) { tmp[k++] = t[*i]; (*i)++; }
    else if ((want == AF_INET6 ? i4 : i6) >= n) break;
    want = want == AF_INET6 ? AF_INET : AF_INET6;
  }
  byte_copy(t, k * sizeof *t, tmp);
}

/* mx_local_address - is ip one of this machine's interface addresses?
 * The interfaces are read once per process (getifaddrs), not per address
 * (again only after a failure) */
int mx_local_address(const unsigned char *ip, int family)
{
  static const unsigned char six_lo[16] = { 0,0,0,0, 0,0,0,0, 0,0,0,0, 0,0,0,1 };
  static struct ifaddrs *all;   /* kept for the process's life; 0 until read */
  struct ifaddrs *a;
  /* all of 127.0.0.0/8 is this machine, not only what lo lists */
  if (family == AF_INET && ip[0] == 127) return 1;
  if (family == AF_INET6 && !byte_diff(ip, 16, six_lo)) return 1;
  if (!all && getifaddrs(&all) == -1) all = 0;
  for (a = all; a; a = a->ifa_next) {
    if (!a->ifa_addr || a->ifa_addr->sa_family != family) continue;
    if (family == AF_INET && !byte_diff(&((struct sockaddr_in *)a->ifa_addr)->sin_addr, 4, ip)) return 1;
    if (family == AF_INET6 && !byte_diff(&((struct sockaddr_in6 *)a->ifa_addr)->sin6_addr, 16, ip)) return 1;
  }
  return 0;
}

/* own_port - is port one of our own listeners' (units/postern-*.socket)? */
static int own_port(unsigned long port)
{
  return port == 25 || port == 465 || port == 587;
}

/* add_host - the addresses of one host, families interleaved; returns
 * resolve_ip's answer.  *local is set when one of them is ours. */
static int add_host(struct targets *ts, const char *name, int pref, int check_local, int *local)
{
  static stralloc ip6, ip4;
  unsigned int first = ts->n, i;
  int r;
  if (str_len(name) > RS_HOST_MAX) return 0;
  if ((r = resolve_ip(name, &ip6, &ip4)) != 1) return r;
  for (i = 0; i < ip6.len / 16 + ip4.len / 4 && ts->n < RS_ADDRS_MAX; i++) {
    struct target *t = &ts->t[ts->n];
    int six = i < ip6.len / 16;
    t->family = six ? AF_INET6 : AF_INET;
    byte_copy(t->ip, six ? 16 : 4, six ? ip6.s + 16 * i : ip4.s + 4 * (i - ip6.len / 16));
    if (check_local && mx_local_address(t->ip, t->family)) { *local = 1; ts->n = first; return 1; }
    t->pref = pref;
    str_copy(t->name, name);
    ts->n++;
  }
  mx_interleave(ts->t + first, ts->n - first);
  return 1;
}

/* literal - host is an IP address: one target; 1, 0 if it is not an
 * address, -1 if it is one of our own listeners */
static int literal(struct targets *ts, const struct dest *d)
{
  struct target *t = &ts->t[0];
  if (inet_pton(AF_INET6, d->host, t->ip) == 1) t->family = AF_INET6;
  else if (inet_pton(AF_INET, d->host, t->ip) == 1) t->family = AF_INET;
  else return 0;
  if (own_port(d->port) && mx_local_address(t->ip, t->family)) return -1;
  str_copy(t->name, d->host);
  t->pref = -1;
  ts->n = 1;
  return 1;
}

/* looped - the route d leads back to one of our listeners */
static int looped(stralloc *why, const struct dest *d)
{
  char port[NUM_ULONG];
  num_str(port, d->port);
  if (d->mx) return fail(why, MX_PERM, "5.4.6", "mail loops back to myself: the address of ", d->host);
  if (!stralloc_copys(why, "4.4.6 mail for [") || !stralloc_cats(why, d->host) || !stralloc_cats(why, "]:") ||
      !stralloc_cats(why, port) || !stralloc_cats(why, " loops back to myself (one of our own listeners; check the route)"))
    return MX_TEMP;   /* out of memory: deferred all the same */
  return MX_TEMP;
}

/* records - the MX answer as records sorted by preference, ties at random */
static unsigned int records(const stralloc *ans, struct mxrec *rec)
{
  unsigned int n = 0, i, j;
  size_t pos = 0;
  while (pos + 2 < ans->len && n < RS_MX_MAX) {
    struct mxrec x;
    x.pref = (unsigned char)ans->s[pos] << 8 | (unsigned char)ans->s[pos + 1];
    x.name = ans->s + pos + 2;
    x.rnd = dns_random(65536);
    pos += 2 + str_len(x.name) + 1;
    for (i = n; i > 0; i--) {
      j = i - 1;
      if (rec[j].pref < x.pref || (rec[j].pref == x.pref && rec[j].rnd <= x.rnd)) break;
      rec[i] = rec[j];
    }
    rec[i] = x;
    n++;
  }
  return n;
}

/* via_mx - the addresses of the MX hosts in rec[0..n) */
static int via_mx(struct targets *ts, const struct dest *d, const char *me, struct mxrec *rec, unsigned int n, stralloc *why)
{
  unsigned int i;
  int temp = 0, local = 0;
  for (i = 0; i < n; i++)
    if (!rec[i].name[0] || !str_diff(rec[i].name, "."))
      return fail(why, MX_PERM, "5.1.10", "domain does not accept mail (null MX): ", d->host);
  for (i = 0; i < n && ts->n < RS_ADDRS_MAX && !local; i++) {
    int r;
    if (!case_diffs(rec[i].name, me)) { local = 1; break; }
    r = add_host(ts, rec[i].name, (int)rec[i].pref, own_port(d->port), &local);
    if (r == -1) temp = 1;
  }
  if (ts->n) return MX_OK;
  if (local) return fail(why, MX_PERM, "5.4.6", "mail loops back to myself: the best MX for ", d->host);
  if (temp) return fail(why, MX_TEMP, "4.4.3", "temporary DNS failure for the MX hosts of ", d->host);
  return fail(why, MX_PERM, "5.4.4", "no address for any MX host of ", d->host);
}

/* plain_host - the host's own addresses (no MX, or MX not wanted) */
static int plain_host(struct targets *ts, const struct dest *d, stralloc *why)
{
  int local = 0;
  int r = add_host(ts, d->host, -1, own_port(d->port), &local);
  /* a route or relayhost naming a host that does not exist is the
   * administrator's mistake: keep the mail until it is fixed */
  int perm = d->mx ? MX_PERM : MX_TEMP;
  const char *st = d->mx ? "5.1.2" : "4.3.5";
  if (r == 1 && local) return looped(why, d);
  if (r == 1) return MX_OK;
  if (r == -1) return fail(why, MX_TEMP, "4.4.3", "temporary DNS failure for ", d->host);
  if (r == RESOLVE_NXDOMAIN) return fail(why, perm, st, "host or domain not found (NXDOMAIN): ", d->host);
  return fail(why, perm, st, "no MX, A or AAAA record for ", d->host);
}

/* mx_targets - the addresses to try for d; me is our hostname.  MX_OK,
 * MX_TEMP or MX_PERM with "x.y.z reason" in why. */
int mx_targets(struct targets *ts, const struct dest *d, const char *me, stralloc *why)
{
  static stralloc ans;
  struct mxrec rec[RS_MX_MAX];
  int r;
  ts->n = 0;
  if (d->path[0]) {
    ts->t[0].family = AF_UNIX;
    str_copy(ts->t[0].name, d->path);
    ts->n = 1;
    return MX_OK;
  }
  if ((r = literal(ts, d)) == -1) return looped(why, d);
  if (r) return MX_OK;
  if (!d->mx) return plain_host(ts, d, why);
  r = resolve_mx(d->host, &ans);
  if (r == RESOLVE_NXDOMAIN) return fail(why, MX_PERM, "5.1.2", "domain not found (NXDOMAIN): ", d->host);
  if (r == -1) return fail(why, MX_TEMP, "4.4.3", "temporary DNS failure looking up the MX of ", d->host);
  if (r == 0) return plain_host(ts, d, why);
  return via_mx(ts, d, me, rec, records(&ans, rec), why);
}
