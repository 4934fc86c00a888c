/* job.c - deliverer runs.  A job is one local-deliver run (one item) or
 * one remote deliverer run (up to QR_RCPTS_PER_JOB items of one message
 * for one destination).  Jobs wait in a queue per destination (dest.c)
 * until the global limit (concurrency_limit) and their destination's
 * allow them to start, each destination in its turn starting its oldest
 * job.  Their result lines (lib/delivery.c) and exit code become a result
 * per item, handed up through the one call-back job_init was given. */
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
#include "delivery.h"
#include "qr.h"

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

static struct job **running;    /* started jobs; j->slot */
static unsigned int nrunning, arunning;
static struct job *byno[JOB_BUCKETS];   /* started jobs by number, chained by j->next */
static unsigned int nqueued;    /* jobs waiting */
static unsigned long last_no;   /* job numbers */
static int sock_local = -1, sock_remote = -1;   /* the spawn helpers */
static int helper_gone;         /* a spawn helper's socket is closed */
static int paused;              /* load shedding or shutdown */
static job_done_fn *done;       /* where results go (table.c) */
static unsigned long *polled;   /* job numbers of the fds job_poll_fds gave out */
static unsigned int apolled;

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
  j->started = clock_now();
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
  dest_turn(j->d);
}

/* find - the running job with number no */
static struct job *find(unsigned long no)
{
  struct job *j;
  for (j = byno[no & (JOB_BUCKETS - 1)]; j; j = j->next)
    if (j->no == no) return j;
  return 0;
}

void job_init(job_done_fn *fn, int l, int r)
{
  done = fn;
  sock_local = l;
  sock_remote = r;
}
void job_pause(int p) { paused = p; }
int job_paused(void) { return paused; }
unsigned int job_running(void) { return nrunning; }
unsigned int job_pending(void) { return nqueued; }

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
  dest_turn(d);
  return j;
}

/* struct joins - the remote jobs job_for made for one message, by
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
  for (i = (unsigned int)dest_hash(dest) & mask; t->slot[i]; i = (i + 1) & mask)
    if (!str_diff(t->slot[i]->d->key, dest)) break;
  if (t->slot[i] && t->slot[i]->n < t->slot[i]->cap) return t->slot[i];
  if ((j = new_job(m, 1, dest, QR_RCPTS_PER_JOB))) t->slot[i] = j;   /* a full one is replaced by the next */
  return j;
}

unsigned int job_for(struct msg *m, unsigned long now, int flush)
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
      if (hold_item(w, it)) continue;
      j = join_remote(&t, m, work_s(w, it->dest));
    } else if (work_local_kind(it->kind)) {
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
  if ((msgfd = state_body_open(j->m->id)) == -1) return -1;
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
  struct dest *d = dest_next();
  struct job *j = d->head;
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
  dest_turn(d);
}

void job_start(void)
{
  unsigned long limit = qr_cfg.concurrency_limit ? qr_cfg.concurrency_limit : 1;
  while (dest_waiting() && nrunning < limit && !paused && !helper_gone) {
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
    dest_turn(j->d);                   /* more waiting and room: its next turn */
  }
}

int job_helper_gone(void) { return helper_gone; }

/* abandon - drop the waiting jobs of d; each ends without results */
static void abandon(struct dest *d)
{
  while (d->head) {
    struct job *j = d->head;
    struct job_outcome o = { j->m, 0, 0, 0, 0, 0 };
    d->head = j->next;
    if (!d->head) d->tail = 0;
    nqueued--;
    free(j);
    done(&o);
  }
}

void job_abandon(void)
{
  dest_each(abandon);
}

void job_kill_overdue(void)
{
  unsigned long now = clock_now();
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

/* struct results - the result of each item of a job, as its lines and
 * its exit code tell */
struct results {
  int res[QR_RCPTS_PER_JOB];           /* DELIVERY_*; DELIVERY_NONE: no line yet */
  const char *text[QR_RCPTS_PER_JOB];
  size_t len[QR_RCPTS_PER_JOB];
};

/* apply_line - one result line to the first matching item without one */
static void apply_line(struct job *j, struct results *r, const char *l, size_t len, int cls)
{
  struct work *w = j->m->w;
  const char *text;
  size_t rlen, tlen, k;
  int res = delivery_parse(l, len, &rlen, &text, &tlen);
  if (!res) return;
  if (cls != EXIT_DONE) res = cls == EXIT_TEMP ? DELIVERY_DEFER : DELIVERY_FAIL;
  if (res == DELIVERY_PASSED && !j->remote) res = DELIVERY_OK;   /* only a next hop takes a DSN request */
  for (k = 0; k < j->n; k++) {
    const char *a = work_s(w, w->item[j->idx[k]].addr);
    if (r->res[k] || str_len(a) != rlen || byte_diff(a, rlen, l)) continue;
    r->res[k] = res; r->text[k] = text; r->len[k] = tlen;
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

/* job_end - the results of j's lines and exit code go up (done), then j
 * is gone */
static void job_end(struct job *j, int code)
{
  static struct results r;
  struct job_outcome o;
  int cls = exitcode_class(code);
  char text[200];
  size_t pos = 0, k;
  byte_zero(r.res, sizeof r.res);
  while (pos < j->output.len) {
    size_t n = byte_chr(j->output.s + pos, j->output.len - pos, '\n');
    if (pos + n < j->output.len) apply_line(j, &r, j->output.s + pos, n, cls);   /* whole lines only */
    pos += n + 1;
  }
  exit_text(text, code, cls);
  for (k = 0; k < j->n; k++)
    if (!r.res[k]) { r.res[k] = cls == EXIT_PERM ? DELIVERY_FAIL : DELIVERY_DEFER; r.text[k] = text; r.len[k] = str_len(text); }
  if (j->running) run_remove(j);
  if (j->out != -1) close(j->out);
  o.m = j->m; o.n = j->n; o.idx = j->idx; o.res = r.res; o.text = r.text; o.len = r.len;
  done(&o);
  stralloc_free(&j->output);
  free(j);
}

int job_answers(int sock)
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

void job_poll_fds(struct pollfd *p, unsigned int *n, unsigned int max)
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

void job_events(struct pollfd *p, unsigned int n)
{
  unsigned int i;
  for (i = 0; i < n; i++) {
    struct job *j;
    if (p[i].revents && (j = find(polled[i])) && j->out == p[i].fd) job_read(j);
  }
}
