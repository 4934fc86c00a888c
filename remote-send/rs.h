/* rs.h - the parts of remote-send(8):
 *
 *   dest.c    destination syntax (smtp:, smtps:, lmtp:) and the TLS policy
 *   mx.c      MX lookup, ordering, A/AAAA, the address list, loop checks
 *   net.c     connecting (staggered across addresses and families), the
 *             connection's buffered I/O with timeouts, TLS
 *   reply.c   the SMTP reply parser and the EHLO keyword parser
 *   data.c    the message: 8-bit scan, size, dot-stuffing LF -> CRLF
 *   auth.c    relay-auth credentials, AUTH PLAIN and LOGIN
 *   smtp.c    the SMTP/LMTP dialogue for one message
 *   result.c  per-recipient results and their lines on fd 1
 *   reuse.c   fd 3 from remote-spawn: more messages for an open connection
 *   rewrite.c sender masquerading, generic.cdb and Received: stripping on
 *             the way out
 *   probe.c   remote-send -V: MAIL FROM:<>, RCPT, RSET for one address */
#ifndef RS_H
#define RS_H
#include <stddef.h>
#include "buffer.h"
#include "stralloc.h"
#include "config.h"

#define RS_HOST_MAX 255            /* bytes in a host name */
#define RS_ADDRS_MAX 20            /* addresses tried per delivery */
#define RS_MX_MAX 50               /* MX records considered */
#define RS_STAGGER_MS 250          /* RFC 8305: next address after this */
#define RS_REPLY_LINE_MAX 2048     /* bytes per reply line (RFC: 512) */
#define RS_REPLY_LINES_MAX 200     /* lines per reply */
#define RS_REPLY_TEXT_MAX 1000     /* bytes of reply text kept */
#define RS_TEXT_MAX 480            /* bytes of a result text on fd 1 */
#define RS_REUSE_WORDS_MAX 120     /* words of one request on fd 3 */
#define RS_REUSE_MSG_MAX (1 << 17) /* bytes of one request on fd 3 (queue-run: QR_SPAWN_MSG_MAX) */
#define RS_DEADLINE_SECONDS 7200   /* one message (queue-run's job limit) */
#define RS_RSET_SECONDS 20         /* RSET on a kept connection, at most */
#define RS_REUSE_MESSAGES_MAX 100  /* messages over one connection */
#define RS_REUSE_AGE_SECONDS 300   /* no new message on an older connection */
#define RS_REWRITE_EDITS_MAX 100   /* addresses rewritten in one header field */

enum { PROTO_SMTP, PROTO_LMTP };
enum { TLSP_NONE, TLSP_MAY, TLSP_ENCRYPT, TLSP_VERIFY };

/* struct dest - where the message goes */
struct dest {
  int proto;                  /* PROTO_SMTP or PROTO_LMTP */
  int implicit_tls;           /* smtps: TLS from the first byte */
  int mx;                     /* look up MX records for host */
  int relayhost;              /* this is the configured relayhost */
  char host[RS_HOST_MAX + 1]; /* name or address (no brackets) */
  unsigned long port;
  char path[108];             /* lmtp:unix: socket path, else "" */
  char key[RS_HOST_MAX + 20]; /* the route without its scheme: map key */
  int tls;                    /* TLSP_* */
  int plaintext_auth;         /* tls-policy allows AUTH without TLS */
  int has_cred;               /* relay-auth has credentials for it */
  char match[RS_HOST_MAX + 1];/* certificate name for verify, "" = host */
};

/* dest.c */
const char *dest_parse(struct dest *d, const char *s, const char *relayhost);
int dest_policy_word(const char *s, size_t len);     /* TLSP_*, -1 unknown */
const char *dest_policy(struct dest *d, const struct config *c, const char *policy_value);
int dest_lookup_policy(const struct dest *d, const char *map_dir, stralloc *v);   /* 1, 0 none, -1 */

/* struct target - one address to try */
struct target {
  char name[RS_HOST_MAX + 1]; /* the host it belongs to */
  unsigned char ip[16];
  int family;                 /* AF_INET, AF_INET6, AF_UNIX */
  int pref;                   /* MX preference, -1 none */
};

/* struct targets - the addresses of a delivery, in the order to try */
struct targets {
  struct target t[RS_ADDRS_MAX];
  unsigned int n;
};

/* mx.c: status of a lookup */
enum { MX_OK, MX_TEMP, MX_PERM };
int mx_targets(struct targets *ts, const struct dest *d, const char *me, stralloc *why);
int mx_local_address(const unsigned char *ip, int family);
void mx_interleave(struct target *t, unsigned int n);

/* net.c */
struct conn_info { char tls[200]; int verified; const char *verify_why; };
long long net_clock_ms(void);                  /* monotonic milliseconds */
int net_connect(const struct targets *ts, unsigned int *next, unsigned int *won,
                unsigned long port, unsigned long timeout, stralloc *why);   /* fd or -1 */
void net_use(int fd);
int net_socket(void);                          /* the connection's fd, or -1 */
void net_timeout(unsigned long seconds);       /* a deadline for what follows */
void net_timeout_each(unsigned long seconds);  /* a bound on each wait */
int net_getline(char *line, size_t max, size_t *len);   /* GETLN_* */
int net_put(const char *s, size_t len);
int net_puts(const char *s);
int net_flush(void);
int net_tls(const char *sni, const char *cafile, const char *match, int require,
            struct conn_info *ci, const char **why);
void net_close(void);
void net_wipe(void);
void net_describe(const struct target *t, unsigned long port, char *out, size_t max);
/* net_log_id - the queue id for the log line of each failed connection attempt */
void net_log_id(const char *id);
/* net_source - the families connections may use (both, ipv4, ipv6) and the
 * source address to bind for each ("": the kernel's choice); 0, or what
 * is wrong with a setting */
const char *net_source(const char *family, const char *addr4, const char *addr6);
extern buffer net_out;

/* reply.c */
struct reply {
  int code;                          /* 0 until the first line */
  int done;                          /* the last line was seen */
  unsigned int lines;
  char status[16];                   /* enhanced status code or "" */
  char text[RS_REPLY_TEXT_MAX + 1];  /* lines joined by blanks, printable */
  size_t len;
};
void reply_init(struct reply *r);
int reply_line(struct reply *r, const char *line, size_t len);   /* 1 done, 0 more, -1 bad */
void reply_format(const struct reply *r, char *out, size_t max);

struct ehlo {
  int pipelining, eightbit, smtputf8, dsn, starttls, auth_plain, auth_login, size_given;
  unsigned long size;                /* SIZE limit, 0 none */
};
void ehlo_init(struct ehlo *e);
void ehlo_line(struct ehlo *e, const char *line, size_t len);   /* one line's text */

/* data.c */
struct message {
  const char *s;              /* the message, LF line ends */
  size_t len;
  size_t wire;                /* bytes on the wire, CRLF, before stuffing */
  int eightbit;               /* a byte above 127 */
  int eightbit_head;          /* one in the header section */
  void *map;                  /* what data_load mapped of fd 0 (from a page */
  size_t mapped;              /* boundary at or before s), its bytes, or 0 */
};
void data_scan(struct message *m);
size_t data_head(const char *s, size_t len);   /* bytes of the header section */
int data_write(buffer *out, const char *s, size_t len);   /* stuffed, CRLF, ".\r\n" */
int data_load(int fd, struct message *m, stralloc *copy);  /* 0, or -1 with errno */
void data_unload(struct message *m);

/* auth.c */
struct cred { char user[256]; char pass[256]; };
int auth_lookup(const char *map_dir, const struct dest *d, struct cred *c, stralloc *why);  /* 1, 0 none, -1 */
size_t auth_base64(char *out, const char *in, size_t len);
size_t auth_plain(char *out, const struct cred *c);   /* base64 of \0user\0pass */
void auth_wipe(struct cred *c);

/* result.c */
enum { RES_NONE, RES_OK, RES_DEFER, RES_FAIL };
struct rcpt {
  const char *addr;           /* address */
  const char *notify;         /* DSN NOTIFY or 0 */
  const char *orcpt;          /* DSN ORCPT (type;xtext) or 0 */
  int state;                  /* R_* */
  int accepted;               /* RCPT got 2xx in this session */
  int dsn;                    /* the server that accepted it offered DSN: it has our DSN request */
  char text[RS_TEXT_MAX + 1];
};
struct job {
  const char *dest;           /* the destination argument */
  const char *sender;
  const char *envid, *ret, *body;   /* message DSN/BODY parameters or 0 */
  int smtputf8;               /* SMTPUTF8 requested (-U) */
  int utf8_addr;              /* an address holds UTF-8: SMTPUTF8 needed */
  struct rcpt *r;
  unsigned int n;
  const char *id;             /* queue id for the log, or 0 */
};
int rcpt_parse(struct rcpt *r, char *arg);    /* 0, -1 malformed */
void result_set(struct rcpt *r, int state, const char *text);
void result_all(struct job *j, int state, const char *text);   /* those without a result */
void result_reply(struct rcpt *r, const struct reply *rep, const char *where);
int result_write(const struct job *j, int fd);

/* smtp.c */
struct session {
  const struct config *cfg;
  const struct dest *d;
  const struct message *m;
  struct job *j;
  const struct cred *cred;    /* 0: no AUTH */
  const struct target *t;     /* the address connected to */
  char where[RS_HOST_MAX + 64];  /* "name[ip]:port" for texts and the log */
  struct conn_info ci;
  struct ehlo e;
  int tls_on;                 /* TLS is up */
  int looped;                 /* the server is ourselves */
  int broken;                 /* the connection failed: no QUIT */
  int closing;                /* the server said 421 */
  int keep;                   /* leave a clean connection open (reuse) */
  int open;                   /* a connection is open and in a clean state */
  unsigned int sent;          /* transactions on this connection */
  long long since;            /* when it was made (net_clock_ms) */
};
/* smtp_session - the dialogue on the connection set up by net_use: DONE
 * (0) the recipients' results are set (some may still have none: they
 * are deferred), or NEXT (1) try the next address, why says why */
int smtp_session(struct session *s, stralloc *why);
/* smtp_again - the next message on the open connection: RSET, then the
 * transaction; DONE, or NEXT when the connection is no longer usable
 * (nothing was sent: connect afresh) */
int smtp_again(struct session *s, stralloc *why);
void smtp_quit(struct session *s);   /* QUIT on an open connection, close it */
int smtp_open(struct session *s, stralloc *why);   /* greeting to STARTTLS, no AUTH: DONE or NEXT */
int smtp_command(struct session *s, const char *line, struct reply *r, const char *stage, stralloc *why);
int smtp_tls(struct session *s, stralloc *why);
int smtp_utf8_needed(const struct job *j, const struct message *m);

/* rewrite.c (remote-send.8 REWRITING) */
/* rewrite_setup - check the settings; 0, or what is wrong */
const char *rewrite_setup(const struct config *c);
/* rewrite_applies - is anything rewritten for d (SMTP, not exempt, something configured)? */
int rewrite_applies(const struct dest *d);
/* rewrite_address - addr[0..len) by generic.cdb, else masquerade_domains:
 * 1 changed (out holds it), 0 unchanged, -1 temporary failure (*why) */
int rewrite_address(const char *addr, size_t len, stralloc *out, const char **why);
/* rewrite_message - the message with its address fields rewritten and
 * Received: fields stripped as configured: 1 changed (out holds the whole
 * message), 0 unchanged (out is not the message), -1 temporary failure (*why) */
int rewrite_message(const char *s, size_t len, stralloc *out, const char *id, const char **why);

/* probe.c: remote-send -V destination address (remote-send.8 PROBES) */
int probe_main(int argc, char **argv);

/* reuse.c: the protocol on fd 3 (remote-send.8 REUSE) */
struct reuse_req {
  char *argv[RS_REUSE_WORDS_MAX + 2];   /* "remote-send" then the words after the id */
  int argc;
  const char *id;                       /* queue id */
  int msgfd, outfd;
};
int reuse_fd(void);                             /* fd 3 when remote-spawn gave it, else -1 */
int reuse_done(int fd, int code);               /* the job is finished: 0 or -1 */
int reuse_wait(int fd, int conn, unsigned long seconds, char *buf, size_t size, struct reuse_req *r);   /* 1 request, 0 none */
#endif
