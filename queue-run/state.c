/* state.c - a message's delivery items (struct work) and the state file
 * that keeps them across passes and crashes (postern-queue(5)).
 *
 * state/<id> is written only by queue-run, as state/<id>.tmp, fsync,
 * rename, fsync state/ (DESIGN.md invariant 2).  It is read back with the
 * same bounds as anything else on the spool: line length, field syntax,
 * item count; anything else makes it "bad", and the caller moves it aside
 * to corrupt/ and routes the message afresh (a repeat, never a loss). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>      /* rename */
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include "buffer.h"
#include "byte.h"
#include "scan.h"
#include "str.h"
#include "address.h"
#include "getln.h"
#include "num.h"
#include "wbuf.h"
#include "qr.h"

#define STATE_TEXT_KEEP (1UL << 20)   /* bytes of state_write's buffer kept between writes */

/* open_file - fn opened for reading without following a symlink or
 * blocking on a FIFO (O_NONBLOCK: a FIFO planted by a member of the
 * injector group must not block the scheduler in open(2)); a regular file
 * only, its size in *size: the fd, or -1 (errno EFTYPE_BODY: not a
 * regular file) */
static int open_file(const char *fn, unsigned long *size)
{
  struct stat st;
  int fd, e;
  if ((fd = open(fn, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)) == -1) return -1;
  if (fstat(fd, &st) == -1) { e = errno; close(fd); errno = e; return -1; }
  if (!S_ISREG(st.st_mode)) { close(fd); errno = EFTYPE_BODY; return -1; }
  *size = (unsigned long)st.st_size;
  return fd;
}

/* open_message - dir/<id>, the message file, opened by open_file and its
 * head read (spool_head_read: h->body 0 for the older layout, the file
 * then at offset 0): the fd, or -1 (errno EPROTO: a malformed head) */
static int open_message(const char *dir, const char *id, struct spool_head *h, unsigned long *size)
{
  static stralloc fn;
  int fd, e;
  if (!spool_path(&fn, dir, id)) { errno = ENOMEM; return -1; }
  if ((fd = open_file(fn.s, size)) == -1) return -1;
  if (spool_head_read(fd, *size, h) == -1) { e = errno; close(fd); errno = e; return -1; }
  return fd;
}

/* plain - the deliverer reads the fd plainly (O_NONBLOCK off); fd or -1 */
static int plain(int fd)
{
  int e;
  if (fcntl(fd, F_SETFL, 0) == 0) return fd;
  e = errno; close(fd); errno = e;
  return -1;
}

int state_body_open(const char *id)
{
  static stralloc fn;
  struct spool_head h;
  unsigned long size;
  int fd = open_message(SPOOL_QUEUE, id, &h, &size);
  if (fd == -1) return -1;
  if (h.body) {                   /* one file: the body from its offset on */
    if (lseek(fd, (off_t)h.body, SEEK_SET) == -1) { int e = errno; close(fd); errno = e; return -1; }
    return plain(fd);
  }
  close(fd);                      /* the older layout: the body is mess/<id> */
  if (!spool_path(&fn, SPOOL_MESS, id)) { errno = ENOMEM; return -1; }
  if ((fd = open_file(fn.s, &size)) == -1) return -1;
  return plain(fd);
}

unsigned long state_body_size(const char *dir, const char *id)
{
  static stralloc fn;
  struct spool_head h;
  struct stat st;
  unsigned long size;
  int fd = open_message(dir, id, &h, &size);
  if (fd == -1) return 0;
  close(fd);
  if (h.body) return size - h.body;
  return spool_path(&fn, SPOOL_MESS, id) && stat(fn.s, &st) == 0 ? (unsigned long)st.st_size : 0;
}

int state_one_file(const char *dir, const char *id)
{
  struct spool_head h;
  unsigned long size;
  int fd = open_message(dir, id, &h, &size);
  if (fd == -1) return errno == EPROTO;
  close(fd);
  return h.body != 0;
}

int state_envelope(struct envelope *e, const char *id, const char **why)
{
  return state_envelope_from(e, SPOOL_QUEUE, id, why);
}

int state_envelope_from(struct envelope *e, const char *dir, const char *id, const char **why)
{
  return state_envelope_load(e, dir, id, 0, why);
}

/* stored_envelope - the L bytes after a one-file message's head line,
 * parsed from memory: ENV_* (ENV_BAD also for bytes after the end line) */
static int stored_envelope(struct envelope *e, int fd, const struct spool_head *h, const char **why)
{
  static stralloc text;
  buffer b;
  int r;
  if (h->envlen > QR_ENVELOPE_MAX) { *why = "envelope too large"; return ENV_BAD; }
  if (!stralloc_ready(&text, h->envlen + 1)) return ENV_NOMEM;
  if (spool_pread(fd, text.s, h->envlen, SPOOL_HEAD_LEN) == -1) {
    if (errno != EPROTO) return ENV_IOERR;
    *why = "message file shorter than its head says";
    return ENV_BAD;
  }
  buffer_frombuf(&b, text.s, h->envlen);
  r = envelope_read(e, &b, ENV_STORED, why);
  if (r == ENV_OK && b.p != b.n) { *why = "bytes after the envelope's end"; r = ENV_BAD; }
  if (text.a > STATE_TEXT_KEEP) stralloc_free(&text);
  return r;
}

int state_envelope_load(struct envelope *e, const char *dir, const char *id, struct state_layout *l, const char **why)
{
  struct spool_head h;
  unsigned long size;
  char space[4096];
  int fd, r;
  buffer b;
  *why = 0;
  if ((fd = open_message(dir, id, &h, &size)) == -1) {
    if (errno == ENOENT) return 0;
    if (errno == ENOMEM) { *why = "out of memory"; return -1; }
    if (errno == EPROTO) *why = "malformed message head";
    else if (errno == EFTYPE_BODY || errno == ELOOP) { *why = "message file is not a regular file"; errno = EPROTO; }
    else *why = "unable to open the envelope";
    return -1;
  }
  if (h.body) r = stored_envelope(e, fd, &h, why);
  else {
    buffer_init(&b, read, fd, space, sizeof space);
    r = envelope_read(e, &b, ENV_STORED, why);
  }
  close(fd);
  if (l) { l->body = h.body; l->size = h.body ? size - h.body : 0; }
  if (r == ENV_OK) return 1;
  if (!*why) *why = r == ENV_NOMEM ? "out of memory" : "unable to read the envelope";
  errno = r == ENV_NOMEM ? ENOMEM : r == ENV_IOERR ? EIO : EPROTO;
  return -1;
}

/* copy_body - len bytes of in at from to out at to: copy_file_range,
 * read and write where the kernel cannot; 0, or -1 (EIO: in ended early) */
static int copy_body(int in, off_t from, int out, off_t to, unsigned long len)
{
  static char buf[65536];
  int fast = 1;
  while (len) {
    size_t n = len < (1UL << 30) ? (size_t)len : (size_t)1 << 30;
    ssize_t r;
    if (fast) {
      off_t fi = from, fo = to;
      r = copy_file_range(in, &fi, out, &fo, n, 0);
      if (r == -1 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) { fast = 0; continue; }
    } else {
      r = pread(in, buf, n < sizeof buf ? n : sizeof buf, from);
      if (r > 0 && spool_pwrite(out, buf, (size_t)r, (unsigned long)to) == -1) return -1;
    }
    if (r == -1 && errno == EINTR) continue;
    if (r == -1) return -1;
    if (r == 0) { errno = EIO; return -1; }
    from += r; to += r; len -= (unsigned long)r;
  }
  return 0;
}

/* replace_one_file - a one-file message (open as old, head h, size bytes)
 * as a new complete file tmp: its head line, e, the hole, the body copied
 * from the old file; synced.  0, or -1 with errno */
static int replace_one_file(const char *tmp, int old, const struct spool_head *h, unsigned long size,
                            const struct envelope *e)
{
  char space[4096], line[SPOOL_HEAD_LEN];
  unsigned long envlen, body;
  off_t end;
  buffer b;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644), err;
  if (fd == -1) return -1;
  if (lseek(fd, SPOOL_HEAD_LEN, SEEK_SET) == -1) goto fail;
  wbuf_init(&b, fd, space, sizeof space);
  if (envelope_write(&b, e) == -1 || wbuf_flush(&b) == -1 || (end = lseek(fd, 0, SEEK_CUR)) == -1) goto fail;
  envlen = (unsigned long)end - SPOOL_HEAD_LEN;
  body = spool_head_body(envlen);
  if (envlen > QR_ENVELOPE_MAX || body > SPOOL_HEAD_OFF_MAX) { errno = EFBIG; goto fail; }
  spool_head_fmt(line, body, envlen);
  if (spool_pwrite(fd, line, sizeof line, 0) == -1 || ftruncate(fd, (off_t)body) == -1
      || copy_body(old, (off_t)h->body, fd, (off_t)body, size - h->body) == -1 || fsync(fd) == -1) goto fail;
  if (close(fd) == -1) { fd = -1; goto fail; }
  return 0;
fail:
  err = errno;
  if (fd != -1) close(fd);
  errno = err;
  return -1;
}

/* replace_envelope - the older layout: e alone as the file tmp, synced */
static int replace_envelope(const char *tmp, const struct envelope *e)
{
  char space[4096];
  buffer b;
  int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644), err;
  if (fd == -1) return -1;
  wbuf_init(&b, fd, space, sizeof space);
  if (envelope_write(&b, e) == -1 || wbuf_flush(&b) == -1 || fsync(fd) == -1) { err = errno; close(fd); errno = err; return -1; }
  return close(fd);
}

int state_envelope_replace(const char *id, const struct envelope *e)
{
  static stralloc fn, tmp;
  struct spool_head h;
  unsigned long size;
  int old, r, err;
  if (!spool_path(&fn, SPOOL_QUEUE, id) || !stralloc_copyb(&tmp, fn.s, fn.len - 1) ||
      !stralloc_cats(&tmp, ".tmp") || !stralloc_0(&tmp)) { errno = ENOMEM; return -1; }
  if ((old = open_message(SPOOL_QUEUE, id, &h, &size)) == -1) return -1;
  unlink(tmp.s);
  r = h.body ? replace_one_file(tmp.s, old, &h, size, e) : replace_envelope(tmp.s, e);
  err = errno;
  close(old);
  if (r == 0 && rename(tmp.s, fn.s) == 0) return spool_fsync_dir(SPOOL_QUEUE);
  if (r == 0) err = errno;
  unlink(tmp.s);
  errno = err;
  return -1;
}

/* put_num, put_item - state file output helpers; 0 out of memory */
static int put_num(stralloc *sa, unsigned long n)
{
  char num[NUM_ULONG];
  return stralloc_catb(sa, num, num_fmt(num, n));
}

static int put_item(stralloc *sa, const struct work *w, const struct item *it)
{
  char sk[2] = { it->status, it->kind };
  return stralloc_cats(sa, "R") && put_num(sa, it->orig) && stralloc_cats(sa, "\t")
      && stralloc_catb(sa, sk, 1) && stralloc_cats(sa, "\t") && put_num(sa, it->tries)
      && stralloc_cats(sa, "\t") && put_num(sa, it->next) && stralloc_cats(sa, "\t")
      && stralloc_catb(sa, sk + 1, 1) && stralloc_cats(sa, "\t") && stralloc_cats(sa, work_s(w, it->user))
      && stralloc_cats(sa, "\t") && stralloc_cats(sa, work_s(w, it->dest)) && stralloc_cats(sa, "\t")
      && stralloc_cats(sa, work_s(w, it->addr)) && stralloc_cats(sa, "\t")
      && stralloc_cats(sa, work_s(w, it->text)) && stralloc_cats(sa, "\n");
}

/* digest_add - FNV-1a over len bytes, then a separator */
static unsigned long long digest_add(unsigned long long h, const char *p, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++) { h ^= (unsigned char)p[i]; h *= 1099511628211ULL; }
  h ^= 0xff;
  return h * 1099511628211ULL;
}

static unsigned long long digest_num(unsigned long long h, unsigned long n)
{
  char num[NUM_ULONG];
  return digest_add(h, num, num_fmt(num, n));
}

unsigned long long state_digest(const struct work *w)
{
  unsigned long long h = 14695981039346656037ULL;
  unsigned int i;
  h = digest_num(h, work_due(w));
  h = digest_num(h, w->arrival);
  h = digest_num(h, (unsigned long)w->warned);
  for (i = 0; i < w->n; i++) {
    const struct item *it = &w->item[i];
    char sk[2] = { it->status, it->kind };
    if (it->status == ST_GONE) continue;
    h = digest_num(h, it->orig);
    h = digest_add(h, sk, 2);
    h = digest_num(h, it->tries);
    h = digest_num(h, it->next);
    h = digest_add(h, work_s(w, it->user), str_len(work_s(w, it->user)));
    h = digest_add(h, work_s(w, it->dest), str_len(work_s(w, it->dest)));
    h = digest_add(h, work_s(w, it->addr), str_len(work_s(w, it->addr)));
    h = digest_add(h, work_s(w, it->text), str_len(work_s(w, it->text)));
  }
  return h;
}

/* state_body - the whole file into sa; -1 out of memory */
static int state_body(stralloc *sa, const struct work *w)
{
  unsigned int i;
  sa->len = 0;
  if (!stralloc_cats(sa, "S1\nN") || !put_num(sa, work_due(w)) || !stralloc_cats(sa, "\nA")
      || !put_num(sa, w->arrival) || !stralloc_cats(sa, "\n")) return -1;
  if (w->warned && !stralloc_cats(sa, "W\n")) return -1;
  for (i = 0; i < w->n; i++)
    if (w->item[i].status != ST_GONE && !put_item(sa, w, &w->item[i])) return -1;
  return stralloc_cats(sa, "E\n") ? 0 : -1;
}

/* owned_like_state - a file root writes in state/ goes to the owner of
 * state/ (the queue owner must be able to replace it) */
static void owned_like_state(int fd)
{
  struct stat st;
  if (geteuid() == 0 && stat(SPOOL_STATE, &st) == 0 && st.st_uid != 0 && fchown(fd, st.st_uid, st.st_gid) == -1) {
    /* the file stays root's, readable by mode: the queue owner still reads it */
  }
}

int state_file_read(const char *fn, char *line, size_t max, int (*each)(char *line, size_t len))
{
  char space[4096];
  buffer b;
  size_t len;
  int fd = open(fn, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK), r;
  if (fd == -1) return errno == ENOENT ? 0 : -1;
  buffer_init(&b, read, fd, space, sizeof space);
  while ((r = getln(&b, line, max, &len)) == GETLN_LINE)
    if (each(line, len) == -1) { close(fd); errno = EPROTO; return -1; }
  close(fd);
  if (r != GETLN_EOF) { errno = r == GETLN_ERROR ? errno : EPROTO; return -1; }
  return 0;
}

int state_file_write(const char *fn, const stralloc *text, int mode)
{
  static stralloc tmp;
  char space[8192];
  buffer b;
  int fd, e;
  if (!stralloc_copys(&tmp, fn) || !stralloc_cats(&tmp, ".tmp") || !stralloc_0(&tmp)) { errno = ENOMEM; return -1; }
  /* state/ belongs to the queue owner, and root writes here too: a stale
   * tmp (or a symlink or hard link planted under its name) is removed,
   * never opened; the file is always a new one of ours (O_EXCL), so
   * neither the write nor owned_like_state's fchown reaches another
   * file.  Someone who recreates the name in between makes this fail. */
  if (unlink(tmp.s) == -1 && errno != ENOENT) return -1;
  if ((fd = open(tmp.s, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode)) == -1) return -1;
  owned_like_state(fd);
  wbuf_init(&b, fd, space, sizeof space);
  if ((text->len && buffer_put(&b, text->s, text->len) == -1) || wbuf_flush(&b) == -1 || fsync(fd) == -1) goto fail;
  if (close(fd) == -1) { fd = -1; goto fail; }
  fd = -1;
  if (rename(tmp.s, fn) == -1) goto fail;
  return spool_fsync_dir(SPOOL_STATE);
fail:
  e = errno;
  if (fd != -1) close(fd);
  unlink(tmp.s);
  errno = e;
  return -1;
}

int state_write(const struct work *w, const char *id)
{
  static stralloc fn, text;
  int r;
  if (!spool_path(&fn, SPOOL_STATE, id) || state_body(&text, w) == -1) { errno = ENOMEM; return -1; }
  r = state_file_write(fn.s, &text, 0600);
  if (text.a > STATE_TEXT_KEEP) stralloc_free(&text);    /* a huge message's text is not kept for days */
  return r;
}

/* field - split off the next TAB-separated field of line[*pos..len) */
static int field(char *line, size_t len, size_t *pos, char **out)
{
  size_t end;
  if (*pos > len) return -1;
  end = *pos + byte_chr(line + *pos, len - *pos, '\t');
  line[end] = 0;
  *out = line + *pos;
  *pos = end + 1;
  return 0;
}

/* number - a whole field as an unsigned long */
static int number(const char *s, unsigned long *n)
{
  size_t len = str_len(s);
  return len && len < 20 && scan_ulong(s, n) == len ? 0 : -1;
}

/* clean - no control characters (the TABs are gone already) */
static int clean(const char *s)
{
  for (; *s; s++) if ((unsigned char)*s < 32 || *s == 127) return 0;
  return 1;
}

/* parse_item - one R line (without the R) */
static int parse_item(struct work *w, char *line, size_t len)
{
  char *f[9];
  size_t pos = 0;
  unsigned long orig, tries, next;
  unsigned int i;
  struct item *it;
  for (i = 0; i < 9; i++) if (field(line, len, &pos, &f[i]) == -1) return -1;
  if (pos <= len) return -1;                 /* more than 9 fields */
  if (number(f[0], &orig) || orig >= w->env.nrcpt || number(f[2], &tries) || number(f[3], &next)) return -1;
  if (str_len(f[1]) != 1 || !f[1][0] || byte_chr("pdDfx", 5, f[1][0]) == 5) return -1;
  if (str_len(f[4]) != 1 || !f[4][0] || byte_chr("ruvcfse", 7, f[4][0]) == 7) return -1;
  if (str_len(f[5]) > 64 || byte_chr(f[5], str_len(f[5]), '/') != str_len(f[5])) return -1;
  for (i = 5; i < 9; i++) if (!clean(f[i])) return -1;
  if (*f[7] && address_check(f[7], str_len(f[7]), ADDR_UTF8)) return -1;
  if (!(it = work_add(w, (unsigned int)orig, f[1][0], f[4][0], f[5], f[6], f[7]))) return -1;
  it->tries = tries; it->next = next;
  return work_set_text(w, it, f[8], str_len(f[8]));
}

/* state_line - one line of the state file; 1 the end line, 0 more, -1 bad */
static int state_line(struct work *w, char *line, size_t len, int first)
{
  unsigned long n;
  if (first) return len == 2 && line[0] == 'S' && line[1] == '1' ? 0 : -1;
  if (len == 0) return -1;
  line[len] = 0;
  switch (line[0]) {
  case 'E': return len == 1 ? 1 : -1;
  case 'N': return number(line + 1, &n);
  case 'A': return number(line + 1, &w->arrival);
  case 'W': w->warned = 1; return len == 1 ? 0 : -1;
  case 'R': return len > 1 ? parse_item(w, line + 1, len - 1) : -1;
  default: return -1;
  }
}

/* state_open - open state/<id>: fd, -1 absent (errno ENOENT) or error */
static int state_open(const char *id)
{
  static stralloc fn;
  if (!spool_path(&fn, SPOOL_STATE, id)) { errno = ENOMEM; return -1; }
  return open(fn.s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
}

int state_read(struct work *w, const char *id, const char **why)
{
  static char line[QR_STATE_LINE_MAX + 1];
  char space[8192];
  buffer b;
  size_t len;
  int fd = state_open(id), first = 1, r = -1, g;
  *why = 0;
  if (fd == -1) { if (errno == ENOENT) return 0; *why = "unable to open the state file"; return -1; }
  buffer_init(&b, read, fd, space, sizeof space);
  while ((g = getln(&b, line, QR_STATE_LINE_MAX, &len)) == GETLN_LINE) {
    r = state_line(w, line, len, first);
    first = 0;
    if (r != 0) break;
  }
  close(fd);
  if (g == GETLN_ERROR) { *why = "unable to read the state file"; return -1; }
  if (r != 1) { *why = "bad state file"; errno = EPROTO; return -1; }
  w->have_state = 1;
  w->digest = state_digest(w);
  return 1;
}

int state_due(const char *id, unsigned long *due)
{
  char space[256], line[64];
  buffer b;
  size_t len;
  int fd = state_open(id), ok = 0;
  if (fd == -1) return errno == ENOENT ? 0 : -1;
  buffer_init(&b, read, fd, space, sizeof space);
  if (getln(&b, line, sizeof line - 1, &len) == GETLN_LINE && len == 2 && line[0] == 'S'
      && getln(&b, line, sizeof line - 1, &len) == GETLN_LINE && len > 1 && line[0] == 'N') {
    line[len] = 0;
    ok = number(line + 1, due) == 0;
  }
  close(fd);
  return ok ? 1 : -1;
}
