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

unsigned long qr_now(void)
{
  return (unsigned long)time(0);
}

int work_body_open(const char *id)
{
  static stralloc fn;
  struct stat st;
  int fd, e;
  if (!spool_path(&fn, SPOOL_MESS, id)) { errno = ENOMEM; return -1; }
  /* O_NONBLOCK: a FIFO planted by a member of the injector group must
   * not block the scheduler in open(2); it is then refused by fstat */
  if ((fd = open(fn.s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)) == -1) return -1;
  if (fstat(fd, &st) == -1) { e = errno; close(fd); errno = e; return -1; }
  if (!S_ISREG(st.st_mode)) { close(fd); errno = EFTYPE_BODY; return -1; }
  if (fcntl(fd, F_SETFL, 0) == -1) { e = errno; close(fd); errno = e; return -1; }   /* the deliverer reads it plainly */
  return fd;
}

void work_init(struct work *w)
{
  byte_zero(w, sizeof *w);
  envelope_init(&w->env);
}

void work_free(struct work *w)
{
  envelope_free(&w->env);
  stralloc_free(&w->pool);
  free(w->item);
  free(w->index);
  byte_zero(w, sizeof *w);
}

unsigned long work_str(struct work *w, const char *s, size_t len)
{
  unsigned long off;
  if (w->pool.len == 0 && !stralloc_copyb(&w->pool, "", 1)) return 0;
  off = w->pool.len;
  if (!stralloc_catb(&w->pool, s, len) || !stralloc_0(&w->pool)) return 0;
  return off;
}

const char *work_s(const struct work *w, unsigned long off)
{
  return off && off < w->pool.len ? w->pool.s + off : "";
}

/* strz - work_str for a C string; "" stays offset 0 */
static int strz(struct work *w, unsigned long *off, const char *s)
{
  size_t len = s ? str_len(s) : 0;
  if (len == 0) { *off = 0; return 0; }
  return (*off = work_str(w, s, len)) ? 0 : -1;
}

struct item *work_add(struct work *w, unsigned int orig, int status, int kind,
                      const char *user, const char *dest, const char *addr)
{
  struct item *it;
  /* the expansion of one recipient stops at QR_ITEMS_MAX (route.c); the
   * room above it is for the one failure each recipient may then get */
  if (w->n >= QR_ITEMS_MAX + w->env.nrcpt) { errno = E2BIG; return 0; }
  if (w->n == w->alloc) {
    unsigned int a = w->alloc ? w->alloc * 2 : 8;
    struct item *p = realloc(w->item, a * sizeof *p);
    if (!p) { errno = ENOMEM; return 0; }
    w->item = p; w->alloc = a;
  }
  it = &w->item[w->n];
  byte_zero(it, sizeof *it);
  it->orig = orig; it->status = (char)status; it->kind = (char)kind;
  if (strz(w, &it->user, user) || strz(w, &it->dest, dest) || strz(w, &it->addr, addr)) {
    errno = ENOMEM;
    return 0;
  }
  w->n++;
  return it;
}

/* item_hash - of the fields that make two items the same delivery */
static unsigned long item_hash(int kind, const char *user, const char *dest, const char *addr)
{
  unsigned long h = 5381 + (unsigned long)(unsigned char)kind;
  const char *f[3] = { user, dest, addr };
  unsigned int i;
  for (i = 0; i < 3; i++) {
    const char *p;
    for (p = f[i]; *p; p++) h = h * 33 + (unsigned char)*p;
    h = h * 33 + 1;
  }
  return h;
}

/* index_put - item i into the hash */
static void index_put(struct work *w, unsigned int i)
{
  const struct item *it = &w->item[i];
  unsigned long h = item_hash(it->kind, work_s(w, it->user), work_s(w, it->dest), work_s(w, it->addr));
  unsigned int mask = w->icap - 1, s = (unsigned int)h & mask;
  while (w->index[s]) s = (s + 1) & mask;
  w->index[s] = i + 1;
}

/* index_update - every item in the hash (kept under half full); -1 no memory */
static int index_update(struct work *w)
{
  if (w->icap < 2 * (w->n + 1)) {
    unsigned int cap = 64;
    while (cap < 2 * (w->n + 1)) cap *= 2;
    free(w->index);
    if (!(w->index = calloc(cap, sizeof *w->index))) { w->icap = w->indexed = 0; return -1; }
    w->icap = cap;
    w->indexed = 0;
  }
  while (w->indexed < w->n) index_put(w, w->indexed++);
  return 0;
}

struct item *work_find(struct work *w, int kind, const char *user, const char *dest, const char *addr)
{
  unsigned int mask, s;
  if (!user) user = "";
  if (!dest) dest = "";
  if (index_update(w) == -1) {          /* no memory for the hash: search */
    unsigned int i;
    for (i = 0; i < w->n; i++) {
      struct item *it = &w->item[i];
      if (it->kind == kind && it->status != ST_GONE && !str_diff(work_s(w, it->addr), addr)
          && !str_diff(work_s(w, it->dest), dest) && !str_diff(work_s(w, it->user), user)) return it;
    }
    return 0;
  }
  mask = w->icap - 1;
  for (s = (unsigned int)item_hash(kind, user, dest, addr) & mask; w->index[s]; s = (s + 1) & mask) {
    struct item *it = &w->item[w->index[s] - 1];
    if (it->kind == kind && it->status != ST_GONE && !str_diff(work_s(w, it->addr), addr)
        && !str_diff(work_s(w, it->dest), dest) && !str_diff(work_s(w, it->user), user)) return it;
  }
  return 0;
}

void work_truncate(struct work *w, unsigned int n)
{
  if (n >= w->n) return;
  w->n = n;
  if (w->index) byte_zero(w->index, w->icap * sizeof *w->index);
  w->indexed = 0;
}

/* work_set_text - the item's last result, tabs and controls made blanks */
int work_set_text(struct work *w, struct item *it, const char *text, size_t len)
{
  char buf[QR_TEXT_MAX];
  size_t i;
  if (len > sizeof buf) len = sizeof buf;
  for (i = 0; i < len; i++) buf[i] = (unsigned char)text[i] < 32 || text[i] == 127 ? ' ' : text[i];
  while (len && buf[len - 1] == ' ') len--;
  if (len == 0) { it->text = 0; return 0; }
  return (it->text = work_str(w, buf, len)) ? 0 : -1;
}

unsigned long work_due(const struct work *w)
{
  unsigned long due = (unsigned long)-1;
  unsigned int i;
  for (i = 0; i < w->n; i++) {
    const struct item *it = &w->item[i];
    if (it->status == ST_PENDING && it->next < due) due = it->next;
    if ((it->status == ST_FAILED || it->status == ST_DONE_NOTIFY) && it->next < due) due = it->next;
  }
  return due;
}

int envelope_load(struct envelope *e, const char *id, const char **why)
{
  return envelope_load_from(e, SPOOL_QUEUE, id, why);
}

int envelope_load_from(struct envelope *e, const char *dir, const char *id, const char **why)
{
  static stralloc fn;
  char space[4096];
  int fd, r;
  buffer b;
  *why = 0;
  if (!spool_path(&fn, dir, id)) { *why = "out of memory"; return -1; }
  if ((fd = open(fn.s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)) == -1) {
    if (errno == ENOENT) return 0;
    *why = "unable to open the envelope";
    return -1;
  }
  buffer_init(&b, read, fd, space, sizeof space);
  r = envelope_read(e, &b, ENV_STORED, why);
  close(fd);
  if (r == ENV_OK) return 1;
  if (!*why) *why = r == ENV_NOMEM ? "out of memory" : "unable to read the envelope";
  errno = r == ENV_NOMEM ? ENOMEM : r == ENV_IOERR ? EIO : EPROTO;
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

unsigned long long work_digest(const struct work *w)
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
  w->digest = work_digest(w);
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
