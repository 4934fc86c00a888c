/* job.c - deliverer runs.  A job is one local-deliver run (one item) or
 * one remote deliverer run (up to QR_RCPTS_PER_JOB items of one message
 * for one destination).  Jobs wait in a queue per destination (a remote
 * destination string, or "local:USER") until the global limit
 * (concurrency_limit) and their destination's limit
 * (destination_concurrency_limit) allow them to start: destinations with
 * waiting jobs and room take turns, each starting its oldest job, so a
 * destination at its limit costs nothing while others go on.  Their output
 * lines and exit code become the items' results (DESIGN.md delivery
 * protocol). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "byte.h"
#include "case.h"
#include "str.h"
#include "address.h"
#include "exitcode.h"
#include "log.h"
#include "num.h"
#include "qr.h"
#include "job.h"

#define JOB_BUCKETS 1024        /* running jobs hashed by number (a power of two) */

struct dest;

/* struct job - one deliverer run */
struct job {
  unsigned long no;          /* its number in the spawn protocol */
  struct msg *m;
  int remote;
  struct dest *d;            /* its destination, for the limit */
  struct job *next;          /* queued: the next in d's queue; running: in its hash chain */
  int out;                   /* read end of its result pipe, -1 closed */
  stralloc output;
  int running;
  unsigned long started;
  unsigned int slot;         /* running: its index in running[] */
  unsigned int n, cap;       /* items, room for items */
  unsigned int idx[];        /* item indices in m->w */
};

/* struct dest - a destination: its running jobs and its queue */
struct dest {
  char *key;
  unsigned int running;      /* jobs started, not ended */
  struct job *head, *tail;   /* waiting jobs, oldest first */
  struct dest *next;         /* in the turn list */
  int listed;                /* in the turn list */
};

static struct dest **dt;        /* destinations by key (open addressing) */
static unsigned int dt_cap, dt_used;
static struct dest *turn_head, *turn_tail;   /* destinations that may start a job now */
static struct job **running;    /* started jobs; j->slot */
static unsigned int nrunning, arunning;
static struct job *byno[JOB_BUCKETS];   /* started jobs by number, chained by j->next */
static unsigned int nqueued;    /* jobs waiting */
static unsigned long last_no;   /* job numbers */
static int sock_local = -1, sock_remote = -1;   /* the spawn helpers */
static int helper_gone;         /* a spawn helper's socket is closed */
static int paused;              /* load shedding or shutdown */
static stralloc held;           /* held destinations, NUL-separated */
static unsigned long *polled;   /* job numbers of the fds sched_poll_fds gave out */
static unsigned int apolled;

/* key_hash - of a NUL-terminated key */
static unsigned long key_hash(const char *k)
{
  unsigned long h = 5381;
  while (*k) h = h * 33 + (unsigned char)*k++;
  return h;
}

/* idle - a destination nothing refers to (freed when the table grows) */
static int idle(const struct dest *d)
{
  return !d->running && !d->head && !d->listed;
}

/* dt_grow - room for one more key, dropping idle ones; -1 no memory */
static int dt_grow(void)
{
  struct dest **old = dt;
  unsigned int ocap = dt_cap, cap = dt_cap ? dt_cap : 64, i, j;
  if (2 * (dt_used + 1) <= dt_cap) return 0;
  while (2 * (dt_used + 1) > cap) cap *= 2;
  if (!(dt = calloc(cap, sizeof *dt))) { dt = old; return -1; }
  dt_cap = cap; dt_used = 0;
  for (j = 0; j < ocap; j++) {
    if (!old[j]) continue;
    if (idle(old[j])) { free(old[j]->key); free(old[j]); continue; }
    for (i = (unsigned int)key_hash(old[j]->key) & (cap - 1); dt[i]; i = (i + 1) & (cap - 1)) {}
    dt[i] = old[j];
    dt_used++;
  }
  free(old);
  return 0;
}

/* dest_get - the destination of key, made if new; 0 no memory */
static struct dest *dest_get(const char *key)
{
  unsigned int i, mask;
  struct dest *d;
  dt_grow();                           /* without memory the old table serves */
  if (!dt_cap) return 0;
  mask = dt_cap - 1;
  for (i = (unsigned int)key_hash(key) & mask; dt[i]; i = (i + 1) & mask)
    if (!str_diff(dt[i]->key, key)) return dt[i];
  if (dt_used + 2 > dt_cap || !(d = calloc(1, sizeof *d))) return 0;   /* a free slot ends every probe */
  if (!(d->key = malloc(str_len(key) + 1))) { free(d); return 0; }
  str_copy(d->key, key);
  dt[i] = d;
  dt_used++;
  return d;
}

static unsigned long dest_limit(void)
{
  return qr_cfg.destination_concurrency_limit ? qr_cfg.destination_concurrency_limit : 1;
}

/* take_turn - d joins the turn list when it has a waiting job and room */
static void take_turn(struct dest *d)
{
  if (d->listed || !d->head || d->running >= dest_limit()) return;
  d->listed = 1;
  d->next = 0;
  if (turn_tail) turn_tail->next = d; else turn_head = d;
  turn_tail = d;
}

/* run_add - j has started: counted, indexed by number; -1 no memory */
static int run_add(struct job *j)
{
  struct job **head = &byno[j->no & (JOB_BUCKETS - 1)];
  if (nrunning == arunning) {
    unsigned int a = arunning ? arunning * 2 : 64;
    struct job **p = realloc(running, a * sizeof *p);
    if (!p) return -1;
    running = p; arunning = a;
  }
  j->slot = nrunning;
  running[nrunning++] = j;
  j->next = *head;
  *head = j;
  j->running = 1;
  j->started = qr_now();
  j->d->running++;
  return 0;
}

/* run_remove - j is no longer running; its destination may take a turn */
static void run_remove(struct job *j)
{
  struct job **p = &byno[j->no & (JOB_BUCKETS - 1)];
  running[j->slot] = running[--nrunning];
  running[j->slot]->slot = j->slot;
  while (*p != j) p = &(*p)->next;
  *p = j->next;
  j->next = 0;
  j->running = 0;
  j->d->running--;
  take_turn(j->d);
}

/* find - the running job with number no */
static struct job *find(unsigned long no)
{
  struct job *j;
  for (j = byno[no & (JOB_BUCKETS - 1)]; j; j = j->next)
    if (j->no == no) return j;
  return 0;
}

void sched_set_helpers(int l, int r) { sock_local = l; sock_remote = r; }
void sched_pause(int p) { paused = p; }
int jobs_paused(void) { return paused; }
unsigned int sched_running(void) { return nrunning; }
unsigned int jobs_pending(void) { return nqueued; }

/* is_local_kind - items local-deliver handles */
static int is_local_kind(int kind)
{
  return kind == KIND_USER || kind == KIND_MAILBOX || kind == KIND_PROGRAM || kind == KIND_FILE;
}

/* domain_of - the domain part of an address ("" if none) */
static const char *domain_of(const char *addr)
{
  size_t len = str_len(addr), at = address_at(addr, len);
  return at < len ? addr + at + 1 : "";
}

int sched_dest_matches(const char *name, const char *dest, const char *addr)
{
  return !str_diff(name, dest) || !case_diffs(name, domain_of(addr));
}

int sched_held(const char *dest, const char *addr)
{
  size_t pos = 0;
  while (pos < held.len) {
    const char *h = held.s + pos;
    if (sched_dest_matches(h, dest, addr)) return 1;
    pos += str_len(h) + 1;
  }
  return 0;
}

void sched_held_reload(void)
{
  char buf[8192];
  int fd = open(SPOOL_STATE "/hold", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t r;
  size_t i, start = 0;
  held.len = 0;
  if (fd == -1) return;
  r = read(fd, buf, sizeof buf - 1);      /* bounded: a hold list is short */
  close(fd);
  if (r <= 0) return;
  for (i = 0; i < (size_t)r; i++)
    if (buf[i] == '\n') {
      if (i > start && (!stralloc_catb(&held, buf + start, i - start) || !stralloc_0(&held))) return;
      start = i + 1;
    }
}

/* new_job - a job for m waiting at the end of key's queue, with room for
 * cap items */
static struct job *new_job(struct msg *m, int remote, const char *key, unsigned int cap)
{
  struct dest *d = dest_get(key);
  struct job *j;
  if (!d || !(j = calloc(1, sizeof *j + cap * sizeof j->idx[0]))) return 0;
  j->no = ++last_no;
  j->m = m;
  j->remote = remote;
  j->d = d;
  j->out = -1;
  j->cap = cap;
  if (d->tail) d->tail->next = j; else d->head = j;
  d->tail = j;
  nqueued++;
  take_turn(d);
  return j;
}

/* struct joins - the remote jobs jobs_for made for one message, by
 * destination (open addressing over job pointers) */
struct joins { struct job **slot; unsigned int cap; };

/* join_remote - the job of m for dest that still has room, or a new one */
static struct job *join_remote(struct joins *t, struct msg *m, const char *dest)
{
  unsigned int i, mask = t->cap - 1;
  struct job *j;
  if (!t->slot) {                       /* no table (no memory): a job per item */
    return new_job(m, 1, dest, 1);
  }
  for (i = (unsigned int)key_hash(dest) & mask; t->slot[i]; i = (i + 1) & mask)
    if (!str_diff(t->slot[i]->d->key, dest)) break;
  if (t->slot[i] && t->slot[i]->n < t->slot[i]->cap) return t->slot[i];
  if ((j = new_job(m, 1, dest, QR_RCPTS_PER_JOB))) t->slot[i] = j;   /* a full one is replaced by the next */
  return j;
}

unsigned int jobs_for(struct msg *m, unsigned long now, int flush)
{
  struct work *w = m->w;
  struct joins t = { 0, 64 };
  unsigned int i, count = 0;
  stralloc key = { 0 };
  while (t.cap < 2 * w->n) t.cap *= 2;
  t.slot = calloc(t.cap, sizeof *t.slot);
  for (i = 0; i < w->n; i++) {
    struct item *it = &w->item[i];
    struct job *j;
    if (it->status != ST_PENDING || (it->next > now && !flush)) continue;
    if (it->kind == KIND_REMOTE) {
      if (sched_held(work_s(w, it->dest), work_s(w, it->addr))) continue;
      j = join_remote(&t, m, work_s(w, it->dest));
    } else if (is_local_kind(it->kind)) {
      if (!stralloc_copys(&key, "local:") || !stralloc_cats(&key, work_s(w, it->user)) || !stralloc_0(&key)) break;
      j = new_job(m, 0, key.s, 1);
    } else continue;
    if (!j) break;                 /* out of memory: the rest waits */
    if (j->n == 0) count++;
    j->idx[j->n++] = i;
  }
  free(t.slot);
  stralloc_free(&key);
  return count;
}

/* notify_put - a NOTIFY list as the next hop gets it: without SUCCESS
 * when dsn_success_notices is no (no receipt from behind us either;
 * what is left of SUCCESS alone is NEVER); -1 out of memory */
static int notify_put(stralloc *sa, const char *n)
{
  size_t start = sa->len;
  if (qr_cfg.dsn_success_notices) return stralloc_cats(sa, n) ? 0 : -1;
  while (*n) {
    size_t k = str_chr(n, ',');
    if (!(k == 7 && !case_diffb(n, 7, "SUCCESS"))
        && ((sa->len > start && !stralloc_cats(sa, ",")) || !stralloc_catb(sa, n, k))) return -1;
    n += k + (n[k] == ',');
  }
  return sa->len > start || stralloc_cats(sa, "NEVER") ? 0 : -1;
}

/* remote_words - the words of a remote job that carry envelope tags,
 * NUL-separated in sa: an option per message tag (-Eenvid -Rret -Bbody
 * -U), then each recipient with its DSN tags after TABs (Nnotify,
 * Otype;xtext), as remote-send(8) takes them; the number of options, or
 * -1 out of memory */
static int remote_words(const struct job *j, stralloc *sa)
{
  static const char tags[] = "ERBU";
  const struct work *w = j->m->w;
  unsigned int i, opts = 0;
  sa->len = 0;
  for (i = 0; tags[i]; i++) {
    const char *v = envelope_tag(&w->env, tags[i]);
    char o[2] = { '-', tags[i] };
    if (!v) continue;
    if (!stralloc_catb(sa, o, 2) || !stralloc_cats(sa, v) || !stralloc_0(sa)) return -1;
    opts++;
  }
  for (i = 0; i < j->n; i++) {
    const struct item *it = &w->item[j->idx[i]];
    const char *notify = envelope_rcpt_notify(&w->env, it->orig);
    const char *orcpt = envelope_rcpt_orcpt(&w->env, it->orig);
    if (!stralloc_cats(sa, work_s(w, it->addr))) return -1;
    if (notify && (!stralloc_cats(sa, "\tN") || notify_put(sa, notify) == -1)) return -1;
    if (orcpt && (!stralloc_cats(sa, "\tO") || !stralloc_cats(sa, orcpt))) return -1;
    if (!stralloc_0(sa)) return -1;
  }
  return (int)opts;
}

/* job_args - the request words: local: user id sender rcpt dest;
 * remote: "" id [options] dest sender rcpt... (remote_words); 0 out of memory */
static unsigned int job_args(struct job *j, char **argv)
{
  static stralloc words;
  struct work *w = j->m->w;
  const struct item *it = &w->item[j->idx[0]];
  unsigned int i, n = 0;
  int opts = j->remote ? remote_words(j, &words) : 0;
  size_t pos = 0;
  if (opts == -1) return 0;
  argv[n++] = (char *)(j->remote ? "" : work_s(w, it->user));
  argv[n++] = j->m->id;
  for (i = 0; i < (unsigned int)opts; i++) { argv[n++] = words.s + pos; pos += str_len(words.s + pos) + 1; }
  if (j->remote) argv[n++] = (char *)work_s(w, it->dest);
  argv[n++] = (char *)envelope_sender(&w->env);
  if (!j->remote) { argv[n++] = (char *)work_s(w, it->addr); argv[n++] = (char *)work_s(w, it->dest); return n; }
  for (i = 0; i < j->n; i++) { argv[n++] = words.s + pos; pos += str_len(words.s + pos) + 1; }
  return n;
}

/* job_send - hand j to its helper with the message and a result pipe */
static int job_send(struct job *j)
{
  char *argv[QR_RCPTS_PER_JOB + 12];
  unsigned int argc = job_args(j, argv);
  int p[2], msgfd, r, e;
  if (!argc) { errno = ENOMEM; return -1; }
  if ((msgfd = work_body_open(j->m->id)) == -1) return -1;
  if (pipe2(p, O_CLOEXEC) == -1) { e = errno; close(msgfd); errno = e; return -1; }
  r = spawn_send(j->remote ? sock_remote : sock_local, j->no, argv, argc, msgfd, p[1]);
  e = errno;
  close(msgfd);
  close(p[1]);
  if (r == -1) { close(p[0]); errno = e; return -1; }
  fcntl(p[0], F_SETFL, O_NONBLOCK);
  j->out = p[0];
  return 0;
}

static void job_end(struct job *j, int code);

/* next_waiting - take the oldest job of the destination whose turn it is */
static struct job *next_waiting(void)
{
  struct dest *d = turn_head;
  struct job *j = d->head;
  turn_head = d->next;
  if (!turn_head) turn_tail = 0;
  d->listed = 0;
  d->head = j->next;
  if (!d->head) d->tail = 0;
  j->next = 0;
  nqueued--;
  return j;
}

/* put_back - j waits again at the front of its queue */
static void put_back(struct job *j)
{
  struct dest *d = j->d;
  j->next = d->head;
  d->head = j;
  if (!d->tail) d->tail = j;
  nqueued++;
  take_turn(d);
}

void jobs_start(void)
{
  unsigned long limit = qr_cfg.concurrency_limit ? qr_cfg.concurrency_limit : 1;
  while (turn_head && nrunning < limit && !paused && !helper_gone) {
    struct job *j = next_waiting();
    if (run_add(j) == -1) { put_back(j); return; }   /* no memory: later */
    if (job_send(j) == -1) {
      if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) {
        /* the helper is gone: not this delivery's failure (no try is
         * counted); the loop ends the run (loop.c) */
        run_remove(j);
        put_back(j);
        helper_gone = 1;
        return;
      }
      log_event(j->m->id, "status", "deferred", "reason", "unable to start a deliverer", (char *)0);
      job_end(j, EX_OSERR);
      continue;
    }
    take_turn(j->d);                   /* more waiting and room: its next turn */
  }
}

int sched_helper_gone(void) { return helper_gone; }

void jobs_abandon(void)
{
  unsigned int i;
  for (i = 0; i < dt_cap; i++) {
    struct dest *d = dt[i];
    while (d && d->head) {
      struct job *j = d->head;
      struct msg *m = j->m;
      d->head = j->next;
      if (!d->head) d->tail = 0;
      nqueued--;
      free(j);
      sched_job_done(m);
    }
    if (d) d->listed = 0;
  }
  turn_head = turn_tail = 0;
}

void sched_kill_overdue(void)
{
  unsigned long now = qr_now();
  unsigned int i;
  for (i = 0; i < nrunning; i++)
    if (now > running[i]->started + QR_JOB_SECONDS) {
      log_event(running[i]->m->id, "status", "killing", "reason", "deliverer ran too long", (char *)0);
      spawn_kill(running[i]->remote ? sock_remote : sock_local, running[i]->no);
    }
}

/* job_read - what the deliverer wrote so far, bounded; 0 more to come,
 * -1 end of output */
static int job_read(struct job *j)
{
  char buf[4096];
  for (;;) {
    ssize_t r = read(j->out, buf, sizeof buf);
    if (r == -1 && errno == EINTR) continue;
    if (r == -1 && errno == EAGAIN) return 0;
    if (r <= 0) { close(j->out); j->out = -1; return -1; }
    if (j->output.len + (size_t)r <= QR_OUTPUT_MAX && !stralloc_catb(&j->output, buf, (size_t)r)) return 0;
  }
}

/* backoff - seconds before try number tries+1 */
static unsigned long backoff(unsigned long tries)
{
  unsigned long d = qr_cfg.retry_min ? qr_cfg.retry_min : 1;
  while (tries-- > 1 && d < qr_cfg.retry_max) d *= 2;
  return d < qr_cfg.retry_max ? d : qr_cfg.retry_max;
}

/* log_result - the one line per delivery attempt */
static void log_result(struct work *w, const char *id, const struct item *it, const char *status)
{
  char to[ADDR_MAX + 3], delay[NUM_ULONG], tries[NUM_ULONG];
  stralloc relay = { 0 };
  unsigned long now = qr_now();
  str_copy(to, "<"); str_copy(to + 1, work_s(w, it->addr)); str_copy(to + str_len(to), ">");
  num_str(delay, now > w->arrival ? now - w->arrival : 0);
  num_str(tries, it->tries);
  if (it->kind == KIND_REMOTE) stralloc_copys(&relay, work_s(w, it->dest));
  else if (is_local_kind(it->kind)) { stralloc_copys(&relay, "local:"); stralloc_cats(&relay, work_s(w, it->user)); }
  else stralloc_copys(&relay, "none");
  if (!stralloc_0(&relay)) relay.s = "?";
  log_event(id, "to", to, "relay", relay.s, "delay", delay, "tries", tries, "status", status,
            "reply", work_s(w, it->text), (char *)0);
  if (relay.a) stralloc_free(&relay);
}

void job_result(struct work *w, const char *id, struct item *it, int res, const char *text, size_t len)
{
  unsigned long now = qr_now();
  char buf[QR_TEXT_MAX];
  it->tries++;
  if (res == 'o' || res == 'p') {
    /* passed: the next hop took the DSN request and reports the delivery
     * itself; a "relayed" notice from us would be a second receipt */
    it->status = res == 'o' && dsn_success_wanted(w, it) ? ST_DONE_NOTIFY : ST_DONE;
    work_set_text(w, it, text, len);
    log_result(w, id, it, "sent");
    return;
  }
  if (res == 'd' && now >= w->arrival + qr_cfg.queue_lifetime) {
    size_t n = str_copy(buf, "4.4.7 delivery time expired; last error: ");
    if (len > sizeof buf - n) len = sizeof buf - n;
    byte_copy(buf + n, len, text);
    text = buf; len += n;
    res = 'f';
  }
  work_set_text(w, it, text, len);
  if (res == 'f') { it->status = ST_FAILED; it->next = 0; log_result(w, id, it, "bounced"); return; }
  it->next = now + backoff(it->tries);
  log_result(w, id, it, "deferred");
}

/* line_result - "ok", "passed", "defer", "fail" as 'o', 'p', 'd', 'f'; 0 unknown */
static int line_result(const char *s, size_t len)
{
  if (len == 2 && !byte_diff(s, 2, "ok")) return 'o';
  if (len == 6 && !byte_diff(s, 6, "passed")) return 'p';
  if (len == 5 && !byte_diff(s, 5, "defer")) return 'd';
  if (len == 4 && !byte_diff(s, 4, "fail")) return 'f';
  return 0;
}

/* apply_line - one "rcpt TAB result TAB text" line to the first matching item */
static void apply_line(struct job *j, char *got, const char *l, size_t len, int cls)
{
  struct work *w = j->m->w;
  size_t t1 = byte_chr(l, len, '\t'), t2, k;
  int res;
  if (t1 == len) return;
  t2 = t1 + 1 + byte_chr(l + t1 + 1, len - t1 - 1, '\t');
  if (!(res = line_result(l + t1 + 1, t2 - t1 - 1))) return;
  if (cls != EXIT_DONE) res = cls == EXIT_TEMP ? 'd' : 'f';
  if (res == 'p' && !j->remote) res = 'o';      /* only a next hop takes a DSN request */
  for (k = 0; k < j->n; k++) {
    struct item *it = &w->item[j->idx[k]];
    const char *a = work_s(w, it->addr);
    if (got[k] || str_len(a) != t1 || byte_diff(a, t1, l)) continue;
    got[k] = 1;
    job_result(w, j->m->id, it, res, t2 < len ? l + t2 + 1 : "", t2 < len ? len - t2 - 1 : 0);
    return;
  }
}

/* exit_text - "4.3.0 temporary failure (deliverer exit 75)" */
static void exit_text(char *out, int code, int cls)
{
  char num[NUM_ULONG];
  size_t n = str_copy(out, cls == EXIT_DONE ? "4.4.0" : exitcode_status(code));
  n += str_copy(out + n, cls == EXIT_DONE ? " no result from the deliverer" : " ");
  if (cls != EXIT_DONE) n += str_copy(out + n, exitcode_text(code));
  n += str_copy(out + n, " (deliverer exit ");
  n += str_copy(out + n, num_str(num, (unsigned long)code));
  str_copy(out + n, ")");
}

static void job_end(struct job *j, int code)
{
  struct work *w = j->m->w;
  struct msg *m = j->m;
  int cls = exitcode_class(code);
  char got[QR_RCPTS_PER_JOB] = { 0 }, text[200];
  size_t pos = 0, k;
  while (pos < j->output.len) {
    size_t n = byte_chr(j->output.s + pos, j->output.len - pos, '\n');
    if (pos + n < j->output.len) apply_line(j, got, j->output.s + pos, n, cls);   /* whole lines only */
    pos += n + 1;
  }
  exit_text(text, code, cls);
  for (k = 0; k < j->n; k++)
    if (!got[k]) job_result(w, m->id, &w->item[j->idx[k]], cls == EXIT_PERM ? 'f' : 'd', text, str_len(text));
  if (j->running) run_remove(j);
  if (j->out != -1) close(j->out);
  stralloc_free(&j->output);
  free(j);
  sched_job_done(m);
}

int sched_answers(int sock)
{
  unsigned long no;
  int code;
  struct job *j;
  int r = spawn_read_answer(sock, &no, &code);
  if (r == 0 || (r == -1 && errno != EPROTO && errno != EAGAIN)) return -1;   /* the helper is gone */
  if (r != 1) return 0;
  if (!(j = find(no))) return 0;
  if (j->out != -1) job_read(j);       /* what is left in the pipe */
  job_end(j, code);
  return 0;
}

void sched_poll_fds(struct pollfd *p, unsigned int *n, unsigned int max)
{
  unsigned int i, base = *n;
  if (apolled < max) {
    unsigned long *q = realloc(polled, max * sizeof *q);
    if (!q) return;                    /* not polled now: the answer reads their output */
    polled = q; apolled = max;
  }
  for (i = 0; i < nrunning && *n < max; i++)
    if (running[i]->out != -1) {
      p[*n].fd = running[i]->out;
      p[*n].events = POLLIN;
      p[*n].revents = 0;
      polled[*n - base] = running[i]->no;
      (*n)++;
    }
}

void sched_events(struct pollfd *p, unsigned int n)
{
  unsigned int i;
  for (i = 0; i < n; i++) {
    struct job *j;
    if (p[i].revents && (j = find(polled[i])) && j->out == p[i].fd) job_read(j);
  }
}
