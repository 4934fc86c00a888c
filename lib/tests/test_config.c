/* test_config.c - postern.conf(5) (lib/config.c): defaults, every key type,
 * comments and blanks, every error with its "name:LINE:" prefix, and
 * config_try on real files (modes, owners, -C, POSTERN_CONF). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include "stralloc.h"
#include "config.h"
#include "t.h"

static char name[512];
static const char *named(const char *a, const char *b)
{
  snprintf(name, sizeof name, "%s: %s", a, b);
  return name;
}

/* parse - config_defaults then config_parse of s[0..len) named "t.conf";
 * the result, with err NUL-terminated for printing */
static int parse(struct config *c, const char *s, size_t len, stralloc *err)
{
  int r;
  config_defaults(c);
  err->len = 0;
  r = config_parse(c, "t.conf", s, len, err);
  if (!stralloc_0(err)) return -2;
  err->len--;
  return r;
}

static int eq(const char *a, const char *b) { return a && b && strcmp(a, b) == 0; }

static void defaults(void)
{
  struct config c;
  stralloc err = {0};
  struct utsname u;
  int r = parse(&c, "", 0, &err);
  T_OK("empty file parses", r == 0);
  T_OK("hostname defaults to the node name", uname(&u) == 0 && eq(c.hostname, u.nodename));
  T_OK("domain defaults to hostname", eq(c.domain, c.hostname));
  T_OK("spool default", eq(c.spool, "/var/spool/postern"));
  T_OK("map_dir default", eq(c.map_dir, "/etc/postern"));
  T_OK("libexec_dir default", eq(c.libexec_dir, "/usr/libexec/postern"));
  T_OK("injector defaults to libexec_dir/spool-inject", eq(c.injector, "/usr/libexec/postern/spool-inject"));
  T_OK("relayhost defaults to empty", eq(c.relayhost, ""));
  T_OK("tls files default to empty", eq(c.tls_cert_file, "") && eq(c.tls_key_file, ""));
  T_OK("message_size_limit defaults to 50M", c.message_size_limit == 50UL * 1024 * 1024);
  T_OK("spool_reserve defaults to 100M", c.spool_reserve == 100UL * 1024 * 1024);
  T_OK("queue_lifetime defaults to 5d", c.queue_lifetime == 5UL * 86400);
  T_OK("log defaults to auto", c.log == LOGTO_AUTO);
  T_OK("config_parse does not set file", c.file == 0);
  config_free(&c);

  r = parse(&c, "# nothing but a comment\n\n   \n\t\n", 31, &err);
  T_OK("comments and blank lines only: defaults", r == 0 && eq(c.spool, "/var/spool/postern") &&
       eq(c.injector, "/usr/libexec/postern/spool-inject"));
  config_free(&c);

  {
    static const char f[] = "hostname = mx.example.org\n";
    r = parse(&c, f, sizeof f - 1, &err);
    T_OK("domain follows a configured hostname", r == 0 && eq(c.hostname, "mx.example.org") && eq(c.domain, "mx.example.org"));
    config_free(&c);
  }
  {
    static const char f[] = "domain = example.org\nhostname = mx.example.org\n";
    r = parse(&c, f, sizeof f - 1, &err);
    T_OK("a configured domain stays", r == 0 && eq(c.domain, "example.org"));
    config_free(&c);
  }
  {
    static const char f[] = "hostname = mx.example.org\ndomain =\n";
    r = parse(&c, f, sizeof f - 1, &err);
    T_OK("an empty domain follows hostname", r == 0 && eq(c.domain, "mx.example.org"));
    config_free(&c);
  }
  {
    static const char f[] = "libexec_dir = /opt/postern/lib\n";
    r = parse(&c, f, sizeof f - 1, &err);
    T_OK("injector follows libexec_dir", r == 0 && eq(c.injector, "/opt/postern/lib/spool-inject"));
    config_free(&c);
  }
  {
    static const char f[] = "libexec_dir = /opt/postern/lib\ninjector = /usr/local/bin/filter\n";
    r = parse(&c, f, sizeof f - 1, &err);
    T_OK("a configured injector stays", r == 0 && eq(c.injector, "/usr/local/bin/filter"));
    config_free(&c);
  }
  stralloc_free(&err);
}

struct kcase {
  const char *name;
  const char *file;
  int (*check)(const struct config *);
};

#define CHECK(fn, expr) static int fn(const struct config *c) { return (expr); }
CHECK(ck_strings, eq(c->hostname, "mx.example.org") && eq(c->domain, "example.org") &&
      eq(c->spool, "/srv/spool") && eq(c->map_dir, "/srv/maps") && eq(c->relayhost, "[smtp.example.org]:587") &&
      eq(c->tls_cert_file, "/etc/ssl/c.pem") && eq(c->tls_key_file, "/etc/ssl/k.pem"))
CHECK(ck_blanks, eq(c->hostname, "mx.example.org") && eq(c->relayhost, "a b"))
CHECK(ck_tabs, eq(c->hostname, "mx.example.org"))
CHECK(ck_nospace, eq(c->hostname, "h") && eq(c->domain, "d"))
CHECK(ck_empty_relay, eq(c->relayhost, ""))
CHECK(ck_hash_value, eq(c->relayhost, "host # not a comment"))
CHECK(ck_eq_value, eq(c->relayhost, "a=b"))
CHECK(ck_nolf, eq(c->hostname, "last.example"))
CHECK(ck_size_plain, c->message_size_limit == 12345)
CHECK(ck_size_zero, c->message_size_limit == 0)
CHECK(ck_size_k, c->message_size_limit == 10UL * 1024)
CHECK(ck_size_K, c->message_size_limit == 10UL * 1024)
CHECK(ck_size_M, c->message_size_limit == 3UL * 1024 * 1024)
CHECK(ck_size_m, c->message_size_limit == 3UL * 1024 * 1024)
CHECK(ck_size_G, c->spool_reserve == 2UL * 1024 * 1024 * 1024)
CHECK(ck_size_maxG, c->spool_reserve == 17179869183UL * 1024 * 1024 * 1024)
CHECK(ck_size_19, c->spool_reserve == 9999999999999999999UL)
CHECK(ck_dur_plain, c->queue_lifetime == 90)
CHECK(ck_dur_s, c->queue_lifetime == 90)
CHECK(ck_dur_m, c->queue_lifetime == 5 * 60)
CHECK(ck_dur_h, c->queue_lifetime == 2 * 3600)
CHECK(ck_dur_d, c->queue_lifetime == 5 * 86400)
CHECK(ck_dur_w, c->queue_lifetime == 2 * 7 * 86400)
CHECK(ck_dur_maxw, c->queue_lifetime == 30500568904943UL * 604800)
CHECK(ck_log_auto, c->log == LOGTO_AUTO)
CHECK(ck_log_stderr, c->log == LOGTO_STDERR)
CHECK(ck_log_syslog, c->log == LOGTO_SYSLOG)
CHECK(ck_all, eq(c->hostname, "h.example") && c->message_size_limit == 1024 &&
      c->queue_lifetime == 3600 && c->log == LOGTO_SYSLOG && eq(c->spool, "/s"))

static const struct kcase keys[] = {
  { "every string key",
    "hostname = mx.example.org\ndomain = example.org\nspool = /srv/spool\nmap_dir = /srv/maps\n"
    "relayhost = [smtp.example.org]:587\ntls_cert_file = /etc/ssl/c.pem\ntls_key_file = /etc/ssl/k.pem\n", ck_strings },
  { "blanks around key, = and value are ignored, inner blanks kept",
    "   hostname   =   mx.example.org   \nrelayhost = a b \n", ck_blanks },
  { "leading and trailing TABs are ignored", "\thostname = mx.example.org\t\n", ck_tabs },
  { "no blanks around =", "hostname=h\ndomain=d\n", ck_nospace },
  { "empty value", "relayhost =\n", ck_empty_relay },
  { "# inside a value is part of it", "relayhost = host # not a comment\n", ck_hash_value },
  { "= inside a value is part of it", "relayhost = a=b\n", ck_eq_value },
  { "last line without LF", "# c\nhostname = last.example", ck_nolf },
  { "size in bytes", "message_size_limit = 12345\n", ck_size_plain },
  { "size 0", "message_size_limit = 0\n", ck_size_zero },
  { "size with k", "message_size_limit = 10k\n", ck_size_k },
  { "size with K", "message_size_limit = 10K\n", ck_size_K },
  { "size with M", "message_size_limit = 3M\n", ck_size_M },
  { "size with m", "message_size_limit = 3m\n", ck_size_m },
  { "size with G", "spool_reserve = 2G\n", ck_size_G },
  { "largest size in G", "spool_reserve = 17179869183G\n", ck_size_maxG },
  { "size of 19 digits", "spool_reserve = 9999999999999999999\n", ck_size_19 },
  { "duration in seconds", "queue_lifetime = 90\n", ck_dur_plain },
  { "duration with s", "queue_lifetime = 90s\n", ck_dur_s },
  { "duration with m", "queue_lifetime = 5m\n", ck_dur_m },
  { "duration with h", "queue_lifetime = 2h\n", ck_dur_h },
  { "duration with d", "queue_lifetime = 5d\n", ck_dur_d },
  { "duration with w", "queue_lifetime = 2w\n", ck_dur_w },
  { "largest duration in w", "queue_lifetime = 30500568904943w\n", ck_dur_maxw },
  { "log auto", "log = auto\n", ck_log_auto },
  { "log stderr", "log = stderr\n", ck_log_stderr },
  { "log syslog", "log = syslog\n", ck_log_syslog },
  { "comments, blank lines and keys together",
    "# postern.conf\n\nhostname = h.example\n  # indented comment\n\t\nmessage_size_limit = 1k\n"
    "queue_lifetime = 1h\nlog = syslog\nspool = /s\n", ck_all },
};

struct ecase {
  const char *name;
  const char *file;
  size_t len;           /* 0: strlen */
  const char *prefix;   /* the error must start with this */
  const char *part;     /* and contain this */
};

static const struct ecase errors[] = {
  { "unknown key", "hostname = a\nhostnam = b\n", 0, "t.conf:2: ", "unknown key 'hostnam'" },
  { "key in upper case", "HOSTNAME = a\n", 0, "t.conf:1: ", "unknown key" },
  { "duplicate key", "hostname = a\n# c\nhostname = b\n", 0, "t.conf:3: ", "duplicate key 'hostname'" },
  { "duplicate key with the same value", "log = auto\nlog = auto\n", 0, "t.conf:2: ", "duplicate" },
  { "missing =", "\n\nhostname example.org\n", 0, "t.conf:3: ", "key = value" },
  { "missing key", "= value\n", 0, "t.conf:1: ", "key" },
  { "key of 64 bytes", "hostname_hostname_hostname_hostname_hostname_hostname_hostname_ho = x\n", 0, "t.conf:1: ", "key" },
  { "key with a blank inside", "host name = x\n", 0, "t.conf:1: ", "unknown key" },
  { "bad size", "message_size_limit = 10x\n", 0, "t.conf:1: ", "bad value for 'message_size_limit': '10x'" },
  { "size with a fraction", "message_size_limit = 1.5M\n", 0, "t.conf:1: ", "bad value" },
  { "negative size", "message_size_limit = -1\n", 0, "t.conf:1: ", "bad value" },
  { "size with two units", "message_size_limit = 1kk\n", 0, "t.conf:1: ", "bad value" },
  { "size unit only", "message_size_limit = k\n", 0, "t.conf:1: ", "bad value" },
  { "size with a blank before the unit", "message_size_limit = 10 M\n", 0, "t.conf:1: ", "bad value" },
  { "empty size", "spool_reserve =\n", 0, "t.conf:1: ", "bad value" },
  { "size overflow in G", "spool_reserve = 17179869184G\n", 0, "t.conf:1: ", "bad value" },
  { "size overflow in k", "spool_reserve = 18014398509481984k\n", 0, "t.conf:1: ", "bad value" },
  { "size of 20 digits", "spool_reserve = 18446744073709551616\n", 0, "t.conf:1: ", "bad value" },
  { "size of 30 digits", "spool_reserve = 999999999999999999999999999999\n", 0, "t.conf:1: ", "bad value" },
  { "duration with M", "queue_lifetime = 5M\n", 0, "t.conf:1: ", "bad value" },
  { "duration with y", "queue_lifetime = 1y\n", 0, "t.conf:1: ", "bad value" },
  { "duration overflow in w", "queue_lifetime = 30500568904944w\n", 0, "t.conf:1: ", "bad value" },
  { "duration overflow in d", "queue_lifetime = 213503982334602d\n", 0, "t.conf:1: ", "bad value" },
  { "empty duration", "queue_lifetime =\n", 0, "t.conf:1: ", "bad value" },
  { "bad log value", "log = file\n", 0, "t.conf:1: ", "bad value for 'log'" },
  { "log value in upper case", "log = SYSLOG\n", 0, "t.conf:1: ", "bad value" },
  { "NUL byte", "hostname = a\0b\n", 15, "t.conf:1: ", "NUL" },
  { "NUL byte in a comment", "# a\0b\n", 6, "t.conf:1: ", "NUL" },
  { "NUL byte on line 3", "\n\n\0\n", 4, "t.conf:3: ", "NUL" },
  { "CR at the end of a line", "hostname = a\r\n", 0, "t.conf:1: ", "control" },
  { "control character in a value", "relayhost = a\x1b" "b\n", 0, "t.conf:1: ", "control" },
  { "DEL in a value", "relayhost = a\x7f\n", 0, "t.conf:1: ", "control" },
  { "relative spool", "hostname = a\nspool = var/spool\n", 0, "t.conf:", "absolute" },
  { "empty spool", "spool =\n", 0, "t.conf:", "absolute" },
};

static void check_keys(void)
{
  unsigned int i;
  struct config c;
  stralloc err = {0};
  for (i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    int r = parse(&c, keys[i].file, strlen(keys[i].file), &err);
    T_OK(named("parses", keys[i].name), r == 0);
    if (r) printf("#   %s\n", err.s);
    T_OK(named("value", keys[i].name), r == 0 && keys[i].check(&c));
    config_free(&c);
  }
  stralloc_free(&err);
}

static void check_errors(void)
{
  unsigned int i;
  struct config c;
  stralloc err = {0};
  for (i = 0; i < sizeof errors / sizeof errors[0]; i++) {
    const struct ecase *e = &errors[i];
    int r = parse(&c, e->file, e->len ? e->len : strlen(e->file), &err);
    int good = r == -1 && err.len && !strncmp(err.s, e->prefix, strlen(e->prefix)) && strstr(err.s, e->part);
    T_OK(named("refused", e->name), good);
    if (!good) printf("#   want \"%s...%s\", got %d \"%s\"\n", e->prefix, e->part, r, err.len ? err.s : "");
    config_free(&c);
  }
  stralloc_free(&err);
}

/* lines - the 4096-byte limit, the file size limit, error line numbers */
static void lines(void)
{
  struct config c;
  stralloc err = {0}, f = {0};
  size_t i;
  int r;

  stralloc_copys(&f, "relayhost = ");
  while (f.len < CONFIG_LINE_MAX) stralloc_cats(&f, "r");
  stralloc_cats(&f, "\n");
  r = parse(&c, f.s, f.len, &err);
  T_OK("a line of 4096 bytes is accepted", r == 0 && c.relayhost && strlen(c.relayhost) == CONFIG_LINE_MAX - 12);
  config_free(&c);

  stralloc_copys(&f, "# ");
  while (f.len < CONFIG_LINE_MAX) stralloc_cats(&f, "c");
  stralloc_cats(&f, "\n");
  r = parse(&c, f.s, f.len, &err);
  T_OK("a comment of 4096 bytes is accepted", r == 0);
  config_free(&c);

  stralloc_copys(&f, "hostname = a\n\nrelayhost = ");
  for (i = 0; i < CONFIG_LINE_MAX - 11; i++) stralloc_cats(&f, "r");
  stralloc_cats(&f, "\n");
  r = parse(&c, f.s, f.len, &err);
  T_OK("a line of 4097 bytes is refused with its line number",
       r == -1 && !strncmp(err.s, "t.conf:3: ", 10) && strstr(err.s, "too long"));
  if (r != -1 || strncmp(err.s, "t.conf:3: ", 10)) printf("#   got %d \"%s\"\n", r, err.s);
  config_free(&c);

  f.len--;     /* the same without its LF, as the last line */
  r = parse(&c, f.s, f.len, &err);
  T_OK("a last line of 4097 bytes without LF is refused", r == -1 && strstr(err.s, "too long"));
  config_free(&c);

  stralloc_copys(&f, "# ");
  while (f.len < CONFIG_LINE_MAX + 1) stralloc_cats(&f, "c");
  r = parse(&c, f.s, f.len, &err);
  T_OK("a comment of 4097 bytes is refused", r == -1 && strstr(err.s, "too long"));
  config_free(&c);

  /* the whole file: at most 1 MiB */
  stralloc_copys(&f, "");
  while (f.len + 64 <= CONFIG_FILE_MAX) stralloc_cats(&f, "# a comment line of exactly sixty-four bytes, padded out to 64.\n");
  while (f.len < CONFIG_FILE_MAX) stralloc_cats(&f, "\n");
  r = parse(&c, f.s, f.len, &err);
  T_OK("a file of exactly 1 MiB is accepted", f.len == CONFIG_FILE_MAX && r == 0);
  config_free(&c);
  stralloc_cats(&f, "\n");
  r = parse(&c, f.s, f.len, &err);
  T_OK("a file of 1 MiB + 1 is refused", r == -1 && strstr(err.s, "too large"));
  config_free(&c);

  /* many values: the arena holds them all */
  stralloc_copys(&f, "");
  stralloc_cats(&f, "hostname = "); for (i = 0; i < 4000; i++) stralloc_cats(&f, "h"); stralloc_cats(&f, "\n");
  stralloc_cats(&f, "domain = "); for (i = 0; i < 4000; i++) stralloc_cats(&f, "d"); stralloc_cats(&f, "\n");
  stralloc_cats(&f, "libexec_dir = /"); for (i = 0; i < 4000; i++) stralloc_cats(&f, "l"); stralloc_cats(&f, "\n");
  r = parse(&c, f.s, f.len, &err);
  T_OK("long values and a long derived injector fit",
       r == 0 && strlen(c.hostname) == 4000 && strlen(c.domain) == 4000 &&
       strlen(c.injector) == 4001 + 13 && !strcmp(c.injector + 4001, "/spool-inject"));
  config_free(&c);

  /* the relative spool is refused with the line that set it */
  {
    static const char fr[] = "hostname = a\nspool = var/spool\n";
    r = parse(&c, fr, sizeof fr - 1, &err);
    T_OK("relative spool is refused with the line number of its key",
         r == -1 && !strncmp(err.s, "t.conf:2: ", 10));
    if (r != -1 || strncmp(err.s, "t.conf:2: ", 10)) printf("#   got \"%s\"\n", err.s);
    config_free(&c);
  }
  /* TABs are blanks (trim() strips them; postern.conf.5: blanks around =) */
  {
    static const char ft[] = "hostname\t=\tmx.example.org\n";
    r = parse(&c, ft, sizeof ft - 1, &err);
    T_OK("TABs around = are ignored like blanks", r == 0 && eq(c.hostname, "mx.example.org"));
    if (r) printf("#   got \"%s\"\n", err.s);
    config_free(&c);
  }
  stralloc_free(&f);
  stralloc_free(&err);
}

/* size_duration - config_size and config_duration on their own */
static void size_duration(void)
{
  unsigned long v = 7;
  T_OK("config_size 1k", config_size("1k", &v) == 0 && v == 1024);
  T_OK("config_size 0", config_size("0", &v) == 0 && v == 0);
  T_OK("config_size refuses the empty string", config_size("", &v) == -1);
  T_OK("config_size refuses a unit and more", config_size("1kb", &v) == -1);
  T_OK("config_size refuses T", config_size("1T", &v) == -1);
  T_OK("config_size refuses a leading blank", config_size(" 1", &v) == -1);
  T_OK("config_size refuses a sign", config_size("+1", &v) == -1);
  v = 7;
  T_OK("config_size leaves out alone on overflow", config_size("17179869184G", &v) == -1 && v == 7);
  T_OK("config_duration 1w", config_duration("1w", &v) == 0 && v == 604800);
  T_OK("config_duration 0s", config_duration("0s", &v) == 0 && v == 0);
  T_OK("config_duration refuses d with more", config_duration("1dd", &v) == -1);
  T_OK("config_duration refuses upper-case units", config_duration("1H", &v) == -1);
  T_OK("config_duration refuses the empty string", config_duration("", &v) == -1);
}

/* files - config_try on real files */
static char dir[64];
static char path[256];

static const char *file_in(const char *base, const char *text, mode_t mode)
{
  int fd;
  snprintf(path, sizeof path, "%s/%s", dir, base);
  unlink(path);
  fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd == -1) return path;
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) { close(fd); return path; }
  fchmod(fd, mode);
  close(fd);
  return path;
}

static void files(void)
{
  struct config c;
  stralloc err = {0};
  char good[256], other[256];
  int r;

  strcpy(dir, "/tmp/postern-test-config.XXXXXX");
  if (!mkdtemp(dir)) { printf("not ok - config temp dir setup\n"); return; }
  unsetenv("POSTERN_CONF");

  strcpy(good, file_in("good.conf", "hostname = files.example\nqueue_lifetime = 1d\n", 0644));
  r = config_try(&c, good, &err);
  T_OK("config_try reads an explicit 0644 file", r == 0 && eq(c.hostname, "files.example") && c.queue_lifetime == 86400);
  T_OK("config_try records the file it read", r == 0 && eq(c.file, good));
  T_OK("config_try derives the defaults", r == 0 && eq(c.domain, "files.example") &&
       eq(c.injector, "/usr/libexec/postern/spool-inject"));
  config_free(&c);

  file_in("ro.conf", "hostname = ro.example\n", 0400);
  r = config_try(&c, path, &err);
  T_OK("config_try reads a 0400 file", r == 0 && eq(c.hostname, "ro.example"));
  config_free(&c);

  file_in("world.conf", "hostname = evil.example\n", 0666);
  err.len = 0;
  r = config_try(&c, path, &err);
  stralloc_0(&err);
  T_OK("config_try refuses a 0666 file", r == -1);
  T_OK("the refusal of a 0666 file names the file", strstr(err.s, path) != 0);
  T_OK("the refusal of a 0666 file says why", strstr(err.s, "writable") != 0);
  config_free(&c);

  file_in("group.conf", "hostname = evil.example\n", 0664);
  err.len = 0;
  r = config_try(&c, path, &err);
  stralloc_0(&err);
  T_OK("config_try refuses a group-writable file", r == -1 && strstr(err.s, path) && strstr(err.s, "writable"));
  config_free(&c);

  file_in("other.conf", "hostname = evil.example\n", 0642);
  err.len = 0;
  r = config_try(&c, path, &err);
  stralloc_0(&err);
  T_OK("config_try refuses an others-writable file", r == -1 && strstr(err.s, "writable"));
  config_free(&c);

  if (geteuid() == 0) {
    file_in("nobody.conf", "hostname = evil.example\n", 0644);
    if (chown(path, 65534, 65534) == 0) {
      err.len = 0;
      r = config_try(&c, path, &err);
      stralloc_0(&err);
      T_OK("config_try refuses a file owned by another user", r == -1 && strstr(err.s, path) && strstr(err.s, "owned"));
      config_free(&c);
    } else printf("skip - config_try refuses a file owned by another user # chown failed\n");
  } else printf("skip - config_try refuses a file owned by another user # needs root to chown\n");

  snprintf(other, sizeof other, "%s/missing.conf", dir);
  err.len = 0;
  r = config_try(&c, other, &err);
  stralloc_0(&err);
  T_OK("config_try refuses a missing explicit file", r == -1);
  T_OK("the refusal of a missing file names it", strstr(err.s, other) != 0);
  T_OK("the refusal of a missing file gives the system's reason", strstr(err.s, "No such file") != 0);
  config_free(&c);

  err.len = 0;
  r = config_try(&c, dir, &err);
  stralloc_0(&err);
  T_OK("config_try refuses a directory", r == -1 && strstr(err.s, "regular file"));
  config_free(&c);

  file_in("bad.conf", "# ok\nhostname = a\nnosuchkey = 1\n", 0644);
  err.len = 0;
  r = config_try(&c, path, &err);
  stralloc_0(&err);
  {
    char want[300];
    snprintf(want, sizeof want, "%s:3: ", path);
    T_OK("a bad file's error is path:LINE:", r == -1 && !strncmp(err.s, want, strlen(want)) && strstr(err.s, "nosuchkey"));
    if (r != -1 || strncmp(err.s, want, strlen(want))) printf("#   got \"%s\"\n", err.s);
  }
  config_free(&c);

  /* POSTERN_CONF names the file when there is no -C */
  strcpy(other, file_in("env.conf", "hostname = env.example\n", 0600));
  setenv("POSTERN_CONF", other, 1);
  r = config_try(&c, 0, &err);
  T_OK("POSTERN_CONF is honoured", r == 0 && eq(c.hostname, "env.example") && eq(c.file, other));
  config_free(&c);
  r = config_try(&c, good, &err);
  T_OK("-C wins over POSTERN_CONF", r == 0 && eq(c.hostname, "files.example") && eq(c.file, good));
  config_free(&c);
  snprintf(path, sizeof path, "%s/nothere.conf", dir);
  setenv("POSTERN_CONF", path, 1);
  err.len = 0;
  r = config_try(&c, 0, &err);
  stralloc_0(&err);
  T_OK("a missing POSTERN_CONF file is refused, not defaulted", r == -1 && strstr(err.s, path));
  config_free(&c);
  file_in("envworld.conf", "hostname = evil.example\n", 0666);
  setenv("POSTERN_CONF", path, 1);
  err.len = 0;
  r = config_try(&c, 0, &err);
  stralloc_0(&err);
  T_OK("a 0666 POSTERN_CONF file is refused", r == -1 && strstr(err.s, path));
  config_free(&c);
  unsetenv("POSTERN_CONF");

  /* a relative name, in -C or POSTERN_CONF, is recorded absolute (the
   * programs hand it to helpers that run in the spool) */
  {
    char cwd[4096], want[4200];
    if (!getcwd(cwd, sizeof cwd) || chdir(dir) == -1) abort();
    snprintf(want, sizeof want, "%s/good.conf", dir);
    r = config_try(&c, "good.conf", &err);
    T_OK("a relative -C is recorded absolute", r == 0 && eq(c.file, want));
    config_free(&c);
    setenv("POSTERN_CONF", "good.conf", 1);
    r = config_try(&c, 0, &err);
    T_OK("a relative POSTERN_CONF is recorded absolute", r == 0 && eq(c.file, want));
    config_free(&c);
    unsetenv("POSTERN_CONF");
    if (chdir(cwd) == -1) abort();
  }

  /* injector_default: the injector is libexec_dir/spool-inject */
  r = config_try(&c, good, &err);
  T_OK("no injector set: the default", r == 0 && c.injector_default);
  config_free(&c);
  file_in("inj.conf", "libexec_dir = /opt/p\ninjector = /opt/p/spool-inject\n", 0644);
  r = config_try(&c, path, &err);
  T_OK("the default injector named: still the default", r == 0 && c.injector_default && eq(c.injector, "/opt/p/spool-inject"));
  config_free(&c);
  file_in("inj.conf", "injector = /usr/local/bin/filter\n", 0644);
  r = config_try(&c, path, &err);
  T_OK("a filter as injector: not the default", r == 0 && !c.injector_default && eq(c.injector, "/usr/local/bin/filter"));
  config_free(&c);

  {
    static const char *const names[] = { "good.conf", "ro.conf", "world.conf", "group.conf", "other.conf",
                                         "nobody.conf", "bad.conf", "env.conf", "envworld.conf", "inj.conf" };
    unsigned int i;
    for (i = 0; i < sizeof names / sizeof names[0]; i++) {
      snprintf(path, sizeof path, "%s/%s", dir, names[i]);
      unlink(path);
    }
    rmdir(dir);
  }
  stralloc_free(&err);
}

/* man_keys - the key names of postern.conf.5's KEYS section (each ".B"
 * line after a ".TP"; "\fR, \fB" joins two) into names, NUL-separated */
static int man_keys(stralloc *names)
{
  const char *top = getenv("POSTERN_TOP");
  char path[4096], line[4096];
  int in_keys = 0, after_tp = 0;
  FILE *f;
  snprintf(path, sizeof path, "%s/lib/postern.conf.5", top ? top : ".");
  if (!(f = fopen(path, "r"))) return -1;
  names->len = 0;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (!strncmp(line, ".SH", 3)) in_keys = !strcmp(line, ".SH KEYS");
    if (in_keys && after_tp && !strncmp(line, ".B ", 3)) {
      char *p = line + 3, *q;
      while ((q = strstr(p, "\\fR, \\fB"))) { *q = 0; stralloc_catb(names, p, strlen(p) + 1); p = q + 8; }
      stralloc_catb(names, p, strlen(p) + 1);
    }
    after_tp = !strcmp(line, ".TP");
  }
  fclose(f);
  return 0;
}

/* listed - name is one of the NUL-separated names */
static int listed(const stralloc *names, const char *name)
{
  size_t i;
  for (i = 0; i < names->len; i += strlen(names->s + i) + 1) if (!strcmp(names->s + i, name)) return 1;
  return 0;
}

/* table - CONFIG_KEYS: every row is in postern.conf.5 and every key there
 * is a row; every default parses; BOOL and NUM values */
static void table(void)
{
  stralloc names = {0}, err = {0}, file = {0};
  const struct config_key *k;
  struct config c;
  unsigned int i, missing = 0, unknown = 0, bad = 0;
  size_t at;
  T_OK("postern.conf.5 read", man_keys(&names) == 0 && names.len);
  for (i = 0; (k = config_key(i)); i++) {
    if (!listed(&names, k->name)) { missing++; printf("#   not in postern.conf.5: %s\n", k->name); }
    file.len = 0;
    stralloc_cats(&file, k->name); stralloc_cats(&file, " = "); stralloc_cats(&file, k->def); stralloc_cats(&file, "\n");
    if (!strcmp(k->name, "hostname")) continue;   /* "": the kernel's node name; an empty value is refused */
    if (parse(&c, file.s, file.len, &err) != 0) { bad++; printf("#   default of %s: %s\n", k->name, err.s); }
    config_free(&c);
  }
  T_OK("every key of the table is in postern.conf.5", missing == 0);
  T_OK("every default parses as a value", bad == 0);
  for (at = 0; at < names.len; at += strlen(names.s + at) + 1) {
    for (i = 0; (k = config_key(i)) && strcmp(k->name, names.s + at); i++) {}
    if (!k) { unknown++; printf("#   not in the table: %s\n", names.s + at); }
  }
  T_OK("every key of postern.conf.5 is in the table", unknown == 0);
  T_OK("BOOL yes", parse(&c, "smtpd_sender_dns_check = yes\n", 29, &err) == 0 && c.smtpd_sender_dns_check == 1);
  config_free(&c);
  T_OK("BOOL no", parse(&c, "smtpd_delay_checks = no\n", 24, &err) == 0 && c.smtpd_delay_checks == 0);
  config_free(&c);
  T_OK("BOOL defaults", parse(&c, "", 0, &err) == 0 && c.smtpd_delay_checks == 1 && c.smtpd_verify_recipients == 1
       && c.smtpd_sender_dns_check == 1 && c.smtpd_client_name_lookup == 1);
  config_free(&c);
  T_OK("BOOL refuses on", parse(&c, "smtpd_delay_checks = on\n", 24, &err) == -1 && strstr(err.s, "bad value for 'smtpd_delay_checks'"));
  config_free(&c);
  T_OK("NUM a count", parse(&c, "smtpd_recipient_limit = 50\n", 27, &err) == 0 && c.smtpd_recipient_limit == 50);
  config_free(&c);
  T_OK("NUM refuses a unit", parse(&c, "concurrency_limit = 1k\n", 23, &err) == -1 && strstr(err.s, "bad value"));
  config_free(&c);
  stralloc_free(&names); stralloc_free(&err); stralloc_free(&file);
}

int main(void)
{
  defaults();
  table();
  check_keys();
  check_errors();
  lines();
  size_duration();
  files();
  T_DONE();
}
