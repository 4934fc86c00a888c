/* qr.h - the parts of queue-run(8) and its spawn helpers.
 *
 *   spawn.c    the request/answer protocol between queue-run and the two
 *              spawn helpers (a SOCK_SEQPACKET socketpair, fds by SCM_RIGHTS)
 *   pool.c     the helpers' loop: run a deliverer per request, report its
 *              exit code (remote-spawn: hand jobs to deliverers that wait)
 *   state.c    a message's delivery items and the state file (postern-queue.5)
 *   route.c    routing one recipient into delivery items (DESIGN.md order)
 *   dsn.c      RFC 3464 bounces, delay warnings and success notices
 *   sched.c    the message table, activating and finishing a message
 *   job.c      deliverer runs: queues per destination, limits, results
 *   loop.c     daemon and once modes: the event loop
 *   scan.c     takeover of new/, reading queue/, housekeeping, corrupt/
 *   control.c  listing and the administrator's commands
 *   verify.c   --route: routing without delivery (sendmail -bv)
 *   privs.c    the queue owner check, dropping privileges, starting helpers */
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

/* struct work - a message loaded for delivery */
struct work {
  struct envelope env;
  stralloc pool;            /* NUL-terminated strings; offset 0 is "" */
  struct item *item;
  unsigned int n, alloc;
  unsigned long arrival;    /* seconds */
  int warned;               /* delay warning sent */
  int have_state;           /* a state file exists */
  unsigned long long digest;    /* work_digest() of what the state file holds */
  unsigned int *index;      /* work_find's hash of items (index + 1; 0 empty) */
  unsigned int icap, indexed;   /* slots; items [0, indexed) are in it */
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
  unsigned int slot;        /* its index in sched.c's table */
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

/* time.c */
unsigned long qr_now(void);

/* state.c: mess/<id> opened for reading without following a symlink or
 * blocking on a FIFO: the fd, or -1 (errno EFTYPE_BODY: not a regular file) */
#define EFTYPE_BODY EMEDIUMTYPE
int work_body_open(const char *id);

/* state.c */
void work_init(struct work *w);
void work_free(struct work *w);
unsigned long work_str(struct work *w, const char *s, size_t len);   /* 0: no memory */
struct item *work_add(struct work *w, unsigned int orig, int status, int kind,
                      const char *user, const char *dest, const char *addr);
int work_set_text(struct work *w, struct item *it, const char *text, size_t len);
struct item *work_find(struct work *w, int kind, const char *user, const char *dest, const char *addr);
void work_truncate(struct work *w, unsigned int n);   /* forget items [n, w->n) */
unsigned long long work_digest(const struct work *w);   /* of what state_write would write */
const char *work_s(const struct work *w, unsigned long off);
int state_read(struct work *w, const char *id, const char **why);   /* 1 read, 0 none, -1 bad/error */
int state_write(const struct work *w, const char *id);              /* durable; 0 or -1 */
/* state_file_write - text as the file fn in state/: fn.tmp, fsync, rename,
 * fsync state/ (invariant 2); root's file goes to the owner of state/.
 * 0, or -1 with errno (a write error included; fn is then unchanged) */
int state_file_write(const char *fn, const stralloc *text, int mode);
int state_due(const char *id, unsigned long *due);                  /* 1, 0 none, -1 */
unsigned long work_due(const struct work *w);                       /* min next of pending items */
int envelope_load(struct envelope *e, const char *id, const char **why);   /* 1, 0 absent, -1 bad */
int envelope_load_from(struct envelope *e, const char *dir, const char *id, const char **why);

/* route.c */
void router_open(struct router *r, const struct config *cfg);
void router_refresh(struct router *r);
/* route_rcpt - route addr (not inside w->pool: routing adds to it) for
 * envelope recipient orig; 0, or -1 out of memory */
int route_rcpt(struct router *r, struct work *w, unsigned int orig, const char *addr);
/* route_local_address - is addr in a local domain (bare names are)? 1,
 * or 0 (not, or the local-domains map cannot be read) */
int route_local_address(struct router *r, const char *addr);
/* route_kind_name - a delivery item kind (KIND_USER, ...) in words, for logs */
const char *route_kind_name(int kind);

/* dsn.c */
int dsn_finish(struct work *w, const char *id, unsigned long *when);   /* notices owed; 0, -1 retry at *when */
int dsn_warn(struct work *w, const char *id);      /* a delay warning */
void dsn_status(const char *text, int failed, char out[16]);   /* enhanced status of a result */
int dsn_success_wanted(const struct work *w, const struct item *it);   /* NOTIFY=SUCCESS */

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

/* sched.c */
void sched_open(void);               /* the maps, once, before anything is routed */
struct msg *sched_add(const char *id, unsigned long due);   /* id must not be in the table */
void sched_ready(struct msg *m);
void sched_tick(void);               /* activate due messages, start jobs */
void sched_flush(const char *id);    /* make one (or, with 0, every) message due now */
int sched_idle(void);                /* no active message */
unsigned long sched_next_due(void);  /* earliest due time of inactive messages */
unsigned int sched_running(void);
unsigned int sched_count(void);      /* messages queued */
void sched_poll_fds(struct pollfd *p, unsigned int *n, unsigned int max);
void sched_events(struct pollfd *p, unsigned int n);
int sched_answers(int sock);         /* read an exit code from a spawn helper; -1 it is gone */
int sched_helper_gone(void);         /* a request could not reach a spawn helper */
void sched_set_helpers(int local_sock, int remote_sock);
void sched_pause(int paused);        /* load shedding and shutdown */
void sched_kill_overdue(void);
struct msg *sched_find(const char *id);   /* hashed */
void sched_checkpoint(void);         /* save the state of active messages (exit) */
void sched_wake(void);               /* every message due now, back-off kept */
void sched_resync(void);             /* --once: the lock was let go; reread due times */
unsigned int sched_apply_dest(const char *dest, int bounce);   /* purge or bounce a destination */
int sched_delete(const char *id);
int sched_bounce(const char *id);
/* sched_release - a quarantined message (envelope tag Q) goes out: the
 * envelope is rewritten without the tag, then flushed; 1 done, 0 not held */
int sched_release(const char *id);
void sched_held_reload(void);
int sched_held(const char *dest, const char *addr);
int sched_local_address(const char *addr);   /* route_local_address with the scheduler's maps */

/* scan.c */
int scan_new(void);                  /* take over new/; messages added */
int scan_queue(void);                /* read queue/ at start */
int scan_new_waiting(void);          /* is anything in new/? */
void scan_housekeeping(void);        /* invariant 4, stale state files */
void scan_corrupt(const char *id, const char *why);
void scan_corrupt_state(const char *id, const char *why);

/* verify.c: --route, the routing of each address for sendmail -bv */
int verify_route(char **addrs, unsigned int n);

/* control.c */
int control_list(int machine);       /* 0, or an exit code */
int control_command(const char *verb, const char *arg);   /* queue a command; 0 */
void control_apply(void);            /* commands left in state/ by others */
int control_waiting(void);           /* are there any? */

/* privs.c */
int privs_allowed(void);             /* root or the queue owner */
void privs_start_helpers(int *local_sock, int *remote_sock);
void privs_drop(void);

/* main.c: systemd */
void qr_notify(const char *s);
unsigned long long qr_watchdog_usec(void);

/* loop.c */
int loop_run(int daemon, int flush_all, int lsock, int rsock, int lockfd);
#endif
