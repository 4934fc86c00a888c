/* milter.h - the client side of the Sendmail milter protocol, version 6
 * (what libmilter, rspamd's proxy worker, OpenDKIM, OpenDMARC and
 * clamav-milter speak), for smtp-receive (smtpd_milters) and sendmail
 * (non_smtpd_milters).  doc/architecture.md says where it runs and why.
 *
 * A struct milter_set holds the connections to the milters of one list,
 * in order.  The caller feeds it the SMTP events as they happen
 * (milter_connect ... milter_data), then the whole message at once
 * (milter_message), and gets a verdict for each.  Header changes asked
 * for at the end of the message are kept in the set and applied to the
 * copy that is queued (milter_write_message); a milter's changes count
 * only after its final answer, so a milter that dies half way commits
 * nothing.  Actions postern does not carry out (change sender, add or
 * delete recipients, replace the body) are not offered in option
 * negotiation; a milter that uses one anyway (rspamd declares them all)
 * gets a temporary failure for the message, and a log line. */
#ifndef MILTER_H
#define MILTER_H
#include <stddef.h>
#include <stdint.h>
#include "buffer.h"
#include "stralloc.h"
#include "config.h"

#define MILTER_MAX 8                  /* milters in one list */
#define MILTER_SPEC_MAX 300           /* bytes of one list entry */
#define MILTER_PACKET_MAX 65536       /* bytes of one packet from a milter (no MDS_256K/1M) */
#define MILTER_CHUNK_MAX 65535        /* bytes of body per BODY packet (libmilter's) */
#define MILTER_REPLY_LINES_MAX 8      /* lines of a custom reply */
#define MILTER_REPLY_LINE_MAX 512     /* bytes of one reply line, CRLF excluded (RFC 5321) */
#define MILTER_REPLY_MAX 1200         /* bytes of a whole reply we pass on, CRLF between lines */
#define MILTER_EDITS_MAX 1000         /* header changes per message, all milters */
#define MILTER_EDIT_BYTES_MAX (1UL << 20)   /* bytes of header changes per message */
#define MILTER_HEADERS_MAX 10000      /* header fields of a message we hand over */
#define MILTER_MACROS_MAX 24          /* macros the caller can set */
#define MILTER_QUARANTINE_MAX 300     /* bytes of a quarantine reason */

/* protocol constants (libmilter's mfdef.h, by value) */
#define MILTER_VERSION 6
#define SMFIF_ADDHDRS 0x01
#define SMFIF_CHGBODY 0x02
#define SMFIF_ADDRCPT 0x04
#define SMFIF_DELRCPT 0x08
#define SMFIF_CHGHDRS 0x10
#define SMFIF_QUARANTINE 0x20
#define SMFIF_CHGFROM 0x40
#define SMFIF_ADDRCPT_PAR 0x80
#define SMFIF_SETSYMLIST 0x100
#define MILTER_ACTIONS (SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST)
#define SMFIP_NOCONNECT 0x1
#define SMFIP_NOHELO 0x2
#define SMFIP_NOMAIL 0x4
#define SMFIP_NORCPT 0x8
#define SMFIP_NOBODY 0x10
#define SMFIP_NOHDRS 0x20
#define SMFIP_NOEOH 0x40
#define SMFIP_NR_HDR 0x80
#define SMFIP_NOUNKNOWN 0x100
#define SMFIP_NODATA 0x200
#define SMFIP_SKIP 0x400
#define SMFIP_RCPT_REJ 0x800
#define SMFIP_NR_CONN 0x1000
#define SMFIP_NR_HELO 0x2000
#define SMFIP_NR_MAIL 0x4000
#define SMFIP_NR_RCPT 0x8000
#define SMFIP_NR_DATA 0x10000
#define SMFIP_NR_UNKN 0x20000
#define SMFIP_NR_EOH 0x40000
#define SMFIP_NR_BODY 0x80000
#define SMFIP_HDR_LEADSPC 0x100000
/* what we offer: every "do not send" and "no reply" flag, SKIP, leading
 * space; not RCPT_REJ (we never send rejected recipients) */
#define MILTER_PROTOCOL (0x1fffffUL & ~(unsigned long)SMFIP_RCPT_REJ)

/* verdicts of a stage */
enum {
  MILTER_CONTINUE,      /* go on */
  MILTER_REJECT,        /* ms->reply: 5xx */
  MILTER_TEMPFAIL,      /* ms->reply: 4xx */
  MILTER_DISCARD        /* accept and drop the message */
};

/* struct milter_spec - one entry of smtpd_milters / non_smtpd_milters:
 *   inet:HOST:PORT or unix:/PATH, then optional ",connect=S",
 *   ",command=S", ",content=S", ",default_action=tempfail|accept" */
struct milter_spec {
  char name[MILTER_SPEC_MAX];     /* the address part, for the log */
  int unix_socket;
  char path[108];                 /* unix: the socket */
  char host[64];                  /* inet: a numeric IPv4 or IPv6 address */
  unsigned int port;
  unsigned long connect_seconds, command_seconds, content_seconds;
  int default_accept;             /* 1: a milter that fails is skipped */
};

struct milter_conf {
  unsigned int n;
  struct milter_spec m[MILTER_MAX];
};

/* milter_conf_parse - the list (blank-separated entries) with the global
 * milter_* settings of cfg as defaults; 0, or the reason it is refused */
const char *milter_conf_parse(struct milter_conf *mc, const char *list, const struct config *cfg);

/* struct milter_reply - one packet from a milter, decoded (pure: no I/O;
 * fuzzed by fuzz_milter).  Pointers are into the packet. */
struct milter_reply {
  char cmd;                       /* SMFIR_* letter, or 'O' for option negotiation */
  uint32_t index;                 /* 'i', 'm': header index */
  const char *name; size_t namelen;   /* 'h', 'i', 'm': header name */
  const char *value; size_t valuelen; /* 'h', 'i', 'm': header value; 'y', 'q': text */
  uint32_t version, actions, protocol;   /* 'O' */
  const char *symlists; size_t symlistslen;   /* 'O': stage lists after the words */
};
/* milter_reply_parse - pkt[0..len) is the command letter and its data;
 * 0 and r filled, or -1 if malformed (unknown letter, missing NUL, a name
 * that is no header field name, a value with NUL, CR, or LF not followed
 * by a blank, ...) */
int milter_reply_parse(const char *pkt, size_t len, struct milter_reply *r);
/* milter_reply_text - a custom reply ('y' text) as the SMTP reply we send:
 * 4xx or 5xx, lines joined with CRLF, each continued with '-', at most
 * MILTER_REPLY_LINES_MAX lines of MILTER_REPLY_LINE_MAX bytes; into
 * out[MILTER_REPLY_MAX]; its class '4' or '5', or 0 if it is malformed */
int milter_reply_text(const char *text, size_t len, char *out);

/* struct milter - one connection */
struct milter {
  const struct milter_spec *spec;
  int fd;                         /* -1: not connected */
  int failed;                     /* it failed; its default action rules */
  int done_conn;                  /* accepted the connection: nothing more */
  int done_msg;                   /* accepted or skipped this message */
  int skip_body;                  /* answered SKIP to a body chunk */
  int in_msg;                     /* a transaction was started with it */
  uint32_t actions, protocol;     /* negotiated */
  stralloc helo;                  /* the HELO it was sent last */
};

/* struct milter_edit - one header change, in the order it came */
struct milter_edit {
  char op;                        /* 'h' add, 'i' insert, 'm' change/delete */
  uint32_t index;
  unsigned long name, value;      /* offsets into the set's pool */
  int leadspc;                    /* the value includes its leading blank */
};

struct milter_set {
  const struct milter_conf *conf;
  struct milter m[MILTER_MAX];
  const char *log_id;             /* queue id for log lines, or 0 */
  /* macros: names and values, NUL-terminated, all sent at every stage */
  const char *macro_name[MILTER_MACROS_MAX];
  stralloc macro_value[MILTER_MACROS_MAX];
  unsigned int nmacros;
  /* the client, for SMFIC_CONNECT */
  char client_name[256], client_addr[64];
  unsigned int client_port;
  char family;                    /* '4', '6', 'L' local, 'U' unknown */
  int connected;                  /* CONNECT was sent */
  int session_verdict;            /* a CONNECT/HELO refusal holds for the session */
  char session_reply[MILTER_REPLY_MAX];
  /* the message */
  stralloc pool;
  struct milter_edit *edit;
  unsigned int nedit, aedit;
  unsigned long edit_bytes;
  char quarantine[MILTER_QUARANTINE_MAX];   /* "" unless quarantined */
  char reply[MILTER_REPLY_MAX];   /* the reply of the last refusal */
  char why[200];                  /* what failed, for the caller's log */
  stralloc out, in;               /* packet buffers */
};

/* setting up: conf must outlive ms */
void milter_init(struct milter_set *ms, const struct milter_conf *conf);
/* milter_macro - set macro name (e.g. "j", "{client_addr}") to value */
int milter_macro(struct milter_set *ms, const char *name, const char *value);
/* milter_client - who the client is: family '4', '6', 'L' or 'U' */
void milter_client(struct milter_set *ms, const char *name, const char *addr, unsigned int port, char family);

/* the stages; each returns a verdict (ms->reply set unless CONTINUE).
 * milter_helo connects and sends CONNECT first if that was not done yet.
 * args: NUL-separated "<addr>\0PARAM=x\0..." (len bytes) */
int milter_helo(struct milter_set *ms, const char *helo);
int milter_mail(struct milter_set *ms, const char *args, size_t len);
int milter_rcpt(struct milter_set *ms, const char *args, size_t len);
int milter_data(struct milter_set *ms);
/* milter_message - headers, end of headers, body, end of message: msg is
 * the message with LF line ends (header section, empty line, body), prefix
 * (a header field or two, LF-ended) is sent first as if it were part of
 * it.  The changes are kept for milter_write_message. */
int milter_message(struct milter_set *ms, const char *prefix, size_t plen, const char *msg, size_t len);
/* milter_write_message - prefix and msg with the kept header changes to
 * out; 0, or -1 (out failed) */
int milter_write_message(const struct milter_set *ms, buffer *out, const char *prefix, size_t plen, const char *msg, size_t len);
/* milter_abort - the transaction is over (RSET, the message queued or
 * refused): tell the milters, forget the changes */
void milter_abort(struct milter_set *ms);
/* milter_close - QUIT and close every connection */
void milter_close(struct milter_set *ms);
/* milter_edits_apply - (for tests and the fuzzer) the edits applied to
 * hdr[0..len) (header fields, LF-ended, no empty line) into out; 0, or
 * -1 out of memory */
int milter_edits_apply(const struct milter_set *ms, const char *hdr, size_t len, stralloc *out);
/* milter_edit_add - (for tests and the fuzzer) keep one decoded change; 0,
 * or -1 (too many, no memory) */
int milter_edit_add(struct milter_set *ms, const struct milter_reply *r, int leadspc);
#endif
