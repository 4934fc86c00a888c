/* pickup.c - the spool directories: taking over new/ (rename into queue/,
 * never over a message there: from then on the message is queue-run's),
 * reading queue/ at start, housekeeping (DESIGN.md invariant 4: tmp/
 * files and the older layout's bodies in mess/ without an envelope older
 * than 36 hours; stale state files); what is damaged goes to corrupt/
 * (corrupt.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>      /* AT_FDCWD */
#include <stdio.h>      /* rename, renameat2 */
#include <unistd.h>
#include <sys/stat.h>
#include "str.h"
#include "log.h"
#include "num.h"
#include "qr.h"

/* each - call fn(name) for every entry of dir but . files; -1 on open error */
static int each(const char *dir, void (*fn)(const char *name, void *arg), void *arg)
{
  DIR *d = opendir(dir);
  struct dirent *e;
  if (!d) return -1;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') fn(e->d_name, arg);
  closedir(d);
  return 0;
}

/* commit - new/<name> to queue/<name>, never over a message there
 * (RENAME_NOREPLACE; on a file system without it, a look first: the lock
 * makes us the only one who adds to queue/); 0, or -1 with errno (EEXIST:
 * queue/ holds a message of that id) */
static int commit(const char *from, const char *to)
{
  struct stat st;
  if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) return 0;
  if (errno != EINVAL) return -1;
  if (lstat(to, &st) == 0) { errno = EEXIST; return -1; }
  return rename(from, to);
}

/* fresh - new/<name> has the id of a message in queue/ (the writer's
 * O_EXCL in tmp/ cannot see queue/; a clock set back could repeat an id):
 * a one-file message, all of it in that file, is queued under a fresh id
 * (logged status=renamed), written into id; one of the older layout, whose
 * mess/<name> may be the queued message's body, goes to corrupt/.  1
 * queued, 0 not */
static int fresh(const char *name, const char *from, char id[SPOOL_ID_MAX])
{
  stralloc to = { 0 };
  unsigned int tries;
  int done = 0;
  if (state_one_file(SPOOL_NEW, name))
    for (tries = 0; tries < 5 && !done; tries++) {
      spool_id(id);
      if (!spool_path(&to, SPOOL_QUEUE, id)) break;
      if (commit(from, to.s) == 0) done = 1;
      else if (errno != EEXIST) break;
    }
  stralloc_free(&to);
  if (done) {
    log_event(name, "status", "renamed", "reason", "a queued message has this id", "new_id", id, (char *)0);
    return 1;
  }
  corrupt_file(SPOOL_NEW, name, ".duplicate");
  log_event(name, "status", "corrupt", "reason", "a file in new/ with the id of a queued message",
            "moved_to", SPOOL_CORRUPT "/", (char *)0);
  return 0;
}

/* take - one entry of new/ */
static void take(const char *name, void *arg)
{
  stralloc from = { 0 }, to = { 0 };
  char id[SPOOL_ID_MAX];
  int *count = arg, queued = 0;
  struct msg *m;
  if (!spool_id_valid(name)) {
    corrupt_file(SPOOL_NEW, name, ".junk");
    log_event(0, "status", "corrupt", "reason", "a file in new/ that is not a queue id", "file", name, (char *)0);
    return;
  }
  str_copy(id, name);
  if (spool_path(&from, SPOOL_NEW, name) && spool_path(&to, SPOOL_QUEUE, name)) {
    if (commit(from.s, to.s) == 0) queued = 1;
    else if (errno == EEXIST) queued = fresh(name, from.s, id);
  }
  /* a message new to queue/ is not in the table (a fresh id neither) */
  if (queued && (m = table_add(id, 0))) {
    stats_received(id);
    table_ready(m);
    (*count)++;
  }
  stralloc_free(&from);
  stralloc_free(&to);
}

int pickup_new(void)
{
  int count = 0;
  if (each(SPOOL_NEW, take, &count) == -1)
    log_event(0, "status", "error", "reason", "unable to read new/", (char *)0);
  return count;
}

int pickup_waiting(void)
{
  DIR *d = opendir(SPOOL_NEW);
  struct dirent *e;
  int found = 0;
  if (!d) return 0;
  while (!found && (e = readdir(d))) found = e->d_name[0] != '.';
  closedir(d);
  return found;
}

/* known - one entry of queue/: a message we did not know, or the due
 * time of one we know (another scheduler may have tried it) */
static void known(const char *name, void *arg)
{
  unsigned long due = 0;
  int *count = arg;
  struct msg *m;
  if (!spool_id_valid(name)) { corrupt_file(SPOOL_QUEUE, name, ".junk"); return; }
  if (state_due(name, &due) != 1) due = 0;
  if ((m = table_find(name))) { if (!m->active) m->due = due; }
  else if (table_add(name, due)) (*count)++;
}

int pickup_queue(void)
{
  int count = 0;
  if (each(SPOOL_QUEUE, known, &count) == -1) return -1;
  return count;
}

/* exists - dir/id exists */
static int exists(const char *dir, const char *id)
{
  stralloc fn = { 0 };
  int r = spool_path(&fn, dir, id) && access(fn.s, F_OK) == 0;
  stralloc_free(&fn);
  return r;
}

/* old - dir/name was last changed more than age seconds ago */
static int old(const char *dir, const char *name, unsigned long age)
{
  stralloc fn = { 0 };
  struct stat st;
  int r = spool_path(&fn, dir, name) && lstat(fn.s, &st) == 0 && (unsigned long)st.st_mtime + age < clock_now();
  stralloc_free(&fn);
  return r;
}

/* remove_file - unlink dir/name with a log line */
static void remove_file(const char *dir, const char *name, const char *why)
{
  stralloc fn = { 0 };
  if (spool_path(&fn, dir, name) && unlink(fn.s) == 0)
    log_event(spool_id_valid(name) ? name : 0, "status", "removed", "file", fn.s, "reason", why, (char *)0);
  stralloc_free(&fn);
}

static void clean_tmp(const char *name, void *arg)
{
  (void)arg;
  if (old(SPOOL_TMP, name, QR_ORPHAN_SECONDS)) remove_file(SPOOL_TMP, name, "uncommitted, older than 36 hours");
}

static void clean_mess(const char *name, void *arg)
{
  (void)arg;
  if (exists(SPOOL_QUEUE, name) || exists(SPOOL_NEW, name)) return;
  if (old(SPOOL_MESS, name, QR_ORPHAN_SECONDS)) remove_file(SPOOL_MESS, name, "body without envelope, older than 36 hours");
}

static void clean_state(const char *name, void *arg)
{
  size_t len = str_len(name);
  (void)arg;
  /* a .tmp may be a command another process is writing right now */
  if (len > 4 && !str_diff(name + len - 4, ".tmp")) {
    if (old(SPOOL_STATE, name, 3600)) remove_file(SPOOL_STATE, name, "unfinished write");
    return;
  }
  if (!spool_id_valid(name) || exists(SPOOL_QUEUE, name) || table_find(name)) return;
  if (old(SPOOL_STATE, name, 60)) remove_file(SPOOL_STATE, name, "state without envelope");
}

void pickup_housekeeping(void)
{
  each(SPOOL_TMP, clean_tmp, 0);
  each(SPOOL_MESS, clean_mess, 0);
  each(SPOOL_STATE, clean_state, 0);
}
