/* helper.c - what both spawn helpers share: the clean environment of a
 * deliverer and the SIGCHLD signalfd of the pool. */
#include <signal.h>
#include <sys/signalfd.h>
#include "str.h"
#include "qr.h"

/* helper_env - PATH, POSTERN_CONF (the file queue-run read) and QUEUE_ID;
 * envp must hold 4 pointers, the strings live in block */
void helper_env(char **envp, stralloc *block, const char *conf, const char *id)
{
  unsigned int n = 0;
  size_t off[3], i;
  block->len = 0;
  off[0] = block->len;
  stralloc_cats(block, "PATH=/usr/local/bin:/usr/bin:/bin"); stralloc_0(block);
  off[1] = block->len;
  if (conf) { stralloc_cats(block, "POSTERN_CONF="); stralloc_cats(block, conf); stralloc_0(block); }
  off[2] = block->len;
  stralloc_cats(block, "QUEUE_ID="); stralloc_cats(block, id); stralloc_0(block);
  for (i = 0; i < 3; i++)
    if (off[i] < block->len && (i != 1 || conf)) envp[n++] = block->s + off[i];
  envp[n] = 0;
}

int helper_child_signals(void)
{
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  if (sigprocmask(SIG_BLOCK, &set, 0) == -1) return -1;
  return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}
