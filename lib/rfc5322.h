/* rfc5322.h - RFC 5322 address lists in header fields (lib/rfc5322.c):
 * parsed where they stand, so that a caller can change one address and
 * leave every other byte of the field as it was.  sendmail(8) uses it for
 * -t, qualification and -F; remote-send(8) for sender rewriting. */
#ifndef RFC5322_H
#define RFC5322_H
#include <stddef.h>
#include "stralloc.h"

struct rfc5322_mailbox {
  const char *addr;       /* the addr-spec without CFWS, NUL-terminated
                             (valid during the callback only) */
  size_t len;
  size_t start, end;      /* the addr-spec's span in the parsed text */
  size_t local_end;       /* just after the local part (where "@domain" goes) */
  int qualified;          /* it has "@domain" */
  int null;               /* "<>" */
};
/* rfc5322_addrlist - parse text[0..len) (a header field body, folding included)
 * as an address list; for each mailbox call fn(ctx, mailbox), which
 * returns 0 to go on, or any other value but -1 to stop the walk with
 * that value as the result.  Bare local parts
 * ("root") are mailboxes without a domain.  Returns 0, or -1 with *why set
 * when the text is not an address list. */
int rfc5322_addrlist(const char *text, size_t len,
                int (*fn)(void *ctx, const struct rfc5322_mailbox *m), void *ctx,
                const char **why);

/* rfc5322_qualify_text - text[0..len) to out with "@domain" inserted after each
 * unqualified address; with rewrite (not 0), local addresses (no domain,
 * or a domain among the blank-separated locals) become rewrite instead.
 * 0, or -1 (not an address list, or no memory: out holds an unchanged
 * copy, or is empty when even that failed). */
int rfc5322_qualify_text(const char *text, size_t len, const char *domain,
                    const char *rewrite, const char *locals, stralloc *out);

/* rfc5322_is_local - addr (qualified or not) is local: no domain, or its domain
 * is one of the blank-separated locals (ASCII case ignored) */
int rfc5322_is_local(const char *addr, size_t len, const char *locals);

/* rfc5322_phrase - a display name as RFC 5322 wants it: atoms as they are,
 * else a quoted string; with non-ASCII bytes RFC 2047 encoded words.
 * Appends to out; 0, or -1 out of memory. */
int rfc5322_phrase(stralloc *out, const char *name, size_t len);

#endif
