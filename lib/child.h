/* child.h - the one way a postern program starts a child and waits for it
 * (child.c): posix_spawn, or fork for a child that runs some of our code
 * before it execs or exits, always with its fds placed, no signal blocked
 * and SIGPIPE and SIGXFSZ at their defaults (a caller may ignore them, and
 * an ignored signal stays ignored across exec); and a wait that reads its
 * stderr (and stdout) to the end with a deadline. */
#ifndef CHILD_H
#define CHILD_H
#include <sys/types.h>
#include "stralloc.h"

#define CHILD_FDS 4         /* the child's fds 0..3 can be placed */
#define CHILD_OURS (-1)     /* that fd of the child is the one of ours with its number */
#define CHILD_NULL (-2)     /* /dev/null, opened for reading (fd 0) or writing */

/* child_spawn - posix_spawn argv[0] with envp (0: our environment), its
 * fd n taken from fds[n] (an fd of ours, CHILD_OURS or CHILD_NULL, placed
 * in the order 0..3), in dir (0: ours); 0 with *pid, or -1 with errno */
int child_spawn(pid_t *pid, char *const argv[], char *const envp[], const int fds[CHILD_FDS], const char *dir);

/* child_fork - fork; in the child, in, out and err (-1: ours) become fds
 * 0, 1 and 2, syslog's socket and every other fd from 3 up are closed, no
 * signal is blocked and SIGPIPE and SIGXFSZ are at their defaults.  As
 * fork(2): 0 in the child, its pid in the parent, -1 with errno. */
pid_t child_fork(int in, int out, int err);

#define CHILD_REPLY_MAX 1000    /* bytes kept of a line of the child's stderr */
#define CHILD_LOG_KEEP 65536    /* bytes of its stderr kept with CHILD_KEEP_LOG */

/* struct child - a started child whose stderr we read */
struct child {
  pid_t pid;
  int errfd;                     /* our end of its fd 2 */
  int outfd;                     /* our end of its fd 1, read into out; -1: none */
  stralloc *out;
  int *statusfd;                 /* 0: we reap pid; else where the socket of the helper that reaps it lives
                                    (inject_child.h): its wait status comes from there, and on any trouble
                                    the socket is closed and *statusfd set to -1 */
  int status_once;               /* that socket is this child's alone: child_wait closes it at its end */
  int ended;                     /* nothing runs: it ran in our own process, and ended with wait status status */
  int status;
};

/* struct child_result - how the child ended */
struct child_result {
  int code;                      /* its exit code; a signal, the deadline or a lost child: EX_TEMPFAIL */
  int late;                      /* killed at the deadline */
  char reply[CHILD_REPLY_MAX + 1];   /* its last non-empty stderr line (CR dropped), "" if none */
  stralloc log;                  /* with CHILD_KEEP_LOG: its stderr (at least the last CHILD_LOG_KEEP bytes) */
};

enum {
  CHILD_PASS_LOG = 2,            /* wait: the lines before the reply go to our fd 2 as they come */
  CHILD_KEEP_LOG = 4             /* wait: all of its stderr into r->log */
};

/* child_start - child_spawn with in and out as its fds 0 and 1 (-1:
 * ours), or with out_sa, its fd 1 a pipe read into out_sa; its fd 2 a
 * pipe we read.  0, or -1 with errno (nothing started).  Always end it
 * with child_wait. */
int child_start(struct child *c, char *const argv[], char *const envp[], int in, int out, stralloc *out_sa);

/* child_start_fork - child_fork with in and out as its fds 0 and 1 and
 * its fd 2 a pipe we read: as fork(2), 0 in the child (which must end
 * with _exit), the pid in the parent (end it with child_wait), -1 with
 * errno. */
pid_t child_start_fork(struct child *c, int in, int out);

/* child_reap - wait for pid at most seconds (0: it is late already);
 * a child still running then is killed (SIGKILL) and reaped.  0 it
 * ended in time, 1 it was killed, -1 lost (reaped elsewhere, errno);
 * *status is its wait status when not -1. */
int child_reap(pid_t pid, unsigned int seconds, int *status);

/* child_wait - read the child's stderr (and stdout) until they end, then
 * reap it; if that takes more than seconds it is killed (SIGKILL) and the
 * result is a temporary failure with r->late set.  flags: CHILD_PASS_LOG,
 * CHILD_KEEP_LOG, or 0 (only the reply is kept).  Closes our ends of its
 * pipes. */
void child_wait(struct child *c, unsigned int seconds, int flags, struct child_result *r);

/* child_ms_left - milliseconds until deadline (CLOCK_MONOTONIC), at
 * least 0 */
struct timespec;
int child_ms_left(const struct timespec *deadline);

/* child_status_read - one int (a pid or a wait status) from the helper
 * socket *fdp by the deadline: 0, -1 late, -2 lost (the socket is then
 * closed: child_status_lost) */
struct timespec;
int child_status_read(int *fdp, int *v, const struct timespec *deadline);
/* child_status_lost - the helper's answers are out of step or gone:
 * close its socket and set *fdp to -1 (later messages fail, temporarily) */
void child_status_lost(int *fdp);
#endif
