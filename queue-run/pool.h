/* pool.h - the spawn helpers' loop (pool.c) */
#ifndef POOL_H
#define POOL_H
#include "qr.h"

/* pool_loop - read requests on sock until queue-run goes away and its
 * deliverers have ended: run starts a deliverer for r and returns its pid
 * (-1 failed); with reuse, ctl is the socket for its fd 3 (pool.c), else
 * -1.  Returns 0. */
int pool_loop(int sock, pid_t (*run)(struct spawn_req *r, int ctl), int reuse);
#endif
