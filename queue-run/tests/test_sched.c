/* test_sched.c - the scheduler without main.c, in a spool made in a
 * temporary directory, with the spawn helpers replaced by this test on
 * the other end of their sockets: the back-off of a deferred item and the
 * expiry at queue_lifetime; the hold list (a destination, a recipient
 * domain, case, items of held destinations get no job); routing through
 * the routes, aliases and local-domains maps (domain, .parent, the "."
 * default, error:, relayhost); per-destination concurrency (jobs for one
 * destination wait while others start, and the next starts when one
 * ends), with messages of both spool layouts (one file, and the older
 * envelope plus mess/), each deliverer's fd reading as the body. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include "../../lib/tests/t.h"
#include "cdb_make.h"
#include "delivery.h"
#include "str.h"
#include "log.h"
#include "wbuf.h"
#include "../qr.h"

struct config qr_cfg;
int qr_once;

/* clock_now - the test's clock instead of clock.c's: the real time, or
 * fake when set */
static unsigned long fake;
unsigned long clock_now(void)
{
  return fake ? fake : (unsigned long)time(0);
}

static char tmpl[] = "/tmp/test_sched.XXXXXX";

/* spool - a fresh spool in a temporary directory, the current directory */
static void spool(void)
{
  static const char *const dirs[] = { "queue", "mess", "state", "new", "tmp", "corrupt", "maps" };
  unsigned int i;
  if (!mkdtemp(tmpl) || chdir(tmpl) == -1) abort();
  for (i = 0; i < sizeof dirs / sizeof dirs[0]; i++) if (mkdir(dirs[i], 0700) == -1) abort();
  printf("# spool in %s\n", tmpl);
}

/* settings - the configuration of every test here */
static void settings(void)
{
  config_defaults(&qr_cfg);
  qr_cfg.hostname = qr_cfg.domain = "mx.test";
  qr_cfg.map_dir = "maps";
  qr_cfg.spool = ".";
  qr_cfg.log = LOGTO_STDERR;
  qr_cfg.concurrency_limit = 10;
  qr_cfg.destination_concurrency_limit = 2;
  qr_cfg.retry_min = 300;
  qr_cfg.retry_max = 4000;
  qr_cfg.queue_lifetime = 5 * 86400;
}

/* cdb - the map maps/name.cdb from NUL-separated key, value pairs */
static void cdb(const char *name, const char *const *kv)
{
  struct cdb_make cm;
  char fn[256];
  int fd;
  snprintf(fn, sizeof fn, "maps/%s.cdb", name);
  if ((fd = open(fn, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1 || cdb_make_start(&cm, fd) == -1) abort();
  for (; *kv; kv += 2)
    if (cdb_make_add(&cm, (const unsigned char *)kv[0], strlen(kv[0]), (const unsigned char *)kv[1], strlen(kv[1])) == -1) abort();
  if (cdb_make_finish(&cm) == -1) abort();
  close(fd);
  while (cm.head) { struct cdb_hplist *x = cm.head; cm.head = x->next; free(x); }   /* libowfat keeps them */
  free(cm.split);
}

/* file - text as the file fn */
static void file(const char *fn, const char *text)
{
  int fd = open(fn, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) abort();
  close(fd);
}

/* message_as - queue/<id> for sender and one recipient: one file (head,
 * envelope, hole, body at 4096) when onefile, else the older layout's
 * envelope file and mess/<id> */
static void message_as(const char *id, const char *rcpt, int onefile)
{
  struct envelope e;
  char space[4096], fn[256], head[64];
  buffer b;
  int fd;
  off_t end;
  envelope_init(&e);
  if (envelope_set_sender(&e, "s@mx.test", 9) || envelope_add_rcpt(&e, rcpt, strlen(rcpt))
      || envelope_stamp(&e, 0, clock_now())) abort();
  snprintf(fn, sizeof fn, "queue/%s", id);
  if ((fd = open(fn, O_WRONLY | O_CREAT | O_TRUNC, 0644)) == -1) abort();
  if (onefile && lseek(fd, SPOOL_HEAD_LEN, SEEK_SET) == -1) abort();
  wbuf_init(&b, fd, space, sizeof space);
  if (envelope_write(&b, &e) == -1 || wbuf_flush(&b) == -1) abort();
  if (onefile) {
    if ((end = lseek(fd, 0, SEEK_CUR)) == -1 || end > 4096) abort();
    snprintf(head, sizeof head, "postern-message 1 %010lu %010lu\n", 4096UL, (unsigned long)end - SPOOL_HEAD_LEN);
    if (pwrite(fd, head, SPOOL_HEAD_LEN, 0) != SPOOL_HEAD_LEN
        || pwrite(fd, "Subject: test\n\nbody\n", 20, 4096) != 20) abort();
  }
  close(fd);
  envelope_free(&e);
  if (onefile) return;
  snprintf(fn, sizeof fn, "mess/%s", id);
  file(fn, "Subject: test\n\nbody\n");
}

/* one_item - a work with one remote item for a@far.test */
static struct item *one_item(struct work *w)
{
  work_init(w);
  envelope_set_sender(&w->env, "s@mx.test", 9);
  envelope_add_rcpt(&w->env, "a@far.test", 10);
  w->arrival = clock_now();
  return work_add(w, 0, ST_PENDING, KIND_REMOTE, 0, "smtp:far.test", "a@far.test");
}

/* backoff - each deferral doubles the wait from retry_min up to retry_max;
 * a deferral after queue_lifetime is a failure with 4.4.7 */
static void backoff(void)
{
  static const unsigned long want[] = { 300, 600, 1200, 2400, 4000, 4000 };
  struct work w;
  struct item *it = one_item(&w);
  unsigned int i, good = 1;
  for (i = 0; i < sizeof want / sizeof want[0]; i++) {
    unsigned long now = clock_now();
    message_result(&w, "1700000000.000001.1", it, DELIVERY_DEFER, "4.4.1 no answer", 15);
    if (it->status != ST_PENDING || it->tries != i + 1 || it->next < now + want[i] || it->next > clock_now() + want[i]) {
      good = 0;
      printf("# try %u: status %c next in %lu, want %lu\n", i + 1, it->status, it->next - now, want[i]);
    }
  }
  T_OK("back-off: retry_min doubled each try, capped at retry_max", good);
  message_result(&w, "1700000000.000001.1", it, DELIVERY_OK, "250 ok", 6);
  T_OK("back-off: a delivery ends it", it->status == ST_DONE);
  work_free(&w);

  it = one_item(&w);
  w.arrival = clock_now() - qr_cfg.queue_lifetime;
  message_result(&w, "1700000000.000001.1", it, DELIVERY_DEFER, "4.4.1 no answer", 15);
  T_OK("queue_lifetime: a deferral after it fails", it->status == ST_FAILED);
  T_OK("queue_lifetime: 4.4.7 and the last error", !strcmp(work_s(&w, it->text), "4.4.7 delivery time expired; last error: 4.4.1 no answer"));
  work_free(&w);

  it = one_item(&w);
  message_result(&w, "1700000000.000001.1", it, DELIVERY_FAIL, "5.1.1 no such user", 18);
  T_OK("a permanent failure: failed at once", it->status == ST_FAILED && it->tries == 1);
  work_free(&w);
}

/* holds - state/hold names destinations and recipient domains */
static void holds(void)
{
  file("state/hold", "smtp:[10.0.0.1]\nheld.test\n");
  hold_reload();
  T_OK("hold: a destination", hold_covers("smtp:[10.0.0.1]", "a@far.test"));
  T_OK("hold: a recipient domain, ASCII case ignored", hold_covers("smtp:mx.held.test", "a@HELD.test"));
  T_OK("hold: a subdomain is another domain", !hold_covers("smtp:sub.held.test", "a@sub.held.test"));
  T_OK("hold: others go", !hold_covers("smtp:far.test", "a@far.test"));
  unlink("state/hold");
  hold_reload();
  T_OK("hold: released", !hold_covers("smtp:[10.0.0.1]", "a@far.test"));
}

/* routed - route addr; the kind and destination of its one item */
static int routed(struct router *r, const char *addr, int kind, const char *dest)
{
  struct work w;
  int good;
  work_init(&w);
  envelope_add_rcpt(&w.env, addr, strlen(addr));
  good = route_rcpt(r, &w, 0, addr) == 0 && w.n == 1 && w.item[0].kind == kind
      && !strcmp(work_s(&w, w.item[0].dest), dest);
  if (!good && w.n) printf("# %s: kind %c dest %s text %s\n", addr, w.item[0].kind, work_s(&w, w.item[0].dest), work_s(&w, w.item[0].text));
  work_free(&w);
  return good;
}

/* routing - the routes map's domain, .parent and default entries, error:,
 * aliases of local domains, and relayhost when no route matches */
static void routing(void)
{
  static const char *const routes[] = {
    "far.test", "smtp:[10.0.0.1]", ".sub.test", "smtp:relay.sub.test:2525",
    "gone.test", "error:5.1.2 that domain is gone", "later.test", "error:4.4.3 try later", 0 };
  static const char *const routes_default[] = { ".", "smtp:gateway.test", 0 };
  static const char *const locals[] = { "mx.test", "", "other.mx.test", "", 0 };
  static const char *const aliases[] = { "info", "a@far.test", 0 };
  static struct router r;    /* zeroed, as route_open wants it */
  cdb("routes", routes);
  cdb("local-domains", locals);
  cdb("aliases", aliases);
  route_open(&r, &qr_cfg);
  T_OK("routes: a domain", routed(&r, "a@far.test", KIND_REMOTE, "smtp:[10.0.0.1]"));
  T_OK("routes: a .parent entry covers subdomains", routed(&r, "a@x.sub.test", KIND_REMOTE, "smtp:relay.sub.test:2525"));
  T_OK("routes: error: 5xx fails", routed(&r, "a@gone.test", KIND_ERROR, ""));
  T_OK("routes: error: 4xx routes again later", routed(&r, "a@later.test", KIND_ROUTE, ""));
  T_OK("routes: no entry: MX of the domain", routed(&r, "a@elsewhere.test", KIND_REMOTE, "smtp:elsewhere.test"));
  T_OK("aliases: a local name to a remote address", routed(&r, "info@mx.test", KIND_REMOTE, "smtp:[10.0.0.1]"));
  T_OK("aliases: every local domain", routed(&r, "info@other.mx.test", KIND_REMOTE, "smtp:[10.0.0.1]"));
  qr_cfg.relayhost = "[smart.test]";
  T_OK("relayhost: when no route matches", routed(&r, "a@elsewhere.test", KIND_REMOTE, "smtp:[smart.test]"));
  T_OK("relayhost: a route still wins", routed(&r, "a@far.test", KIND_REMOTE, "smtp:[10.0.0.1]"));
  cdb("routes", routes_default);
  route_refresh(&r);
  T_OK("routes: the . default comes before relayhost", routed(&r, "a@elsewhere.test", KIND_REMOTE, "smtp:gateway.test"));
  qr_cfg.relayhost = "";
  unlink("maps/routes.cdb"); unlink("maps/aliases.cdb"); unlink("maps/local-domains.cdb");
}

/* struct helper - this test as remote-spawn: the requests it got */
struct helper {
  int sock;                  /* our end */
  unsigned long job[16];
  int out[16];               /* each job's result pipe */
  char rcpt[16][64];
  unsigned int n;
  unsigned int badbody;      /* requests whose fd did not read as the body */
};

/* requests - read every request waiting on the remote helper's socket */
static void requests(struct helper *h)
{
  static char buf[1 << 17];
  struct spawn_req r;
  while (h->n < 16 && spawn_recv(h->sock, buf, sizeof buf, &r) == 1) {
    if (r.kind != 'R') continue;
    h->job[h->n] = r.job;
    h->out[h->n] = r.outfd;
    snprintf(h->rcpt[h->n], sizeof h->rcpt[h->n], "%s", r.argv[r.argc - 1]);
    {                        /* the deliverer reads from the fd's offset on */
      char body[64];
      ssize_t n = read(r.msgfd, body, sizeof body);
      if (n != 20 || memcmp(body, "Subject: test\n\nbody\n", 20)) h->badbody++;
    }
    close(r.msgfd);
    h->n++;
  }
}

/* count - requests for recipients in domain */
static unsigned int count(const struct helper *h, unsigned int from, const char *domain)
{
  unsigned int n = 0;
  for (; from < h->n; from++) if (strstr(h->rcpt[from], domain)) n++;
  return n;
}

/* concurrency - five messages for one destination and one for another:
 * destination_concurrency_limit (2) jobs for the first start, the other
 * destination is not held up, and a third starts when one ends */
static void concurrency(void)
{
  struct helper h = { 0 };
  int l[2], r[2];
  unsigned int i;
  char id[64];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, l) == -1
      || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, r) == -1) abort();
  fcntl(r[1], F_SETFL, O_NONBLOCK);
  h.sock = r[1];
  table_open(l[0], r[0]);
  for (i = 0; i < 5; i++) {
    snprintf(id, sizeof id, "1700000000.00000%u.1", i + 1);
    message_as(id, i == 4 ? "b@near.test" : "a@far.test", i % 2);
    if (!table_add(id, 0)) abort();
  }
  snprintf(id, sizeof id, "1700000000.000009.1");
  message_as(id, "c@far.test", 1);
  if (!table_add(id, 0)) abort();
  table_tick();
  requests(&h);
  T_OK("concurrency: two jobs for far.test", count(&h, 0, "far.test") == 2);
  T_OK("concurrency: near.test is not held up", count(&h, 0, "near.test") == 1);
  T_OK("concurrency: the other three wait", job_pending() == 3 && job_running() == 3);
  for (i = 0; i < h.n && !strstr(h.rcpt[i], "far.test"); i++) {}
  if (i < h.n) {
    char line[128];
    snprintf(line, sizeof line, "%s\tok\t250 2.0.0 accepted\n", h.rcpt[i]);
    if (write(h.out[i], line, strlen(line)) != (ssize_t)strlen(line)) abort();
    close(h.out[i]);
    spawn_answer(h.sock, h.job[i], 0);
    job_answers(r[0]);
  }
  T_OK("concurrency: a delivered message is done", job_running() == 2 && table_count() == 5);
  table_tick();
  i = h.n;
  requests(&h);
  T_OK("concurrency: the next far.test job starts when one ends", count(&h, i, "far.test") == 1 && h.n == i + 1);
  T_OK("concurrency: two wait still", job_pending() == 2);
  T_OK("concurrency: every deliverer's fd reads as the body, one-file messages and older ones",
       h.badbody == 0 && h.n == 4);
}

/* bounce_rate - bounce_rate_limit notices an hour to one address */
static void bounce_rate(void)
{
  unsigned int i, sent = 0;
  struct stat st;
  fake = 1800000000;
  qr_cfg.bounce_rate_limit = 3;
  for (i = 0; i < 5; i++) sent += rate_ok("a@far.test");
  T_OK("bounce rate: the limit holds for an address", sent == 3);
  T_OK("bounce rate: the address's case is ignored", !rate_ok("A@FAR.test"));
  T_OK("bounce rate: other addresses go", rate_ok("b@far.test"));
  T_OK("bounce rate: counted in state/bounce-rate", stat("state/bounce-rate", &st) == 0 && st.st_size > 0);
  fake += 3600;
  T_OK("bounce rate: a new hour starts afresh", rate_ok("a@far.test"));
  qr_cfg.bounce_rate_limit = 0;
  for (i = 0, sent = 0; i < 5; i++) sent += rate_ok("a@far.test");
  T_OK("bounce rate: 0 is no limit", sent == 5);
  fake = 0;
}

int main(void)
{
  spool();
  settings();
  log_init("test_sched", LOGTO_STDERR);
  backoff();
  holds();
  routing();
  concurrency();
  bounce_rate();
  {
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    if (chdir("/") == -1 || system(cmd) != 0) printf("# left %s behind\n", tmpl);
  }
  T_DONE();
}
