/* test_state.c - the state file (postern-queue.5): a round trip through
 * state_write and state_read, and the refusal of damaged files; the
 * enhanced status code found in result texts (dsn_status); the back-off
 * visible through work_due; a write that fails half way (a file size
 * limit) is reported and leaves the old file in place. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include "../../lib/tests/t.h"
#include "str.h"
#include "num.h"
#include "../qr.h"

struct config qr_cfg;
int qr_once;

static const char *id = "1700000000.000001.1";

/* put - write text as state/<id> */
static void put(const char *text)
{
  int fd = open("state/1700000000.000001.1", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) abort();
  close(fd);
}

/* envelope_of - a two-recipient envelope for the work */
static void envelope_of(struct work *w)
{
  work_init(w);
  envelope_set_sender(&w->env, "s@x.test", 8);
  envelope_add_rcpt(&w->env, "a@x.test", 8);
  envelope_add_rcpt(&w->env, "b@y.test", 8);
}

/* short_write - state_write of a file larger than a file size limit:
 * reported as an error, the state file written before stays whole */
static void short_write(void)
{
  struct work w, r;
  struct rlimit old, small;
  const char *why;
  unsigned int k;
  char a[64];
  envelope_of(&w);
  work_add(&w, 0, ST_PENDING, KIND_REMOTE, 0, "smtp:x.test", "a@x.test");
  T_OK("short write: a small state file first", state_write(&w, id) == 0);
  for (k = 0; k < 200; k++) {
    size_t n = str_copy(a, "user");
    n += num_fmt(a + n, k);
    str_copy(a + n, "-with-a-long-local-part@x.test");
    work_add(&w, 0, ST_PENDING, KIND_REMOTE, 0, "smtp:x.test", a);
  }
  signal(SIGXFSZ, SIG_IGN);
  if (getrlimit(RLIMIT_FSIZE, &old) == -1) abort();
  small = old;
  small.rlim_cur = 4096;
  if (setrlimit(RLIMIT_FSIZE, &small) == -1) abort();
  errno = 0;
  T_OK("short write: state_write fails (EFBIG)", state_write(&w, id) == -1 && errno == EFBIG);
  errno = 0;
  T_OK("short write: state_file_write fails too (the pool is larger than the limit)",
       w.pool.len > 4096 && state_file_write("state/other", &w.pool, 0600) == -1 && errno == EFBIG);
  if (setrlimit(RLIMIT_FSIZE, &old) == -1) abort();
  T_OK("short write: no .tmp left behind", access("state/1700000000.000001.1.tmp", F_OK) == -1 && access("state/other.tmp", F_OK) == -1);
  envelope_of(&r);
  T_OK("short write: the old file is still there, whole", state_read(&r, id, &why) == 1 && r.n == 1);
  work_free(&r);
  work_free(&w);
  signal(SIGXFSZ, SIG_DFL);
}

/* bad - a damaged file is refused with EPROTO */
static void bad(const char *name, const char *text)
{
  struct work w;
  const char *why;
  envelope_of(&w);
  put(text);
  T_OK(name, state_read(&w, id, &why) == -1);
  work_free(&w);
}

int main(void)
{
  char dir[] = "/tmp/qr-state.XXXXXX", st[16];
  struct work w, r;
  const char *why;
  struct item *it;
  if (!mkdtemp(dir) || chdir(dir) == -1 || mkdir("state", 0700) == -1) return 1;
  envelope_of(&w);
  w.arrival = 1700000000;
  w.warned = 1;
  it = work_add(&w, 0, ST_PENDING, KIND_REMOTE, 0, "smtp:[relay]:25", "a@x.test");
  it->tries = 2; it->next = 1700000600;
  work_set_text(&w, it, "451 4.2.0\ttry later\n", 20);
  it = work_add(&w, 1, ST_DONE_NOTIFY, KIND_USER, "bob", "~", "b@y.test");
  it->next = 1700000100;
  T_OK("state_write succeeds", state_write(&w, id) == 0);
  T_OK("no .tmp left behind", access("state/1700000000.000001.1.tmp", F_OK) == -1);
  envelope_of(&r);
  T_OK("state_read reads it back", state_read(&r, id, &why) == 1);
  T_OK("two items", r.n == 2);
  T_OK("arrival and warning kept", r.arrival == 1700000000 && r.warned);
  T_OK("item fields kept", r.item[0].orig == 0 && r.item[0].status == ST_PENDING && r.item[0].kind == KIND_REMOTE
       && r.item[0].tries == 2 && r.item[0].next == 1700000600);
  T_STR("destination kept", "smtp:[relay]:25", work_s(&r, r.item[0].dest), strlen(work_s(&r, r.item[0].dest)));
  T_STR("controls in the text became blanks", "451 4.2.0 try later", work_s(&r, r.item[0].text), strlen(work_s(&r, r.item[0].text)));
  T_STR("user kept", "bob", work_s(&r, r.item[1].user), strlen(work_s(&r, r.item[1].user)));
  T_OK("work_due is the earliest due item", work_due(&r) == 1700000100);
  unsigned long due = 0;
  T_OK("state_due reads the N line alone", state_due(id, &due) == 1 && due == 1700000100);
  T_OK("the digest of what was read is the digest of what was written", r.digest == state_digest(&w) && r.digest == state_digest(&r));
  r.item[0].tries++;
  T_OK("the digest changes with an item", state_digest(&r) != r.digest);
  r.item[0].tries--;
  work_set_text(&r, &r.item[1], "x", 1);
  T_OK("the digest changes with a text", state_digest(&r) != r.digest);
  T_OK("work_find finds an item by its delivery", work_find(&r, KIND_USER, "bob", "~", "b@y.test") == &r.item[1]);
  T_OK("work_find: another kind is another delivery", work_find(&r, KIND_MAILBOX, "bob", "~", "b@y.test") == 0);
  r.item[1].status = ST_GONE;
  T_OK("work_find skips replaced items", work_find(&r, KIND_USER, "bob", "~", "b@y.test") == 0);
  {
    unsigned int k;
    char a[32];
    for (k = 0; k < 5000; k++) {
      size_t n = str_copy(a, "u");
      n += num_fmt(a + n, k);
      str_copy(a + n, "@x.test");
      work_add(&r, 0, ST_PENDING, KIND_REMOTE, 0, "smtp:x.test", a);
    }
    T_OK("work_find with many items (the hash grows)", work_find(&r, KIND_REMOTE, 0, "smtp:x.test", "u4321@x.test") == &r.item[2 + 4321]);
    work_truncate(&r, 2);
    T_OK("work_truncate forgets items", r.n == 2 && work_find(&r, KIND_REMOTE, 0, "smtp:x.test", "u4321@x.test") == 0);
  }
  work_free(&r);
  work_free(&w);
  short_write();

  bad("missing end line", "S1\nN0\nA1\n");
  bad("wrong version", "S2\nN0\nA1\nE\n");
  bad("unknown line", "S1\nN0\nA1\nQx\nE\n");
  bad("index beyond the envelope", "S1\nN0\nA1\nR2\tp\t0\t0\ts\t\tsmtp:x\ta@x.test\t\nE\n");
  bad("unknown status", "S1\nN0\nA1\nR0\tq\t0\t0\ts\t\tsmtp:x\ta@x.test\t\nE\n");
  bad("unknown kind", "S1\nN0\nA1\nR0\tp\t0\t0\tQ\t\tsmtp:x\ta@x.test\t\nE\n");
  bad("too few fields", "S1\nN0\nA1\nR0\tp\t0\t0\ts\t\tsmtp:x\ta@x.test\nE\n");
  bad("too many fields", "S1\nN0\nA1\nR0\tp\t0\t0\ts\t\tsmtp:x\ta@x.test\tt\tu\nE\n");
  bad("invalid address", "S1\nN0\nA1\nR0\tp\t0\t0\ts\t\tsmtp:x\ta b@x.test\t\nE\n");
  bad("user with a slash", "S1\nN0\nA1\nR0\tp\t0\t0\tu\t../x\t~\ta@x.test\t\nE\n");
  bad("number overflow", "S1\nN0\nA1\nR0\tp\t99999999999999999999\t0\ts\t\tsmtp:x\ta@x.test\t\nE\n");
  bad("empty number", "S1\nN0\nA\nE\n");

  dsn_status("550 5.1.1 <a@x>: user unknown", 1, st);
  T_STR("dsn_status finds 5.1.1 after the reply code", "5.1.1", st, strlen(st));
  dsn_status("4.4.7 delivery time expired; last error: 451 4.2.0 x", 1, st);
  T_STR("dsn_status takes the first code", "4.4.7", st, strlen(st));
  dsn_status("no code here", 1, st);
  T_STR("dsn_status default for failures", "5.0.0", st, strlen(st));
  dsn_status("2.0.0 ok", 1, st);
  T_STR("dsn_status never reports a failure as 2.x.x", "5.0.0", st, strlen(st));
  dsn_status("x5.1.1 not at a word start", 0, st);
  T_STR("dsn_status only at the start of a word", "4.0.0", st, strlen(st));
  unlink("state/1700000000.000001.1");
  rmdir("state");
  rmdir(dir);
  T_DONE();
}
