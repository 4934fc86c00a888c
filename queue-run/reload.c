/* reload.c - SIGHUP to queue-run --daemon: postern.conf read again and
 * the maps reopened, without a restart.  The new file is read and checked
 * whole before anything changes: a file that does not parse (or that
 * moves the spool or changes the users, which only a restart can do: the
 * process has entered the spool and dropped its privileges) leaves the
 * running configuration as it was, with a log line.  Settings used per
 * decision (relayhost, retry_min/retry_max, queue_lifetime, limits,
 * notices) apply from the next decision on; deliverers started from then
 * on read the file themselves. */
#include <stdlib.h>
#include "str.h"
#include "log.h"
#include "qr.h"

/* fixed - a setting a running daemon cannot change: its name, or 0 */
static const char *fixed(const struct config *old, const struct config *fresh)
{
  if (str_diff(old->spool, fresh->spool)) return "spool";
  if (str_diff(old->queue_user, fresh->queue_user)) return "queue_user";
  if (str_diff(old->send_user, fresh->send_user)) return "send_user";
  if (str_diff(old->libexec_dir, fresh->libexec_dir)) return "libexec_dir";
  return 0;
}

int reload_config(void)
{
  struct config fresh = { 0 }, old;
  const char *what;
  if (config_reread(&fresh, qr_cfg.file) == -1) return -1;
  if ((what = fixed(&qr_cfg, &fresh))) {
    log_event(0, "status", "reload-refused", "reason", "a setting that needs a restart changed", "key", what,
              "config", "the old one is kept", (char *)0);
    config_free(&fresh);
    return -1;
  }
  /* between two events nothing holds a string of the old configuration:
   * every user reads qr_cfg when it needs a value (the router keeps a
   * pointer to qr_cfg itself), so the old one is freed once the maps are
   * open under the new one */
  old = qr_cfg;
  qr_cfg = fresh;
  message_reopen();
  hold_reload();
  config_free(&old);
  log_event(0, "status", "reloaded", "config", qr_cfg.file ? qr_cfg.file : "defaults", (char *)0);
  return 0;
}
