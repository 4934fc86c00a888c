#ifndef POSTERN_FORWARD_H
#define POSTERN_FORWARD_H
/* forward.h - a user's ~/.forward, read by one set of rules for the
 * delivery (local-deliver) and for the answer to "where does it go"
 * (queue-run --route, sendmail -bv), so the two never disagree.
 *
 * The files are ~/.forward+EXT (for user+EXT, EXT without '/') and then
 * ~/.forward.  A file is used only if it is a regular file owned by the
 * user, not writable by group or others, at most FORWARD_MAX bytes; one
 * that is not, or whose items cannot be parsed, or that has more than
 * FORWARD_ITEMS_MAX of them, is ignored whole and the next file is tried. */
#include <sys/types.h>
#include "stralloc.h"

#define FORWARD_MAX 65536       /* bytes of a .forward */
#define FORWARD_ITEMS_MAX 100   /* items of one .forward */

/* forward_path - pass 0: home/.forward+EXT (0 when ext is empty or holds
 * a '/'); pass 1: home/.forward.  1 path set, 0 no such file to try, -1
 * out of memory */
int forward_path(stralloc *path, const char *home, const char *ext, size_t extlen, int pass);

/* forward_read - path's text if it may be used: 1; 0 absent; -1 ignored,
 * *why says why; -2 the caller may not read it (EACCES; *why set too);
 * -3 out of memory */
int forward_read(const char *path, uid_t owner, stralloc *text, const char **why);

/* forward_rhs - the text as one aliases right-hand side: its lines
 * joined by ',', '#' lines left out, the backslash of sendmail's "\user"
 * (my mailbox, no further forwarding) dropped; 0, or -1 out of memory */
int forward_rhs(const stralloc *text, stralloc *rhs);
#endif
