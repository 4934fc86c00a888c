/* fuzz_config - libFuzzer target for config_parse (lib/config.c).  The input
 * is parsed as a postern.conf over the defaults.  A refusal must say
 * "fuzz.conf:LINE: reason"; an accepted file must leave every value sane
 * (absolute spool, no control characters) and must read back the same when
 * written out again as "key = value" lines.  Any broken invariant aborts;
 * LeakSanitizer checks that config_free releases everything. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "stralloc.h"
#include "config.h"

/* sane - a NUL-terminated value without controls */
static int sane(const char *s)
{
  if (!s) return 0;
  for (; *s; s++)
    if ((unsigned char)*s < 32 || *s == 127) return 0;
  return 1;
}

/* cat_num - n in decimal with the largest unit of units[] dividing it */
static void cat_num(stralloc *sa, unsigned long n, const unsigned long *mult, const char *units)
{
  char d[32];
  size_t i = 0, k;
  char u = 0;
  for (k = 0; units[k]; k++)
    if (n && n % mult[k] == 0) { n /= mult[k]; u = units[k]; break; }
  do { d[i++] = (char)('0' + n % 10); n /= 10; } while (n);
  while (i) stralloc_catb(sa, &d[--i], 1);
  if (u) stralloc_catb(sa, &u, 1);
}

static void cat_str(stralloc *sa, const char *key, const char *v)
{
  stralloc_cats(sa, key);
  stralloc_cats(sa, "=");   /* no blanks: the line is never longer than the one read */
  stralloc_cats(sa, v);
  stralloc_cats(sa, "\n");
}

/* unparse - c as a config file, derived values left to be derived */
static void unparse(stralloc *sa, const struct config *c)
{
  static const unsigned long size_mult[] = { 1UL << 30, 1UL << 20, 1UL << 10 };
  static const unsigned long dur_mult[] = { 604800, 86400, 3600, 60 };
  sa->len = 0;
  cat_str(sa, "hostname", c->hostname);
  if (strcmp(c->domain, c->hostname)) cat_str(sa, "domain", c->domain);
  cat_str(sa, "spool", c->spool);
  cat_str(sa, "map_dir", c->map_dir);
  cat_str(sa, "libexec_dir", c->libexec_dir);
  /* the derived injector may not fit on a line: leave it to be derived */
  if (strncmp(c->injector, c->libexec_dir, strlen(c->libexec_dir)) ||
      strcmp(c->injector + strlen(c->libexec_dir), "/spool-inject"))
    cat_str(sa, "injector", c->injector);
  cat_str(sa, "relayhost", c->relayhost);
  cat_str(sa, "tls_cert_file", c->tls_cert_file);
  cat_str(sa, "tls_key_file", c->tls_key_file);
  stralloc_cats(sa, "message_size_limit = ");
  cat_num(sa, c->message_size_limit, size_mult, "GMk");
  stralloc_cats(sa, "\nspool_reserve = ");
  cat_num(sa, c->spool_reserve, size_mult, "GMk");
  stralloc_cats(sa, "\nqueue_lifetime = ");
  cat_num(sa, c->queue_lifetime, dur_mult, "wdhm");
  stralloc_cats(sa, "\nlog = ");
  stralloc_cats(sa, c->log == LOGTO_AUTO ? "auto" : c->log == LOGTO_STDERR ? "stderr" : "syslog");
  stralloc_cats(sa, "\n");
}

static int same(const char *a, const char *b) { return strcmp(a, b) == 0; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct config c, c2;
  stralloc err = {0}, text = {0};
  int r;

  config_defaults(&c);
  r = config_parse(&c, "fuzz.conf", (const char *)data, size, &err);
  if (r != 0 && r != -1) abort();
  if (r == -1 && (err.len < 11 || memcmp(err.s, "fuzz.conf:", 10))) abort();
  if (r == 0) {
    if (!sane(c.hostname) || !sane(c.domain) || !sane(c.spool) || !sane(c.map_dir) ||
        !sane(c.libexec_dir) || !sane(c.injector) || !sane(c.relayhost) ||
        !sane(c.tls_cert_file) || !sane(c.tls_key_file)) abort();
    if (c.spool[0] != '/' || !*c.injector) abort();
    if (c.log != LOGTO_AUTO && c.log != LOGTO_STDERR && c.log != LOGTO_SYSLOG) abort();
    if (c.arena_used > c.arena_size) abort();
    /* the values, written out again, read back the same */
    unparse(&text, &c);
    config_defaults(&c2);
    err.len = 0;
    if (config_parse(&c2, "again.conf", text.s, text.len, &err) != 0) abort();
    if (!same(c.hostname, c2.hostname) || !same(c.domain, c2.domain) || !same(c.spool, c2.spool) ||
        !same(c.map_dir, c2.map_dir) || !same(c.libexec_dir, c2.libexec_dir) ||
        !same(c.injector, c2.injector) || !same(c.relayhost, c2.relayhost) ||
        !same(c.tls_cert_file, c2.tls_cert_file) || !same(c.tls_key_file, c2.tls_key_file) ||
        c.message_size_limit != c2.message_size_limit || c.spool_reserve != c2.spool_reserve ||
        c.queue_lifetime != c2.queue_lifetime || c.log != c2.log) abort();
    config_free(&c2);
  }
  config_free(&c);
  stralloc_free(&err);
  stralloc_free(&text);
  return 0;
}
