/* remote-spawn - queue-run's helper for remote deliveries.  Started as
 * root it drops to send_user (postern-send) at once; then for each request
 * it runs the remote deliverer (remote_deliverer, default
 * libexec_dir/remote-send) as "deliverer destination sender rcpt...".
 * fd 0: the socket from queue-run (spawn.c protocol).  fd 2: log lines.
 * Request words: "" (no user), queue id, destination, sender, recipients.
 * With smtp_connection_reuse_time set, a deliverer may take several jobs
 * for one destination over one connection (pool.c).
 * Exit codes: 0 when queue-run closed the socket; 78 config; 71 system. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/prctl.h>
#include "child.h"
#include "errmsg.h"
#include "log.h"
#include "qr.h"
#include "pool.h"

struct config qr_cfg;                 /* postern.conf */
static stralloc deliverer;            /* the remote deliverer program */

/* drop - root gives way to send_user before anything else; then no
 * program this helper runs can ever gain a privilege (no set-id bit or
 * file capability takes effect), and as far as the kernel lets us, no
 * capability stays in the bounding set either */
static void drop(void)
{
  struct passwd *pw;
  int cap;
  if (getuid() == 0 || geteuid() == 0) {
    if (!(pw = getpwnam(qr_cfg.send_user))) die(EX_CONFIG, "unknown send_user ", qr_cfg.send_user);
    if (pw->pw_uid == 0) die(EX_CONFIG, "send_user must not be root");
    /* needs CAP_SETPCAP, which a hardened unit may not give: best effort,
     * the no_new_privs flag below is what is relied on */
    for (cap = 0; cap <= 63; cap++) if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) == -1 && errno == EINVAL) break;
    if (setgroups(0, 0) == -1 || setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1
        || getuid() != pw->pw_uid || geteuid() != pw->pw_uid)
      diesys(EX_OSERR, "unable to drop privileges to ", qr_cfg.send_user);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) diesys(EX_OSERR, "unable to set no_new_privs");
}

/* run_remote - start the deliverer with the message on fd 0, results on
 * fd 1, and (ctl not -1) the reuse socket on fd 3 */
static pid_t run_remote(struct spawn_req *r, int ctl)
{
  static stralloc envblock;
  char *envp[5];
  unsigned int n;
  int fds[CHILD_FDS] = { r->msgfd, r->outfd, CHILD_OURS, ctl != -1 ? ctl : CHILD_OURS };
  pid_t pid;
  const char *id = r->argv[1];
  if (r->argc < 5) return -1;
  helper_env(envp, &envblock, qr_cfg.file, id);
  for (n = 0; envp[n]; n++) {}
  if (ctl != -1) { envp[n++] = "POSTERN_REUSE_FD=3"; envp[n] = 0; }
  r->argv[1] = deliverer.s;             /* argv: deliverer dest sender rcpt... */
  if (child_spawn(&pid, r->argv + 1, envp, fds, 0) == -1) {
    log_event(id, "status", "deferred", "reason", "unable to run the remote deliverer", "error", strerror(errno), (char *)0);
    return -1;
  }
  return pid;
}

int main(void)
{
  errmsg_iam("remote-spawn");
  config_load(&qr_cfg, 0);
  log_init("remote-spawn", qr_cfg.log);
  drop();
  if (*qr_cfg.remote_deliverer) { if (!stralloc_copys(&deliverer, qr_cfg.remote_deliverer)) die(EX_OSERR, "out of memory"); }
  else if (!stralloc_copys(&deliverer, qr_cfg.libexec_dir) || !stralloc_cats(&deliverer, "/remote-send"))
    die(EX_OSERR, "out of memory");
  if (!stralloc_0(&deliverer)) die(EX_OSERR, "out of memory");
  return pool_loop(0, run_remote, qr_cfg.smtp_connection_reuse_time != 0);
}
