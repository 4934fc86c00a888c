/* job.c - deliverer runs.  A job is one local-deliver run (one item) or
 * one remote deliverer run (up to QR_RCPTS_PER_JOB items of one message
 * for one destination).  Jobs wait in a queue until the global limit
 * (concurrency_limit) and their destination's limit
 * (destination_concurrency_limit; the destination of a local delivery is
 * its user) allow them to start; their output lines and exit code become
 * the items' results (DESIGN.md delivery protocol). */
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

/* struct job - one deliverer run */
struct job {
  unsigned long no;          /* its number in the spawn protocol */
  struct msg *m;
  int remote;
  stralloc key;              /* destination, for the limit */
  unsigned int idx[QR_RCPTS_PER_JOB];   /* item indices in m->w */
  unsigned int n;
  int out;                   /* read end of its result pipe, -1 closed */
  stralloc output;
  int running;
  unsigned long started;
};

static struct job **jobs;       /* queued and running, in order */
static unsigned int njobs, ajobs, nrunning;
static unsigned long last_no;   /* job numbers */
static int sock_local = -1, sock_remote = -1;   /* the spawn helpers */
static int helper_gone;         /* a spawn helper's socket is closed */
static int paused;              /* load shedding or shutdown */
static stralloc held;           /* held destinations, NUL-separated */

/* struct dcount - running jobs per destination key (open addressing;
 * keys are never removed, a count just drops to 0) */
struct dcount { char *key; unsigned int n; };
static struct dcount *dc;       /* the table */
static unsigned int dc_cap, dc_used;

/* key_hash - of a NUL-terminated key */
static unsigned long key_hash(const char *k)
{
  unsigned long h = 5381;
  while (*k) h = h * 33 + (unsigned char)*k++;
  return h;
}

/* dc_slot - the slot of key (inserted, or 0 without memory) */
static struct dcount *dc_slot(const char *key, int insert)
{
  unsigned int i, mask;
  if (insert && 2 * (dc_used + 1) > dc_cap) {       /* grow, dropping idle keys */
    struct dcount *old = dc;
    unsigned int ocap = dc_cap, cap = dc_cap ? dc_cap : 64, j;
    while (2 * (dc_used + 1) > cap) cap *= 2;
    if (!(dc = calloc(cap, sizeof *dc))) { dc = old; return 0; }
    dc_cap = cap; dc_used = 0;
    for (j = 0; j < ocap; j++) {
      if (!old[j].key) continue;
      if (!old[j].n) { free(old[j].key); continue; }
      for (i = (unsigned int)key_hash(old[j].key) & (cap - 1); dc[i].key; i = (i + 1) & (cap - 1)) {}
      dc[i] = old[j];
      dc_used++;
    }
    free(old);
  }
  if (!dc_cap) return 0;
  mask = dc_cap - 1;
  for (i = (unsigned int)key_hash(key) & mask; dc[i].key; i = (i + 1) & mask)
    if (!str_diff(dc[i].key, key)) return &dc[i];
  if (!insert) return 0;
  if (!(dc[i].key = malloc(str_len(key) + 1))) return 0;
  str_copy(dc[i].key, key);
  dc[i].n = 0;
  dc_used++;
  return &dc[i];
}

void sched_set_helpers(int l, int r) { sock_local = l; sock_remote = r; }
void sched_pause(int p) { paused = p; }
int jobs_paused(void) { return paused; }
unsigned int sched_running(void) { return nrunning; }
unsigned int jobs_pending(void) { return njobs - nrunning; }

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

int sched_held(const char *dest, const char *addr)
{
  size_t pos = 0;
  const char *dom = domain_of(addr);
  while (pos < held.len) {
    const char *h = held.s + pos;
    if (!str_diff(h, dest) || !case_diffs(h, dom)) return 1;
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

/* new_job - a queued job for m */
static struct job *new_job(struct msg *m, int remote, const char *key)
{
  struct job *j;
  if (njobs == ajobs) {
    unsigned int a = ajobs ? ajobs * 2 : 64;
    struct job **p = realloc(jobs, a * sizeof *p);
    if (!p) return 0;
    jobs = p; ajobs = a;
  }
  if (!(j = calloc(1, sizeof *j))) return 0;
  if (!stralloc_copys(&j->key, key) || !stralloc_0(&j->key)) { free(j); return 0; }
  j->no = ++last_no;
  j->m = m;
  j->remote = remote;
  j->out = -1;
  jobs[njobs++] = j;
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
    return new_job(m, 1, dest);
  }
  for (i = (unsigned int)key_hash(dest) & mask; t->slot[i]; i = (i + 1) & mask)
    if (!str_diff(t->slot[i]->key.s, dest)) break;
  if (t->slot[i] && t->slot[i]->n < QR_RCPTS_PER_JOB) return t->slot[i];
  if ((j = new_job(m, 1, dest))) t->slot[i] = j;   /* a full one is replaced by the next */
  return j;
}

unsigned int jobs_for(struct msg *m, unsigned long now, int flush_all)
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
    if (it->status != ST_PENDING || (it->next > now && !flush_all)) continue;
    if (it->kind == KIND_REMOTE) {
      if (sched_held(work_s(w, it->dest), work_s(w, it->addr))) continue;
      j = join_remote(&t, m, work_s(w, it->dest));
    } else if (is_local_kind(it->kind)) {
      if (!stralloc_copys(&key, "local:") || !stralloc_cats(&key, work_s(w, it->user)) || !stralloc_0(&key)) break;
      j = new_job(m, 0, key.s);
    } else continue;
    if (!j) break;                 /* out of memory: the rest waits */
    if (j->n == 0) count++;
    j->idx[j->n++] = i;
    it->job = j->no;
  }
  free(t.slot);
  stralloc_free(&key);
  return count;
}

/* dest_running - running jobs for key */
static unsigned int dest_running(const char *key)
{
  struct dcount *c = dc_slot(key, 0);
  return c ? c->n : 0;
}

/* dest_count - one more (or one fewer) running job for key */
static void dest_count(const char *key, int up)
{
  struct dcount *c = dc_slot(key, up);
  if (c && up) c->n++;
  else if (c && c->n) c->n--;
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
    if (notify && (!stralloc_cats(sa, "\tN") || !stralloc_cats(sa, notify))) return -1;
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
  static stralloc fn;
  char *argv[QR_RCPTS_PER_JOB + 12];
  unsigned int argc = job_args(j, argv);
  int p[2], msgfd, r, e;
  if (!argc) { errno = ENOMEM; return -1; }
  if (!spool_path(&fn, SPOOL_MESS, j->m->id)) return -1;
  if ((msgfd = open(fn.s, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) == -1) return -1;
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

void jobs_start(void)
{
  unsigned long limit = qr_cfg.concurrency_limit ? qr_cfg.concurrency_limit : 1;
  unsigned long dlimit = qr_cfg.destination_concurrency_limit ? qr_cfg.destination_concurrency_limit : 1;
  unsigned int i;
  for (i = 0; i < njobs && nrunning < limit && !paused && !helper_gone; i++) {
    struct job *j = jobs[i];
    if (j->running || dest_running(j->key.s) >= dlimit) continue;
    j->running = 1;
    j->started = qr_now();
    nrunning++;
    dest_count(j->key.s, 1);
    if (job_send(j) == -1) {
      if (errno == EPIPE || errno == ECONNRESET || errno == ENOTCONN) {
        /* the helper is gone: not this delivery's failure (no try is
         * counted); the loop ends the run (loop.c) */
        j->running = 0;
        nrunning--;
        dest_count(j->key.s, -1);
        helper_gone = 1;
        return;
      }
      log_event(j->m->id, "status", "deferred", "reason", "unable to start a deliverer", (char *)0);
      job_end(j, EX_OSERR);
      i--;                       /* job_end removed jobs[i] */
    }
  }
}

int sched_helper_gone(void) { return helper_gone; }

void jobs_abandon(void)
{
  unsigned int i = 0;
  while (i < njobs) {
    struct job *j = jobs[i];
    unsigned int k;
    if (j->running) { i++; continue; }
    for (k = 0; k < j->n; k++) j->m->w->item[j->idx[k]].job = 0;
    jobs[i] = jobs[--njobs];
    struct msg *m = j->m;
    stralloc_free(&j->key);
    free(j);
    sched_job_done(m);
    i = 0;                       /* the order changed: start again */
  }
}

void sched_kill_overdue(void)
{
  unsigned long now = qr_now();
  unsigned int i;
  for (i = 0; i < njobs; i++)
    if (jobs[i]->running && now > jobs[i]->started + QR_JOB_SECONDS) {
      log_event(jobs[i]->m->id, "status", "killing", "reason", "deliverer ran too long", (char *)0);
      spawn_kill(jobs[i]->remote ? sock_remote : sock_local, jobs[i]->no);
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

/* notify_has - does the recipient's NOTIFY list name word? */
static int notify_has(const struct work *w, unsigned int orig, const char *word)
{
  const char *n = envelope_rcpt_notify(&w->env, orig);
  size_t len = str_len(word);
  if (!n) return 0;
  while (*n) {
    size_t k = str_chr(n, ',');
    if (k == len && !case_diffb(n, len, word)) return 1;
    n += k + (n[k] == ',');
  }
  return 0;
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
  if (res == 'o') {
    it->status = notify_has(w, it->orig, "SUCCESS") ? ST_DONE_NOTIFY : ST_DONE;
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

/* line_result - "ok", "defer", "fail" as 'o', 'd', 'f'; 0 unknown */
static int line_result(const char *s, size_t len)
{
  if (len == 2 && !byte_diff(s, 2, "ok")) return 'o';
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
  for (k = 0; k < j->n; k++) {
    struct item *it = &w->item[j->idx[k]];
    if (!got[k]) job_result(w, m->id, it, cls == EXIT_PERM ? 'f' : 'd', text, str_len(text));
    it->job = 0;
  }
  for (k = 0; k < njobs; k++)
    if (jobs[k] == j) { byte_copy(jobs + k, (njobs - k - 1) * sizeof *jobs, jobs + k + 1); njobs--; break; }
  if (j->running) { nrunning--; dest_count(j->key.s, 0); }
  if (j->out != -1) close(j->out);
  stralloc_free(&j->output);
  stralloc_free(&j->key);
  free(j);
  sched_job_done(m);
}

/* find - the running job with number no */
static struct job *find(unsigned long no)
{
  unsigned int i;
  for (i = 0; i < njobs; i++)
    if (jobs[i]->no == no && jobs[i]->running) return jobs[i];
  return 0;
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
  if (j->out != -1) while (job_read(j) == 0 && j->out != -1) break;
  job_end(j, code);
  return 0;
}

void sched_poll_fds(struct pollfd *p, unsigned int *n, unsigned int max)
{
  unsigned int i;
  for (i = 0; i < njobs && *n < max; i++)
    if (jobs[i]->running && jobs[i]->out != -1) {
      p[*n].fd = jobs[i]->out;
      p[*n].events = POLLIN;
      p[*n].revents = 0;
      (*n)++;
    }
}

void sched_events(struct pollfd *p, unsigned int n)
{
  unsigned int i, k;
  for (i = 0; i < n; i++) {
    if (!p[i].revents) continue;
    for (k = 0; k < njobs; k++)
      if (jobs[k]->out == p[i].fd && jobs[k]->running) { job_read(jobs[k]); break; }
  }
}
