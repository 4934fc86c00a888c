/* mbox.h - appending one message to an mbox file (mboxrd), as
 * local-deliver delivers to a mailbox or /file and as sendmail saves
 * ~/dead.letter, and the byte copy beneath it. */
#ifndef MBOX_H
#define MBOX_H
#include <stddef.h>
#include <sys/types.h>

#define MBOX_LOCK_SECONDS 60            /* waiting for the dot-lock, and for the fcntl lock */
#define MBOX_DOTLOCK_STALE_SECONDS 300  /* an older dot-lock is removed */
#define MBOX_COPY_BUFFER 65536

enum { MBOX_OK = 0, MBOX_TEMP = -1, MBOX_PERM = -2, MBOX_DEFER = -3 };

/* mbox_append - append the message in fd (read from offset start to its
 * end) to the mbox at path, created 0600 if missing: an empty line first
 * if the file does not end with one, "From sender date" (the null sender as
 * MAILER-DAEMON), prefix[0..plen), the message with mboxrd ">From "
 * quoting, a final newline if missing and the empty line that ends an
 * entry.  Locked with path.lock (when the directory lets us make one) and
 * an fcntl lock, each waited for at most MBOX_LOCK_SECONDS.  All or
 * nothing: on an error the file is cut back to its old size.  The file,
 * and the directory of a file that was empty (we may have just made it),
 * are fsync'ed before MBOX_OK.  A stale dot-lock (older than
 * MBOX_DOTLOCK_STALE_SECONDS) is removed; one that cannot be is MBOX_TEMP
 * at once.  MBOX_TEMP with errno set; MBOX_DEFER, temporary, the reason
 * complete without errno (the file belongs to another user than our
 * effective one); or MBOX_PERM (a symlink, hard link or special file);
 * with *what ("unable to lock ", ...) and *arg (the file it is about)
 * for the message. */
int mbox_append(const char *path, int fd, off_t start, const char *sender, const char *prefix, size_t plen,
                const char **what, const char **arg);

/* mbox_copy - prefix[0..plen), then the bytes of in from offset start to its end, to
 * out; with quote as an mbox entry (mboxrd ">From " quoting, a final
 * newline if missing, the empty line after it).  The bytes written into
 * *bytes (if not 0).  0, or -1 with errno set. */
int mbox_copy(int in, off_t start, int out, const char *prefix, size_t plen, int quote, unsigned long *bytes);
#endif
