/* run.c - running the programs sendmail drives (the injector,
 * queue-run, smtp-receive, postern-maps), and reading queue-run's
 * machine-readable listing (mailq --json, sendmail -qR/-qS/-qI).
 *
 * Children start through lib/child.c and lib/inject_child.c: posix_spawn
 * (vfork: no copy of our memory) with our environment, or spool-inject's
 * code in a forked child;
 * their stderr is captured so that the injector's last line, its SMTP
 * reply, can be passed on.  A child that runs longer than
 * SM_CHILD_SECONDS is killed, which counts as a temporary failure. */
#include <sys/stat.h>
#include <unistd.h>
#include "errmsg.h"
#include "inject.h"
#include "spool.h"
#include "sendmail.h"

extern char **environ;

void run_say(const char *a, const char *b, const char *c)
{
  const char *part[5] = { argv0 ? argv0 : "sendmail", ": ", a, b, c };
  char out[2048];
  size_t n = 0, i, k;
  for (i = 0; i < 5; i++)
    for (k = 0; part[i][k] && n < sizeof out - 1; k++) {
      unsigned char ch = (unsigned char)part[i][k];
      out[n++] = ch < 32 || ch == 127 ? '?' : (char)ch;
    }
  out[n++] = '\n';
  if (write(2, out, n) < 0) return;
}

int run_path(stralloc *sa, const struct config *cfg, const char *name)
{
  return stralloc_copys(sa, cfg->libexec_dir) && stralloc_cats(sa, "/") && stralloc_cats(sa, name)
      && stralloc_0(sa) ? 0 : -1;
}

int run_program(char *const argv[], int in, int out, stralloc *out_sa, struct child_result *r)
{
  struct child c;
  if (child_start(&c, argv, 0, in, out, out_sa) == -1) return -1;
  child_wait(&c, SM_CHILD_SECONDS, CHILD_KEEP_LOG, r);
  return 0;
}

int run_injector(const struct config *cfg, int in, int out, struct child_result *r)
{
  struct child c;
  if (inject_child_start(&c, cfg, 0, in, out, INJECT_IN_PROCESS) == -1) return -1;
  child_wait(&c, SM_CHILD_SECONDS, CHILD_KEEP_LOG, r);
  return 0;
}

void run_exec(char *const argv[])
{
  execve(argv[0], argv, environ);
}

int run_queue_allowed(const struct config *cfg)
{
  stralloc q = { 0 };
  struct stat st;
  int ok;
  if (getuid() == 0) return 1;
  if (!stralloc_copys(&q, cfg->spool) || !stralloc_cats(&q, "/" SPOOL_QUEUE) || !stralloc_0(&q)) return 1;
  ok = stat(q.s, &st) == -1 || st.st_uid == getuid();   /* no spool: queue-run says why */
  stralloc_free(&q);
  return ok;
}
