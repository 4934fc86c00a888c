/* corrupt.c - damaged messages are moved aside to corrupt/ with a log
 * line, never dropped (doc/architecture.md "Extra spool directory:
 * corrupt/"). */
#include <errno.h>
#include <stdio.h>      /* rename */
#include "str.h"
#include "log.h"
#include "num.h"
#include "qr.h"

void corrupt_file(const char *dir, const char *name, const char *suffix)
{
  stralloc from = { 0 }, to = { 0 };
  if (spool_path(&from, dir, name) && spool_path(&to, SPOOL_CORRUPT, name)) {
    to.len--;
    if (stralloc_cats(&to, suffix) && stralloc_0(&to) && rename(from.s, to.s) == -1 && errno != ENOENT)
      log_event(name, "status", "error", "reason", "unable to move a file to corrupt/", "file", from.s, (char *)0);
  }
  stralloc_free(&from);
  stralloc_free(&to);
}

/* corrupt_message - a one-file message whole as id.message, one of the
 * older layout as id.envelope and id.message; its state file */
void corrupt_message(const char *id, const char *why)
{
  if (state_one_file(SPOOL_QUEUE, id)) corrupt_file(SPOOL_QUEUE, id, ".message");
  else {
    corrupt_file(SPOOL_QUEUE, id, ".envelope");
    corrupt_file(SPOOL_MESS, id, ".message");
  }
  corrupt_file(SPOOL_STATE, id, ".state");
  spool_fsync_dir(SPOOL_CORRUPT);
  log_event(id, "status", "corrupt", "reason", why, "moved_to", SPOOL_CORRUPT "/", (char *)0);
}

void corrupt_state(const char *id, const char *why)
{
  char suffix[NUM_ULONG + 8];
  str_copy(suffix, ".state.");
  num_str(suffix + 7, clock_now());
  corrupt_file(SPOOL_STATE, id, suffix);
  log_event(id, "status", "corrupt-state", "reason", why, "action", "routing the message again", (char *)0);
}

