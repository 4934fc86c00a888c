/* spool.h - spool layout (DESIGN.md "The spool"), ids and durable-write
 * helpers shared by spool-inject and queue-run. */
#ifndef SPOOL_H
#define SPOOL_H
#include "stralloc.h"

#define SPOOL_TMP "tmp"
#define SPOOL_MESS "mess"
#define SPOOL_NEW "new"
#define SPOOL_QUEUE "queue"
#define SPOOL_STATE "state"
#define SPOOL_CORRUPT "corrupt"
#define SPOOL_TRIGGER "trigger"
/* the bytes written to the trigger fifo: what the scheduler should look at */
#define SPOOL_POKE_NEW '!'       /* new mail in new/ */
#define SPOOL_POKE_FLUSH 'F'     /* every message due now */
#define SPOOL_POKE_CONTROL 'C'   /* command files in state/ */
#define SPOOL_POKE_HOLD 'H'      /* the hold list changed */

#define SPOOL_ID_MAX 40   /* bytes in an id, NUL included */

/* spool_id - a new id "SSSSSSSSSS.UUUUUU.PID": arrival seconds and
 * microseconds, fixed width so that ids sort by arrival, then the pid;
 * filename-safe.  Uniqueness is finally guaranteed by O_EXCL at creation. */
void spool_id(char id[SPOOL_ID_MAX]);

/* spool_id_valid - is s a well-formed id (and so a safe file name)? */
int spool_id_valid(const char *s);

/* spool_path - "dir/id" into a NUL-terminated stralloc; 0 on no memory */
int spool_path(stralloc *sa, const char *dir, const char *id);

/* spool_fsync_dir - make a directory's entries durable: 0 or -1 */
int spool_fsync_dir(const char *dir);

/* spool_trigger - wake the scheduler if it listens on the trigger fifo;
 * never blocks, ignores every failure (the scheduler rescans anyway) */
void spool_trigger(void);
/* spool_poke - write the byte c (SPOOL_POKE_*) to the trigger fifo, if a
 * scheduler listens */
void spool_poke(char c);
#endif
