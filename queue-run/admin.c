/* admin.c - the verbs of queue-run besides --daemon (queue-run.8): their
 * names, listing the queue (mailq, sendmail -bp), and asking the
 * scheduler for the rest.
 *
 * Listing only reads (envelopes, state files: replaced by rename, so a
 * reader never sees half a file).  A verb that changes something is made
 * durable first (control.c's command files, hold.c's list), then the
 * scheduler holding the lock is poked through the trigger fifo. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>
#include <sys/file.h>
#include <sys/stat.h>
#include "buffer.h"
#include "byte.h"
#include "errmsg.h"
#include "str.h"
#include "log.h"
#include "num.h"
#include "scan.h"
#include "wbuf.h"
#include "qr.h"

/* the modes by name, in enum qr_mode's order */
static const char *const names[] = {
  "", "daemon", "once", "list", "flush", "delete", "bounce", "hold", "release", "purge", "bounce-destination", "route",
  "hoststat", "purgestat", "stats"
};

enum qr_mode admin_mode(const char *name)
{
  unsigned int i;
  for (i = 1; i < sizeof names / sizeof names[0]; i++) if (!str_diff(name, names[i])) return (enum qr_mode)i;
  return MODE_NONE;
}

const char *admin_verb(enum qr_mode mode)
{
  return names[mode];
}

int admin_takes_arg(enum qr_mode mode)
{
  return mode == MODE_DELETE || mode == MODE_BOUNCE || mode == MODE_HOLD || mode == MODE_RELEASE
      || mode == MODE_PURGE || mode == MODE_BOUNCE_DEST;
}

/* ------------------------------------------------------------ listing */

static char outspace[8192];
static buffer out;                /* fd 1, error-keeping (wbuf_init in admin_list) */

/* admin_put_time - a time for the listings (qr.h) */
void admin_put_time(buffer *b, unsigned long t)
{
  char s[32];
  time_t tt = (time_t)t;
  struct tm tm;
  size_t n;
  if (!t || t == (unsigned long)-1 || !gmtime_r(&tt, &tm)) { buffer_puts(b, "-"); return; }
  n = num_fmt(s, (unsigned long)tm.tm_year + 1900); s[n++] = '-';
  n += num_fmt0(s + n, (unsigned long)tm.tm_mon + 1, 2); s[n++] = '-';
  n += num_fmt0(s + n, (unsigned long)tm.tm_mday, 2); s[n++] = ' ';
  n += num_fmt0(s + n, (unsigned long)tm.tm_hour, 2); s[n++] = ':';
  n += num_fmt0(s + n, (unsigned long)tm.tm_min, 2); s[n++] = ':';
  n += num_fmt0(s + n, (unsigned long)tm.tm_sec, 2);
  buffer_put(b, s, n);
}

static void put_num(unsigned long n) { char s[NUM_ULONG]; buffer_put(&out, s, num_fmt(s, n)); }

/* status_word - an item status for people and scripts */
static const char *status_word(int st)
{
  switch (st) {
  case ST_PENDING: return "pending";
  case ST_DONE: case ST_DONE_NOTIFY: return "delivered";
  case ST_FAILED: return "failed";
  default: return "reported";
  }
}

/* list_items - the recipients still to do (or owed a notice) */
static void list_items(const char *id, const struct work *w, int machine)
{
  unsigned int i;
  for (i = 0; i < w->n; i++) {
    const struct item *it = &w->item[i];
    if (it->status == ST_DONE || it->status == ST_REPORTED || it->status == ST_GONE) continue;
    if (machine) {
      buffer_puts(&out, "R\t"); buffer_puts(&out, id); buffer_puts(&out, "\t");
      buffer_puts(&out, work_s(w, it->addr)); buffer_puts(&out, "\t"); buffer_puts(&out, status_word(it->status));
      buffer_puts(&out, "\t"); put_num(it->tries); buffer_puts(&out, "\t"); put_num(it->next);
      buffer_puts(&out, "\t"); buffer_puts(&out, work_s(w, it->dest)); buffer_puts(&out, "\t");
      buffer_puts(&out, work_s(w, it->text)); buffer_puts(&out, "\n");
      continue;
    }
    buffer_puts(&out, "    <"); buffer_puts(&out, work_s(w, it->addr)); buffer_puts(&out, "> ");
    buffer_puts(&out, status_word(it->status)); buffer_puts(&out, ", tries "); put_num(it->tries);
    buffer_puts(&out, ", next "); admin_put_time(&out, it->status == ST_PENDING ? it->next : 0);
    if (*work_s(w, it->text)) { buffer_puts(&out, "\n      "); buffer_puts(&out, work_s(w, it->text)); }
    buffer_puts(&out, "\n");
  }
}

/* list_one - one message of dir/ */
static void list_one(const char *dir, const char *id, int machine)
{
  static struct work w;
  const char *why, *d;
  unsigned long arrival = 0;
  unsigned int i;
  work_free(&w);
  work_init(&w);
  if (state_envelope_from(&w.env, dir, id, &why) != 1) return;
  d = envelope_tag(&w.env, 'D');
  if (d) scan_ulong(d, &arrival);
  if (!str_diff(dir, SPOOL_QUEUE) && state_read(&w, id, &why) == -1) why = "bad state file";
  if (!w.have_state)
    for (i = 0; i < w.env.nrcpt; i++)
      if (!work_add(&w, i, ST_PENDING, KIND_ROUTE, 0, 0, envelope_rcpt(&w.env, i))) return;
  if (machine) {
    buffer_puts(&out, "M\t"); buffer_puts(&out, id); buffer_puts(&out, "\t"); put_num(state_body_size(dir, id));
    buffer_puts(&out, "\t"); put_num(arrival); buffer_puts(&out, "\t"); buffer_puts(&out, envelope_sender(&w.env));
    buffer_puts(&out, "\n");
  } else {
    buffer_puts(&out, id); buffer_puts(&out, "  "); put_num(state_body_size(dir, id)); buffer_puts(&out, " bytes  ");
    admin_put_time(&out, arrival); buffer_puts(&out, "  <"); buffer_puts(&out, envelope_sender(&w.env)); buffer_puts(&out, ">");
    buffer_puts(&out, str_diff(dir, SPOOL_NEW) ? "\n" : "  (new)\n");
    if (envelope_tag(&w.env, 'Q')) { buffer_puts(&out, "    quarantined: "); buffer_puts(&out, envelope_tag(&w.env, 'Q')); buffer_puts(&out, "\n"); }
  }
  list_items(id, &w, machine);
}

/* list_dir - every message in dir, sorted by id (arrival) */
static unsigned int list_dir(const char *dir, int machine)
{
  struct dirent **names;
  int n = scandir(dir, &names, 0, alphasort), i;
  unsigned int count = 0;
  if (n < 0) return 0;
  for (i = 0; i < n; i++) {
    if (spool_id_valid(names[i]->d_name)) { list_one(dir, names[i]->d_name, machine); count++; }
    free(names[i]);
  }
  free(names);
  return count;
}

int admin_list(int machine)
{
  unsigned int n;
  wbuf_init(&out, 1, outspace, sizeof outspace);
  n = list_dir(SPOOL_QUEUE, machine) + list_dir(SPOOL_NEW, machine);
  if (!machine) {
    buffer_puts(&out, n ? "-- " : "Mail queue is empty\n");
    if (n) { put_num(n); buffer_puts(&out, n == 1 ? " message\n" : " messages\n"); }
  }
  return wbuf_flush(&out) == 0 ? 0 : 74;
}

/* ------------------------------------------------------------ requests */

/* admin_request - what a mode other than --daemon asks of the scheduler.  The
 * request is made durable first: a control command (and a flush of
 * everything asked for while another scheduler runs) as a file in state/,
 * a hold list edit in state/hold; plain --once needs nothing, the mail
 * waiting in new/ is its request.  Then, when another process holds the
 * lock, it is poked through the trigger and the lock tried once more: a
 * --once holder gives the lock up before it looks for requests, so
 * either we get the lock now or it sees ours (DESIGN.md invariant 5). */
int admin_request(enum qr_mode mode, const char *arg, int all, int lockfd, int locked)
{
  int once = mode == MODE_ONCE;
  int hold = mode == MODE_HOLD || (mode == MODE_RELEASE && !spool_id_valid(arg));
  int flush_all = (once && all) || (mode == MODE_FLUSH && !arg);
  if (!once || (flush_all && !locked)) {
    if (control_command(flush_all ? "flush" : admin_verb(mode), flush_all ? 0 : arg) == -1)
      diesys(EX_IOERR, "unable to record the command in state/");
  }
  if (locked) return 1;
  spool_poke(hold ? SPOOL_POKE_HOLD : once && !flush_all ? SPOOL_POKE_NEW : SPOOL_POKE_CONTROL);
  if (flock(lockfd, LOCK_EX | LOCK_NB) == 0) return 1;
  if (!once) log_event(arg, "status", "requested", "command", admin_verb(mode), "by", "the running queue-run", (char *)0);
  return 0;
}

void admin_check_id(enum qr_mode mode, const char *arg)
{
  static stralloc fn;
  if (!arg || (mode != MODE_DELETE && mode != MODE_BOUNCE && mode != MODE_FLUSH
               && (mode != MODE_RELEASE || !spool_id_valid(arg)))) return;
  if (!spool_id_valid(arg)) die(EX_USAGE, "not a queue id: ", arg);
  if (!spool_path(&fn, SPOOL_QUEUE, arg)) die(EX_OSERR, "out of memory");
  if (access(fn.s, F_OK) == 0) return;
  if (!spool_path(&fn, SPOOL_NEW, arg)) die(EX_OSERR, "out of memory");
  if (access(fn.s, F_OK) == 0) return;
  die(EX_NOINPUT, "no such message in the queue: ", arg);
}

