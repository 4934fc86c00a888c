/* auth.c - smarthost credentials and the AUTH exchanges (RFC 4954, 4616).
 *
 * The credentials live in map_dir/relay-auth.cdb, readable only by the
 * user remote-send runs as (postern-send): a map that its group or others
 * could read is refused, so a mistake in its mode shows up as deferred
 * mail, not as a leaked password.  Keys: the route as queue-run names it
 * without the scheme ("[smtp.example.net]:587"), else the bare host.
 * Value: "user:password" (the user holds no ':').  The password never
 * reaches argv, the environment or the log, and is wiped after use. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include "byte.h"
#include "str.h"
#include "textcode.h"
#include "map.h"
#include "rs.h"

/* refuse - why = text; -1 */
static int refuse(stralloc *why, const char *a, const char *b)
{
  if (stralloc_copys(why, a)) stralloc_cats(why, b);
  return -1;
}

/* found - split "user:password" into c; 1, or -1 if malformed */
static int found(const stralloc *v, struct cred *c, stralloc *why)
{
  size_t colon = byte_chr(v->s, v->len, ':');
  if (colon == v->len || colon == 0 || colon >= sizeof c->user || v->len - colon - 1 >= sizeof c->pass)
    return refuse(why, "4.3.5 malformed relay-auth entry (user:password)", "");
  byte_copy(c->user, colon, v->s);
  c->user[colon] = 0;
  byte_copy(c->pass, v->len - colon - 1, v->s + colon + 1);
  c->pass[v->len - colon - 1] = 0;
  return 1;
}

/* auth_lookup - the credentials for d; 1 found, 0 none, -1 the map is
 * unsafe or unreadable (why: "4.x.x reason", a deferral) */
int auth_lookup(const char *map_dir, const struct dest *d, struct cred *c, stralloc *why)
{
  static stralloc path, v;
  struct map m = { 0 };
  struct stat st;
  int r;
  if (!stralloc_copys(&path, map_dir) || !stralloc_cats(&path, "/relay-auth.cdb") || !stralloc_0(&path))
    return refuse(why, "4.3.0 out of memory", "");
  if ((r = map_open(&m, path.s)) == 0) return 0;
  if (r == -1) return refuse(why, "4.3.5 unable to open relay-auth.cdb: ", strerror(errno));
  if (fstat(m.fd, &st) == -1 || (st.st_mode & 077)) {
    map_close(&m);
    return refuse(why, "4.3.5 refusing relay-auth.cdb: ", "readable or writable by group or others (chmod 600)");
  }
  r = map_lookup(&m, d->key, str_len(d->key), &v);
  if (r == 0 && str_diff(d->key, d->host)) r = map_lookup(&m, d->host, str_len(d->host), &v);
  map_close(&m);
  if (r == -1) r = refuse(why, "4.3.5 unable to read relay-auth.cdb: ", strerror(errno));
  else if (r == 1) r = found(&v, c, why);
  byte_zero(v.s, v.a);
  return r;
}

/* auth_base64 - base64 of in[0..len) into out (4 * ceil(len / 3) bytes
 * and a NUL: a command line); returns the length */
size_t auth_base64(char *out, const char *in, size_t len)
{
  size_t n = fmt_base64(out, in, len);
  out[n] = 0;
  return n;
}

/* auth_plain - the PLAIN initial response, base64 of NUL user NUL pass,
 * into out (at least 700 bytes) */
size_t auth_plain(char *out, const struct cred *c)
{
  char raw[520];
  size_t u = str_len(c->user), p = str_len(c->pass), n;
  raw[0] = 0;
  byte_copy(raw + 1, u, c->user);
  raw[u + 1] = 0;
  byte_copy(raw + u + 2, p, c->pass);
  n = auth_base64(out, raw, u + p + 2);
  explicit_bzero(raw, sizeof raw);
  return n;
}

void auth_wipe(struct cred *c)
{
  explicit_bzero(c, sizeof *c);
}
