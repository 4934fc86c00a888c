/* inject_child.c - the injection client (inject_child.h): the injector
 * started as a forked child running inject_run, or as a program, for
 * child_wait to read its reply (doc/architecture.md "The injector runs in
 * a forked child"). */
#include <fcntl.h>
#include <unistd.h>
#include "errmsg.h"
#include "exitcode.h"
#include "log.h"
#include "inject.h"
#include "inject_child.h"

/* spool_writable - may this process create files in the spool's tmp/,
 * mess/ and new/ itself (root, the spool's owner, the postern-inject
 * group)?  Checked once per process. */
static int spool_writable(const struct config *cfg)
{
  static int known, ok;
  static const char *const dirs[] = { SPOOL_TMP, SPOOL_MESS, SPOOL_NEW };
  stralloc sa = { 0 };
  unsigned int i;
  if (known) return ok;
  known = 1;
  ok = 1;
  for (i = 0; ok && i < sizeof dirs / sizeof dirs[0]; i++) {
    if (!stralloc_copys(&sa, cfg->spool) || !stralloc_cats(&sa, "/") || !stralloc_cats(&sa, dirs[i]) ||
        !stralloc_0(&sa))
      ok = 0;
    else ok = faccessat(AT_FDCWD, sa.s, W_OK | X_OK, AT_EACCESS) == 0;
  }
  stralloc_free(&sa);
  return ok;
}

/* clean_env - POSTERN_CONF (when a file was read) and PATH */
static char **clean_env(const struct config *cfg)
{
  static stralloc conf;
  static char *envp[3];
  unsigned int n = 0;
  if (cfg->file && stralloc_copys(&conf, "POSTERN_CONF=") && stralloc_cats(&conf, cfg->file) && stralloc_0(&conf))
    envp[n++] = conf.s;
  envp[n++] = "PATH=/usr/bin:/bin";
  envp[n] = 0;
  return envp;
}

int inject_child_start(struct child *c, const struct config *cfg, const char *want, int in, int env, int flags)
{
  char *argv[2] = { (char *)cfg->injector, 0 };
  pid_t pid;
  if (!cfg->injector_default || !spool_writable(cfg))
    return child_start(c, argv, flags & INJECT_CLEAN_ENV ? clean_env(cfg) : 0, in, env, 0);
  if ((pid = child_start_fork(c, in, env)) == -1) return -1;
  if (pid) return 0;
  /* the forked child becomes spool-inject and never comes back: every
   * path of inject_run ends the process */
  errmsg_iam("spool-inject");
  log_init("spool-inject", cfg->log);
  inject_signals();
  inject_run(cfg, want);
  _exit(0);
}
