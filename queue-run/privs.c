/* privs.c - who may run the queue, the spawn helpers, dropping root.
 *
 * Only root and the owner of queue/ (postern-queue in production; the
 * sandbox's user in tests) may list or run the queue, as sendmail's
 * restrictqrun and restrictmailq do.  Started as root, queue-run starts
 * local-spawn (stays root to become recipients) and remote-spawn (drops to
 * send_user itself), then drops to queue_user, which must own queue/. */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "child.h"
#include "errmsg.h"
#include "qr.h"

int privs_allowed(void)
{
  struct stat st;
  if (getuid() == 0) return 1;
  return stat(SPOOL_QUEUE, &st) == 0 && st.st_uid == getuid();
}

/* helper - socketpair, the helper with its end on fd 0; our end */
static int helper(const char *name)
{
  static stralloc path, conf;
  char *argv[2], *envp[3] = { "PATH=/usr/bin:/bin", 0, 0 };
  int sv[2], size = 1 << 20, fds[CHILD_FDS] = { -1, CHILD_OURS, CHILD_OURS, CHILD_OURS };
  pid_t pid;
  if (!stralloc_copys(&path, qr_cfg.libexec_dir) || !stralloc_cats(&path, "/")
      || !stralloc_cats(&path, name) || !stralloc_0(&path)) die(EX_OSERR, "out of memory");
  if (qr_cfg.file && (!stralloc_copys(&conf, "POSTERN_CONF=") || !stralloc_cats(&conf, qr_cfg.file)
                      || !stralloc_0(&conf))) die(EX_OSERR, "out of memory");
  if (qr_cfg.file) envp[1] = conf.s;
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) diesys(EX_OSERR, "unable to make a socketpair");
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  fds[0] = sv[1];
  argv[0] = path.s; argv[1] = 0;
  if (child_spawn(&pid, argv, envp, fds, 0) == -1) diesys(EX_OSERR, "unable to run ", path.s);
  close(sv[1]);
  return sv[0];
}

void privs_start_helpers(int *local_sock, int *remote_sock)
{
  *local_sock = helper("local-spawn");
  *remote_sock = helper("remote-spawn");
}

void privs_drop(void)
{
  struct passwd *pw;
  struct stat st;
  if (getuid() != 0 && geteuid() != 0) return;
  if (!(pw = getpwnam(qr_cfg.queue_user))) die(EX_CONFIG, "unknown queue_user ", qr_cfg.queue_user);
  if (pw->pw_uid == 0) die(EX_CONFIG, "queue_user must not be root");
  if (stat(SPOOL_QUEUE, &st) == -1) diesys(EX_TEMPFAIL, "unable to stat queue/");
  if (st.st_uid != pw->pw_uid) die(EX_CONFIG, "queue/ is not owned by queue_user ", qr_cfg.queue_user);
  if (setgroups(0, 0) == -1 || setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1
      || getuid() != pw->pw_uid || geteuid() != pw->pw_uid)
    diesys(EX_OSERR, "unable to drop privileges to ", qr_cfg.queue_user);
}
