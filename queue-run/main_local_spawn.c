/* local-spawn - queue-run's helper for local deliveries.  It stays root
 * (when started as root) only to become the recipient: for each request it
 * forks, checks the request against what root and the user decided
 * (lspawn.c: a ~ delivery must be the recipient's own account, a mail
 * recipient; a |program, /file or mailbox must be found again in the
 * root-owned aliases or virtual map, as the user that gives it), refuses
 * root, calls initgroups, setgid, setuid and runs local-deliver.  Started
 * as an ordinary user it runs local-deliver as that user.
 * fd 0: the socket from queue-run (spawn.c protocol).  fd 2: log lines.
 * Request words: user, queue id, sender, recipient, destination.
 * Exit codes: 0 when queue-run closed the socket; 78 config; 71 system. */
#include <grp.h>
#include <pwd.h>
#include <sysexits.h>
#include <unistd.h>
#include "buffer.h"
#include "child.h"
#include "errmsg.h"
#include "str.h"
#include "log.h"
#include "qr.h"
#include "pool.h"
#include "lspawn.h"

struct config qr_cfg;                 /* postern.conf */
static stralloc deliverer;            /* libexec_dir/local-deliver */

/* refuse - the child's answer without running local-deliver: defer, or
 * with EX_NOUSER fail */
_Noreturn static void refuse(const char *rcpt, int code, const char *why)
{
  char space[512];
  buffer b = BUFFER_INIT(write, 1, space, sizeof space);
  buffer_puts(&b, rcpt); buffer_puts(&b, code == EX_TEMPFAIL ? "\tdefer\t" : "\tfail\t"); buffer_puts(&b, why);
  buffer_putsflush(&b, "\n");
  _exit(code);
}

/* become - the request's user, when we are root and the request is one
 * root's maps or the user's own account allow (lspawn.c); a refusal is
 * logged: a request queue-run should never have made */
static void become(char **w)
{
  char why[LSPAWN_WHY_MAX];
  struct passwd *pw;
  int r;
  if (getuid() != 0) return;
  if ((r = lspawn_check(&qr_cfg, w[0], w[3], w[4], &pw, why)) != LSPAWN_OK) {
    log_event(w[1], "to", w[3], "user", w[0], "dest", w[4], "status", "refused", "reason", why, (char *)0);
    refuse(w[3], r == LSPAWN_PERM ? EX_NOUSER : EX_TEMPFAIL, why);
  }
  if (initgroups(pw->pw_name, pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1
      || getuid() != pw->pw_uid || geteuid() != pw->pw_uid)
    refuse(w[3], EX_TEMPFAIL, "4.3.0 unable to switch to the delivery user");
}

/* run_local - fork, become the user, exec local-deliver (no reuse: ctl is -1) */
static pid_t run_local(struct spawn_req *r, int ctl)
{
  static stralloc envblock;
  char *envp[4], *argv[5];
  pid_t pid;
  (void)ctl;
  if (r->argc != 5) return -1;
  helper_env(envp, &envblock, qr_cfg.file, r->argv[1]);
  if ((pid = child_fork(r->msgfd, r->outfd, -1)) != 0) return pid;
  become(r->argv);
  argv[0] = deliverer.s; argv[1] = r->argv[2]; argv[2] = r->argv[3]; argv[3] = r->argv[4]; argv[4] = 0;
  execve(argv[0], argv, envp);
  refuse(r->argv[3], EX_TEMPFAIL, "4.3.0 unable to run local-deliver");
}

int main(void)
{
  errmsg_iam("local-spawn");
  config_load(&qr_cfg, 0);
  log_init("local-spawn", qr_cfg.log);
  if (!stralloc_copys(&deliverer, qr_cfg.libexec_dir) || !stralloc_cats(&deliverer, "/local-deliver")
      || !stralloc_0(&deliverer)) die(EX_OSERR, "out of memory");
  return pool_loop(0, run_local, 0);
}
