/* localnames.c - whether this host's own names (hostname and localhost)
 * are local domains, as local_delivery in postern.conf(5) says:
 *   yes   they are, besides the keys of local-domains (a hub, a server)
 *   no    only local-domains is local: mail to root@localhost or
 *         daemon@<hostname> is qualified with domain and sent on
 *   auto  no on a null client (a relayhost and no local-domains keys),
 *         else yes: the default fits make install-nullclient and
 *         install-hub alike
 * queue-run (routing) and smtp-receive (RCPT checks) ask the same. */
#include "case.h"
#include "str.h"
#include "localnames.h"

/* same - a equals b[0..len), ASCII case ignored */
static int same(const char *a, const char *b, size_t len)
{
  return str_len(a) == len && case_diffb(a, len, b) == 0;
}

int localnames_is(const struct config *c, const char *d, size_t len)
{
  return same(c->hostname, d, len) || same("localhost", d, len);
}

/* has_keys - does the (open or absent) map hold a record?  1, 0, -1 */
static int has_keys(struct map *m)
{
  static stralloc k, v;
  unsigned long pos = 0;
  if (!m->open) return 0;
  return map_next(m, &pos, &k, &v);
}

int localnames_local(const struct config *c, struct map *local_domains)
{
  int keys;
  if (!str_diff(c->local_delivery, "yes")) return 1;
  if (!str_diff(c->local_delivery, "no")) return 0;
  if (str_diff(c->local_delivery, "auto")) return -1;
  if (!*c->relayhost) return 1;
  keys = has_keys(local_domains);
  return keys == -1 ? -1 : keys;
}
