/* control.c - the administrator's commands as files (admin.c makes
 * them; the scheduler that holds the lock carries them out).
 *
 * Commands that change a message are
 * written as a file state/ctl.PID.TIME (write, fsync, rename) and carried
 * out by whoever holds the scheduler lock: the running daemon, poked with
 * 'C' on the trigger fifo, or this process when no scheduler runs.  The
 * hold list is state/hold, one destination per line. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "buffer.h"
#include "byte.h"
#include "str.h"
#include "log.h"
#include "num.h"
#include "scan.h"
#include "wbuf.h"
#include "qr.h"

#define CTL_MAX 65536      /* bytes of one command file */

int control_command(const char *verb, const char *arg)
{
  char num[NUM_ULONG];
  stralloc name = { 0 }, line = { 0 };
  int r;
  if (!str_diff(verb, "hold") || (!str_diff(verb, "release") && !spool_id_valid(arg))) {
    r = hold_edit(arg, !str_diff(verb, "hold"));
    log_event(0, "status", verb, "dest", arg, (char *)0);
    return r;
  }
  if (!stralloc_copys(&name, SPOOL_STATE "/ctl.") || !stralloc_cats(&name, num_str(num, (unsigned long)getpid()))
      || !stralloc_cats(&name, ".") || !stralloc_cats(&name, num_str(num, clock_now())) || !stralloc_0(&name)
      || !stralloc_copys(&line, verb) || !stralloc_cats(&line, " ") || !stralloc_cats(&line, arg ? arg : "")
      || !stralloc_cats(&line, "\n")) return -1;
  r = state_file_write(name.s, &line, 0644);
  stralloc_free(&name);
  stralloc_free(&line);
  return r;
}

/* purgestat - forget dest's status (every destination's with ""), and
 * try its mail now: its pending items due, or every message flushed */
static void purgestat(const char *dest)
{
  char num[NUM_ULONG];
  hoststat_forget(*dest ? dest : 0);
  if (*dest) { log_event(0, "status", "purgestat", "dest", dest, "items", num_str(num, table_apply_dest(dest, DEST_RETRY)), (char *)0); return; }
  table_flush(0);
  log_event(0, "status", "purgestat", "dest", "all", "messages", num_str(num, table_count()), (char *)0);
}

/* apply_line - one command */
static void apply_line(const char *verb, const char *arg)
{
  char num[NUM_ULONG];
  int id_ok = spool_id_valid(arg);
  if (!str_diff(verb, "flush")) { table_flush(*arg ? arg : 0); return; }
  if (!str_diff(verb, "delete") && id_ok) { table_delete(arg); return; }
  if (!str_diff(verb, "bounce") && id_ok) { table_bounce(arg); return; }
  if (!str_diff(verb, "release") && id_ok) { table_release(arg); return; }   /* a quarantined message */
  if (!str_diff(verb, "purge") && *arg) { log_event(0, "status", "purge", "dest", arg, "items", num_str(num, table_apply_dest(arg, 0)), (char *)0); return; }
  if (!str_diff(verb, "purgestat")) { purgestat(arg); return; }
  if (!str_diff(verb, "bounce-destination") && *arg) { log_event(0, "status", "bounce-destination", "dest", arg, "items", num_str(num, table_apply_dest(arg, 1)), (char *)0); return; }
  log_event(0, "status", "refused", "reason", "unknown control command", "command", verb, (char *)0);
}

/* apply_file - the commands in state/name, then remove it */
static void apply_file(const char *name)
{
  stralloc fn = { 0 };
  char buf[CTL_MAX + 1];
  ssize_t n = -1;
  int fd;
  if (spool_path(&fn, SPOOL_STATE, name) && (fd = open(fn.s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) != -1) {
    n = read(fd, buf, CTL_MAX);
    close(fd);
    unlink(fn.s);
  }
  stralloc_free(&fn);
  for (ssize_t i = 0, start = 0; i < n; i++)
    if (buf[i] == '\n') {
      size_t sp;
      buf[i] = 0;
      sp = str_chr(buf + start, ' ');
      if (buf[start + sp]) { buf[start + sp] = 0; apply_line(buf + start, buf + start + sp + 1); }
      start = i + 1;
    }
}

/* is_command - a command file (not one being written) */
static int is_command(const char *name)
{
  size_t len = str_len(name);
  return str_start(name, "ctl.") && !(len > 4 && !str_diff(name + len - 4, ".tmp"));
}

int control_waiting(void)
{
  DIR *d = opendir(SPOOL_STATE);
  struct dirent *e;
  int found = 0;
  if (!d) return 0;
  while (!found && (e = readdir(d))) found = is_command(e->d_name);
  closedir(d);
  return found;
}

void control_apply(void)
{
  DIR *d = opendir(SPOOL_STATE);
  struct dirent *e;
  if (!d) return;
  while ((e = readdir(d)))
    if (is_command(e->d_name)) apply_file(e->d_name);
  closedir(d);
}
