/* pool.h - remote-spawn's loop with connection reuse (pool.c) */
#ifndef POOL_H
#define POOL_H
#include "qr.h"

/* pool_loop - spawner_loop for remote-spawn when connections are reused:
 * run starts a deliverer for r with ctl as its fd 3 and returns its pid */
int pool_loop(int sock, pid_t (*run)(struct spawn_req *r, int ctl));
#endif
