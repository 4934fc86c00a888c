/* local-spawn - queue-run's helper for local deliveries.  It stays root
 * (when started as root) only to become the recipient: for each request it
 * forks, looks the user up itself, refuses root, calls initgroups, setgid,
 * setuid and runs local-deliver.  Started as an ordinary user it runs
 * local-deliver as that user.
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

struct config qr_cfg;                 /* postern.conf */
static stralloc deliverer;            /* libexec_dir/local-deliver */

/* refuse - the child's answer without running local-deliver */
_Noreturn static void refuse(const char *rcpt, const char *why)
{
  char space[512];
  buffer b = BUFFER_INIT(write, 1, space, sizeof space);
  buffer_puts(&b, rcpt); buffer_puts(&b, "\tdefer\t"); buffer_puts(&b, why);
  buffer_putsflush(&b, "\n");
  _exit(EX_TEMPFAIL);
}

/* become - the recipient's user, when we are root */
static void become(const char *user, const char *rcpt)
{
  struct passwd *pw;
  if (getuid() != 0) return;
  if (!(pw = getpwnam(user))) refuse(rcpt, "4.3.0 the delivery user does not exist");
  if (pw->pw_uid == 0) refuse(rcpt, "4.3.5 refusing to deliver as root");
  if (initgroups(pw->pw_name, pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1
      || getuid() != pw->pw_uid || geteuid() != pw->pw_uid)
    refuse(rcpt, "4.3.0 unable to switch to the delivery user");
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
  become(r->argv[0], r->argv[3]);
  argv[0] = deliverer.s; argv[1] = r->argv[2]; argv[2] = r->argv[3]; argv[3] = r->argv[4]; argv[4] = 0;
  execve(argv[0], argv, envp);
  refuse(r->argv[3], "4.3.0 unable to run local-deliver");
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
