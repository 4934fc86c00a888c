/* access.h - the access map (DESIGN.md, postern-maps(8)): which key an SMTP
 * client's address, host name or mail address is looked up under, most
 * specific first, and what a value means.
 *
 *   IPv4     1.2.3.4, 1.2.3, 1.2, 1
 *   IPv6     the inet_ntop(3) form (RFC 5952: 2001:db8::1), then the
 *            expanded form without leading zeros cut to 7, 6, ... 1 groups:
 *            2001:db8:0:0:0:0:0, ..., 2001:db8, 2001.  An IPv4-mapped
 *            address (::ffff:1.2.3.4) gets the IPv4 keys.
 *   host     host.example.com, example.com, com (a trailing dot dropped)
 *   address  user@example.com, user@, example.com, com; a bare "user"
 *            gets only user@; the null sender (empty) gets <>
 *
 * A key may carry sendmail's role tag: Connect: (client address or name),
 * From: (sender), To: (recipient); for each key the tagged one is looked
 * up first, then the untagged one, which applies to every role.  Client
 * keys may also be CIDR prefixes (192.0.2.0/25, 2001:db8::/36), which
 * postern-maps expands into the keys above.
 *
 * Values: OK, RELAY, REJECT, DISCARD, SKIP (any case), ERROR:4xx text,
 * ERROR:5xx text, optionally with an enhanced status code of the same class
 * after the reply code (ERROR:550 5.7.1 text); sendmail's spellings
 * ERROR:"550 text" and ERROR:5.7.1:550 text are read too. */
#ifndef ACCESS_H
#define ACCESS_H
#include <stddef.h>
#include "stralloc.h"
#include "map.h"

enum {
  ACCESS_NONE = 0,   /* not filled */
  ACCESS_OK,         /* accept, skip further checks of this kind */
  ACCESS_RELAY,      /* accept and allow relaying */
  ACCESS_REJECT,     /* refuse: code 550, status 5.7.1, text "Access denied" */
  ACCESS_DISCARD,    /* accept and throw away */
  ACCESS_ERROR,      /* refuse with the code, status and text given */
  ACCESS_SKIP        /* stop looking: no key of this subject decides */
};

/* What is looked up: the client's address or name (Connect: keys), an
 * address in no particular role (untagged keys only), the sender (From:),
 * a recipient (To:) */
enum { ACCESS_KIND_IP, ACCESS_KIND_HOST, ACCESS_KIND_ADDRESS, ACCESS_KIND_FROM, ACCESS_KIND_TO };

#define ACCESS_TEXT_MAX 400          /* bytes of text in an ERROR: value */
#define ACCESS_CIDR_KEYS_MAX 4096    /* keys one CIDR prefix may expand to */

struct access_result {
  int action;        /* ACCESS_OK ... ACCESS_ERROR */
  char code[4];      /* "550", "" for OK, RELAY, DISCARD */
  char status[16];   /* "5.7.1", "" for OK, RELAY, DISCARD */
  stralloc text;     /* reply text ("Access denied" by default), NUL after len */
  stralloc key;      /* the key that matched, NUL after len */
};

/* access_keys_ip, access_keys_host, access_keys_address - replace keys with
 * the lookup keys for subject, as consecutive NUL-terminated strings, most
 * specific first, lower-cased.  Number of keys, or -1 with errno EINVAL
 * (malformed subject) or ENOMEM. */
int access_keys_ip(const char *ip, stralloc *keys);
int access_keys_host(const char *host, stralloc *keys);
int access_keys_address(const char *addr, stralloc *keys);

/* access_parse - interpret the value v[0..len) into r (whose strallocs
 * must start zeroed).  0 valid; -1 invalid (errno EINVAL) or ENOMEM. */
int access_parse(const char *v, size_t len, struct access_result *r);

/* access_check - look subject up in the access map m, keys of kind
 * ACCESS_KIND_IP, _HOST or _ADDRESS.  1 a key matched: r filled, r->key
 * says which; 0 no key matched; -1 error, errno: EINVAL the subject is
 * malformed, EPROTO the matching key (r->key) has an invalid value, else
 * the lookup failed.  Callers treat -1 as a temporary failure. */
int access_check(struct map *m, int kind, const char *subject, struct access_result *r);

/* access_key_normalize - the canonical spelling of a key in the access
 * text file, as postern-maps stores it: lower case, IPv6 addresses in the
 * inet_ntop(3) form, IPv6 prefixes without leading zeros.  1 done (out
 * replaced); 0 a key access_key_parse refuses, or a prefix that expands
 * to several keys; -1 out of memory. */
int access_key_normalize(const char *k, size_t len, stralloc *out);

/* A key of the access text file as postern-maps stores it: one key, or
 * the keys a CIDR prefix expands to */
struct access_key {
  stralloc keys;      /* NUL-terminated keys, tag included, lower case */
  unsigned count;     /* how many */
  int prefix;         /* a CIDR prefix's length, else -1 */
  const char *why;    /* an invalid key: why nothing could ever match it */
};

/* access_key_parse - check and spell key k[0..len): 1 done, 0 invalid
 * (key->why says why), -1 out of memory.  key starts zeroed or as a
 * previous call left it; free with access_key_free. */
int access_key_parse(const char *k, size_t len, struct access_key *key);
void access_key_free(struct access_key *key);

/* access_result_free - release r's strallocs */
void access_result_free(struct access_result *r);
#endif
