/* sendmail.h - the pieces of the sendmail(8) front end (main_sendmail.c):
 *   sendmail_args.c     the command line (every flag of sendmail.8)
 *   sendmail_rfc5322.c  RFC 5322 address lists (-t, qualification, -F)
 *   sendmail_headers.c  reading the header section and copying the body
 *   sendmail_fix.c      fixing the header section (From:, Date:, ...)
 *   sendmail_mail.c     -bm: build the envelope, run the injector, errors
 *   sendmail_rcpts.c    the recipient set and the recipient arguments
 *   sendmail_modes.c    -bp/mailq, -q, -bi/newaliases, -bs, -bv, -bd
 *   sendmail_run.c      running other programs, the queue listing
 *   sendmail_milter.c   non_smtpd_milters
 * Names start with sm_ so that nothing clashes with lib/inject.c, which
 * spool-inject links with the same dir.a (the linker takes only what
 * spool-inject calls, so none of this ends up in spool-inject). */
#ifndef SENDMAIL_H
#define SENDMAIL_H
#include <stddef.h>
#include "buffer.h"
#include "stralloc.h"
#include "config.h"
#include "envelope.h"
#include "inject.h"
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
  SM_INTERVAL,      /* -q15m: explained, nothing started */
  SM_IGNORED        /* -bh, -bH: nothing to do */
};

enum { SM_LIST_HUMAN, SM_LIST_MACHINE, SM_LIST_JSON };

struct sm_args {
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

/* sm_args_parse - fill a from argv (argv[0]'s base name may be mailq or
 * newaliases); 0, or -1 with a->error set (a usage error, exit 64).
 * a->rcpt is allocated (argc entries); free it with sm_args_free. */
int sm_args_parse(struct sm_args *a, int argc, char **argv);
void sm_args_free(struct sm_args *a);
/* sm_base - the part of a path after its last '/' */
const char *sm_base(const char *path);

/* RFC 5322 address lists (sendmail_rfc5322.c) */
struct sm_mailbox {
  const char *addr;       /* the addr-spec without CFWS, NUL-terminated
                             (valid during the callback only) */
  size_t len;
  size_t start, end;      /* the addr-spec's span in the parsed text */
  size_t local_end;       /* just after the local part (where "@domain" goes) */
  int qualified;          /* it has "@domain" */
  int null;               /* "<>" */
};
/* sm_addrlist - parse text[0..len) (a header field body, folding included)
 * as an address list; for each mailbox call fn(ctx, mailbox), which
 * returns 0 to go on, or any other value but -1 to stop the walk with
 * that value as the result.  Bare local parts
 * ("root") are mailboxes without a domain.  Returns 0, or -1 with *why set
 * when the text is not an address list. */
int sm_addrlist(const char *text, size_t len,
                int (*fn)(void *ctx, const struct sm_mailbox *m), void *ctx,
                const char **why);

/* sm_qualify_text - text[0..len) to out with "@domain" inserted after each
 * unqualified address; with rewrite (not 0), local addresses (no domain,
 * or a domain among the blank-separated locals) become rewrite instead.
 * 0, or -1 (not an address list, or no memory: out holds an unchanged
 * copy, or is empty when even that failed). */
int sm_qualify_text(const char *text, size_t len, const char *domain,
                    const char *rewrite, const char *locals, stralloc *out);

/* sm_is_local - addr (qualified or not) is local: no domain, or its domain
 * is one of the blank-separated locals (ASCII case ignored) */
int sm_is_local(const char *addr, size_t len, const char *locals);

/* sm_phrase - a display name as RFC 5322 wants it: atoms as they are,
 * else a quoted string; with non-ASCII bytes RFC 2047 encoded words.
 * Appends to out; 0, or -1 out of memory. */
int sm_phrase(stralloc *out, const char *name, size_t len);

/* the message (sendmail_headers.c) */
struct sm_header {
  size_t start, len;      /* the whole field in hdr, folding included,
                             final LF excluded */
  size_t name_len;        /* the field name, blanks before ':' excluded */
};

struct sm_message {
  buffer *in;             /* the caller's message (fd 0) */
  int dot_ends;           /* a line "." ends the input */
  int ended;              /* input is over (EOF or the "." line) */
  stralloc hdr;           /* header section, LF line ends, no final LF */
  struct sm_header *h;
  unsigned int nh, ah;
  stralloc first_body;    /* a line that ended the headers by not being one */
  int had_first_body;
  int pending_cr;         /* a CR at the end of a long piece of a body line */
  unsigned long body_bytes;   /* bytes sm_copy_body wrote */
};

enum { SM_OK = 0, SM_EDATA = -1, SM_EIO = -2, SM_ENOMEM = -3, SM_EBIG = -4, SM_EOUT = -5 };

/* sm_read_headers - read the header section (CRLF to LF; a leading mbox
 * "From " line dropped; a "." line ends the input when dot_ends).
 * SM_OK, or SM_EDATA with *why (NUL byte, bare CR, field too long, ...),
 * SM_EIO (errno), SM_ENOMEM. */
int sm_read_headers(struct sm_message *m, const char **why);
/* sm_header_is - field k is called name (ASCII case ignored) */
int sm_header_is(const struct sm_message *m, unsigned int k, const char *name);
/* sm_header_value - the body of field k: after the colon */
const char *sm_header_value(const struct sm_message *m, unsigned int k, size_t *len);
/* sm_copy_body - the rest of the input to out, CRLF to LF, a final LF added
 * when missing, stopping at a "." line when dot_ends; at most limit bytes
 * (SM_NO_LIMIT: any number; 0: none at all).  SM_OK, SM_EIO (read error,
 * errno set), SM_EOUT (out failed) or SM_EBIG (over the limit: input not
 * read to its end). */
#define SM_NO_LIMIT ((unsigned long)-1)
int sm_copy_body(struct sm_message *m, buffer *out, unsigned long limit);
void sm_message_free(struct sm_message *m);

/* a set of recipients in order, duplicates dropped (sendmail_rcpts.c) */
struct sm_rcpts {
  stralloc s;                 /* the addresses, each NUL-terminated */
  unsigned int n;
  unsigned long *slot;        /* hash table of offsets + 1; 0 empty */
  unsigned long size;         /* slots (a power of 2, or 0) */
};
/* sm_rcpts_add - add addr unless it is there (domain case ignored);
 * 1 added, 0 already there, -1 no memory or too many */
int sm_rcpts_add(struct sm_rcpts *r, const char *addr, size_t len);
void sm_rcpts_free(struct sm_rcpts *r);

/* fixing the header section (sendmail_fix.c) */
struct sm_fix {
  /* in */
  const char *hostname;       /* Received:, Message-ID:, X-Authentication-Warning: */
  const char *domain;         /* qualifies bare names */
  const char *locals;         /* hostname, domain, localhost: blank-separated */
  const char *login;          /* the caller */
  unsigned long uid;
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
  struct sm_rcpts *rcpts;     /* -t recipients are added here */
};

/* sm_fix_headers - the fixed header section, and the empty line that ends
 * it, into out: Received:, X-Authentication-Warning: when an untrusted
 * caller set the sender, the caller's fields (Bcc:, Resent-Bcc: and
 * Return-Path: removed, addresses qualified, local senders rewritten),
 * then From:, Date:, Message-ID:, Sender: where missing or required.
 * With extract, the recipients of To:, Cc:, Bcc: (of their Resent- forms
 * if any exist) are added to f->rcpts.  0, or -1 with *why (a bad address
 * list in a field -t reads, out of memory). */
int sm_fix_headers(const struct sm_message *m, struct sm_fix *f, stralloc *out, const char **why);

/* sm_message_id - "<seconds.usec.pid.random@host>" appended to out */
int sm_message_id(stralloc *out, const struct sm_fix *f);

/* running other programs (sendmail_run.c, with lib/inject.c) */
/* sm_path - libexec_dir/name into sa (NUL-terminated); 0 or -1 */
int sm_path(stralloc *sa, const struct config *cfg, const char *name);
/* sm_run - run argv[0] with in and out as fds 0 and 1 (-1: inherit) and
 * its stderr kept in r->log, its last line in r->reply; if out_sa, fd 1
 * is a pipe read into out_sa.  Waits at most SM_CHILD_SECONDS.  0, or -1
 * if it could not be started (errno). */
int sm_run(char *const argv[], int in, int out, stralloc *out_sa, struct inject_result *r);
/* sm_run_injector - the injector on message in and envelope out, as
 * sm_run (inject_child_start: spool-inject's code in a forked child when
 * the caller may write the spool itself, root or the spool's owner, and
 * the injector is the default) */
int sm_run_injector(const struct config *cfg, int in, int out, struct inject_result *r);
/* sm_exec - replace this process with argv[0]; returns only on failure */
void sm_exec(char *const argv[]);

/* the queue listing (queue-run --list --machine) */
/* sm_json - convert machine listing lines into JSON lines, one object per
 * message: {"queue_id":..., "arrival_time":..., "message_size":...,
 * "sender":..., "recipients":[{"address":..., "status":..., "tries":...,
 * "next_try":..., "destination":..., "reason":...}, ...]}.  0, or -1 (a
 * line that is not M or R, or no memory) */
int sm_json(const char *text, size_t len, stralloc *out);
/* sm_json_string - s[0..len) as a JSON string (quotes included), bytes
 * that are not UTF-8 as U+FFFD */
int sm_json_string(stralloc *out, const char *s, size_t len);
/* sm_select_ids - the ids of messages in a machine listing that match -q:
 * kind 'I' the id contains sub, 'R' a pending recipient does, 'S' the
 * sender does (ASCII case ignored); each id NUL-terminated in ids.
 * The number of ids, or -1 (no memory). */
long sm_select_ids(const char *text, size_t len, char kind, const char *sub, stralloc *ids);

/* the modes (sendmail_mail.c, sendmail_modes.c): each returns the exit code */
int sm_mail(const struct sm_args *a, const struct config *cfg);
int sm_list(const struct sm_args *a, const struct config *cfg);
int sm_flush(const struct sm_args *a, const struct config *cfg);
int sm_aliases(const struct sm_args *a, const struct config *cfg);
int sm_smtp(const struct sm_args *a, const struct config *cfg);
int sm_verify(const struct sm_args *a, const struct config *cfg);
int sm_daemon(const struct sm_args *a);
int sm_interval(const struct sm_args *a);

/* shared by the modes (sendmail_mail.c) */
/* sm_qualify - an address from a -f, an argument or a header: "@domain"
 * added when it has none; into out, NUL-terminated; 0 or -1 no memory */
int sm_qualify(stralloc *out, const char *addr, size_t len, const char *domain);
/* sm_rcpt_args - the recipient arguments, each an address list, qualified
 * and checked, into r; 0, or -1 with *why (naming the argument) */
int sm_rcpt_args(const struct sm_args *a, const struct config *cfg, struct sm_rcpts *r, const char **why);
/* sm_queue_allowed - root or the owner of spool/queue (queue-run's rule):
 * 1 yes, 0 no (the refusal is printed by the caller) */
int sm_queue_allowed(const struct config *cfg);
/* sm_say - "NAME: a b c" on stderr (controls shown as '?') */
void sm_say(const char *a, const char *b, const char *c);

/* sm_milter - non_smtpd_milters on the message in *fd (replaced when a
 * milter changed it); a MILTER_* verdict, reply[MILTER_REPLY_MAX] set for
 * a refusal, quarantine[MILTER_QUARANTINE_MAX] set when quarantined */
int sm_milter(const struct config *cfg, int *fd, const char *sender, const struct sm_rcpts *r,
              const char *login, char *quarantine, char *reply);
#endif
