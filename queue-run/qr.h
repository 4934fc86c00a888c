/* qr.h - the parts of queue-run(8) and its spawn helpers (local-spawn,
 * remote-spawn: pool.c, helper.c, spawn.c).  The scheduler's files, by
 * layer, are listed below above their functions. */
#ifndef QR_H
#define QR_H
#include <stddef.h>
#include <poll.h>
#include <sys/types.h>
#include "stralloc.h"
#include "config.h"
#include "envelope.h"
#include "map.h"
#include "spool.h"

#define QR_RCPTS_PER_JOB 100          /* recipients per remote-send run */
#define QR_ALIAS_DEPTH_MAX 10         /* nested aliases, virtual rewrites, includes */
#define QR_EXPAND_ITEMS_MAX 10000     /* deliveries one recipient may expand to */
#define QR_EXPAND_STEPS_MAX 100000    /* addresses looked at for one recipient */
#define QR_DUPLICATES_LOGGED 20       /* "route=duplicate" lines per recipient */
#define QR_ITEMS_MAX 200000           /* delivery items per message, expansion included */
#define QR_INCLUDE_MAX 65536          /* bytes of an :include: file */
#define QR_OUTPUT_MAX 65536           /* bytes of deliverer output read per job */
#define QR_TEXT_MAX 500               /* bytes of result text stored per item */
#define QR_STATE_LINE_MAX 4096        /* bytes per state file line */
#define QR_ORPHAN_SECONDS (36UL * 3600)   /* invariant 4 */
#define QR_HOUSEKEEPING_SECONDS 3600  /* how often the daemon cleans up */
#define QR_LOAD_RECHECK_SECONDS 30    /* load shedding: look again after */
#define QR_JOB_SECONDS (2UL * 3600)   /* a deliverer running longer is killed */
#define QR_CHECKPOINT_SECONDS 10      /* a long pass saves its state this often */
#define QR_SPAWN_MSG_MAX (1UL << 17)  /* bytes of one spawn request (100 ORCPTs fit) */
#define QR_STATS_SECONDS 5           /* state/stats and state/hoststat are saved at most this often */
#define QR_MAP_VALUE_MAX 1024         /* bytes of a routes or virtual mailbox value (a state line holds it) */

/* item status letters, as in the state file */
enum {
  ST_PENDING = 'p',     /* to be delivered (again) */
  ST_DONE = 'd',        /* delivered, nothing owed */
  ST_DONE_NOTIFY = 'D', /* delivered, a success notice (NOTIFY=SUCCESS) owed */
  ST_FAILED = 'f',      /* failed for good, the bounce not yet sent */
  ST_REPORTED = 'x',    /* failed, bounced (or nobody to tell) */
  ST_GONE = 'z'         /* replaced by re-routing; never stored */
};

/* item kinds */
enum {
  KIND_ROUTE = 'r',     /* routing failed temporarily: route addr again */
  KIND_USER = 'u',      /* a local user's own mail: local-deliver ~ */
  KIND_MAILBOX = 'v',   /* a mailbox path from the virtual map */
  KIND_PROGRAM = 'c',   /* |command from aliases */
  KIND_FILE = 'f',      /* /file from aliases */
  KIND_REMOTE = 's',    /* remote-send to dest */
  KIND_ERROR = 'e'      /* failed at routing (routes error:, unknown user) */
};

/* struct item - one delivery: offsets into the message's pool */
struct item {
  unsigned int orig;        /* envelope recipient it came from */
  char status, kind;
  unsigned long tries, next;
  unsigned long user, dest, addr, text;   /* pool offsets */
};

/* struct state_layout - where a queued message's body is (state.c): body,
 * its offset in the message file (0: the older layout, mess/<id>); size,
 * its bytes */
struct state_layout {
  unsigned long body, size;
};

/* struct work - a message loaded for delivery */
struct work {
  struct envelope env;
  stralloc pool;            /* NUL-terminated strings; offset 0 is "" */
  struct item *item;
  unsigned int n, alloc;
  unsigned long arrival;    /* seconds */
  int warned;               /* delay warning sent */
  int have_state;           /* a state file exists */
  unsigned long long digest;    /* state_digest() of what the state file holds */
  unsigned int *index;      /* work_find's hash of items (index + 1; 0 empty) */
  unsigned int icap, indexed;   /* slots; items [0, indexed) are in it */
  struct state_layout layout;   /* where the body is (message_load) */
};

/* struct msg - one message in the queue */
struct msg {
  char id[SPOOL_ID_MAX];
  unsigned long due;        /* next time any of its items is due */
  int active;               /* loaded, jobs outstanding */
  int ready;                /* in the ready list */
  int passed;               /* activated once (--once makes one pass) */
  int flushed;              /* flushed: back-off ignored on its next pass */
  unsigned int jobs;        /* jobs not finished */
  unsigned long saved;      /* activated or state last saved, seconds */
  int delete_req, bounce_req;  /* control requests while active */
  struct work *w;
  unsigned int slot;        /* its index in table.c's table */
  unsigned int rpos;        /* its index in the ready list while ready */
  struct msg *hnext;        /* the next message in its id hash chain */
};

/* struct router - what routing needs: config and open maps */
enum { MAP_ALIASES, MAP_VIRTUAL, MAP_ROUTES, MAP_LOCAL_DOMAINS, MAPS };
struct router {
  const struct config *cfg;
  struct map map[MAPS];
  stralloc path[MAPS];      /* map_dir/NAME.cdb, NUL-terminated */
  int bad[MAPS];            /* exists but cannot be read */
  const char *id;           /* the message being routed, for the log */
};

extern struct config qr_cfg;    /* main.c: the configuration */
extern int qr_once;             /* main.c: --once mode */

/* The layers, from the event loop down; each calls only the ones below
 * it, and results come back up only through job_done_fn (doc/architecture.md
 * "queue-run's layers"):
 *   main.c, admin.c        the command line: the daemon, or a verb
 *   loop.c, control.c      the event loop, the administrator's commands
 *   reload.c               SIGHUP: postern.conf and the maps again
 *   pickup.c               new/ and queue/ into the table, housekeeping
 *   table.c                the message table, due times, the ready list
 *   message.c, dsn.c       one message's life: load, route, results, notices
 *   rate.c                 bounce_rate_limit
 *   stats.c, hoststat.c    traffic counters, per-destination status (also
 *                          --stats, --hoststat: read-only, from main.c)
 *   route.c                routing one recipient into items
 *   job.c                  deliverer runs and their results
 *   dest.c, hold.c         destinations, limits, the hold list
 *   spawn.c                the protocol to the spawn helpers
 *   work.c, state.c, corrupt.c   items in memory, the message's files
 *   clock.c                the time */

/* main.c: systemd */
void qr_notify(const char *s);
unsigned long long qr_watchdog_usec(void);

/* admin.c: the verbs besides --daemon (queue-run.8) */
enum qr_mode {
  MODE_NONE, MODE_DAEMON, MODE_ONCE, MODE_LIST, MODE_FLUSH, MODE_DELETE, MODE_BOUNCE, MODE_HOLD,
  MODE_RELEASE, MODE_PURGE, MODE_BOUNCE_DEST, MODE_ROUTE, MODE_HOSTSTAT, MODE_PURGESTAT, MODE_STATS
};
enum qr_mode admin_mode(const char *name);   /* "--name" without its dashes; MODE_NONE: unknown */
const char *admin_verb(enum qr_mode mode);   /* the name back, as control files spell it */
int admin_takes_arg(enum qr_mode mode);      /* a required argument */
/* admin_request - what a mode other than --daemon asks of the scheduler,
 * made durable, then the lock holder poked; 1: we hold the lock and run
 * the pass ourselves */
int admin_request(enum qr_mode mode, const char *arg, int all, int lockfd, int locked);
void admin_check_id(enum qr_mode mode, const char *arg);   /* the message must be queued */
int admin_list(int machine);         /* 0, or an exit code */

/* loop.c */
int loop_run(int daemon, int flush_all, int lsock, int rsock, int lockfd);

/* control.c: commands as files in state/ */
int control_command(const char *verb, const char *arg);   /* queue a command; 0 */
void control_apply(void);            /* commands left in state/ by others */
int control_waiting(void);           /* are there any? */

/* privs.c */
int privs_allowed(void);             /* root or the queue owner */
void privs_start_helpers(int *local_sock, int *remote_sock);
void privs_drop(void);

/* verify.c: --route, the routing of each address for sendmail -bv */
int verify_route(char **addrs, unsigned int n);

/* reload.c: SIGHUP */
int reload_config(void);             /* postern.conf again, maps reopened; 0, or -1 the old one kept (logged) */

/* stats.c: traffic counters (--stats, mailstats), in state/stats */
enum { STATS_RECEIVED, STATS_DELIVERED, STATS_DEFERRED, STATS_BOUNCED, STATS_EVENTS };
int stats_load(void);                /* state/stats into the counters; 0, or -1 (errno) */
void stats_count(int event, const char *kind, const char *route, unsigned long bytes);
void stats_received(const char *id);   /* a message taken over from new/ */
struct item;
struct work;
void stats_result(const char *id, const struct work *w, const struct item *it, int res);   /* one try's result (DELIVERY_*) */
/* stats_save - state/stats and state/hoststat, when changed and at least
 * QR_STATS_SECONDS since the last save (force: now) */
void stats_save(unsigned long now, int force);
unsigned long stats_next_save(void); /* when stats_save has something to write; 0 nothing */
int stats_show(int machine);         /* --stats; 0 or an exit code */

/* hoststat.c: per-destination status (--hoststat, --purgestat), in state/hoststat */
int hoststat_load(void);             /* 0, or -1 (errno) */
void hoststat_result(const struct work *w, const struct item *it, int res, unsigned long now);
unsigned int hoststat_forget(const char *dest);   /* dest's entry (0: every one) forgotten; how many */
int hoststat_dirty(void);            /* changed since the last save */
void hoststat_save(void);            /* durable (stats_save calls it) */
int hoststat_show(int machine);      /* --hoststat; 0 or an exit code */

/* pickup.c */
int pickup_new(void);                /* take over new/; messages added */
int pickup_queue(void);              /* read queue/ at start */
int pickup_waiting(void);            /* is anything in new/? */
void pickup_housekeeping(void);      /* invariant 4, stale state files */

/* table.c */
void table_open(int local_sock, int remote_sock);   /* the maps and the helpers, once */
struct msg *table_add(const char *id, unsigned long due);   /* id must not be in the table */
void table_ready(struct msg *m);
void table_tick(void);               /* activate due messages, start jobs */
void table_flush(const char *id);    /* make one (or, with 0, every) message due now */
int table_idle(void);                /* no active message */
unsigned long table_next_due(void);  /* earliest due time of inactive messages */
unsigned int table_count(void);      /* messages queued */
struct msg *table_find(const char *id);   /* hashed */
void table_checkpoint(void);         /* save the state of active messages (exit) */
void table_wake(void);               /* every message due now, back-off kept */
void table_resync(void);             /* --once: the lock was let go; every message looked at again */
unsigned int table_apply_dest(const char *dest, int what);   /* message_dest's DEST_* for a destination */
int table_delete(const char *id);
int table_bounce(const char *id);
/* table_release - a quarantined message (envelope tag Q) goes out: the
 * envelope is rewritten without the tag, then flushed; 1 done, 0 not held */
int table_release(const char *id);

/* struct job_outcome - what one deliverer run learned: a result per item
 * (lib/delivery.h's DELIVERY_*) with its text; n 0: dropped unstarted */
struct job_outcome {
  struct msg *m;
  unsigned int n;
  const unsigned int *idx;           /* the items, indices into m->w */
  const int *res;
  const char *const *text;
  const size_t *len;
};
/* job_done_fn - the one call up from the jobs: a job of o->m ended */
typedef void job_done_fn(const struct job_outcome *o);

/* message.c */
void message_open(void);             /* the router's maps, once */
void message_refresh(void);          /* maps replaced since? */
void message_reopen(void);           /* the maps closed and opened again (SIGHUP: map_dir may have changed) */
/* message_load - envelope, body check, state or first routing into w:
 * 1 loaded, 0 the message is gone (or moved to corrupt/), -1 try later */
int message_load(struct msg *m, struct work *w);
/* message_begin - m is loaded (m->w): the administrator's bounce, the
 * reroutes due, jobs for its due items (all with flush); the jobs made */
unsigned int message_begin(struct msg *m, unsigned long now, int flush);
/* message_finish - the end of m's pass: notices, then its files removed
 * (1) or its state written, m->due set and m->w freed (0) */
int message_finish(struct msg *m, unsigned long now);
void message_save(struct msg *m, unsigned long now);   /* the results so far */
void message_results(const struct job_outcome *o);     /* a job's results into m->w */
/* message_result - one try's result (DELIVERY_*) for item it: its status,
 * back-off, queue_lifetime, the log line */
void message_result(struct work *w, const char *id, struct item *it, int res, const char *text, size_t len);
unsigned long message_backoff(unsigned long tries);    /* seconds before try tries+1 */
/* message_dest - dest's pending items: dropped (DEST_PURGE), bounced
 * (DEST_BOUNCE) or made due now (DEST_RETRY); how many */
enum { DEST_PURGE, DEST_BOUNCE, DEST_RETRY };
unsigned int message_dest(struct msg *m, struct work *w, const char *dest, int what);
/* message_remove - the files of a finished or deleted message; mess: the
 * older layout's mess/<id> may be there (unknown: 1) */
void message_remove(const char *id, int mess);

/* dsn.c - notices: bounces, delay warnings, success notices */
void dsn_open(struct router *r);     /* the router that says which addresses are ours */
int dsn_finish(struct work *w, const char *id, unsigned long *when);   /* notices owed; 0, -1 retry at *when */
int dsn_warn(struct work *w, const char *id);      /* a delay warning */
void dsn_status(const char *text, int failed, char out[16]);   /* enhanced status of a result */
int dsn_success_wanted(const struct work *w, const struct item *it);   /* NOTIFY=SUCCESS */

/* rate.c */
int rate_ok(const char *addr);       /* may one more notice go to addr this hour? counts it if so */

/* route.c */
void route_open(struct router *r, const struct config *cfg);
void route_refresh(struct router *r);
/* route_rcpt - route addr (not inside w->pool: routing adds to it) for
 * envelope recipient orig; 0, or -1 out of memory */
int route_rcpt(struct router *r, struct work *w, unsigned int orig, const char *addr);
/* route_local_address - is addr in a local domain (bare names are)? 1,
 * or 0 (not, or the local-domains map cannot be read) */
int route_local_address(struct router *r, const char *addr);
/* route_kind_name - a delivery item kind (KIND_USER, ...) in words, for logs */
const char *route_kind_name(int kind);

/* work.c */
void work_init(struct work *w);
void work_free(struct work *w);
unsigned long work_str(struct work *w, const char *s, size_t len);   /* 0: no memory */
struct item *work_add(struct work *w, unsigned int orig, int status, int kind,
                      const char *user, const char *dest, const char *addr);
int work_set_text(struct work *w, struct item *it, const char *text, size_t len);
struct item *work_find(struct work *w, int kind, const char *user, const char *dest, const char *addr);
void work_truncate(struct work *w, unsigned int n);   /* forget items [n, w->n) */
const char *work_s(const struct work *w, unsigned long off);
unsigned long work_due(const struct work *w);                       /* min next of pending items */
int work_local_kind(int kind);                                      /* items local-deliver handles */

/* state.c: the files of a queued message.  A message is one file
 * (queue/<id> or new/<id>: head line, envelope, body from the head's
 * offset; spool.h) or, in the older layout, its envelope file and the body
 * in mess/<id>; the message file's head says which.  Each is opened for
 * reading without following a symlink or blocking on a FIFO, and must be
 * a regular file. */
#define EFTYPE_BODY EMEDIUMTYPE
#define QR_ENVELOPE_MAX (64UL << 20)  /* bytes of a one-file message's envelope; more is corrupt */
/* state_body_open - the body of queued message id for a deliverer: an fd
 * whose offset is where the body starts (queue/<id> at the head's offset,
 * or mess/<id> at 0), O_NONBLOCK cleared; -1 (errno ENOENT: missing,
 * EFTYPE_BODY: not a regular file, EPROTO: a malformed head) */
int state_body_open(const char *id);
unsigned long state_body_size(const char *dir, const char *id);   /* the body's bytes; 0 unknown */
int state_one_file(const char *dir, const char *id);   /* 1: dir/<id> starts with a head line (even a malformed one) */
int state_envelope(struct envelope *e, const char *id, const char **why);   /* 1, 0 absent, -1 bad */
int state_envelope_from(struct envelope *e, const char *dir, const char *id, const char **why);
/* state_envelope_load - the envelope of dir/<id> into e, and (l not 0)
 * its layout: 1, 0 absent, -1 (errno EPROTO: corrupt, a malformed head, a
 * file that is not a regular one, *why says how; others: try later) */
int state_envelope_load(struct envelope *e, const char *dir, const char *id, struct state_layout *l, const char **why);
/* state_envelope_replace - queue/<id> with envelope e: a one-file message
 * as a whole new file (head, e, its body copied), the older layout's
 * envelope file alone; tmp, fsync, rename, fsync queue/; 0 or -1 */
int state_envelope_replace(const char *id, const struct envelope *e);
int state_read(struct work *w, const char *id, const char **why);   /* 1 read, 0 none, -1 bad/error */
int state_write(const struct work *w, const char *id);              /* durable; 0 or -1 */
unsigned long long state_digest(const struct work *w);   /* of what state_write would write */
/* state_file_write - text as the file fn in state/: fn.tmp, fsync, rename,
 * fsync state/ (invariant 2); root's file goes to the owner of state/.
 * 0, or -1 with errno (a write error included; fn is then unchanged) */
int state_file_write(const char *fn, const stralloc *text, int mode);
/* state_file_read - each line of the file fn in state/ (at most max bytes,
 * into line[max + 1]) to each(); 0 (also when fn is missing), or -1 with
 * errno (EPROTO: a line each() refused, or one over max) */
int state_file_read(const char *fn, char *line, size_t max, int (*each)(char *line, size_t len));
int state_due(const char *id, unsigned long *due);                  /* 1, 0 none, -1 */

/* corrupt.c */
void corrupt_message(const char *id, const char *why);
void corrupt_state(const char *id, const char *why);
void corrupt_file(const char *dir, const char *name, const char *suffix);   /* dir/name to corrupt/name+suffix */

/* job.c */
void job_init(job_done_fn *done, int local_sock, int remote_sock);
unsigned int job_for(struct msg *m, unsigned long now, int flush);   /* queue jobs for due items (all with flush); how many */
void job_start(void);                /* start queued jobs within the limits */
unsigned int job_pending(void);      /* queued, not started */
unsigned int job_running(void);
void job_abandon(void);              /* drop queued jobs (shutdown) */
void job_pause(int paused);          /* load shedding and shutdown */
int job_paused(void);
void job_kill_overdue(void);
int job_helper_gone(void);           /* a request could not reach a spawn helper */
int job_answers(int sock);           /* read an exit code from a spawn helper; -1 it is gone */
void job_poll_fds(struct pollfd *p, unsigned int *n, unsigned int max);
void job_events(struct pollfd *p, unsigned int n);

/* dest.c */
struct job;
/* struct dest - a destination: its running jobs and its queue */
struct dest {
  char *key;
  unsigned int running;      /* jobs started, not ended */
  struct job *head, *tail;   /* waiting jobs, oldest first */
  struct dest *next;         /* in the turn list */
  int listed;                /* in the turn list */
};
struct dest *dest_get(const char *key);   /* made if new; 0 no memory */
void dest_turn(struct dest *d);      /* d joins the turn list if it has a waiting job and room */
struct dest *dest_next(void);        /* the destination whose turn it is, taken off the list; 0 none */
int dest_waiting(void);              /* is any destination's turn? */
void dest_each(void (*fn)(struct dest *d));   /* every destination; the turn list emptied */
unsigned long dest_hash(const char *key);
/* dest_matches - does name (a held or administered destination) cover an
 * item for dest and addr: the destination itself, or the recipient's
 * domain (ASCII case ignored) */
int dest_matches(const char *name, const char *dest, const char *addr);

/* hold.c */
void hold_reload(void);              /* state/hold, again */
int hold_covers(const char *dest, const char *addr);   /* is mail for dest and addr held? */
int hold_item(const struct work *w, const struct item *it);   /* a pending remote item, held */
unsigned long hold_due(unsigned long due, unsigned long now);  /* a message with held items: due, at most retry_max away */
int hold_edit(const char *dest, int add);   /* add or remove dest in state/hold; 0 or -1 */

/* spawn.c */
struct spawn_req {
  unsigned long job;
  char kind;                 /* 'R' run, 'K' kill */
  char *argv[QR_RCPTS_PER_JOB + 12];  /* user, then the deliverer's arguments */
  unsigned int argc;
  int msgfd, outfd;
};
int spawn_send(int sock, unsigned long job, char **argv, unsigned int argc, int msgfd, int outfd);
int spawn_kill(int sock, unsigned long job);
int spawn_recv(int sock, char *buf, size_t size, struct spawn_req *r);   /* 1, 0 EOF, -1 */
int spawn_answer(int sock, unsigned long job, int code);
int spawn_read_answer(int sock, unsigned long *job, int *code);          /* 1, 0 EOF, -1 */

/* helper.c */
void helper_env(char **envp, stralloc *block, const char *conf, const char *id);
/* helper_child_signals - SIGCHLD blocked and read through a signalfd: the
 * fd (non-blocking), or -1 */
int helper_child_signals(void);

/* clock.c */
unsigned long clock_now(void);       /* seconds */
/* admin_put_time - seconds as "YYYY-MM-DD HH:MM:SS" UTC into b, or "-"
 * for 0 (never) and -1 (unknown) (admin.c; --list, --hoststat, --stats) */
void admin_put_time(buffer *b, unsigned long t);
#endif
