/* test_stats.c - the traffic counters and the destination status: counts
 * saved to state/stats and state/hoststat and read back (added to what is
 * in memory, as at a restart), the save rhythm (nothing written before
 * QR_STATS_SECONDS unless forced, nothing when unchanged), the bound on
 * routes ("other"), damaged files refused, forgetting a destination. */
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include "../../lib/tests/t.h"
#include "delivery.h"
#include "num.h"
#include "str.h"
#include "../qr.h"

struct config qr_cfg;
int qr_once;

/* slurp - state/name's text, NUL-terminated (static), or "" */
static const char *slurp(const char *name)
{
  static char buf[1 << 20];
  char fn[64] = "state/";
  ssize_t n;
  int fd;
  strcat(fn, name);
  buf[0] = 0;
  if ((fd = open(fn, O_RDONLY)) == -1) return buf;
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n > 0 ? n : 0] = 0;
  return buf;
}

/* put - len bytes into state/name (flags: O_APPEND or O_TRUNC); 0 or -1 */
static int put(const char *name, const char *s, size_t len, int flags)
{
  char fn[64] = "state/";
  int fd, r;
  strcat(fn, name);
  if ((fd = open(fn, O_WRONLY | flags)) == -1) return -1;
  r = write(fd, s, len) == (ssize_t)len ? 0 : -1;
  close(fd);
  return r;
}

/* replaced - has state/stats been replaced since the last call? */
static int replaced(void)
{
  static ino_t last;
  struct stat st;
  int r;
  if (stat("state/stats", &st) == -1) return 0;
  r = st.st_ino != last;
  last = st.st_ino;
  return r;
}

/* remote - a work with one remote item for dest and its result text */
static struct item *remote(struct work *w, const char *dest, const char *text)
{
  struct item *it;
  work_init(w);
  envelope_set_sender(&w->env, "s@x.test", 8);
  envelope_add_rcpt(&w->env, "a@x.test", 8);
  it = work_add(w, 0, ST_PENDING, KIND_REMOTE, "", dest, "a@x.test");
  work_set_text(w, it, text, strlen(text));
  return it;
}

int main(void)
{
  char dir[] = "/tmp/test_stats.XXXXXX", route[32], num[NUM_ULONG], big[5000];
  struct work w;
  struct item *it;
  unsigned int i;
  if (!mkdtemp(dir) || chdir(dir) == -1 || mkdir("state", 0700) == -1 || mkdir("mess", 0700) == -1) return 1;

  stats_count(STATS_DELIVERED, "remote", "smtp:a.test", 100);
  stats_count(STATS_DELIVERED, "remote", "smtp:a.test", 50);
  stats_count(STATS_BOUNCED, "mailbox", "-", 7);
  stats_count(STATS_RECEIVED, "-", "-", 3);
  stats_save(1000, 1);
  T_OK("a forced save writes state/stats", replaced());
  T_OK("the route's row: 2 delivered, 150 bytes", strstr(slurp("stats"), "R\tremote\tsmtp:a.test\t0\t0\t2\t150\t0\t0\t0\t0\n") != 0);
  T_OK("a local kind's row", strstr(slurp("stats"), "R\tmailbox\t-\t0\t0\t0\t0\t0\t0\t1\t7\n") != 0);
  stats_save(1001, 0);
  T_OK("nothing changed: no write", !replaced());
  stats_count(STATS_DEFERRED, "remote", "smtp:a.test", 1);
  stats_save(1002, 0);
  T_OK("a change within QR_STATS_SECONDS waits", !replaced());
  T_OK("... and says when it is due", stats_next_save() == 1000 + QR_STATS_SECONDS);
  stats_save(1000 + QR_STATS_SECONDS, 0);
  T_OK("... then it is written", replaced());
  T_OK("nothing due after the save", stats_next_save() == 0);

  /* a restart: what is on disk is added to what is counted */
  T_OK("state/stats reads back", stats_load() == 0);
  stats_count(STATS_RECEIVED, "-", "-", 3);
  stats_save(2000, 1);
  T_OK("read back: the counts added", strstr(slurp("stats"), "R\tremote\tsmtp:a.test\t0\t0\t4\t300\t2\t2\t0\t0\n") != 0);
  T_OK("read back: received", strstr(slurp("stats"), "R\t-\t-\t3\t9\t") != 0);

  /* bounded: more routes than the table holds are counted as "other" */
  for (i = 0; i < 5000; i++) {
    strcpy(route, "smtp:r"); strcat(route, num_str(num, i));
    stats_count(STATS_DELIVERED, "remote", route, 1);
  }
  stats_save(3000, 1);
  T_OK("routes beyond the bound go to other", strstr(slurp("stats"), "R\tother\tother\t") != 0);

  /* damaged files are refused */
  if (put("stats", "R\tremote\tx\t1\n", 13, O_APPEND) == -1) return 1;
  T_OK("a short row is refused", stats_load() == -1);
  memset(big, 'x', sizeof big);
  if (put("stats", big, sizeof big, O_TRUNC) == -1) return 1;
  T_OK("an overlong line is refused", stats_load() == -1);

  /* the destination status */
  it = remote(&w, "smtp:b.test", "451 4.2.0 try later");
  hoststat_result(&w, it, DELIVERY_DEFER, 4000);
  work_free(&w);
  it = remote(&w, "smtp:c.test", "250 2.0.0 ok");
  hoststat_result(&w, it, DELIVERY_OK, 4001);
  work_free(&w);
  T_OK("a result marks the status changed", hoststat_dirty());
  hoststat_save();
  T_OK("state/hoststat: the deferral", strstr(slurp("hoststat"), "H\tsmtp:b.test\tdeferred\t4000\t451 4.2.0 try later\n") != 0);
  T_OK("state/hoststat: the success", strstr(slurp("hoststat"), "H\tsmtp:c.test\tok\t4001\t250 2.0.0 ok\n") != 0);
  T_OK("forget by domain: smtp:B.test", hoststat_forget("B.TEST") == 1);
  hoststat_save();
  T_OK("the forgotten one is not saved", strstr(slurp("hoststat"), "b.test") == 0 && strstr(slurp("hoststat"), "c.test") != 0);
  T_OK("forget every one", hoststat_forget(0) == 1);
  hoststat_save();
  T_STR("state/hoststat empty", "", slurp("hoststat"), strlen(slurp("hoststat")));
  if (put("hoststat", "H\tx\tok\tnotanumber\tt\n", 20, O_TRUNC) == -1) return 1;
  T_OK("a damaged state/hoststat is refused", hoststat_load() == -1);
  unlink("state/stats"); unlink("state/hoststat"); rmdir("state"); rmdir("mess");
  if (chdir("/") == -1 || rmdir(dir) == -1) T_OK("the test directory removed", 0);
  T_DONE();
}
