/* sendmail.h - the pieces of the sendmail(8) front end (main.c):
 *   args.c     the command line (every flag of sendmail.8)
 *   headers.c  reading the header section and copying the body
 *   fix.c      fixing the header section (From:, Date:, ...)
 *   mail.c     -bm: build the envelope, run the injector, errors
 *   rcpts.c    the recipient set and the recipient arguments
 *   modes.c    -bp/mailq, -q, -bi/newaliases, -bs, -bv, -bd
 *   run.c      running other programs (lib/child.c, lib/inject_child.c)
 *   listing.c  queue-run's machine listing: mailq --json, -qI/-qR/-qS
 *   filter.c   non_smtpd_milters (lib/milter.c)
 * sendmail has its own dir.a (spool-inject/sendmail/, doc/architecture.md
 * "spool-inject/ and sendmail"): each exported name carries the prefix of
 * its file. */
#ifndef SENDMAIL_H
#define SENDMAIL_H
#include <stddef.h>
#include "buffer.h"
#include "stralloc.h"
#include "config.h"
#include "envelope.h"
#include "inject.h"
#include "rfc5322.h"
#include "milter.h"

#define SM_ARG_MAX 4096          /* bytes in one argument */
#define SM_FULLNAME_MAX 200      /* bytes in -F, $NAME or the gecos name used */
#define SM_HEADER_MAX 65536      /* bytes in one header field, folding included */
#define SM_HEADERS_MAX (1UL << 20)   /* bytes in the whole header section */
#define SM_LINE_CHUNK 8192       /* bytes of a body line handled at once */
#define SM_RETURN_MAX (1UL << 20)    /* larger messages come back headers only */
#define SM_CHILD_SECONDS 3600    /* a child (the injector, queue-run) running longer is killed */

/* what the command line asks for */
enum {
  SM_MAIL,          /* -bm: read a message and queue it (default) */
  SM_LIST,          /* -bp, mailq */
  SM_ALIASES,       /* -bi, -I, newaliases */
  SM_SMTP,          /* -bs */
  SM_VERIFY,        /* -bv */
  SM_DAEMON,        /* -bd, -bD, -bl: explained, nothing started */
  SM_FLUSH,         /* -q, -qI, -qR, -qS */
  SM_INTERVAL,      /* -q15m: one queue run now, the interval explained */
  SM_HOSTSTAT,      /* -bh, hoststat: queue-run --hoststat */
  SM_PURGESTAT,     /* -bH, purgestat: queue-run --purgestat */
  SM_STATS          /* mailstats: queue-run --stats */
};

enum { SM_LIST_HUMAN, SM_LIST_MACHINE, SM_LIST_JSON };

struct args {
  int mode;
  int extract;            /* -t */
  int dot_ends;           /* 0 with -i, -oi, -O IgnoreDots */
  int verbose;            /* -v */
  char errmode;           /* -oe?: 'p' (default), 'm', 'w', 'q', 'e' */
  char sender_flag;       /* 'f' or 'r': which flag set the sender */
  int smtputf8;           /* -SMTPUTF8 */
  int list_format;        /* --machine, --json with -bp */
  const char *sender;     /* -f, -r; 0: none given */
  const char *fullname;   /* -F */
  const char *body;       /* -B */
  const char *notify;     /* -N */
  const char *ret;        /* -R */
  const char *envid;      /* -V */
  const char *conf;       /* -C */
  const char *label;      /* -L */
  const char *alias_file; /* -oA, -O AliasFile= */
  char flush_kind;        /* -q: 0 all, 'I' id, 'R' recipient, 'S' sender */
  const char *flush_arg;  /* its substring, or the -q interval */
  char **rcpt;            /* recipient arguments (pointers into argv) */
  int nrcpt;
  const char *error;      /* usage error, or 0 */
  const char *error_arg;  /* the flag or value it is about */
  char flag[3];           /* "-x": the flag an error names */
};

/* args_parse - fill a from argv (argv[0]'s base name may be mailq or
 * newaliases); 0, or -1 with a->error set (a usage error, exit 64).
 * a->rcpt is allocated (argc entries); free it with args_free. */
int args_parse(struct args *a, int argc, char **argv);
void args_free(struct args *a);
/* args_base - the part of a path after its last '/' */
const char *args_base(const char *path);

/* the message (headers.c) */
struct header {
  size_t start, len;      /* the whole field in hdr, folding included,
                             final LF excluded */
  size_t name_len;        /* the field name, blanks before ':' excluded */
};

struct message {
  buffer *in;             /* the caller's message (fd 0) */
  int dot_ends;           /* a line "." ends the input */
  int ended;              /* input is over (EOF or the "." line) */
  stralloc hdr;           /* header section, LF line ends, no final LF */
  struct header *h;
  unsigned int nh, ah;
  stralloc first_body;    /* a line that ended the headers by not being one */
  int had_first_body;
  int pending_cr;         /* a CR at the end of a long piece of a body line */
  unsigned long body_bytes;   /* bytes headers_copy_body wrote */
};

enum { SM_OK = 0, SM_EDATA = -1, SM_EIO = -2, SM_ENOMEM = -3, SM_EBIG = -4, SM_EOUT = -5 };

/* headers_read - read the header section (CRLF to LF; a leading mbox
 * "From " line dropped; a "." line ends the input when dot_ends).
 * SM_OK, or SM_EDATA with *why (NUL byte, bare CR, field too long, ...),
 * SM_EIO (errno), SM_ENOMEM. */
int headers_read(struct message *m, const char **why);
/* headers_is - field k is called name (ASCII case ignored) */
int headers_is(const struct message *m, unsigned int k, const char *name);
/* headers_value - the body of field k: after the colon */
const char *headers_value(const struct message *m, unsigned int k, size_t *len);
/* headers_copy_body - the rest of the input to out, CRLF to LF, a final LF added
 * when missing, stopping at a "." line when dot_ends; at most limit bytes
 * (SM_NO_LIMIT: any number; 0: none at all).  SM_OK, SM_EIO (read error,
 * errno set), SM_EOUT (out failed) or SM_EBIG (over the limit: input not
 * read to its end). */
#define SM_NO_LIMIT ((unsigned long)-1)
int headers_copy_body(struct message *m, buffer *out, unsigned long limit);
void headers_free(struct message *m);

/* a set of recipients in order, duplicates dropped (rcpts.c) */
struct rcpts {
  stralloc s;                 /* the addresses, each NUL-terminated */
  unsigned int n;
  unsigned long *slot;        /* hash table of offsets + 1; 0 empty */
  unsigned long size;         /* slots (a power of 2, or 0) */
};
/* rcpts_add - add addr unless it is there (domain case ignored);
 * 1 added, 0 already there, -1 no memory or too many */
int rcpts_add(struct rcpts *r, const char *addr, size_t len);
void rcpts_free(struct rcpts *r);

/* fixing the header section (fix.c) */
struct fix {
  /* in */
  const char *hostname;       /* Received:, Message-ID:, X-Authentication-Warning: */
  const char *domain;         /* qualifies bare names */
  const char *locals;         /* hostname, domain, localhost: blank-separated */
  const char *login;          /* the caller */
  unsigned long uid;
  int hide;                   /* received_hide_submitter: no uid in Received: */
  const char *fullname;       /* for a missing From:; may be "" */
  const char *sender;         /* the envelope sender; "" is the null sender */
  const char *own;            /* the caller's own address (login@domain, rewritten) */
  const char *rewrite;        /* sendmail_rewrite_sender, or 0 */
  char warn_flag;             /* 'f'/'r': an untrusted caller set the sender */
  int untrusted;              /* the Sender: rule applies */
  int extract;                /* -t: recipients from the header */
  unsigned long now, usec, pid;
  const char *random;         /* hex, for Message-ID: */
  /* out */
  struct rcpts *rcpts;     /* -t recipients are added here */
};

/* fix_headers - the fixed header section, and the empty line that ends
 * it, into out: Received:, X-Authentication-Warning: when an untrusted
 * caller set the sender, the caller's fields (Bcc:, Resent-Bcc: and
 * Return-Path: removed, addresses qualified, local senders rewritten),
 * then From:, Date:, Message-ID:, Sender: where missing or required.
 * With extract, the recipients of To:, Cc:, Bcc: (of their Resent- forms
 * if any exist) are added to f->rcpts.  0, or -1 with *why (a bad address
 * list in a field -t reads, out of memory). */
int fix_headers(const struct message *m, struct fix *f, stralloc *out, const char **why);

/* fix_message_id - "<seconds.usec.pid.random@host>" appended to out */
int fix_message_id(stralloc *out, const struct fix *f);

/* running other programs (run.c, with lib/child.c) */
/* run_path - libexec_dir/name into sa (NUL-terminated); 0 or -1 */
int run_path(stralloc *sa, const struct config *cfg, const char *name);
/* run_program - run argv[0] with in and out as fds 0 and 1 (-1: inherit) and
 * its stderr kept in r->log, its last line in r->reply; if out_sa, fd 1
 * is a pipe read into out_sa.  Waits at most SM_CHILD_SECONDS.  0, or -1
 * if it could not be started (errno). */
int run_program(char *const argv[], int in, int out, stralloc *out_sa, struct child_result *r);
/* run_injector - the injector on message in and envelope out, as
 * run_program (inject_child_start: spool-inject's code in a forked child when
 * the caller may write the spool itself, root or the spool's owner, and
 * the injector is the default) */
int run_injector(const struct config *cfg, int in, int out, struct child_result *r);
/* run_exec - replace this process with argv[0]; returns only on failure */
void run_exec(char *const argv[]);

/* the queue listing (listing.c: queue-run --list --machine) */
/* listing_json - convert machine listing lines into JSON lines, one object per
 * message: {"queue_id":..., "arrival_time":..., "message_size":...,
 * "sender":..., "recipients":[{"address":..., "status":..., "tries":...,
 * "next_try":..., "destination":..., "reason":...}, ...]}.  0, or -1 (a
 * line that is not M or R, or no memory) */
int listing_json(const char *text, size_t len, stralloc *out);
/* listing_json_string - s[0..len) as a JSON string (quotes included), bytes
 * that are not UTF-8 as U+FFFD */
int listing_json_string(stralloc *out, const char *s, size_t len);
/* listing_select_ids - the ids of messages in a machine listing that match -q:
 * kind 'I' the id contains sub, 'R' a pending recipient does, 'S' the
 * sender does (ASCII case ignored); each id NUL-terminated in ids.
 * The number of ids, or -1 (no memory). */
long listing_select_ids(const char *text, size_t len, char kind, const char *sub, stralloc *ids);

/* the modes (mail.c, modes.c): each returns the exit code */
int mail_send(const struct args *a, const struct config *cfg);
int modes_list(const struct args *a, const struct config *cfg);
int modes_flush(const struct args *a, const struct config *cfg);
int modes_aliases(const struct args *a, const struct config *cfg);
int modes_smtp(const struct args *a, const struct config *cfg);
int modes_verify(const struct args *a, const struct config *cfg);
/* modes_ops - -bh, -bH, mailstats: queue-run --hoststat, --purgestat,
 * --stats (root and the queue owner) */
int modes_ops(const struct args *a, const struct config *cfg);
int modes_daemon(const struct args *a);
int modes_interval(const struct args *a, const struct config *cfg);

/* shared by the modes (mail.c) */
/* rcpts_qualify - an address from a -f, an argument or a header: "@domain"
 * added when it has none; into out, NUL-terminated; 0 or -1 no memory */
int rcpts_qualify(stralloc *out, const char *addr, size_t len, const char *domain);
/* rcpts_args - the recipient arguments, each an address list, qualified
 * and checked, into r; 0, or -1 with *why (naming the argument) */
int rcpts_args(const struct args *a, const struct config *cfg, struct rcpts *r, const char **why);
/* run_queue_allowed - root or the owner of spool/queue (queue-run's rule):
 * 1 yes, 0 no (the refusal is printed by the caller) */
int run_queue_allowed(const struct config *cfg);
/* run_say - "NAME: a b c" on stderr (controls shown as '?') */
void run_say(const char *a, const char *b, const char *c);

/* filter_milters - non_smtpd_milters on the message in *fd (replaced when
 * a milter changed it); a MILTER_* verdict, reply[MILTER_REPLY_MAX] set
 * for a refusal, quarantine[MILTER_QUARANTINE_MAX] set when quarantined */
int filter_milters(const struct config *cfg, int *fd, const char *sender, const struct rcpts *r,
                   const char *login, char *quarantine, char *reply);
#endif
