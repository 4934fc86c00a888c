/* envelope.h - the injection envelope of envelope(5), read and written only
 * here.  A small versioned text:
 *   V1 / F<sender> / message tags / T<rcpt> [N.. O..] ... / empty line */
#ifndef ENVELOPE_H
#define ENVELOPE_H
#include "buffer.h"
#include "stralloc.h"

#define ENV_LINE_MAX 1000        /* bytes per line, LF excluded */
#define ENV_RCPT_MAX 100000      /* recipients per envelope */
#define ENV_BYTES_MAX (16UL << 20)  /* bytes of envelope data */
#define ENV_ENVID_MAX 100        /* RFC 3461 ENVID */
#define ENV_ORCPT_MAX 500        /* RFC 3461 ORCPT */

enum { ENV_INPUT, ENV_STORED };  /* read from a caller, or from the spool */

enum {
  ENV_OK,
  ENV_BAD,       /* invalid: permanent, *why says how */
  ENV_TRUNC,     /* input ended before the empty end line: commit nothing */
  ENV_NOMEM,
  ENV_IOERR      /* read error, errno set */
};

struct envelope_rcpt {
  unsigned long addr, notify, orcpt;   /* offsets into pool; 0: absent */
};

struct envelope {
  stralloc pool;               /* NUL-terminated strings; offset 0 unused */
  unsigned long sender;        /* offset; the null sender is "" */
  unsigned long tag[26];       /* message tags 'A'..'Z'; 0: absent */
  struct envelope_rcpt *rcpt;
  unsigned int nrcpt, arcpt;
  int has_sender;
};

void envelope_init(struct envelope *e);
void envelope_free(struct envelope *e);

/* building: each returns 0, or a reason the value is refused
 * (out of memory is "out of memory") */
const char *envelope_set_sender(struct envelope *e, const char *s, size_t len);
const char *envelope_set_tag(struct envelope *e, char tag, const char *v, size_t len, int mode);
const char *envelope_add_rcpt(struct envelope *e, const char *s, size_t len);
const char *envelope_set_rcpt_tag(struct envelope *e, char tag, const char *v, size_t len);
/* envelope_stamp - what spool-inject knows for itself: the real uid of
 * the injector (P) and the arrival time (D), replacing any earlier values */
const char *envelope_stamp(struct envelope *e, unsigned long uid, unsigned long when);
const char *envelope_finish(const struct envelope *e);
/* envelope_quarantine - the Q tag (a milter quarantined the message) on
 * an envelope that may already have recipients; written before them */
const char *envelope_quarantine(struct envelope *e, const char *v, size_t len);   /* whole-envelope checks */

/* reading and writing */
int envelope_read(struct envelope *e, buffer *b, int mode, const char **why);
int envelope_write(buffer *b, const struct envelope *e);

/* access: NUL-terminated strings, or 0 when absent */
const char *envelope_sender(const struct envelope *e);
const char *envelope_tag(const struct envelope *e, char tag);
const char *envelope_rcpt(const struct envelope *e, unsigned int i);
const char *envelope_rcpt_notify(const struct envelope *e, unsigned int i);
const char *envelope_rcpt_orcpt(const struct envelope *e, unsigned int i);
#endif
