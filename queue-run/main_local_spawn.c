/* local-spawn - queue-run's helper for local deliveries.  It stays root
 * (when started as root) only to become the recipient: for each request it
 * forks, checks the request against what root and the user decided
 * (lspawn.c: a ~ delivery must be the recipient's own account, a mail
 * recipient; a |program, /file or mailbox must be found again in the
 * root-owned aliases or virtual map, as the user that gives it), refuses
 * root, calls initgroups, setgid, setuid and runs local-deliver's code
 * (ld_run, linked in: an exec would cross no boundary the setuid has not
 * crossed already).  Started as an ordinary user it runs it as that user.
 * It reads postern.conf again when the file changes (refresh).
 * fd 0: the socket from queue-run (spawn.c protocol).  fd 2: log lines.
 * Request words: user, queue id, sender, recipient, destination.
 * Exit codes: 0 when queue-run closed the socket; 78 config; 71 system. */
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include "buffer.h"
#include "delivery.h"
#include "child.h"
#include "errmsg.h"
#include "str.h"
#include "log.h"
#include "qr.h"
#include "pool.h"
#include "lspawn.h"
#include "../local-deliver/ld.h"

struct config qr_cfg;                 /* postern.conf */

/* refuse - the child's answer without running local-deliver: defer, or
 * with EX_NOUSER fail */
_Noreturn static void refuse(const char *rcpt, int code, const char *why)
{
  char space[512];
  buffer b = BUFFER_INIT(write, 1, space, sizeof space);
  delivery_put(&b, rcpt, code == EX_TEMPFAIL ? DELIVERY_DEFER : DELIVERY_FAIL, why);
  buffer_flush(&b);
  _exit(code);
}

/* become - the request's user, when we are root and the request is one
 * root's maps or the user's own account allow (lspawn.c); a refusal is
 * logged: a request queue-run should never have made */
static const struct passwd *become(char **w)
{
  char why[LSPAWN_WHY_MAX];
  struct passwd *pw;
  int r;
  if (getuid() != 0) return 0;
  if ((r = lspawn_check(&qr_cfg, w[0], w[3], w[4], &pw, why)) != LSPAWN_OK) {
    log_event(w[1], "to", w[3], "user", w[0], "dest", w[4], "status", "refused", "reason", why, (char *)0);
    refuse(w[3], r == LSPAWN_PERM ? EX_NOUSER : EX_TEMPFAIL, why);
  }
  if (initgroups(pw->pw_name, pw->pw_gid) == -1 || setgid(pw->pw_gid) == -1 || setuid(pw->pw_uid) == -1
      || getuid() != pw->pw_uid || geteuid() != pw->pw_uid)
    refuse(w[3], EX_TEMPFAIL, "4.3.0 unable to switch to the delivery user");
  return pw;
}

/* the configuration file as we last read it: queue-run's SIGHUP cannot
 * reach us (we run as root, it does not), so we look before each request */
static struct stat conf_seen;
static int conf_existed;

/* conf_changed - the file is another, or changed, since conf_note */
static int conf_changed(const char *fn)
{
  struct stat st;
  int exists = stat(fn, &st) == 0;
  if (exists != conf_existed) return 1;
  return exists && (st.st_dev != conf_seen.st_dev || st.st_ino != conf_seen.st_ino || st.st_size != conf_seen.st_size ||
                    st.st_mtim.tv_sec != conf_seen.st_mtim.tv_sec || st.st_mtim.tv_nsec != conf_seen.st_mtim.tv_nsec);
}

static void conf_note(const char *fn)
{
  conf_existed = stat(fn, &conf_seen) == 0;
}

/* refresh - postern.conf read again when it changed: the recipient rules
 * (local_min_uid, local_allowed_users, local_refuse_shells), virtual_user,
 * map_dir and the local names apply from the next request on, as they do
 * in queue-run after its SIGHUP.  One stat per request.  A file that does
 * not parse leaves the settings we have, with a log line. */
static void refresh(void)
{
  struct config fresh = { 0 };
  const char *fn = config_file_name(qr_cfg.file);   /* as queue-run's reload: the file read at start */
  if (!conf_changed(fn)) return;
  conf_note(fn);   /* first: a change made while we read is seen next time */
  if (config_reread(&fresh, qr_cfg.file) == -1) return;
  config_free(&qr_cfg);
  qr_cfg = fresh;
  log_init("local-spawn", qr_cfg.log);
  log_event(0, "status", "reloaded", "config", qr_cfg.file ? qr_cfg.file : "defaults", (char *)0);
}

/* run_local - fork; the child becomes the user and runs local-deliver's
 * code with what an exec would have given it (no reuse: ctl is -1) */
static pid_t run_local(struct spawn_req *r, int ctl)
{
  static stralloc envblock;
  static char *envp[4];
  char *argv[5];
  const struct passwd *pw;
  pid_t pid;
  (void)ctl;
  if (r->argc != 5) return -1;
  refresh();
  helper_env(envp, &envblock, qr_cfg.file, r->argv[1]);
  if ((pid = child_fork(r->msgfd, r->outfd, -1)) != 0) return pid;
  pw = become(r->argv);
  argv[0] = "local-deliver"; argv[1] = r->argv[2]; argv[2] = r->argv[3]; argv[3] = r->argv[4]; argv[4] = 0;
  environ = envp;                     /* PATH, POSTERN_CONF, QUEUE_ID */
  ld_run_as(4, argv, pw);            /* pw: no second password lookup */
}

int main(void)
{
  errmsg_iam("local-spawn");
  conf_note(config_file_name(0));
  config_load(&qr_cfg, 0);
  log_init("local-spawn", qr_cfg.log);
  return pool_loop(0, run_local, 0);
}
