/* smtp.h - smtp-receive's parts: the session (smtp.c), command syntax
 * (parse.c), the data reader (data.c), the connection (io.c), the hand-off
 * to the injector (inject.c), policy (policy.c), AUTH (auth.c), the
 * PROXY protocol (proxy.c), the client's address and name (client.c) and
 * the relay recipients' check (verify.c).
 * smtp-receive(8) describes the whole. */
#ifndef SMTP_H
#define SMTP_H
#include <stddef.h>
#include <sys/types.h>
#include "buffer.h"
#include "address.h"
#include "stralloc.h"
#include "config.h"
#include "envelope.h"
#include "tls.h"
#include "inject.h"
#include "map.h"
#include "spool.h"
#include "hops.h"

#define SMTP_LINE_MAX 2048        /* bytes in a command line, CRLF excluded */
#define SMTP_REPLY_MAX 600        /* bytes in one reply line we build */
#define SMTP_HELO_MAX 255         /* bytes of HELO/EHLO argument */
#define SMTP_DATA_RATE 1024       /* message bytes that earn one more second of smtpd_data_timeout */

enum { MODE_MX, MODE_SUBMISSION, MODE_SMTPS, MODE_LOCAL };

/* verbs, in the order of parse.c's table */
enum {
  CMD_UNKNOWN, CMD_HELO, CMD_EHLO, CMD_MAIL, CMD_RCPT, CMD_DATA, CMD_BDAT,
  CMD_RSET, CMD_NOOP, CMD_QUIT, CMD_HELP, CMD_VRFY, CMD_EXPN, CMD_STARTTLS,
  CMD_AUTH, CMD_HTTP
};

/* struct settings - the smtpd_* keys, checked once at start (main.c) */
struct settings {
  int delay_checks;               /* smtpd_delay_checks */
  int verify_recipients;          /* smtpd_verify_recipients */
  int sender_dns_check;           /* smtpd_sender_dns_check */
  int name_lookup;                /* smtpd_client_name_lookup */
  double max_load;                /* smtpd_max_load, 0: off */
};

/* struct session - one connection */
struct session {
  const struct config *cfg;
  struct settings set;
  int mode;                       /* MODE_* */
  char ip[64];                    /* client address, "" when local */
  int proxied;                    /* ip came from a PROXY header */
  char name[256];                 /* client host name or "unknown" */
  char helo[SMTP_HELO_MAX + 1];
  int helo_seen, esmtp;
  int tls;                        /* 1 once STARTTLS or implicit TLS is up */
  char tls_info[128];             /* "TLSv1.3 TLS_AES_256_GCM_SHA384" */
  char user[256];                 /* authenticated user, "" if none */
  char auth_mech[16];             /* its AUTH mechanism */
  unsigned long auth_failures;
  int relay_client;               /* access RELAY, AUTH, or local mode */
  int client_ok;                  /* access OK: DNSBL and sender DNS skipped */
  int client_discard;             /* access DISCARD for the client */
  char client_reject[SMTP_REPLY_MAX];  /* pending (delay_checks) refusal */
  unsigned long commands, errors;
  /* maps, opened on first use */
  struct map access, local_domains, relay_domains, virtual_map, aliases;
  int maps_opened;
  /* the transaction */
  int in_mail;
  struct envelope env;
  unsigned long nrcpt;
  int discard;                    /* access DISCARD: accept, never inject */
  int smtputf8;
  char sender_reject[SMTP_REPLY_MAX];  /* pending sender refusal */
  char sender[ADDR_MAX + 1];      /* for log lines */
  int in_data;                    /* 1 while DATA bytes are arriving */
  int bdat;                       /* 1 while BDAT chunks are arriving */
  int bdat_failed;                /* a chunk failed: discard until LAST */
};

/* parse.c: pure syntax, no I/O (fuzzed by fuzz_smtp_command) */
struct mail_params {
  unsigned long size;             /* SIZE=, 0 absent */
  int body;                       /* 0 absent, 7 7BIT, 8 8BITMIME */
  int smtputf8;
  const char *ret; size_t retlen;     /* RET= */
  const char *envid; size_t envidlen; /* ENVID= */
  const char *notify; size_t notifylen;
  const char *orcpt; size_t orcptlen;
};
int parse_verb(const char *line, size_t len, size_t *arg);
const char *parse_path(const char *s, size_t len, const char *prefix,
                       char *addr, size_t *alen, size_t *rest);
const char *parse_mail_params(const char *s, size_t len, struct mail_params *p);
const char *parse_rcpt_params(const char *s, size_t len, struct mail_params *p);
int parse_bdat(const char *s, size_t len, unsigned long *size, int *last);

/* data.c: the DATA and BDAT byte streams (fuzzed by fuzz_smtp_data) */
enum { DATA_OK, DATA_BARE, DATA_LONG, DATA_SIZE, DATA_SINK };
struct data {
  int state;
  int error;                      /* first DATA_* error seen */
  unsigned long line_len, line_limit;   /* 0: no line limit */
  unsigned long size, size_limit;       /* CRLF-counted bytes; limit 0: none */
  buffer *sink;                   /* LF-ended, unstuffed output, or 0 */
  struct hops hops;               /* Received: and Delivered-To: fields seen */
};
void data_start(struct data *d, buffer *sink, unsigned long line_limit, unsigned long size_limit);
size_t data_dot(struct data *d, const char *buf, size_t len, int *done);
void data_chunk(struct data *d, const char *buf, size_t len);
void data_chunk_end(struct data *d);
const char *data_reply(int error);

/* tlsload.c: lib/tls.c's server side, from libexec_dir/postern-tls.so;
 * the members have tls.h's types, so the compiler checks them */
struct tls_api {
  __typeof__(tls_server) *server;
  __typeof__(tls_read) *read;
  __typeof__(tls_write) *write;
  __typeof__(tls_pending) *pending;
  __typeof__(tls_describe) *describe;
};
int tls_offered(const struct config *c);
const struct tls_api *tls_load(const char *libexec_dir, const char **why);

/* io.c: the connection */
extern buffer io_in, io_out;
void io_init(int infd, int outfd);
void io_timeout(unsigned long seconds);
void io_command_deadline(unsigned long seconds);   /* 0: none */
void io_data_deadline(unsigned long seconds);      /* 0: none */
void io_data_credit(size_t bytes);
int io_tls_start(const struct config *c, char *info, size_t infolen, const char **why);
void io_discard_input(void);
int io_fd(void);                  /* the connection's input descriptor */
int io_input_pending(void);
int io_wait_input(unsigned long ms);
void io_put(const char *s, size_t len);
void io_puts(const char *s);
void io_flush(void);

/* inject.c: the hand-off */
struct injector {
  struct child child;      /* the injector: its pid and our end of its fd 2 */
  int msgfd, envfd;               /* our ends of its fds 0 and 1 */
  unsigned long write_seconds;    /* how long a write to them may wait */
  buffer msg;
  char msgbuf[65536];
};
int inject_start(struct injector *j, const struct config *cfg, const char *id);
void inject_abort(struct injector *j);
int inject_finish(struct injector *j, const struct envelope *e, int commit, char *reply, char *qid);
int inject_received(buffer *b, const struct session *s, const char *id);

/* policy.c */
void policy_connect(struct session *s);
/* policy_dnsbl_zones_ok - is smtpd_dnsbl_zones well formed? (checked
 * once at start-up) */
int policy_dnsbl_zones_ok(const char *zones);
int policy_sender(struct session *s, const char *addr, size_t len, char *reply);
int policy_rcpt(struct session *s, const char *addr, size_t len, char *reply);
int policy_overloaded(double max_load);
void policy_close(struct session *s);

/* policy_maps_ready - s's maps opened, or kept when their files are
 * still the same (smtp-listen, for the next session: one stat per map
 * instead of an open, a mapping and their undoing in every session); 0,
 * or -1 when one cannot be opened (the session then opens its own, and
 * says why) */
int policy_maps_ready(struct session *s);

/* policy_maps_take - in a new session: the maps ready made (a forked
 * copy of the listener's) as its own */
void policy_maps_take(struct session *s, struct session *ready);

/* verify.c: a recipient of a relay-domains domain (lower case): the
 * relay-recipients map, then a probe of the next hop (smtpd_relay_verify);
 * 0 accepted, 1 refused with reply */
int verify_relay(struct session *s, const char *addr, size_t len, char *reply);

/* auth.c */
int auth_command(struct session *s, const char *arg, size_t len);
int auth_check(const struct session *s, const char *user, const char *pass);
int auth_sender(const struct session *s, const char *addr, size_t len, char *reply);
/* auth_program_ok - smtpd_auth_program splits into 1..AUTH_ARGS_MAX words */
int auth_program_ok(const char *cmd);

/* proxy.c */
int proxy_read(struct session *s, const char *trusted);
/* proxy_length - bytes of the PROXY header at the start of buf[0..len):
 * >0 all of it is there, 0 more bytes are needed, -1 not a header */
int proxy_length(const char *buf, size_t len);
/* proxy_parse - the header buf[0..len) (len from proxy_length): 1 the
 * client's address is now s->ip, 0 nothing to believe, -1 invalid */
int proxy_parse(struct session *s, const char *buf, size_t len);
int proxy_trusted(const char *ip, const char *list);
/* proxy_list_bad - the first word of an smtpd_proxy_trusted list that is
 * no address or prefix, or 0 if all are */
const char *proxy_list_bad(const char *list);

/* client.c */
void client_address(struct session *s);
void client_name(struct session *s);
int client_name_ok(const char *name, size_t len);
int client_loopback(const char *ip);   /* 127.0.0.0/8 or ::1 */

/* filter.c: smtpd_milters (lib/milter.c); with none configured each hook
 * is one test of a string */
int filter_on(const struct session *s);
int filter_mail(struct session *s, const char *arg, size_t len, char *reply);
int filter_rcpt(struct session *s, const char *addr, size_t alen, const char *arg, size_t len, char *reply);
int filter_begin(struct session *s, struct data *d, const char *rid, char *reply);
const char *filter_end(struct session *s, int data_error, const char *rid, char *qid, const char **status);
void filter_reset(struct session *s);

/* smtp.c */
void smtp_session(struct session *s);
void smtp_reply(struct session *s, const char *line);
void smtp_log_reject(struct session *s, const char *rcpt, const char *reply);
void smtp_log(struct session *s, const char *status, const char *detail);
_Noreturn void smtp_quit(struct session *s, const char *line);
_Noreturn void smtp_lost(struct session *s);
void smtp_stop(int sig);          /* SIGTERM handler of smtp-listen's sessions */

/* serve.c: a session process once its configuration is read */
int serve_settings(struct config *cfg, struct settings *set, const char **why, const char **what);
_Noreturn void serve_session(struct session *s);

/* txn.c: the mail transaction */
void txn_reset(struct session *s);
void txn_ehlo_reply(struct session *s);
void txn_mail(struct session *s, const char *arg, size_t len);
void txn_rcpt(struct session *s, const char *arg, size_t len);
void txn_data(struct session *s, size_t arglen);
void txn_bdat(struct session *s, const char *arg, size_t len);
#endif
