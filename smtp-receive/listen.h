/* listen.h - smtp-listen's sockets and credentials (listen.c) */
#ifndef LISTEN_H
#define LISTEN_H
#include "config.h"

#define LISTEN_MAX 16               /* listening sockets */

int listen_inherited(int *fds, int max, const char **why);
int listen_bind(const char *spec, const char **why);
int listen_drop(const char *user, const char *groups, const char **why);
int listen_can_setgid(void);
int listen_caps_clear(void);
int listen_split(int can_setgid, const char **why);
#endif
