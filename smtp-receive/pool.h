/* pool.h - smtp-listen's injector workers (pool.c) */
#ifndef POOL_H
#define POOL_H
#include <sys/types.h>
#include "config.h"

#define POOL_IDLE_SECONDS 300       /* a worker nobody asked for this long ends */

/* pool_open - a new generation of workers: a new request socket pair
 * (the listener's ends of the last one are closed; its workers serve
 * the sessions that still hold it, then end).  0, or -1. */
int pool_open(void);

/* pool_fill - fork workers of the current generation until there are
 * at least want of them (as many as fit); the number that run.  Each
 * new worker first calls forget (if not 0): what of the listener's it
 * must not keep (the session maps: a map replaced since stays allocated
 * while a process maps it) */
int pool_fill(const struct config *cfg, unsigned int want, void (*forget)(void));

/* pool_session - in a new session: close the workers' end; the fd the
 * session sends its requests on (-1 if there is none) */
int pool_session(void);

/* pool_reaped - pid ended with status: 1 it was a worker (*crashed if a
 * signal of memory corruption ended it), 0 it was not */
int pool_reaped(pid_t pid, int status, int *crashed);

/* pool_crashed - a wait status of a signal that memory corruption raises */
int pool_crashed(int status);
#endif
