/* lines.h - the one reader of postern's line-by-line key/value files:
 * postern.conf (config.c), the aliases file (aliases.c) and the map
 * sources (maps/mapfile.c).  Lines end with LF and are bounded (an
 * overlong line is reported, never cut); each line's bytes are checked;
 * blank and comment lines are told apart; a line splits into key and
 * value; errors read "line N: ..." and the reading gives up after a
 * number of them. */
#ifndef LINES_H
#define LINES_H
#include <stddef.h>
#include "buffer.h"
#include "stralloc.h"

/* what is wrong with a line's bytes (lines_why names it) */
enum { LINES_GOOD, LINES_LONG, LINES_NUL, LINES_CR, LINES_CONTROL };

struct lines {
  buffer *in;
  size_t max;                   /* bytes per line, LF excluded */
  long errors_max;              /* lines_read gives up after this many */
  void (*error)(void *arg, const char *message);   /* "line N: ...", or 0 */
  void *arg;
  unsigned long no;             /* number of the line being handled */
  long errors;                  /* lines_report calls so far */
  stralloc line, msg;
};

/* lines_fn - one line s[0..len) (LF excluded; the first max bytes of an
 * overlong one) with bad, LINES_GOOD or what is wrong with it; 0 go on,
 * -1 stop (errno set) */
typedef int lines_fn(void *ctx, const char *s, size_t len, int bad);

/* lines_init - l zeroed, to read in: lines of at most max bytes, giving
 * up after errors_max errors, each reported to error(arg, message) */
void lines_init(struct lines *l, buffer *in, size_t max, long errors_max,
                void (*error)(void *arg, const char *message), void *arg);

/* lines_read - every line of l->in to fn, until the end, an error of
 * fn or the input, or l->errors_max reports ("too many errors, giving
 * up" is the last); at the end, unless it gave up, end(ctx) (0: none)
 * for what the lines left open.  The number of errors reported, or -1
 * (errno). */
long lines_read(struct lines *l, lines_fn *fn, int (*end)(void *ctx), void *ctx);

/* lines_report - "line no: " and the strings up to a null pointer to
 * l->error, counted in l->errors; 0, or -1 out of memory */
int lines_report(struct lines *l, unsigned long no, ...);
#define LINES_REPORT(l, no, ...) lines_report((l), (no), __VA_ARGS__, (const char *)0)

/* lines_why - the words for a bad line: "line too long", "NUL byte",
 * "carriage return (DOS line end?)", "control character" */
const char *lines_why(int bad);

/* lines_check - LINES_GOOD, or the first thing wrong with the bytes of
 * s[0..len): a NUL, a CR, another control character than TAB, DEL */
int lines_check(const char *s, size_t len);

/* lines_skip - the line is blank, or a comment (# its first non-blank) */
int lines_skip(const char *s, size_t len);

/* lines_trim - drop blanks (SP, TAB) at both ends of *s[0..*len) */
void lines_trim(const char **s, size_t *len);

/* lines_split - key and value of s[0..len), both trimmed: the key ends at
 * the first sep, or with sep 0 at the first blank (the value may then be
 * empty).  0, or -1 when there is no sep. */
int lines_split(const char *s, size_t len, char sep, const char **key, size_t *klen,
                const char **value, size_t *vlen);

/* lines_free - release what lines_read and lines_report allocated */
void lines_free(struct lines *l);
#endif
