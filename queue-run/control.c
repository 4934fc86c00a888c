/* control.c - queue inspection and the administrator's commands (the
 * interface of mailq and sendmail -q; queue-run(8) documents the output).
 *
 * Listing only reads (envelopes, state files: replaced by rename, so a
 * reader never sees half a file).  Commands that change a message are
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

static char outspace[8192];
static buffer out;                /* fd 1, error-keeping (wbuf_init in control_list) */

/* put_time - seconds as "YYYY-MM-DD HH:MM:SS" UTC, or "-" */
static void put_time(unsigned long t)
{
  char s[32];
  time_t tt = (time_t)t;
  struct tm tm;
  size_t n;
  if (!t || t == (unsigned long)-1 || !gmtime_r(&tt, &tm)) { buffer_puts(&out, "-"); return; }
  n = num_fmt(s, (unsigned long)tm.tm_year + 1900); s[n++] = '-';
  n += num_fmt0(s + n, (unsigned long)tm.tm_mon + 1, 2); s[n++] = '-';
  n += num_fmt0(s + n, (unsigned long)tm.tm_mday, 2); s[n++] = ' ';
  n += num_fmt0(s + n, (unsigned long)tm.tm_hour, 2); s[n++] = ':';
  n += num_fmt0(s + n, (unsigned long)tm.tm_min, 2); s[n++] = ':';
  n += num_fmt0(s + n, (unsigned long)tm.tm_sec, 2);
  buffer_put(&out, s, n);
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

/* message_size - bytes of mess/<id> */
static unsigned long message_size(const char *id)
{
  stralloc fn = { 0 };
  struct stat st;
  unsigned long n = spool_path(&fn, SPOOL_MESS, id) && stat(fn.s, &st) == 0 ? (unsigned long)st.st_size : 0;
  stralloc_free(&fn);
  return n;
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
    buffer_puts(&out, ", next "); put_time(it->status == ST_PENDING ? it->next : 0);
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
  if (envelope_load_from(&w.env, dir, id, &why) != 1) return;
  d = envelope_tag(&w.env, 'D');
  if (d) scan_ulong(d, &arrival);
  if (!str_diff(dir, SPOOL_QUEUE) && state_read(&w, id, &why) == -1) why = "bad state file";
  if (!w.have_state)
    for (i = 0; i < w.env.nrcpt; i++)
      if (!work_add(&w, i, ST_PENDING, KIND_ROUTE, 0, 0, envelope_rcpt(&w.env, i))) return;
  if (machine) {
    buffer_puts(&out, "M\t"); buffer_puts(&out, id); buffer_puts(&out, "\t"); put_num(message_size(id));
    buffer_puts(&out, "\t"); put_num(arrival); buffer_puts(&out, "\t"); buffer_puts(&out, envelope_sender(&w.env));
    buffer_puts(&out, "\n");
  } else {
    buffer_puts(&out, id); buffer_puts(&out, "  "); put_num(message_size(id)); buffer_puts(&out, " bytes  ");
    put_time(arrival); buffer_puts(&out, "  <"); buffer_puts(&out, envelope_sender(&w.env)); buffer_puts(&out, ">");
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

int control_list(int machine)
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

/* hold_edit - add or remove dest in state/hold */
static int hold_edit(const char *dest, int add)
{
  char buf[8192];
  stralloc text = { 0 };
  size_t start = 0, i, dlen = str_len(dest);
  ssize_t n = 0;
  int fd = open(SPOOL_STATE "/hold", O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r;
  if (fd != -1) { n = read(fd, buf, sizeof buf - 1); close(fd); if (n < 0) n = 0; }
  for (i = 0; i < (size_t)n; i++)
    if (buf[i] == '\n') {
      if (!(i - start == dlen && !byte_diff(buf + start, dlen, dest)) && !stralloc_catb(&text, buf + start, i - start + 1)) return -1;
      start = i + 1;
    }
  if (add && (!stralloc_cats(&text, dest) || !stralloc_cats(&text, "\n"))) return -1;
  if (text.len > sizeof buf - 1) { stralloc_free(&text); return -1; }
  r = state_file_write(SPOOL_STATE "/hold", &text, 0644);
  stralloc_free(&text);
  return r;
}

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
      || !stralloc_cats(&name, ".") || !stralloc_cats(&name, num_str(num, qr_now())) || !stralloc_0(&name)
      || !stralloc_copys(&line, verb) || !stralloc_cats(&line, " ") || !stralloc_cats(&line, arg ? arg : "")
      || !stralloc_cats(&line, "\n")) return -1;
  r = state_file_write(name.s, &line, 0644);
  stralloc_free(&name);
  stralloc_free(&line);
  return r;
}

/* apply_line - one command */
static void apply_line(const char *verb, const char *arg)
{
  char num[NUM_ULONG];
  int id_ok = spool_id_valid(arg);
  if (!str_diff(verb, "flush")) { sched_flush(*arg ? arg : 0); return; }
  if (!str_diff(verb, "delete") && id_ok) { sched_delete(arg); return; }
  if (!str_diff(verb, "bounce") && id_ok) { sched_bounce(arg); return; }
  if (!str_diff(verb, "release") && id_ok) { sched_release(arg); return; }   /* a quarantined message */
  if (!str_diff(verb, "purge") && *arg) { log_event(0, "status", "purge", "dest", arg, "items", num_str(num, sched_apply_dest(arg, 0)), (char *)0); return; }
  if (!str_diff(verb, "bounce-destination") && *arg) { log_event(0, "status", "bounce-destination", "dest", arg, "items", num_str(num, sched_apply_dest(arg, 1)), (char *)0); return; }
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
