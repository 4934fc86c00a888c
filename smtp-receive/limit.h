/* limit.h - the listener's connection limits (limit.c): sessions in
 * all, sessions per client source, connections per source and minute,
 * in a table of fixed size (memory does not grow with the clients). */
#ifndef LIMIT_H
#define LIMIT_H

#define LIMIT_SLOTS 16384          /* sources remembered */
#define LIMIT_PROBES 16            /* slots looked at for one source */
#define LIMIT_SESSIONS_MAX 4096    /* the largest smtpd_max_sessions */
#define LIMIT_WINDOW 60            /* seconds of the rate window */

/* what limit_admit says */
enum { LIMIT_OK, LIMIT_TOTAL, LIMIT_SOURCE, LIMIT_RATE, LIMIT_FULL };

struct limit_slot {
  unsigned char key[16];          /* the source: IPv4 (mapped) or an IPv6 /64 */
  unsigned int used;              /* 1 once a source holds it */
  unsigned int sessions;          /* its open sessions */
  unsigned long window;           /* start of its rate window (seconds) */
  unsigned long count;            /* connections in that window */
};

struct limits {
  unsigned long max_sessions;     /* smtpd_max_sessions */
  unsigned long max_source;       /* smtpd_max_source_sessions, 0: none */
  unsigned long rate;             /* smtpd_source_rate_limit per minute, 0: none */
  unsigned long sessions;         /* open sessions in all */
  struct limit_slot slot[LIMIT_SLOTS];
};

/* limit_key - a source key from a socket address (IPv4-mapped IPv6 as
 * IPv4, IPv6 by its /64: one host has a /64 to choose from); 0, or -1
 * for another family (counted in the total only) */
int limit_key(const void *sockaddr, unsigned char key[16]);

/* limit_admit - may a new connection from key (0: no source, or one
 * exempt from the per-source limits) start a session at time now?
 * LIMIT_OK counts it as open and sets *slot (-1 without a source) for
 * limit_release; any other answer counts nothing but the rate. */
int limit_admit(struct limits *l, const unsigned char *key, unsigned long now, int *slot);

/* limit_adopt - count an open session from key (or 0) whatever the
 * limits say (a session started before a re-exec); its slot, or -1 */
int limit_adopt(struct limits *l, const unsigned char *key, unsigned long now);

/* limit_release - a session admitted with slot has ended */
void limit_release(struct limits *l, int slot);

/* limit_name - the postern.conf key behind an answer of limit_admit */
const char *limit_name(int answer);
#endif
