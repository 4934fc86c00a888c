/* lspawn.h - what local-spawn checks, as root, before it becomes the user
 * a request names (lspawn.c; doc/architecture.md "local-spawn re-derives
 * what it runs"). */
#ifndef LSPAWN_H
#define LSPAWN_H
#include <pwd.h>
#include "config.h"

#define LSPAWN_WHY_MAX 300   /* bytes of a refusal's text */

enum { LSPAWN_OK = 0, LSPAWN_TEMP = 1, LSPAWN_PERM = 2 };

/* lspawn_check - may queue-run's request "deliver dest for rcpt as user"
 * run?  LSPAWN_OK with *pw the user (getpwnam's static result), or
 * LSPAWN_TEMP (not verifiable: deferred) or LSPAWN_PERM (an account that
 * is not a mail recipient: failed) with why (LSPAWN_WHY_MAX bytes) set to
 * "status reason".  Reads the password file, the maps and :include:
 * files as the caller (root). */
int lspawn_check(const struct config *cfg, const char *user, const char *rcpt, const char *dest,
                 struct passwd **pw, char *why);
#endif
