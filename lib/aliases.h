/* aliases.h - the aliases file (sendmail's format, see postern-maps(8)):
 *
 *   # comment
 *   name: item, item, ...
 *       item, ...              (a line starting with a blank continues)
 *
 * An item is an address (alice, alice@example.org, "a b"@example.org), a
 * pipe (|/usr/bin/prog or "|/usr/bin/prog -x arg"), a file (/var/log/x,
 * "/path with spaces") or an include (:include:/etc/postern/staff).
 *
 * aliases_parse reads a whole text file for postern-maps; aliases_next and
 * aliases_split take apart one right-hand side, as postern-maps stores it
 * in aliases.cdb and as queue-run reads it back at delivery time.  They
 * accept any bytes: everything is bounded, and NUL, CR, LF and other control
 * characters are refused. */
#ifndef ALIASES_H
#define ALIASES_H
#include <stddef.h>
#include "buffer.h"
#include "stralloc.h"

#define ALIAS_NAME_MAX 64          /* an alias name is a local part */
#define ALIAS_ITEM_MAX 2048        /* bytes in one item as written */
#define ALIAS_LINE_MAX 65536       /* bytes in one physical line */
#define ALIAS_ENTRY_MAX 131072     /* bytes in one entry, continuations included */
#define ALIAS_ERRORS_MAX 50        /* aliases_parse gives up after this many */

enum { ALIAS_ADDRESS = 1, ALIAS_PIPE, ALIAS_FILE, ALIAS_INCLUDE };

struct alias_item {
  int type;          /* ALIAS_ADDRESS ... ALIAS_INCLUDE */
  const char *s;     /* the address as written (quotes kept); the command
                        without its '|'; the file path; the include path
                        without ":include:" - quotes and escapes removed */
  size_t len;
  const char *raw;   /* the item as written, blanks around it trimmed */
  size_t rawlen;
};

struct alias_iter {
  const char *rhs;
  size_t len;
  size_t pos;
  const char *why;             /* the reason when aliases_next returns -1 */
  char buf[ALIAS_ITEM_MAX];    /* the unquoted text of a quoted item */
};

/* aliases_start, aliases_next - walk the items of rhs[0..len): 1 the next
 * item in *item (valid until the next call), 0 no more items, -1 a syntax
 * error (it->why; the walk is over).  Items are separated by commas; a
 * single trailing comma is allowed. */
void aliases_start(struct alias_iter *it, const char *rhs, size_t len);
int aliases_next(struct alias_iter *it, struct alias_item *item);

/* aliases_split - call fn(arg, item) for each item of rhs[0..len).  The
 * number of items; -1 a syntax error (*why set, fn not called at all), or
 * fn returned -1 (*why = 0; the walk stopped there). */
int aliases_split(const char *rhs, size_t len,
                  int (*fn)(void *arg, const struct alias_item *item),
                  void *arg, const char **why);

/* aliases_normalize - the form stored in aliases.cdb: the items as
 * written, joined with ", ".  0 done (out replaced); -1 syntax error (*why)
 * or out of memory (*why = "out of memory"). */
int aliases_normalize(const char *rhs, size_t len, stralloc *out, const char **why);

/* struct aliases_cb - what aliases_parse reports */
struct aliases_cb {
  /* one good entry: name lower-cased, rhs normalized; 0 go on, -1 stop */
  int (*entry)(void *arg, const char *name, size_t nlen,
               const char *rhs, size_t rlen, unsigned long line);
  /* one error, "line N: reason", NUL-terminated */
  void (*error)(void *arg, const char *message);
  void *arg;
};

/* aliases_parse - read an aliases file from in.  Number of errors
 * reported (0: every entry was good and went to cb->entry); -1 a read
 * error (errno), out of memory (ENOMEM) or cb->entry returned -1.
 * Duplicate names are errors ("line N: duplicate alias 'x' (first at line
 * M)").  entry is called for good entries even when others are bad. */
long aliases_parse(buffer *in, const struct aliases_cb *cb);
#endif
