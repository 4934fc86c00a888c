/* inject_child.h - the injection client: how smtp-receive, sendmail,
 * queue-run's notices and local-deliver's forwarding run the injector
 * (inject_child.c).  The configured one, or spool-inject's code (inject.c)
 * in a forked child when the injector is the default
 * (cfg->injector_default) and this process may create files in the spool
 * itself; otherwise posix_spawn.  It is waited for with child_wait
 * (child.h): the last non-empty line of its stderr is its reply
 * (envelope(5)), and a child that outlives its deadline is killed. */
#ifndef INJECT_CHILD_H
#define INJECT_CHILD_H
#include "child.h"
#include "config.h"

enum {
  INJECT_CLEAN_ENV = 1,          /* start: a program gets only POSTERN_CONF (cfg->file) and PATH */
  INJECT_CALLER_LOGS = 2,        /* start: we log each message ourselves (inject_caller_logs) */
  INJECT_IN_PROCESS = 4          /* start: spool-inject's code runs in this process, not a forked child */
};

/* inject_child_start - start the injector with in as its fd 0 (the
 * message) and env as its fd 1 (the envelope), its fd 2 a pipe we read.
 * want: the id a forked injector takes if free, or 0.  flags:
 * INJECT_CLEAN_ENV, else a program gets our environment; INJECT_CALLER_LOGS
 * (a forked spool-inject leaves its status=queued line to us; the
 * injector workers, which serve only smtp-receive, always do);
 * INJECT_IN_PROCESS (a caller that waits for the injector and does nothing
 * meanwhile, sendmail: when spool-inject's code would run in a forked
 * child, it runs in this process instead; fds 0 to 2, working directory,
 * signal handlers, log name and error prefix are restored afterwards,
 * and a signal during it ends this process with 75, as it would have
 * ended the child; in and env must be files, or pipes already written and
 * closed: nobody writes them while it runs).  0, or -1 with errno (nothing started).  Always end
 * it with child_wait. */
int inject_child_start(struct child *c, const struct config *cfg, const char *want, int in, int env, int flags);

/* The injector workers (smtp-listen, doc/architecture.md "The session
 * cannot touch the spool"): long-lived processes that may write the
 * spool, forked by the listener, each reading requests from the one
 * SOCK_SEQPACKET socket of their generation and running one message at
 * a time.  A session holds only the other end: once inject_helper is
 * that fd, inject_child_start hands each message's pipes to whichever
 * worker is free (one packet: the wanted id with its NUL and SCM_RIGHTS
 * with exactly four fds: message, envelope, stderr pipe, and a new
 * reply socket) instead of starting the injector itself; the worker runs
 * the configured injector on them (spool-inject's code itself, or the
 * program forked) and answers on the reply socket with the pid that runs
 * it, then its wait status, which child_wait reads.  A packet of any other
 * shape is dropped. */
extern int inject_helper;

/* inject_worker_serve - a worker's loop on sock: until the socket ends,
 * stays idle for its receive timeout (SO_RCVTIMEO, set by the listener),
 * or WORKER_USES messages have been run; then _exit(0) */
_Noreturn void inject_worker_serve(const struct config *cfg, int sock);

#endif
