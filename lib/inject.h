/* inject.h - the spool writer: the steps of spool-inject (inject.c), each
 * of which succeeds or ends the process with the right exit code and reply
 * line.  The way every other program runs it is inject_child.h. */
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
  int fd;                     /* the message file being written */
  unsigned long size;         /* bytes of body */
  unsigned long room;         /* bytes we may still write before the reserve */
  unsigned long limit;        /* message_size_limit, 0: none */
  unsigned long hop_limit;    /* hop_count_limit, 0: none */
  struct hops hops;           /* the body's hop count (lib/hops.c) */
  struct envelope env;
};

void inject_signals(void);                            /* cleanup on TERM, ALRM, ... */
void inject_signals_restore(void);                    /* the handlers from before inject_signals */
void inject_room(struct inject *m, unsigned long reserve);  /* free space check */
void inject_create(struct inject *m, const char *want);  /* tmp/<id>, O_EXCL; want: an id to try first, or 0 */
void inject_copy(struct inject *m, int fd);           /* fd -> body */
void inject_envelope(struct inject *m, int fd);       /* fd -> envelope, checked */
void inject_commit(struct inject *m);                 /* head + envelope, fsync, tmp/<id> -> new/<id> */
void inject_reply(const char *reply, const char *arg);   /* "reply arg\n" on fd 2 */
_Noreturn void inject_fail(int code, const char *reply, const char *arg);  /* cleanup, reply, exit */

/* inject_run - the whole injection protocol on fds 0, 1 and 2 with cfg:
 * message, envelope, commit, the 250 reply; any failure ends the process.
 * want: the id to use if it is free (a forked caller's), or 0.  Call
 * inject_signals() and log_init() first. */
void inject_run(const struct config *cfg, const char *want);

/* inject_here - inject_run in a process that goes on afterwards (the
 * injector workers of smtp-listen, which run the sessions' messages one
 * after the other): every failure comes back here after its cleanup, log line and
 * reply instead of ending the process.  Call inject_signals() and
 * log_init() first; a signal still ends the process.  Its exit code: 0
 * queued, else what inject_run would have exited with. */
int inject_here(const struct config *cfg, const char *want);

/* inject_caller_logs - set in a forked injector whose caller logs every
 * message it hands over in a line of its own (smtp-receive's status=
 * line has the id, sender, count and size): the status=queued line is
 * left to it.  Refusals are still logged here. */
extern int inject_caller_logs;

/* inject_waiting - an injector worker says it waits for its next
 * message (1: a signal then ends it quietly, exit 0 and no reply line,
 * since no message has begun) or has one (0, before inject_here) */
void inject_waiting(int waiting);

#include "inject_child.h"   /* the client, for callers that include only this file */
#endif
