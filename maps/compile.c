/* compile.c - postern-maps compile: the text map FILE becomes FILE.cdb.
 * The cdb is written to FILE.cdb.tmp.PID in the same directory, synced,
 * given the text file's permission bits (and owner and group when run as
 * root), renamed over FILE.cdb, and the directory is synced: a reader sees
 * the old map or the new one, never part of one.  On any error, and on
 * SIGINT, SIGTERM or SIGHUP, the temporary file is removed and FILE.cdb is
 * left as it was.  Exit codes: postern-maps.8. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>      /* rename(2) only */
#include <stdlib.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>
#include "byte.h"
#include "cdb_make.h"
#include "errmsg.h"
#include "num.h"
#include "str.h"
#include "maps.h"
#include "wbuf.h"

static stralloc tmpname;                 /* the temporary file, NUL-terminated */
static volatile sig_atomic_t tmp_exists; /* 1 while tmpname is ours to remove */

/* struct compile - one compile run */
struct compile {
  const char *path;       /* the text map */
  int type;
  stralloc cdbname;       /* path.cdb */
  struct cdb_make cm;
  unsigned long count;    /* records written */
  int write_errno;        /* why cdb_make_add failed, or 0 */
};

/* tmp_remove - atexit: no temporary file outlives a failed run */
static void tmp_remove(void)
{
  if (tmp_exists) unlink(tmpname.s);
  tmp_exists = 0;
}

/* on_signal - interrupted: remove the temporary file, temporary failure */
static void on_signal(int sig)
{
  (void)sig;
  if (tmp_exists) unlink(tmpname.s);
  _exit(EX_TEMPFAIL);
}

static void die_nomem(void) { die(EX_TEMPFAIL, "out of memory"); }

/* names - path.cdb and path.cdb.tmp.PID */
static void names(struct compile *c)
{
  char pid[NUM_ULONG];
  pid[num_fmt(pid, (unsigned long)getpid())] = 0;
  if (!stralloc_copys(&c->cdbname, c->path) || !stralloc_cats(&c->cdbname, ".cdb")
      || !stralloc_0(&c->cdbname))
    die_nomem();
  if (!stralloc_copys(&tmpname, c->cdbname.s) || !stralloc_cats(&tmpname, ".tmp.")
      || !stralloc_cats(&tmpname, pid) || !stralloc_0(&tmpname))
    die_nomem();
}

/* tmp_create - create the temporary file, removed again on exit and on
 * the usual signals; signals are held until that is arranged */
static int tmp_create(void)
{
  struct sigaction sa;
  sigset_t all, old;
  int fd, e;
  byte_zero(&sa, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGINT, &sa, 0) == -1 || sigaction(SIGTERM, &sa, 0) == -1
      || sigaction(SIGHUP, &sa, 0) == -1 || atexit(tmp_remove) != 0)
    diesys(EX_OSERR, "unable to set up signal handling");
  sigfillset(&all);
  sigprocmask(SIG_BLOCK, &all, &old);
  fd = open(tmpname.s, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  e = errno;
  if (fd != -1) tmp_exists = 1;
  sigprocmask(SIG_SETMASK, &old, 0);
  errno = e;
  if (fd == -1) diesys(EX_CANTCREAT, "unable to create ", tmpname.s);
  return fd;
}

/* add_entry - aliases_cb entry: one record into the cdb */
static int add_entry(void *arg, const char *k, size_t klen, const char *v, size_t vlen,
                     unsigned long line)
{
  struct compile *c = arg;
  (void)line;
  if (cdb_make_add(&c->cm, (const unsigned char *)k, klen, (const unsigned char *)v, vlen) == -1) {
    c->write_errno = errno ? errno : EIO;
    return -1;
  }
  c->count++;
  return 0;
}

/* print_error - aliases_cb error: "postern-maps: FILE: line N: reason" */
static void print_error(void *arg, const char *message)
{
  struct compile *c = arg;
  carp(c->path, ": ", message);
}

/* cdb_make_release - libowfat's cdb_make_finish leaves its hash lists
 * allocated: free them */
static void cdb_make_release(struct cdb_make *cm)
{
  struct cdb_hplist *x;
  while ((x = cm->head)) {
    cm->head = x->next;
    free(x);
  }
  free(cm->split);
  cm->split = 0;
}

/* parse_into - read the text map from in into the cdb on fd */
static void parse_into(struct compile *c, int in, int fd)
{
  struct aliases_cb cb = { add_entry, print_error, 0 };
  char buf[BUFFER_INSIZE], num[NUM_ULONG];
  buffer b;
  long n;
  cb.arg = c;
  buffer_init(&b, read, in, buf, sizeof buf);
  if (cdb_make_start(&c->cm, fd) == -1) diesys(EX_IOERR, "unable to write ", tmpname.s);
  /* libowfat's buffer loses write errors (lib/wbuf.h): keep them */
  c->cm.b.op = (ssize_t (*)())wbuf_write;
  wbuf_error(fd);
  n = mapfile_parse(&b, c->type, &cb);
  if (n == -1 && c->write_errno) {
    errno = c->write_errno;
    diesys(EX_IOERR, "unable to write ", tmpname.s);
  }
  if (n == -1 && errno == ENOMEM) die_nomem();
  if (n == -1) diesys(EX_IOERR, "unable to read ", c->path);
  num[num_fmt(num, (unsigned long)n)] = 0;
  if (n > 0)
    die(EX_DATAERR, c->path, ": ", num, n == 1 ? " error, " : " errors, ",
        c->cdbname.s, " left unchanged");
  if (cdb_make_finish(&c->cm) == -1) diesys(EX_IOERR, "unable to write ", tmpname.s);
  if ((errno = wbuf_error(fd))) diesys(EX_IOERR, "unable to write ", tmpname.s);
  cdb_make_release(&c->cm);
  close(in);
}

/* tmp_finish - the text file's mode (and owner when root), then sync */
static void tmp_finish(int fd, const struct stat *st)
{
  if (geteuid() == 0 && fchown(fd, st->st_uid, st->st_gid) == -1)
    diesys(EX_IOERR, "unable to set the owner of ", tmpname.s);
  if (fchmod(fd, st->st_mode & 0777) == -1)
    diesys(EX_IOERR, "unable to set the mode of ", tmpname.s);
  if (fsync(fd) == -1) diesys(EX_IOERR, "unable to sync ", tmpname.s);
  if (close(fd) == -1) diesys(EX_IOERR, "unable to close ", tmpname.s);
}

/* dir_sync - make the rename in path's directory durable */
static void dir_sync(const char *path)
{
  stralloc dir = { 0 };
  size_t slash = str_rchr(path, '/');
  int fd;
  if (path[slash] == 0) { if (!stralloc_copys(&dir, ".")) die_nomem(); }
  else if (!stralloc_copyb(&dir, path, slash ? slash : 1)) die_nomem();
  if (!stralloc_0(&dir)) die_nomem();
  fd = open(dir.s, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd == -1 || fsync(fd) == -1) diesys(EX_IOERR, "unable to sync the directory ", dir.s);
  close(fd);
  stralloc_free(&dir);
}

/* commit - the one moment the new map replaces the old */
static void commit(struct compile *c)
{
  if (rename(tmpname.s, c->cdbname.s) == -1)
    diesys(EX_CANTCREAT, "unable to rename ", tmpname.s, " to ", c->cdbname.s);
  tmp_exists = 0;
  dir_sync(c->path);
}

/* summary - "postern-maps: /etc/postern/aliases.cdb: 12 aliases" */
static void summary(struct compile *c)
{
  char num[NUM_ULONG];
  const char *what = c->type == MAPTYPE_ALIASES ? " alias" : " key";
  num[num_fmt(num, c->count)] = 0;
  if (buffer_putm(buffer_1, "postern-maps: ", c->cdbname.s, ": ", num, what) == -1
      || (c->count != 1 && buffer_puts(buffer_1, c->type == MAPTYPE_ALIASES ? "es" : "s") == -1)
      || buffer_putnlflush(buffer_1) == -1)
    diesys(EX_IOERR, "unable to write to standard output");
}

void compile_map(const char *path, int type)
{
  struct compile c;
  struct stat st;
  int in, fd;
  byte_zero(&c, sizeof c);
  c.path = path;
  c.type = type;
  in = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (in == -1) diesys(EX_NOINPUT, "unable to open ", path);
  if (fstat(in, &st) == -1) diesys(EX_IOERR, "unable to stat ", path);
  if (!S_ISREG(st.st_mode)) die(EX_NOINPUT, path, " is not a regular file");
  /* sendmail's safe-file rule: whoever may write a map decides where mail
   * goes; the database would take over these bits and be refused */
  if (map_unsafe(path, &st)) die(EX_NOPERM, path, " is writable by group or others, or its directory is: refused (chmod go-w)");
  names(&c);
  fd = tmp_create();
  parse_into(&c, in, fd);
  tmp_finish(fd, &st);
  commit(&c);
  summary(&c);
  stralloc_free(&c.cdbname);
}
