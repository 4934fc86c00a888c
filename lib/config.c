/* config.c - read postern.conf(5).
 *
 * One table, generated from config.h's CONFIG_KEYS, names every key, its
 * type, default, bounds and where it goes; unknown keys, bad
 * values and duplicate keys are errors with file:line, so a typo never
 * silently turns a setting off.  A config that others could write is
 * refused: it decides where mail goes. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/auxv.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include "byte.h"
#include "errmsg.h"
#include "num.h"
#include "scan.h"
#include "str.h"
#include "config.h"
#include "lines.h"
#include "exitcode.h"
#include "log.h"

#define CONFIG_NAME_ROOM 8192   /* arena bytes for the absolute file name: a directory and a name of up to 4095 */

#define CONFIG_ROW(type, name, def, min, max) { #name, CONFIG_##type, offsetof(struct config, name), def, min, max },
static const struct config_key keys[] = { CONFIG_KEYS(CONFIG_ROW) };
#define NKEYS (sizeof keys / sizeof keys[0])

const struct config_key *config_key(unsigned int i)
{
  return i < NKEYS ? &keys[i] : 0;
}

/* scale - multiply with overflow check */
static int scale(unsigned long v, unsigned long by, unsigned long *out)
{
  if (v && by > (unsigned long)-1 / v) return -1;
  *out = v * by;
  return 0;
}

/* with_unit - a decimal number and, optionally, one of the letters,
 * which multiplies it by the by[] of its position */
static int with_unit(const char *s, const char *letters, const unsigned long *by, unsigned long *out)
{
  unsigned long v;
  size_t n = scan_ulong(s, &v), u;
  if (n == 0 || n > 20) return -1;     /* no digits, or more than fit */
  if (!s[n]) { *out = v; return 0; }
  u = str_chr(letters, s[n]);
  if (!letters[u] || s[n + 1]) return -1;
  return scale(v, by[u], out);
}

int config_size(const char *s, unsigned long *out)
{
  static const unsigned long by[] = { 1024UL, 1024UL, 1024UL * 1024, 1024UL * 1024,
                                      1024UL * 1024 * 1024, 1024UL * 1024 * 1024 };
  return with_unit(s, "kKmMgG", by, out);
}

int config_duration(const char *s, unsigned long *out)
{
  static const unsigned long by[] = { 1, 60UL, 3600UL, 86400UL, 7 * 86400UL };
  return with_unit(s, "smhdw", by, out);
}

/* number - a plain decimal count */
static int number(const char *s, unsigned long *out)
{
  return with_unit(s, "", 0, out);
}

/* err_line - "name:line: what 'value'" into err */
static int err_line(stralloc *err, const char *name, unsigned long line,
                    const char *what, const char *value)
{
  char num[NUM_ULONG];
  num[num_fmt(num, line)] = 0;
  if (!stralloc_copys(err, name) || !stralloc_cats(err, ":") ||
      !stralloc_cats(err, num) || !stralloc_cats(err, ": ") ||
      !stralloc_cats(err, what)) return -1;
  if (value && (!stralloc_cats(err, " '") || !stralloc_cats(err, value) ||
                !stralloc_cats(err, "'"))) return -1;
  return -1;
}

/* printable - no controls, no DEL, no TAB (a value's bytes) */
static int printable(const char *s, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++) if ((unsigned char)s[i] < 32 || s[i] == 127) return 0;
  return 1;
}

/* bounded - a number of key k's type into *out, within its bounds */
static int bounded(const struct config_key *k, const char *value, unsigned long *out)
{
  unsigned long v;
  int r = k->type == CONFIG_NUM ? number(value, &v) : k->type == CONFIG_SIZE ? config_size(value, &v)
        : config_duration(value, &v);
  if (r == -1 || v < k->min || v > k->max) return -1;
  *out = v;
  return 0;
}

/* set_value - store value (NUL-terminated, in the arena or the table)
 * under key k */
static int set_value(struct config *c, const struct config_key *k, const char *value)
{
  char *field = (char *)c + k->offset;
  switch (k->type) {
  case CONFIG_STR: *(const char **)field = value; return 0;
  case CONFIG_OPTPATH:
    if (!*value) { *(const char **)field = value; return 0; }
    /* fall through */
  case CONFIG_PATH:
    if (value[0] != '/') return -1;   /* relative to what? always absolute */
    *(const char **)field = value;
    return 0;
  case CONFIG_NUM: case CONFIG_SIZE: case CONFIG_TIME: return bounded(k, value, (unsigned long *)field);
  case CONFIG_BOOL:
    if (!str_diff(value, "yes")) *(int *)field = 1;
    else if (!str_diff(value, "no")) *(int *)field = 0;
    else return -1;
    return 0;
  case CONFIG_LOG:
    if (!str_diff(value, "auto")) *(int *)field = LOGTO_AUTO;
    else if (!str_diff(value, "stderr")) *(int *)field = LOGTO_STDERR;
    else if (!str_diff(value, "syslog")) *(int *)field = LOGTO_SYSLOG;
    else return -1;
    return 0;
  }
  return -1;
}

/* config_defaults - every key at the default of its row (postern.conf.5);
 * hostname, whose row is empty, from the kernel */
void config_defaults(struct config *c)
{
  static struct utsname u;
  unsigned int i;
  byte_zero(c, sizeof *c);
  for (i = 0; i < NKEYS; i++) set_value(c, &keys[i], keys[i].def);   /* test_config parses each */
  c->hostname = uname(&u) == 0 && u.nodename[0] ? u.nodename : "localhost";
}

/* dupz - a NUL-terminated copy in the config's arena, which config_parse
 * sizes so that every value of the file fits */
static char *dupz(struct config *c, const char *s, size_t len)
{
  char *p = c->arena + c->arena_used;
  if (len + 1 > c->arena_size - c->arena_used) return 0;
  byte_copy(p, len, s);
  p[len] = 0;
  c->arena_used += len + 1;
  return p;
}

/* struct parsing - config_parse's state for parse_line */
struct parsing {
  struct config *c;
  const char *name;             /* of the file, for messages */
  struct lines lines;
  unsigned char seen[NKEYS];    /* keys given so far */
  stralloc *err;
};

/* parse_line - one "key = value" line (without its LF) */
static int parse_line(void *ctx, const char *line, size_t len, int bad)
{
  struct parsing *p = ctx;
  const char *key, *value;
  size_t klen, vlen, i;
  unsigned long no = p->lines.no;
  char kbuf[64];

  if (bad == LINES_LONG) return err_line(p->err, p->name, no, "line too long", 0);
  if (bad == LINES_NUL) return err_line(p->err, p->name, no, "NUL byte in line", 0);
  if (lines_skip(line, len)) return 0;
  if (bad) return err_line(p->err, p->name, no, "control character in line", 0);
  if (lines_split(line, len, '=', &key, &klen, &value, &vlen) == -1)
    return err_line(p->err, p->name, no, "expected 'key = value'", 0);
  if (!printable(value, vlen)) return err_line(p->err, p->name, no, "control character in value", 0);
  if (klen == 0 || klen >= sizeof kbuf) return err_line(p->err, p->name, no, "bad key", 0);
  byte_copy(kbuf, klen, key);
  kbuf[klen] = 0;
  for (i = 0; i < NKEYS; i++)
    if (!str_diff(kbuf, keys[i].name)) break;
  if (i == NKEYS) return err_line(p->err, p->name, no, "unknown key", kbuf);
  if (p->seen[i]) return err_line(p->err, p->name, no, "duplicate key", kbuf);
  p->seen[i] = 1;
  char *v = dupz(p->c, value, vlen);
  if (!v) return err_line(p->err, p->name, no, "out of memory", 0);
  if (set_value(p->c, &keys[i], v) == -1) {
    err_line(p->err, p->name, no, keys[i].type == CONFIG_PATH || keys[i].type == CONFIG_OPTPATH
             ? "not an absolute path for" : "bad value for", kbuf);
    if (stralloc_cats(p->err, ": '")) { stralloc_cats(p->err, v); stralloc_cats(p->err, "'"); }
    return -1;
  }
  return 0;
}

/* config_derive - defaults that follow other keys */
static int config_derive(struct config *c, const char *name, stralloc *err)
{
  if (!*c->hostname) return err_line(err, name, 0, "hostname must not be empty", 0);
  if (!c->domain || !*c->domain) c->domain = c->hostname;
  /* libexec_dir/spool-inject: the injector when none is set, and known
   * as the default even when named (callers may then fork its code) */
  size_t n = str_len(c->libexec_dir);
  char *p = c->arena + c->arena_used;
  if (n + 14 > c->arena_size - c->arena_used) return err_line(err, name, 0, "libexec_dir too long", 0);
  byte_copy(p, n, c->libexec_dir);
  byte_copy(p + n, 14, "/spool-inject");
  c->injector_default = !c->injector || !*c->injector || !str_diff(c->injector, p);
  if (c->injector_default) {
    c->arena_used += n + 14;
    c->injector = p;
  }
  return 0;
}

void config_free(struct config *c)
{
  free(c->arena);
  c->arena = 0;
}

int config_parse(struct config *c, const char *name, const char *buf,
                 unsigned long len, stralloc *err)
{
  static struct parsing p;      /* static: NKEYS bytes */
  buffer in;
  long r;
  if (len > CONFIG_FILE_MAX) return err_line(err, name, 0, "file too large", 0);
  if (c->arena) return err_line(err, name, 0, "config already parsed (config_free and config_defaults first)", 0);
  c->arena_size = len + 1 + 4096 + CONFIG_NAME_ROOM;   /* values, derived defaults, config_try's file name */
  c->arena_used = 0;
  if (!(c->arena = malloc(c->arena_size))) return err_line(err, name, 0, "out of memory", 0);
  buffer_frombuf(&in, buf, len);
  byte_zero(p.seen, sizeof p.seen);
  p.c = c;
  p.name = name;
  p.err = err;
  lines_free(&p.lines);
  lines_init(&p.lines, &in, CONFIG_LINE_MAX, 1, 0, 0);   /* parse_line stops at the first error */
  err->len = 0;
  r = lines_read(&p.lines, parse_line, 0, &p);
  if (r == -1 && !err->len) return err_line(err, name, p.lines.no, "out of memory", 0);
  if (r == -1) return -1;
  return config_derive(c, name, err);
}

/* fail - "a b c" into err; returns -1 */
static int fail(stralloc *err, const char *a, const char *b, const char *c)
{
  if (stralloc_copys(err, a) && stralloc_cats(err, b)) stralloc_cats(err, c);
  return -1;
}

/* fail_sys - "a b: strerror" into err; returns -1 */
static int fail_sys(stralloc *err, const char *a, const char *b)
{
  const char *why = strerror(errno);
  if (fail(err, a, b, ": ") == -1 && err->len) stralloc_cats(err, why);
  return -1;
}

int config_setid(void)
{
  return getauxval(AT_SECURE) || getuid() != geteuid() || getgid() != getegid();
}

/* file_trusted - refuse a config others could have written */
static int file_trusted(int fd, const char *fn, stralloc *err)
{
  struct stat st;
  int setid = config_setid();
  if (fstat(fd, &st) == -1) return fail_sys(err, "unable to stat ", fn);
  if (!S_ISREG(st.st_mode)) return fail(err, "refusing ", fn, ": not a regular file");
  if (st.st_mode & 022) return fail(err, "refusing ", fn, ": writable by group or others");
  if (setid && st.st_uid != 0) return fail(err, "refusing ", fn, ": a set-id program reads only root's config files");
  if (st.st_uid != 0 && st.st_uid != geteuid()) return fail(err, "refusing ", fn, ": owned by another user");
  if (st.st_size > CONFIG_FILE_MAX) return fail(err, "refusing ", fn, ": too large");
  return 0;
}

/* read_all - the whole file, bounded; 0 on error */
static char *read_all(int fd, const char *fn, unsigned long *len, stralloc *err)
{
  char *buf = malloc(CONFIG_FILE_MAX + 1);
  unsigned long n = 0;
  if (!buf) { fail(err, "out of memory", "", ""); return 0; }
  for (;;) {
    ssize_t r = read(fd, buf + n, CONFIG_FILE_MAX + 1 - n);
    if (r == -1 && errno == EINTR) continue;
    if (r == -1) { fail_sys(err, "unable to read ", fn); break; }
    if (r == 0) { *len = n; return buf; }
    n += (unsigned long)r;
    if (n > CONFIG_FILE_MAX) { fail(err, "refusing ", fn, ": too large"); break; }
  }
  free(buf);
  return 0;
}

/* file_name - fn, absolute, in the config's arena (programs hand it to
 * helpers that run in another directory, the spool); 0 when it does not
 * fit or the current directory is unknown */
static const char *file_name(struct config *c, const char *fn)
{
  char cwd[4096];
  size_t a = 0, b = str_len(fn);
  char *p = c->arena + c->arena_used;
  if (fn[0] != '/') {
    if (!getcwd(cwd, sizeof cwd)) return 0;
    a = str_len(cwd);
  }
  if (a + b + 2 > c->arena_size - c->arena_used) { errno = ENAMETOOLONG; return 0; }
  if (a) { byte_copy(p, a, cwd); p[a++] = '/'; }
  byte_copy(p + a, b + 1, fn);
  c->arena_used += a + b + 1;
  return p;
}

const char *config_file_name(const char *arg)
{
  const char *fn = arg ? arg : getenv("POSTERN_CONF");
  return fn && *fn ? fn : CONFIG_DEFAULT_FILE;
}

int config_try(struct config *c, const char *arg, stralloc *err)
{
  const char *fn = arg ? arg : getenv("POSTERN_CONF");
  int explicit = fn && *fn;
  unsigned long len;
  char *buf;
  fn = config_file_name(arg);
  config_defaults(c);
  /* set-id: the caller chooses nothing, not even among root's files */
  if (explicit && str_diff(fn, CONFIG_DEFAULT_FILE) && config_setid())
    return fail(err, "refusing ", fn, ": a set-id program reads only " CONFIG_DEFAULT_FILE);
  int fd = open(fn, O_RDONLY | O_CLOEXEC | O_NOCTTY);
  if (fd == -1) {
    if (errno == ENOENT && !explicit) return config_parse(c, fn, "", 0, err);
    return fail_sys(err, "unable to open config ", fn);
  }
  if (file_trusted(fd, fn, err) == -1 || !(buf = read_all(fd, fn, &len, err))) {
    close(fd);
    return -1;
  }
  close(fd);
  int r = config_parse(c, fn, buf, len, err);
  free(buf);
  if (r == 0 && !(c->file = file_name(c, fn))) return fail_sys(err, "unable to find the absolute name of ", fn);
  return r;
}

int config_reread(struct config *fresh, const char *arg)
{
  static stralloc err;
  err.len = 0;
  if (config_try(fresh, arg, &err) == 0) return 0;
  config_free(fresh);
  if (!stralloc_0(&err)) err.len = 0;
  log_event(0, "status", "reload-refused", "reason", err.len ? err.s : "out of memory", "config", "the old one is kept", (char *)0);
  return -1;
}

void config_load(struct config *c, const char *arg)
{
  stralloc err = {0};
  if (config_try(c, arg, &err) == 0) return;
  if (!stralloc_0(&err)) die(EX_CONFIG, "out of memory");
  die(EX_CONFIG, err.s);
}
