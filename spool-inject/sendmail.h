/* sendmail.h - the pieces of the sendmail(8) front end (main_sendmail.c):
 *   sendmail_args.c     the command line (every flag of sendmail.8)
 *   sendmail_rfc5322.c  RFC 5322 address lists (-t, qualification)
 *   sendmail_headers.c  reading and fixing the header section, the body
 *   sendmail_run.c      running the injector, queue-run, smtp-receive,
 *                       postern-maps
 * Names start with sm_ so that nothing clashes with inject.c, which shares
 * spool-inject's dir.a. */
#ifndef SENDMAIL_H
#define SENDMAIL_H
#include <stddef.h>
#include "buffer.h"
#include "stralloc.h"
#include "config.h"
#include "envelope.h"

#define SM_ARG_MAX 1000          /* bytes in one argument */
#define SM_FULLNAME_MAX 200      /* bytes in -F */
#define SM_HEADER_MAX 102400     /* bytes in one (folded) header field */
#define SM_HEADERS_MAX (1UL << 20)   /* bytes in the whole header section */
#define SM_LINE_CHUNK 8192       /* bytes read at once from a body line */

/* what the command line asks for */
enum {
  SM_MAIL,          /* -bm: read a message and queue it (default) */
  SM_LIST,          /* -bp, mailq */
  SM_ALIASES,       /* -bi, -I, newaliases */
  SM_SMTP,          /* -bs */
  SM_VERIFY,        /* -bv */
  SM_DAEMON,        /* -bd, -bl: explained, nothing started */
  SM_FLUSH,         /* -q, -qI, -qR, -qS */
  SM_INTERVAL,      /* -q15m: explained, nothing started */
  SM_IGNORED        /* -bh, -bH: nothing to do */
};

enum { SM_LIST_HUMAN, SM_LIST_MACHINE, SM_LIST_JSON };

struct sm_args {
  int mode;
  int extract;            /* -t */
  int dot_ends;           /* 0 with -i, -oi */
  int verbose;            /* -v */
  char errmode;           /* -oe?: 'p' (default), 'm', 'w', 'q', 'e' */
  int list_format;        /* --machine, --json with -bp */
  const char *sender;     /* -f, -r; 0: none given */
  const char *fullname;   /* -F */
  const char *body;       /* -B */
  const char *notify;     /* -N */
  const char *ret;        /* -R */
  const char *envid;      /* -V */
  const char *conf;       /* -C */
  const char *label;      /* -L */
  const char *alias_file; /* -oA */
  char flush_kind;        /* -q: 0 all, 'I' id, 'R' site, 'S' sender site */
  const char *flush_arg;
  char **rcpt;            /* recipient arguments (pointers into argv) */
  int nrcpt;
  const char *error;      /* usage error, or 0 */
  const char *error_arg;  /* the flag or value it is about */
};

/* sm_args_parse - fill a from argv (argv[0]'s base name may be mailq or
 * newaliases); 0, or -1 with a->error set (a usage error, exit 64).
 * a->rcpt is allocated (argc entries); free it with sm_args_free. */
int sm_args_parse(struct sm_args *a, int argc, char **argv);
void sm_args_free(struct sm_args *a);

/* RFC 5322 address lists (sendmail_rfc5322.c) */
struct sm_mailbox {
  const char *addr;       /* addr-spec without CFWS, NUL-terminated (in the
                             parser's scratch; copy it to keep it) */
  size_t len;
  size_t start, end;      /* the addr-spec's span in the parsed text */
  size_t local_end;       /* offset in the parsed text just after the last
                             byte of the local part (where "@domain" goes) */
  int qualified;          /* it has "@domain" */
  int null;               /* "<>" */
};
/* sm_addrlist - parse text[0..len) (a header field body, folding included)
 * as an address list; for each mailbox call fn(ctx, mailbox); a non-zero
 * return from fn stops the walk and is returned.  Returns 0, or -1 with
 * *why set when the text is not an address list. */
int sm_addrlist(const char *text, size_t len,
                int (*fn)(void *ctx, const struct sm_mailbox *m), void *ctx,
                const char **why);

/* sm_qualify_text - copy text[0..len) to out with "@domain" inserted after
 * each unqualified address; with rewrite (not 0), local addresses (no
 * domain, or one of the locals, blank separated) become rewrite.  0, or -1
 * (not an address list: out holds an unchanged copy). */
int sm_qualify_text(const char *text, size_t len, const char *domain,
                    const char *rewrite, const char *locals, stralloc *out);

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
  stralloc hdr;           /* header section, LF line ends */
  struct sm_header *h;
  unsigned int nh, ah;
  stralloc first_body;    /* a line that ended the headers by not being one */
  int had_first_body;
  int had_separator;      /* an empty line ended the headers */
  int pending_cr;         /* a CR at the end of a long piece of a body line */
  unsigned long body_bytes;
};

enum { SM_OK = 0, SM_EDATA = -1, SM_EIO = -2, SM_ENOMEM = -3 };

/* sm_read_headers - read the header section (CRLF to LF; a leading mbox
 * "From " line dropped; a "." line ends the input unless dot_ends is 0).
 * SM_OK, or SM_EDATA with *why (NUL byte, field too long, ...), SM_EIO. */
int sm_read_headers(struct sm_message *m, const char **why);
/* sm_header_find - index of the i-th field called name (0: first), or -1 */
int sm_header_find(const struct sm_message *m, const char *name, unsigned int nth);
/* sm_header_is - field k is called name (ASCII case ignored) */
int sm_header_is(const struct sm_message *m, unsigned int k, const char *name);
/* sm_header_value - the body of field k: after the colon */
const char *sm_header_value(const struct sm_message *m, unsigned int k, size_t *len);
/* sm_copy_body - the rest of the input to out, CRLF to LF, a final LF added
 * when missing, stopping at a "." line when dot_ends.  SM_OK, SM_EIO (read
 * error, errno set) or SM_EDATA (out failed). */
int sm_copy_body(struct sm_message *m, buffer *out);
void sm_message_free(struct sm_message *m);

/* what the header fixing needs to know about the caller and the flags */
struct sm_who {
  const char *login;      /* the caller's user name */
  const char *fullname;   /* -F, $NAME or the passwd gecos, may be "" */
  const char *sender;     /* envelope sender after qualification; "" null */
  int sender_given;       /* -f or -r was used */
  int trusted;            /* may set the sender without a warning */
  int own_sender;         /* -f names the caller himself */
  unsigned long uid;
};

struct sm_fix {
  const struct config *cfg;
  const struct sm_who *who;
  int extract;                /* -t: recipients from the header */
  struct envelope *env;       /* -t recipients are added here */
  int add_sender;             /* the Sender: rule is on */
  const char *rewrite;        /* sendmail_rewrite_sender, or 0 */
  unsigned long now;          /* for Date:, Received:, Message-ID: */
  unsigned long usec;
  unsigned long pid;
  unsigned long random;
  const char *tz;             /* "+0000" style offset of now */
  unsigned int added;         /* -t recipients added */
};

/* sm_fix_headers - write the fixed header section (and the empty line
 * that ends it) to out: Received:, X-Authentication-Warning: when an
 * untrusted caller set the sender, the caller's fields with Bcc: and
 * Resent-Bcc: removed and addresses qualified, then From:, Date:,
 * Message-ID:, Sender: where missing.  With extract, To:, Cc:, Bcc: (or
 * their Resent- forms if any exist) go into the envelope.  0, or -1 with
 * *why (bad address list in a -t field, bad address, out of memory). */
int sm_fix_headers(struct sm_message *m, struct sm_fix *f, buffer *out, const char **why);

/* sm_date - RFC 5322 date-time of t in local time into out[64] */
void sm_date(char *out, unsigned long t);
/* sm_phrase - a display name as RFC 5322 wants it: atoms as they are,
 * else a quoted string; non-ASCII as RFC 2047 encoded words */
int sm_phrase(stralloc *out, const char *name, size_t len);

/* running other programs (sendmail_run.c) */
struct sm_injection {
  int code;               /* the injector's exit code */
  char reply[1000];       /* its last line on fd 2 */
  char id[64];            /* queue id from a 250 reply, or "" */
};
/* sm_spawn - start program with argv; in, out, err become fds 0, 1, 2
 * (-1: inherit).  0, or -1 (errno). */
int sm_spawn(int *pid, const char *program, char *const argv[], int in, int out, int err);
/* sm_wait - the exit code of pid (a signal is EX_TEMPFAIL) */
int sm_wait(int pid);
/* sm_path - libexec_dir/name into sa (NUL-terminated) */
int sm_path(stralloc *sa, const struct config *cfg, const char *name);
/* sm_queue_ids - the ids of queued messages with a pending recipient
 * (kind 'R') or a sender (kind 'S') in domain site, or whose id contains
 * site (kind 'I'), from queue-run --list --machine; -1 on failure */
int sm_queue_ids(const struct config *cfg, const char *conf, char kind, const char *site, stralloc *ids);
/* sm_list_json - run queue-run --list --machine and write JSON lines to fd 1 */
int sm_list_json(const struct config *cfg, const char *conf);
/* sm_json_line - convert one machine-readable listing line into out's
 * current JSON object (M starts a new one, R adds a recipient); 1 when a
 * finished object was moved to done */
int sm_json_line(const char *line, size_t len, stralloc *cur, stralloc *done);
int sm_json_end(stralloc *cur, stralloc *done);
#endif
