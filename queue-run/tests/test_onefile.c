/* test_onefile.c - queue-run reading both spool layouts (spool.h,
 * postern-queue(5)): a one-file message (head line, envelope, hole, body
 * at the head's offset) and the older one (envelope file, body in mess/).
 * The envelope and its layout (state_envelope_load), the body handed to
 * a deliverer at its offset (state_body_open), its size, a release that
 * rewrites a one-file message whole (state_envelope_replace), malformed
 * heads refused as corrupt (EPROTO, and message_load moves the message to
 * corrupt/), and pickup never renaming over a message in queue/. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "../../lib/tests/t.h"
#include "log.h"
#include "../qr.h"

struct config qr_cfg;
int qr_once;

static char tmpl[] = "/tmp/test_onefile.XXXXXX";
static const char env_text[] = "V1\nFs@mx.test\nTa@far.test\nTb@far.test\n\n";
static const char body_text[] = "Subject: one file\n\nthe body\n.\nlast line\n";

/* put - len bytes of s at offset off of the file fn (made if missing) */
static void put(const char *fn, const char *s, size_t len, off_t off)
{
  int fd = open(fn, O_WRONLY | O_CREAT, 0644);
  if (fd == -1 || (len && pwrite(fd, s, len, off) != (ssize_t)len)) abort();
  close(fd);
}

/* head - a head line for body offset body and envelope length envlen,
 * written by hand (not by spool_head_fmt) */
static void head(char line[SPOOL_HEAD_LEN + 1], unsigned long body, unsigned long envlen)
{
  char s[80];
  snprintf(s, sizeof s, "postern-message 1 %010lu %010lu\n", body, envlen);
  memcpy(line, s, SPOOL_HEAD_LEN);
  line[SPOOL_HEAD_LEN] = 0;
}

/* onefile - dir/id as a one-file message: head, env, a hole up to the
 * next 4096, body */
static void onefile(const char *dir, const char *id, const char *env, const char *body, size_t blen)
{
  char fn[256], line[SPOOL_HEAD_LEN + 1];
  unsigned long off = (SPOOL_HEAD_LEN + strlen(env) + 4095) / 4096 * 4096;
  snprintf(fn, sizeof fn, "%s/%s", dir, id);
  unlink(fn);
  head(line, off, strlen(env));
  put(fn, line, SPOOL_HEAD_LEN, 0);
  put(fn, env, strlen(env), SPOOL_HEAD_LEN);
  if (truncate(fn, (off_t)off) == -1) abort();
  put(fn, body, blen, (off_t)off);
}

/* raw - text as the whole file fn */
static void raw(const char *fn, const char *s, size_t len)
{
  unlink(fn);
  put(fn, s, len, 0);
}

/* slurp - the bytes of fd from its offset on, into out (NUL-terminated) */
static size_t slurp_fd(int fd, char *out, size_t max)
{
  size_t n = 0;
  ssize_t r;
  while (n < max - 1 && (r = read(fd, out + n, max - 1 - n)) > 0) n += (size_t)r;
  out[n] = 0;
  return n;
}

static size_t slurp(const char *fn, char *out, size_t max)
{
  int fd = open(fn, O_RDONLY);
  size_t n = fd == -1 ? 0 : slurp_fd(fd, out, max);
  if (fd != -1) close(fd);
  else out[0] = 0;
  return n;
}

/* loads - state_envelope_load of queue/<id>: its result, errno in *e */
static int loads(const char *id, struct state_layout *l, int *e, const char **why)
{
  struct envelope env;
  int r;
  envelope_init(&env);
  errno = 0;
  r = state_envelope_load(&env, SPOOL_QUEUE, id, l, why);
  *e = errno;
  envelope_free(&env);
  return r;
}

/* envelopes - reading both layouts */
static void envelopes(void)
{
  static char body[100000];
  struct envelope e;
  struct state_layout l;
  const char *why;
  char got[256];
  int fd, r, err;
  onefile("queue", "1700000000.000001.1", env_text, body_text, strlen(body_text));
  envelope_init(&e);
  r = state_envelope_load(&e, SPOOL_QUEUE, "1700000000.000001.1", &l, &why);
  T_OK("one file: the envelope is read", r == 1 && e.nrcpt == 2 && !strcmp(envelope_sender(&e), "s@mx.test")
       && !strcmp(envelope_rcpt(&e, 1), "b@far.test"));
  T_OK("one file: the body is at the head's offset, its size the rest of the file",
       l.body == 4096 && l.size == strlen(body_text));
  envelope_free(&e);
  fd = state_body_open("1700000000.000001.1");
  T_OK("one file: the body fd starts at the body", fd != -1 && lseek(fd, 0, SEEK_CUR) == 4096);
  T_OK("one file: the body fd is not O_NONBLOCK", fd != -1 && !(fcntl(fd, F_GETFL) & O_NONBLOCK));
  slurp_fd(fd, got, sizeof got);
  T_STR("one file: the deliverer reads the body and nothing else", body_text, got, strlen(got));
  if (fd != -1) close(fd);
  T_OK("one file: state_body_size", state_body_size(SPOOL_QUEUE, "1700000000.000001.1") == strlen(body_text));
  T_OK("one file: state_one_file", state_one_file(SPOOL_QUEUE, "1700000000.000001.1") == 1);

  /* a stale mess/<id> of the same id is not the body: the head decides */
  raw("mess/1700000000.000001.1", "stale\n", 6);
  fd = state_body_open("1700000000.000001.1");
  slurp_fd(fd, got, sizeof got);
  T_STR("one file: a mess/ file of the same id is not taken for the body", body_text, got, strlen(got));
  if (fd != -1) close(fd);
  unlink("mess/1700000000.000001.1");

  /* an envelope longer than a page: the body at 8192 */
  {
    static char big_env[6000];
    size_t n = (size_t)snprintf(big_env, sizeof big_env, "V1\nFs@mx.test\n"), k;
    for (k = 0; n < 5000; k++) n += (size_t)snprintf(big_env + n, sizeof big_env - n, "Trcpt%zu@far.test\n", k);
    big_env[n++] = '\n';
    big_env[n] = 0;
    onefile("queue", "1700000000.000002.1", big_env, "", 0);
    envelope_init(&e);
    r = state_envelope_load(&e, SPOOL_QUEUE, "1700000000.000002.1", &l, &why);
    T_OK("one file: a 5000-byte envelope, an empty body", r == 1 && e.nrcpt == k && l.body == 8192 && l.size == 0);
    envelope_free(&e);
    fd = state_body_open("1700000000.000002.1");
    T_OK("one file: an empty body reads as nothing", fd != -1 && slurp_fd(fd, got, sizeof got) == 0);
    if (fd != -1) close(fd);
  }

  /* the older layout, as before */
  raw("queue/1700000000.000003.1", env_text, strlen(env_text));
  raw("mess/1700000000.000003.1", "Subject: old\n\nold body\n", 23);
  envelope_init(&e);
  r = state_envelope_load(&e, SPOOL_QUEUE, "1700000000.000003.1", &l, &why);
  T_OK("older layout: the envelope is read, body 0", r == 1 && e.nrcpt == 2 && l.body == 0);
  envelope_free(&e);
  fd = state_body_open("1700000000.000003.1");
  T_OK("older layout: the body is mess/<id> from 0", fd != -1 && lseek(fd, 0, SEEK_CUR) == 0);
  slurp_fd(fd, got, sizeof got);
  T_STR("older layout: the body's bytes", "Subject: old\n\nold body\n", got, strlen(got));
  if (fd != -1) close(fd);
  T_OK("older layout: state_body_size is mess/'s", state_body_size(SPOOL_QUEUE, "1700000000.000003.1") == 23);
  T_OK("older layout: not one file", state_one_file(SPOOL_QUEUE, "1700000000.000003.1") == 0);
  unlink("mess/1700000000.000003.1");
  errno = 0;
  T_OK("older layout without mess/<id>: the body is missing (ENOENT)",
       state_body_open("1700000000.000003.1") == -1 && errno == ENOENT);
  errno = 0;
  T_OK("no message: ENOENT", state_body_open("1700000000.000099.1") == -1 && errno == ENOENT);
  T_OK("no message: the envelope is absent", loads("1700000000.000099.1", &l, &err, &why) == 0);

  /* a one-file message whose body is large, in new/ (--list reads there) */
  memset(body, 'x', sizeof body);
  onefile("new", "1700000000.000004.1", env_text, body, sizeof body);
  T_OK("new/: state_body_size of a one-file message", state_body_size(SPOOL_NEW, "1700000000.000004.1") == sizeof body);
  unlink("new/1700000000.000004.1");
}

/* corrupt - a malformed one-file message is refused with EPROTO */
static void corrupt(const char *name, const char *text, size_t len, off_t size)
{
  struct state_layout l;
  const char *why = 0;
  int r, e;
  raw("queue/1700000000.000005.1", text, len);
  if (size && truncate("queue/1700000000.000005.1", size) == -1) abort();
  r = loads("1700000000.000005.1", &l, &e, &why);
  if (r != -1 || e != EPROTO) printf("# r=%d errno=%d why=%s\n", r, e, why ? why : "(none)");
  T_OK(name, r == -1 && e == EPROTO && why);
}

/* malformed - heads and envelopes that do not fit */
static void malformed(void)
{
  char text[8192 + 200], line[SPOOL_HEAD_LEN + 1];
  size_t n;
  int fd;
  corrupt("malformed: a head line cut short", "postern-message 1 0000004096", 28, 0);
  corrupt("malformed: letters in the offset", "postern-message 1 00000040x6 0000000010\n", 40, 8192);
  corrupt("malformed: no LF at the end of the head", "postern-message 1 0000004096 0000000010 ", 40, 8192);
  head(line, 4000, 10);
  corrupt("malformed: a body offset not a multiple of 4096", line, SPOOL_HEAD_LEN, 8192);
  head(line, 8192, 10);
  corrupt("malformed: a body offset past the end of the file", line, SPOOL_HEAD_LEN, 4096);
  head(line, 4096, 4090);
  corrupt("malformed: an envelope longer than the room before the body", line, SPOOL_HEAD_LEN, 8192);
  /* an envelope that ends before its length: the end line is missing */
  n = (size_t)snprintf(text, sizeof text, "postern-message 1 %010lu %010lu\n%s", 4096UL, 30UL, "V1\nFs@mx.test\nTa@far.test\n");
  corrupt("malformed: the envelope's end line is not within its length", text, n, 4100);
  /* bytes after the envelope's end line, within its length */
  n = (size_t)snprintf(text, sizeof text, "postern-message 1 %010lu %010lu\n%sjunk", 4096UL, (unsigned long)strlen(env_text) + 4, env_text);
  corrupt("malformed: bytes after the envelope's end line", text, n, 4100);
  /* an envelope that is not one */
  n = (size_t)snprintf(text, sizeof text, "postern-message 1 %010lu %010lu\nV2\nFs@x.test\n\n", 4096UL, 14UL);
  corrupt("malformed: an invalid envelope after a good head", text, n, 4100);
  /* an envelope length over QR_ENVELOPE_MAX: refused before any reading
   * (a sparse file of 65 MiB) */
  head(line, 66UL << 20, (64UL << 20) + 1);
  corrupt("malformed: an envelope over QR_ENVELOPE_MAX", line, SPOOL_HEAD_LEN, (off_t)(66UL << 20));
  errno = 0;
  head(line, 8192, 10);
  raw("queue/1700000000.000005.1", line, SPOOL_HEAD_LEN);
  T_OK("malformed: state_body_open refuses it too (EPROTO)", state_body_open("1700000000.000005.1") == -1 && errno == EPROTO);
  T_OK("malformed: still a one-file message for corrupt/'s name", state_one_file(SPOOL_QUEUE, "1700000000.000005.1") == 1);
  unlink("queue/1700000000.000005.1");
  /* a FIFO in queue/: never opened blocking, refused */
  if (mkfifo("queue/1700000000.000006.1", 0600) == -1) abort();
  errno = 0;
  fd = state_body_open("1700000000.000006.1");
  T_OK("a FIFO as the message file: EFTYPE_BODY, without blocking", fd == -1 && errno == EFTYPE_BODY);
  {
    struct state_layout l;
    const char *why = 0;
    int e;
    T_OK("a FIFO as the message file: its envelope is corrupt (EPROTO)",
         loads("1700000000.000006.1", &l, &e, &why) == -1 && e == EPROTO);
  }
  unlink("queue/1700000000.000006.1");
}

/* release - state_envelope_replace of a quarantined one-file message */
static void release(void)
{
  static char body[300000], got[400000];
  static const char qenv[] = "V1\nFs@mx.test\nQheld by a milter\nTa@far.test\n\n";
  struct envelope e;
  struct state_layout l;
  struct stat st;
  const char *why;
  char want[SPOOL_HEAD_LEN + 1];
  size_t i, n;
  int fd;
  for (i = 0; i < sizeof body; i++) body[i] = (char)('a' + i % 26);
  for (i = 80; i < sizeof body; i += 81) body[i] = '\n';
  onefile("queue", "1700000000.000007.1", qenv, body, sizeof body);
  envelope_init(&e);
  T_OK("release: the quarantined one-file message loads with its Q tag",
       state_envelope(&e, "1700000000.000007.1", &why) == 1 && envelope_tag(&e, 'Q'));
  e.tag['Q' - 'A'] = 0;
  T_OK("release: state_envelope_replace succeeds", state_envelope_replace("1700000000.000007.1", &e) == 0);
  envelope_free(&e);
  T_OK("release: no .tmp left behind", access("queue/1700000000.000007.1.tmp", F_OK) == -1);
  n = slurp("queue/1700000000.000007.1", got, sizeof got);
  head(want, 4096, strlen(env_text) - strlen("Tb@far.test\n"));
  T_STR("release: a new head line for the shorter envelope", want, got, SPOOL_HEAD_LEN);
  T_STR("release: the envelope without the Q tag", "V1\nFs@mx.test\nTa@far.test\n\n", got + SPOOL_HEAD_LEN,
        strlen("V1\nFs@mx.test\nTa@far.test\n\n"));
  T_OK("release: the body copied byte for byte after the head's offset",
       n == 4096 + sizeof body && stat("queue/1700000000.000007.1", &st) == 0 && memcmp(got + 4096, body, sizeof body) == 0);
  envelope_init(&e);
  T_OK("release: it loads again, without the tag",
       state_envelope_load(&e, SPOOL_QUEUE, "1700000000.000007.1", &l, &why) == 1 && !envelope_tag(&e, 'Q')
       && l.body == 4096 && l.size == sizeof body);
  fd = state_body_open("1700000000.000007.1");
  n = fd == -1 ? 0 : slurp_fd(fd, got, sizeof got);
  T_OK("release: the deliverer gets the same body", n == sizeof body && memcmp(got, body, n) == 0);
  if (fd != -1) close(fd);
  envelope_free(&e);

  /* a longer envelope moves the body to the next page */
  {
    static char longq[5000];
    size_t k = (size_t)snprintf(longq, sizeof longq, "V1\nFs@mx.test\nQ");
    memset(longq + k, 'q', 900); k += 900;
    k += (size_t)snprintf(longq + k, sizeof longq - k, "\n");
    for (i = 0; k < 4200; i++) k += (size_t)snprintf(longq + k, sizeof longq - k, "Tr%zu@far.test\n", i);
    longq[k++] = '\n'; longq[k] = 0;
    onefile("queue", "1700000000.000008.1", longq, "short\n", 6);
    envelope_init(&e);
    if (state_envelope(&e, "1700000000.000008.1", &why) != 1) abort();
    e.tag['Q' - 'A'] = 0;
    T_OK("release: an envelope shrinking below a page", state_envelope_replace("1700000000.000008.1", &e) == 0);
    envelope_free(&e);
    envelope_init(&e);
    T_OK("release: ... moves the body to 4096",
         state_envelope_load(&e, SPOOL_QUEUE, "1700000000.000008.1", &l, &why) == 1 && l.body == 4096 && l.size == 6);
    envelope_free(&e);
    fd = state_body_open("1700000000.000008.1");
    n = fd == -1 ? 0 : slurp_fd(fd, got, sizeof got);
    T_STR("release: ... and keeps it", "short\n", got, n);
    if (fd != -1) close(fd);
  }

  /* the older layout: the envelope file alone is rewritten */
  raw("queue/1700000000.000009.1", qenv, strlen(qenv));
  raw("mess/1700000000.000009.1", "old body\n", 9);
  envelope_init(&e);
  if (state_envelope(&e, "1700000000.000009.1", &why) != 1) abort();
  e.tag['Q' - 'A'] = 0;
  T_OK("release, older layout: succeeds", state_envelope_replace("1700000000.000009.1", &e) == 0);
  envelope_free(&e);
  n = slurp("queue/1700000000.000009.1", got, sizeof got);
  T_STR("release, older layout: the envelope file is the envelope alone", "V1\nFs@mx.test\nTa@far.test\n\n", got, n);
  n = slurp("mess/1700000000.000009.1", got, sizeof got);
  T_STR("release, older layout: mess/ untouched", "old body\n", got, n);
}

/* loading - message_load: a malformed head goes to corrupt/ whole; the
 * layout is kept in the work */
static void loading(void)
{
  struct msg m;
  struct work w;
  char line[SPOOL_HEAD_LEN + 1];
  memset(&m, 0, sizeof m);
  strcpy(m.id, "1700000000.000010.1");
  head(line, 8192, 10);
  raw("queue/1700000000.000010.1", line, SPOOL_HEAD_LEN);
  work_init(&w);
  T_OK("message_load: a malformed head is gone (0)", message_load(&m, &w) == 0);
  work_free(&w);
  T_OK("message_load: ... moved to corrupt/<id>.message whole",
       access("corrupt/1700000000.000010.1.message", F_OK) == 0 && access("queue/1700000000.000010.1", F_OK) == -1
       && access("corrupt/1700000000.000010.1.envelope", F_OK) == -1);

  strcpy(m.id, "1700000000.000011.1");
  onefile("queue", m.id, env_text, body_text, strlen(body_text));
  work_init(&w);
  T_OK("message_load: a one-file message loads without a mess/ file", message_load(&m, &w) == 1);
  T_OK("message_load: its layout kept", w.layout.body == 4096 && w.layout.size == strlen(body_text));
  work_free(&w);
  message_remove(m.id, 0);
  T_OK("message_remove: the one file is gone", access("queue/1700000000.000011.1", F_OK) == -1);

  strcpy(m.id, "1700000000.000012.1");
  raw("queue/1700000000.000012.1", env_text, strlen(env_text));
  raw("mess/1700000000.000012.1", "b\n", 2);
  work_init(&w);
  T_OK("message_load: an older-layout message loads", message_load(&m, &w) == 1 && w.layout.body == 0 && w.layout.size == 2);
  work_free(&w);
  message_remove(m.id, 1);
  T_OK("message_remove: both files gone", access("queue/1700000000.000012.1", F_OK) == -1 && access("mess/1700000000.000012.1", F_OK) == -1);

  strcpy(m.id, "1700000000.000013.1");
  raw("queue/1700000000.000013.1", env_text, strlen(env_text));
  work_init(&w);
  T_OK("message_load: an older-layout message without its body is gone", message_load(&m, &w) == 0);
  work_free(&w);
  T_OK("message_load: ... its envelope in corrupt/<id>.envelope", access("corrupt/1700000000.000013.1.envelope", F_OK) == 0);
}

/* pickup - new/ into queue/, never over a message there */
static void pickup(void)
{
  static char got[8192];
  unsigned int before = table_count();
  size_t n;
  int found = 0;
  /* a plain one-file message */
  onefile("new", "1700000000.000020.1", env_text, body_text, strlen(body_text));
  T_OK("pickup: a one-file message is taken", pickup_new() == 1 && table_find("1700000000.000020.1"));
  n = slurp("queue/1700000000.000020.1", got, sizeof got);
  T_OK("pickup: ... whole, into queue/", n == 4096 + strlen(body_text) && access("new/1700000000.000020.1", F_OK) == -1);

  /* a one-file message with the id of one in queue/: a fresh id */
  raw("queue/1700000000.000021.1", env_text, strlen(env_text));
  raw("mess/1700000000.000021.1", "the queued one\n", 15);
  onefile("new", "1700000000.000021.1", env_text, "the new one\n", 12);
  T_OK("pickup: a one-file message whose id is taken is still queued", pickup_new() == 1);
  n = slurp("queue/1700000000.000021.1", got, sizeof got);
  T_STR("pickup: ... the queued message is not replaced", env_text, got, n);
  {
    DIR *d = opendir("queue");
    struct dirent *de;
    while (d && (de = readdir(d))) {
      char fn[300];
      if (de->d_name[0] == '.' || !strcmp(de->d_name, "1700000000.000020.1") || !strcmp(de->d_name, "1700000000.000021.1")
          || !table_find(de->d_name)) continue;
      snprintf(fn, sizeof fn, "queue/%s", de->d_name);
      n = slurp(fn, got, sizeof got);
      found = n == 4096 + 12 && !memcmp(got + 4096, "the new one\n", 12);
    }
    if (d) closedir(d);
  }
  T_OK("pickup: ... the new one is in queue/ and the table under a fresh id", found);
  T_OK("pickup: two messages more in the table", table_count() == before + 2);

  /* an older-layout file in new/ with the id of a queued message */
  raw("new/1700000000.000021.1", env_text, strlen(env_text));
  T_OK("pickup: an older-layout file whose id is taken is not queued", pickup_new() == 0);
  n = slurp("queue/1700000000.000021.1", got, sizeof got);
  T_STR("pickup: ... the queued message is not replaced", env_text, got, n);
  T_OK("pickup: ... it went to corrupt/<id>.duplicate",
       access("corrupt/1700000000.000021.1.duplicate", F_OK) == 0 && access("new/1700000000.000021.1", F_OK) == -1);
  n = slurp("mess/1700000000.000021.1", got, sizeof got);
  T_STR("pickup: ... the queued message's body stays", "the queued one\n", got, n);
}

int main(void)
{
  static const char *const dirs[] = { "queue", "mess", "state", "new", "tmp", "corrupt", "maps" };
  unsigned int i;
  if (!mkdtemp(tmpl) || chdir(tmpl) == -1) abort();
  for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) if (mkdir(dirs[i], 0700) == -1) abort();
  printf("# spool in %s\n", tmpl);
  config_defaults(&qr_cfg);
  qr_cfg.hostname = qr_cfg.domain = "mx.test";
  qr_cfg.map_dir = "maps";
  qr_cfg.spool = ".";
  qr_cfg.log = LOGTO_STDERR;
  log_init("test_onefile", LOGTO_STDERR);
  message_open();
  envelopes();
  malformed();
  release();
  loading();
  pickup();
  {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    if (chdir("/") == -1 || system(cmd) != 0) printf("# left %s behind\n", tmpl);
  }
  T_DONE();
}
