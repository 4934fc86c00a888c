/* test_limit.c - smtp-listen's limit table (limit.c): the total, per
 * source and rate limits, release, keys, and a table that stays bounded
 * and keeps working when many more sources come than it has slots */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include "../../lib/tests/t.h"
#include "../limit.h"

static struct limits l;

/* key4 - the key of an IPv4 address */
static const unsigned char *key4(const char *ip)
{
  static unsigned char k[16];
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  inet_pton(AF_INET, ip, &sin.sin_addr);
  limit_key(&sin, k);
  return k;
}

/* key6 - the key of an IPv6 address */
static const unsigned char *key6(const char *ip, unsigned char *k)
{
  struct sockaddr_in6 sin6;
  memset(&sin6, 0, sizeof sin6);
  sin6.sin6_family = AF_INET6;
  inet_pton(AF_INET6, ip, &sin6.sin6_addr);
  limit_key(&sin6, k);
  return k;
}

static void reset(unsigned long total, unsigned long source, unsigned long rate)
{
  memset(&l, 0, sizeof l);
  l.max_sessions = total; l.max_source = source; l.rate = rate;
}

int main(void)
{
  unsigned char a[16], b[16];
  int slot, s[8], i, ok;
  unsigned long t = 1000000;

  reset(3, 2, 0);
  T_OK("source: first", limit_admit(&l, key4("192.0.2.1"), t, &s[0]) == LIMIT_OK && s[0] >= 0);
  T_OK("source: second", limit_admit(&l, key4("192.0.2.1"), t, &s[1]) == LIMIT_OK && s[1] == s[0]);
  T_OK("source: third over smtpd_max_source_sessions", limit_admit(&l, key4("192.0.2.1"), t, &slot) == LIMIT_SOURCE && slot == -1);
  T_OK("source: another address is served", limit_admit(&l, key4("192.0.2.2"), t, &s[2]) == LIMIT_OK);
  T_OK("total: over smtpd_max_sessions", limit_admit(&l, key4("192.0.2.3"), t, &slot) == LIMIT_TOTAL);
  T_OK("total: an exempt source counts in the total too", limit_admit(&l, 0, t, &slot) == LIMIT_TOTAL);
  limit_release(&l, s[0]);
  T_OK("release: the source may come again", limit_admit(&l, key4("192.0.2.1"), t, &s[0]) == LIMIT_OK);
  limit_release(&l, s[0]); limit_release(&l, s[1]); limit_release(&l, s[2]);
  T_OK("release: nothing open", l.sessions == 0 && l.slot[s[0]].sessions == 0);
  limit_release(&l, -1);
  T_OK("release: never below zero", l.sessions == 0);
  T_OK("exempt: no slot", limit_admit(&l, 0, t, &slot) == LIMIT_OK && slot == -1 && l.sessions == 1);
  limit_release(&l, slot);

  reset(100, 0, 3);
  ok = 1;
  for (i = 0; i < 3; i++) {
    if (limit_admit(&l, key4("198.51.100.7"), t + (unsigned long)i, &slot) != LIMIT_OK) ok = 0;
    limit_release(&l, slot);
  }
  T_OK("rate: three in a minute", ok);
  T_OK("rate: the fourth is refused", limit_admit(&l, key4("198.51.100.7"), t + 10, &slot) == LIMIT_RATE);
  T_OK("rate: refused ones count too", limit_admit(&l, key4("198.51.100.7"), t + 20, &slot) == LIMIT_RATE);
  T_OK("rate: other sources are not affected", limit_admit(&l, key4("198.51.100.8"), t + 20, &slot) == LIMIT_OK);
  limit_release(&l, slot);
  T_OK("rate: a new window, a new count", limit_admit(&l, key4("198.51.100.7"), t + LIMIT_WINDOW, &slot) == LIMIT_OK);
  limit_release(&l, slot);
  T_OK("rate: a clock that went back starts a new window", limit_admit(&l, key4("198.51.100.7"), t - 500, &slot) == LIMIT_OK);
  limit_release(&l, slot);

  /* keys: IPv4-mapped IPv6 is the IPv4 source; an IPv6 /64 is one source */
  key6("::ffff:192.0.2.9", a);
  T_OK("key: IPv4-mapped is IPv4", memcmp(a, key4("192.0.2.9"), 16) == 0);
  key6("2001:db8:1:2::1", a); key6("2001:db8:1:2:ffff::9", b);
  T_OK("key: one /64, one source", memcmp(a, b, 16) == 0);
  key6("2001:db8:1:3::1", b);
  T_OK("key: another /64, another source", memcmp(a, b, 16) != 0);
  struct sockaddr_storage un;
  memset(&un, 0, sizeof un);
  un.ss_family = AF_UNIX;
  T_OK("key: no key for a Unix socket", limit_key(&un, a) == -1);

  /* bounded: ten times more sources than slots, each with a session
   * that ends; the table never loses an open session's count */
  reset(LIMIT_SESSIONS_MAX, 1, 0);
  ok = 1;
  int open[64], nopen = 0;
  for (i = 0; i < LIMIT_SLOTS * 10; i++) {
    unsigned char k[16];
    memset(k, 0, 16);
    k[0] = (unsigned char)(i >> 24); k[1] = (unsigned char)(i >> 16); k[2] = (unsigned char)(i >> 8); k[3] = (unsigned char)i;
    int r = limit_admit(&l, k, t + (unsigned long)(i / 1000), &slot);
    if (r != LIMIT_OK) { ok = 0; break; }
    if (i % 1000 == 0 && nopen < 64) open[nopen++] = slot;   /* a few stay open */
    else limit_release(&l, slot);
  }
  T_OK("bounded: 163840 sources through 16384 slots, all served", ok);
  T_OK("bounded: the open sessions are still counted", l.sessions == (unsigned long)nopen);
  for (i = 0, ok = 1; i < nopen; i++) if (l.slot[open[i]].sessions != 1) ok = 0;
  T_OK("bounded: their slots were never given away", ok);

  T_OK("names", !strcmp(limit_name(LIMIT_SOURCE), "smtpd_max_source_sessions") &&
       !strcmp(limit_name(LIMIT_RATE), "smtpd_source_rate_limit") && !strcmp(limit_name(LIMIT_TOTAL), "smtpd_max_sessions"));
  T_DONE();
}
