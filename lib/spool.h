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

/* One file per message (doc/architecture.md "One file per message",
 * postern-queue(5)).  A message is one file: a head line of fixed width,
 * "postern-message 1 HHHHHHHHHH LLLLLLLLLL\n", then the stored envelope
 * (L bytes), then nothing (a hole) up to offset H, a multiple of
 * SPOOL_HEAD_UNIT, then the body from H to the end of the file.
 * spool-inject writes it in tmp/<id>, commits it by renaming it into
 * new/<id>, and queue-run moves it on to queue/<id>.  A file without the
 * head line is of the older layout: the envelope alone, the body in
 * mess/<id>; queue-run reads both. */
#define SPOOL_HEAD_UNIT 4096UL
#define SPOOL_HEAD_MAGIC "postern-message 1 "
#define SPOOL_HEAD_LEN 40          /* the head line's bytes, its LF included */
#define SPOOL_HEAD_OFF_MAX 9999999999UL   /* ten digits */
struct spool_head {
  unsigned long body;     /* the body's offset: H; 0 for the older layout */
  unsigned long envlen;   /* the envelope's bytes after the head line: L */
};
/* spool_head_fmt - the head line for body offset H and envelope length L
 * into line (SPOOL_HEAD_LEN bytes, no NUL) */
void spool_head_fmt(char line[SPOOL_HEAD_LEN], unsigned long body, unsigned long envlen);
/* spool_head_body - the body offset for an envelope of envlen bytes: the
 * head line and the envelope rounded up to SPOOL_HEAD_UNIT */
unsigned long spool_head_body(unsigned long envlen);
/* spool_head_read - the head of the open message file fd of size bytes,
 * read with pread (the offset is left alone): 1 and h filled for a one-file
 * message; 0 (h->body = 0, h->envlen = size) for a file of the older
 * layout (no head line); -1 with errno EPROTO for a head that is malformed
 * or does not fit the file, or the read's errno */
int spool_head_read(int fd, unsigned long size, struct spool_head *h);

/* spool_pread - exactly len bytes of fd at offset off into s; 0, or -1
 * with errno (EPROTO: the file ends before).  spool_pwrite - all of s at
 * offset off; 0, or -1 with errno (EIO for a write of nothing).  Both
 * retry EINTR and short transfers; neither moves the fd's offset. */
int spool_pread(int fd, char *s, size_t len, unsigned long off);
int spool_pwrite(int fd, const char *s, size_t len, unsigned long off);

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
