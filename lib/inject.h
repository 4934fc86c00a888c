/* inject.h - the steps of spool-inject (inject.c), each of which succeeds
 * or ends the process with the right exit code and reply line, and the one
 * way every other program runs the injector (smtp-receive, sendmail,
 * queue-run's notices, local-deliver's forwarding). */
#ifndef INJECT_H
#define INJECT_H
#include <sys/types.h>
#include "config.h"
#include "envelope.h"
#include "spool.h"
#include "hops.h"

#define INJECT_DEADLINE_SECONDS 86400  /* a stuck writer must not pin files forever */

struct inject {
  char id[SPOOL_ID_MAX];
  int fd;                     /* the body being written */
  unsigned long size;         /* bytes of body */
  unsigned long room;         /* bytes we may still write before the reserve */
  unsigned long limit;        /* message_size_limit, 0: none */
  unsigned long hop_limit;    /* hop_count_limit, 0: none */
  struct hops hops;           /* the body's hop count (lib/hops.c) */
  struct envelope env;
};

void inject_signals(void);                            /* cleanup on TERM, ALRM, ... */
void inject_room(struct inject *m, unsigned long reserve);  /* free space check */
void inject_create(struct inject *m, const char *want);  /* mess/<id>, O_EXCL; want: an id to try first, or 0 */
void inject_copy(struct inject *m, int fd);           /* fd -> body, fsync */
void inject_envelope(struct inject *m, int fd);       /* fd -> envelope, checked */
void inject_commit(struct inject *m);                 /* tmp/<id> -> new/<id> */
void inject_reply(const char *reply, const char *arg);   /* "reply arg\n" on fd 2 */
_Noreturn void inject_fail(int code, const char *reply, const char *arg);  /* cleanup, reply, exit */

/* inject_run - the whole injection protocol on fds 0, 1 and 2 with cfg:
 * message, envelope, commit, the 250 reply; any failure ends the process.
 * want: the id to use if it is free (a forked caller's), or 0.  Call
 * inject_signals() and log_init() first. */
void inject_run(const struct config *cfg, const char *want);

/* Running the injector: the configured one, or spool-inject's code above
 * in a forked child when the injector is the default (cfg->injector_default)
 * and this process may create files in the spool itself; otherwise
 * posix_spawn.  Its stderr is read to the end: the last non-empty line is
 * its reply (envelope(5)).  A child that outlives its deadline is killed. */
#define INJECT_REPLY_MAX 1000    /* bytes kept of a line of the child's stderr */
#define INJECT_LOG_KEEP 65536    /* bytes of its stderr kept with INJECT_KEEP_LOG */

/* struct inject_child - a started child whose stderr we read */
struct inject_child {
  pid_t pid;
  int errfd;                     /* our end of its fd 2 */
  int outfd;                     /* our end of its fd 1, read into out; -1: none */
  stralloc *out;
};

/* struct inject_result - how the child ended */
struct inject_result {
  int code;                      /* its exit code; a signal, the deadline or a lost child: EX_TEMPFAIL */
  int late;                      /* killed at the deadline */
  char reply[INJECT_REPLY_MAX + 1];   /* its last non-empty stderr line (CR dropped), "" if none */
  stralloc log;                  /* with INJECT_KEEP_LOG: its stderr (at least the last INJECT_LOG_KEEP bytes) */
};

enum {
  INJECT_CLEAN_ENV = 1,          /* start: a program gets only POSTERN_CONF (cfg->file) and PATH */
  INJECT_PASS_LOG = 2,           /* wait: the lines before the reply go to our fd 2 as they come */
  INJECT_KEEP_LOG = 4            /* wait: all of its stderr into r->log */
};

/* inject_child_start - start the injector with in as its fd 0 (the
 * message) and env as its fd 1 (the envelope), its fd 2 a pipe we read.
 * want: the id a forked injector takes if free, or 0.  flags:
 * INJECT_CLEAN_ENV, else a program gets our environment.  0, or -1 with
 * errno (nothing started).  Always end it with inject_child_wait. */
int inject_child_start(struct inject_child *c, const struct config *cfg, const char *want, int in, int env, int flags);

/* inject_child_spawn - any program as a child to wait for the same way:
 * argv[0] with in and out as its fds 0 and 1 (-1: ours), or with out_sa,
 * its fd 1 a pipe read into out_sa; envp 0: our environment.  SIGPIPE and
 * SIGXFSZ at their defaults, no signal blocked.  0, or -1 with errno. */
int inject_child_spawn(struct inject_child *c, char *const argv[], char *const envp[], int in, int out, stralloc *out_sa);

/* inject_child_wait - read the child's stderr (and stdout) until they end,
 * then reap it; if that takes more than seconds it is killed (SIGKILL)
 * and the result is a temporary failure with r->late set.  flags:
 * INJECT_PASS_LOG, INJECT_KEEP_LOG, or 0 (only the reply is kept).
 * Closes our ends of its pipes. */
void inject_child_wait(struct inject_child *c, unsigned int seconds, int flags, struct inject_result *r);
#endif
