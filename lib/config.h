/* config.h - postern.conf(5): one file of "key = value" lines.
 * Every key, its type, default and bounds are one row of CONFIG_KEYS
 * below; unknown keys and bad values are errors with file:line. */
#ifndef CONFIG_H
#define CONFIG_H
#include "stralloc.h"

enum { LOGTO_AUTO, LOGTO_STDERR, LOGTO_SYSLOG };

/* CONFIG_KEYS - every key of postern.conf(5), one row each:
 *   X(TYPE, name, "default", min, max)
 * The row is the whole definition: the field of struct config below is
 * generated from it, config.c's table (config_key) is generated from it,
 * and the default is written as in the file and parsed like a value from
 * it.  TYPE and the field it makes:
 *   STR      const char *     any text
 *   PATH     const char *     an absolute path
 *   OPTPATH  const char *     empty, or an absolute path
 *   NUM      unsigned long    a decimal count, min..max
 *   SIZE     unsigned long    bytes, a number with k, M or G, min..max
 *   TIME     unsigned long    seconds, a number with s, m, h, d or w, min..max
 *   BOOL     int              yes (1) or no (0)
 *   LOG      int              auto, stderr or syslog (LOGTO_*)
 * min and max bound NUM, SIZE and TIME after the unit is applied
 * (CONFIG_MAX: no upper bound); other types ignore them.  A new key is one
 * row here and its entry in lib/postern.conf.5 (test_config checks that
 * the two agree). */
#define CONFIG_MAX ((unsigned long)-1)
#define CONFIG_KEYS(X) \
  /* names (DESIGN.md fixes these) */ \
  X(STR,    hostname,                       "",                     0, CONFIG_MAX) /* our name in greetings, Received:, ids; "": uname(2) */ \
  X(STR,    domain,                         "",                     0, CONFIG_MAX) /* qualifies bare names like root; "": hostname */ \
  X(PATH,   spool,                          "/var/spool/postern",   0, CONFIG_MAX) /* spool directory */ \
  X(PATH,   map_dir,                        "/etc/postern",         0, CONFIG_MAX) /* where the maps live */ \
  X(PATH,   libexec_dir,                    "/usr/libexec/postern", 0, CONFIG_MAX) /* where the programs live */ \
  X(OPTPATH, injector,                       "",                     0, CONFIG_MAX) /* program smtp-receive and sendmail run; "": libexec_dir/spool-inject */ \
  X(STR,    relayhost,                      "",                     0, CONFIG_MAX) /* smarthost, or "" */ \
  X(STR,    local_delivery,                 "auto",                 0, CONFIG_MAX) /* yes, no, auto: are hostname and localhost local? */ \
  X(OPTPATH, tls_cert_file,                  "",                     0, CONFIG_MAX) \
  X(OPTPATH, tls_key_file,                   "",                     0, CONFIG_MAX) \
  /* limits */ \
  X(SIZE,   message_size_limit,             "50M",                  0, CONFIG_MAX) /* bytes; 0 means no limit */ \
  X(SIZE,   spool_reserve,                  "100M",                 0, CONFIG_MAX) /* bytes that must stay free on the spool */ \
  X(TIME,   queue_lifetime,                 "5d",                   0, CONFIG_MAX) /* seconds */ \
  X(NUM,    hop_count_limit,                "50",                   0, CONFIG_MAX) /* Received:+Delivered-To: fields a queued message may have; 0: no limit */ \
  X(LOG,    log,                            "auto",                 0, CONFIG_MAX) /* LOGTO_AUTO, LOGTO_STDERR, LOGTO_SYSLOG */ \
  /* smtp-receive (smtp-receive.8) */ \
  X(STR,    smtpd_banner,                   "",                     0, CONFIG_MAX) /* greeting text after the hostname */ \
  X(NUM,    smtpd_recipient_limit,          "1000",                 0, CONFIG_MAX) /* recipients per message */ \
  X(NUM,    smtpd_command_limit,            "10000",                0, CONFIG_MAX) /* commands per session */ \
  X(NUM,    smtpd_error_limit,              "20",                   0, CONFIG_MAX) /* refused commands per session */ \
  X(TIME,   smtpd_timeout,                  "300",                  0, CONFIG_MAX) /* seconds to wait for a command */ \
  X(TIME,   smtpd_data_timeout,             "600",                  0, CONFIG_MAX) /* seconds to wait for message data */ \
  X(TIME,   smtpd_greet_pause,              "0",                    0, CONFIG_MAX) /* seconds of silence before the greeting */ \
  X(SIZE,   smtpd_line_limit,               "998",                  0, CONFIG_MAX) /* bytes per message line, CRLF excluded */ \
  X(NUM,    smtpd_auth_failure_limit,       "3",                    0, CONFIG_MAX) /* failed AUTH attempts per session */ \
  X(STR,    smtpd_max_load,                 "",                     0, CONFIG_MAX) /* load average above which we refuse, "" off */ \
  X(BOOL,   smtpd_delay_checks,             "yes",                  0, CONFIG_MAX) /* client/sender refusals at RCPT */ \
  X(BOOL,   smtpd_verify_recipients,        "yes",                  0, CONFIG_MAX) /* unknown local users at RCPT */ \
  X(BOOL,   smtpd_sender_dns_check,         "yes",                  0, CONFIG_MAX) /* MAIL FROM domain must resolve */ \
  X(STR,    smtpd_dnsbl_zones,              "",                     0, CONFIG_MAX) /* DNSBL zones, blank or comma separated */ \
  X(STR,    smtpd_proxy_trusted,            "",                     0, CONFIG_MAX) /* addresses that may send a PROXY header */ \
  X(STR,    smtpd_auth_program,             "",                     0, CONFIG_MAX) /* checkpassword-style AUTH program, "": passwd map */ \
  X(TIME,   smtpd_auth_failure_delay,       "1",                    0, CONFIG_MAX) /* seconds before answering a failed AUTH */ \
  X(BOOL,   smtpd_client_name_lookup,       "yes",                  0, CONFIG_MAX) /* the client's name from DNS (PTR + forward) */ \
  X(BOOL,   smtpd_relay_by_name,            "no",                   0, CONFIG_MAX) /* an access host-name key may grant RELAY */ \
  X(STR,    smtpd_sender_login_map,         "",                     0, CONFIG_MAX) /* map of sender -> AUTH logins, "": off */ \
  X(BOOL,   smtpd_relay_verify,             "no",                   0, CONFIG_MAX) /* ask the next hop about relay-domains recipients at RCPT */ \
  X(TIME,   smtpd_relay_verify_timeout,     "30",                   1, 3600)       /* seconds one RCPT's probe may take in all; then 450 */ \
  X(TIME,   smtpd_relay_verify_positive_expire, "7d",               0, CONFIG_MAX) /* how long a recipient the hop accepted stays cached */ \
  X(TIME,   smtpd_relay_verify_negative_expire, "3h",               0, CONFIG_MAX) /* how long one it refused (5xx) stays cached */ \
  X(OPTPATH, smtpd_relay_verify_cache,       "/var/lib/postern/verify", 0, CONFIG_MAX) /* the answers' cache directory; "": no cache */ \
  X(NUM,    smtpd_relay_verify_cache_size,  "10000",                1, 1000000)    /* cache files at most (one slot per hashed address) */ \
  X(BOOL,   received_hide_submitter,        "no",                   0, CONFIG_MAX) /* no client details or uid in Received: of submissions */ \
  /* smtp-listen (smtp-listen.8) */ \
  X(NUM,    smtpd_max_sessions,             "100",                  1, 4096) /* sessions at once per listener (LIMIT_SESSIONS_MAX) */ \
  X(NUM,    smtpd_max_source_sessions,      "20",                   0, CONFIG_MAX) /* sessions at once per client source; 0: none */ \
  X(NUM,    smtpd_source_rate_limit,        "600",                  0, CONFIG_MAX) /* connections per source and minute; 0: none */ \
  X(STR,    smtpd_limit_exempt,             "127.0.0.1 ::1",        0, CONFIG_MAX) /* addresses and prefixes the per-source limits spare */ \
  X(TIME,   smtpd_shutdown_timeout,         "30s",                  0, CONFIG_MAX) /* seconds a stop waits for sessions */ \
  /* sendmail (sendmail.8) */ \
  X(STR,    sendmail_trusted_users,         "root",                 0, CONFIG_MAX) /* may set the sender without a warning; %group */ \
  X(STR,    sendmail_rewrite_sender,        "",                     0, CONFIG_MAX) /* local senders become this address; "": off */ \
  /* milters (lib/milter.c; postern.conf.5 Milters) */ \
  X(STR,    smtpd_milters,                  "",                     0, CONFIG_MAX) /* milters for mail received over SMTP, "": none */ \
  X(STR,    non_smtpd_milters,              "",                     0, CONFIG_MAX) /* milters for mail submitted with sendmail, "": none */ \
  X(TIME,   milter_connect_timeout,         "30",                   1, CONFIG_MAX) /* seconds to connect to a milter */ \
  X(TIME,   milter_command_timeout,         "30",                   1, CONFIG_MAX) /* seconds per answer to a command */ \
  X(TIME,   milter_content_timeout,         "300",                  1, CONFIG_MAX) /* seconds per answer to message content */ \
  X(STR,    milter_default_action,          "tempfail",             0, CONFIG_MAX) /* tempfail or accept: a milter that fails */ \
  /* queue-run and local-deliver (queue-run.8, local-deliver.8) */ \
  X(STR,    home_mailbox,                   "Maildir/",             0, CONFIG_MAX) /* relative to home: Maildir if it ends in / */ \
  X(BOOL,   allow_forward,                  "yes",                  0, CONFIG_MAX) /* no: users' ~/.forward files are not read */ \
  X(STR,    mail_spool_directory,           "",                     0, CONFIG_MAX) /* "": none; else mbox DIR/USER */ \
  X(STR,    mailbox_command,                "",                     0, CONFIG_MAX) /* "": none; else run by /bin/sh -c */ \
  X(STR,    virtual_user,                   "postern-virtual",      0, CONFIG_MAX) /* runs virtual-map and alias deliveries */ \
  X(STR,    program_dir,                    "/etc/postern/programs", 0, CONFIG_MAX) /* allow-list for |program; "": none allowed */ \
  X(STR,    remote_deliverer,               "",                     0, CONFIG_MAX) /* "": libexec_dir/remote-send */ \
  X(NUM,    concurrency_limit,              "20",                   0, CONFIG_MAX) /* deliveries at once */ \
  X(NUM,    destination_concurrency_limit,  "20",                   0, CONFIG_MAX) /* per destination */ \
  X(TIME,   retry_min,                      "5m",                   0, CONFIG_MAX) /* seconds before the first retry */ \
  X(TIME,   retry_max,                      "4h",                   0, CONFIG_MAX) /* longest back-off, seconds */ \
  X(TIME,   delay_warning_time,             "0",                    0, CONFIG_MAX) /* seconds; 0: no delay warnings */ \
  X(NUM,    bounce_rate_limit,              "100",                  0, CONFIG_MAX) /* bounces per hour per address; 0: none */ \
  X(NUM,    queue_load_limit,               "0",                    0, CONFIG_MAX) /* pause above this load average; 0: off */ \
  X(STR,    queue_user,                     "postern-queue",        0, CONFIG_MAX) /* queue-run drops to this user as root */ \
  X(STR,    send_user,                      "postern-send",         0, CONFIG_MAX) /* remote-spawn drops to this user */ \
  X(SIZE,   bounce_size_limit,              "50k",                  0, CONFIG_MAX) /* bounces return larger originals' header only */ \
  X(TIME,   queue_shutdown_timeout,         "60",                   0, CONFIG_MAX) /* seconds SIGTERM waits for deliveries */ \
  X(BOOL,   dsn_success_notices,            "yes",                  0, CONFIG_MAX) /* no: NOTIFY=SUCCESS not honoured (queue-run.8) */ \
  /* remote-send (remote-send.8); policy words are checked there */ \
  X(TIME,   smtp_connect_timeout,           "30",                   0, CONFIG_MAX) /* seconds per connection attempt */ \
  X(TIME,   smtp_greeting_timeout,          "300",                  0, CONFIG_MAX) /* seconds to wait for the 220 */ \
  X(TIME,   smtp_command_timeout,           "300",                  0, CONFIG_MAX) /* EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET, QUIT */ \
  X(TIME,   smtp_data_init_timeout,         "120",                  0, CONFIG_MAX) /* the 354 after DATA */ \
  X(TIME,   smtp_data_block_timeout,        "180",                  0, CONFIG_MAX) /* each write of message data */ \
  X(TIME,   smtp_data_done_timeout,         "600",                  0, CONFIG_MAX) /* the reply after the final dot */ \
  X(STR,    smtp_tls_policy,                "may",                  0, CONFIG_MAX) /* none, may, encrypt, verify: MX and routes */ \
  X(STR,    relayhost_tls_policy,           "verify",               0, CONFIG_MAX) /* the same for relayhost */ \
  X(OPTPATH, smtp_tls_ca_file,               "",                     0, CONFIG_MAX) /* "": the system CA store */ \
  X(TIME,   dns_timeout,                    "30",                   0, CONFIG_MAX) /* seconds per DNS question */ \
  X(STR,    dns_servers,                    "",                     0, CONFIG_MAX) /* DNS servers of every program; "": /etc/resolv.conf */ \
  X(STR,    dns_domain_servers,             "",                     0, CONFIG_MAX) /* domain=ip,ip ...: split DNS */ \
  X(TIME,   smtp_connection_reuse_time,     "2",                    0, CONFIG_MAX) /* idle seconds a connection waits for the next message; 0: no reuse */ \
  X(STR,    smtp_address_family,            "both",                 0, CONFIG_MAX) /* both, ipv4 or ipv6: the families remote-send connects with */ \
  X(STR,    smtp_bind_address,              "",                     0, CONFIG_MAX) /* IPv4 source address of outgoing connections; "": the kernel's */ \
  X(STR,    smtp_bind_address6,             "",                     0, CONFIG_MAX) /* IPv6 source address of outgoing connections; "": the kernel's */ \
  X(STR,    masquerade_domains,             "",                     0, CONFIG_MAX) /* user@host.example.com leaves as user@example.com; !domain keeps */ \
  X(STR,    smtp_received_headers,          "keep",                 0, CONFIG_MAX) /* keep, strip-internal or ours-only: Received: on the way out */ \
  X(STR,    smtp_internal_networks,         "127.0.0.0/8 ::1/128 10.0.0.0/8 172.16.0.0/12 192.168.0.0/16 fc00::/7", 0, CONFIG_MAX) /* inside clients, for strip-internal */ \
  X(STR,    smtp_rewrite_exempt,            "",                     0, CONFIG_MAX) /* routes (without smtp:) that get no rewriting */ \
  /* local-spawn (queue-run.8): who receives his own mail */ \
  X(NUM,    local_min_uid,                  "1000",                 0, CONFIG_MAX) /* accounts below are not mail recipients... */ \
  X(STR,    local_allowed_users,            "",                     0, CONFIG_MAX) /* ...unless named here (blank or comma separated) */ \
  X(STR,    local_refuse_shells,            "",                     0, CONFIG_MAX) /* accounts with these shells are not mail recipients */

#define CONFIG_FIELD_STR const char *
#define CONFIG_FIELD_PATH const char *
#define CONFIG_FIELD_OPTPATH const char *
#define CONFIG_FIELD_NUM unsigned long
#define CONFIG_FIELD_SIZE unsigned long
#define CONFIG_FIELD_TIME unsigned long
#define CONFIG_FIELD_BOOL int
#define CONFIG_FIELD_LOG int
#define CONFIG_FIELD(type, name, def, min, max) CONFIG_FIELD_##type name;

struct config {
  const char *file;             /* the file read (absolute), or 0 when defaults only */
  int injector_default;         /* injector is libexec_dir/spool-inject (inject_child_start may fork it) */
  CONFIG_KEYS(CONFIG_FIELD)     /* one field per key */
  char *arena;                  /* string values live here */
  unsigned long arena_size, arena_used;
};

enum { CONFIG_STR, CONFIG_PATH, CONFIG_OPTPATH, CONFIG_NUM, CONFIG_SIZE, CONFIG_TIME, CONFIG_BOOL, CONFIG_LOG };

/* struct config_key - one row of CONFIG_KEYS */
struct config_key {
  const char *name;
  int type;                     /* CONFIG_STR, ... */
  unsigned long offset;         /* of its field in struct config */
  const char *def;              /* the default, as in the file */
  unsigned long min, max;
};

/* config_key - the i-th row of the table, or 0 past its end */
const struct config_key *config_key(unsigned int i);


#define CONFIG_DEFAULT_FILE "/etc/postern/postern.conf"
#define CONFIG_LINE_MAX 4096          /* bytes per line, LF excluded */
#define CONFIG_FILE_MAX (1024 * 1024) /* bytes per file */

/* config_load - fill c from -C FILE (arg), else $POSTERN_CONF, else the
 * default file (missing: defaults).  Refuses a file writable by group or
 * others, or owned by someone other than root or the effective user, and
 * when running set-id one not owned by root.  A set-id run (the set-gid
 * spool-inject) reads the system configuration only: -C or
 * $POSTERN_CONF naming another file than CONFIG_DEFAULT_FILE is refused
 * (a caller must not swap the site's limits for another root-owned
 * file's).  Ends the process with EX_CONFIG (temporary) on any error,
 * naming file:line. */
void config_load(struct config *c, const char *arg);

/* config_try - the same, but returns -1 with the reason in err instead of
 * ending the process (for programs that must answer in their own way) */
int config_try(struct config *c, const char *arg, stralloc *err);

/* config_file_name - the file config_try(c, arg, ...) reads: arg, else
 * $POSTERN_CONF, else CONFIG_DEFAULT_FILE */
const char *config_file_name(const char *arg);

/* config_reread - for a running program told to read its file again:
 * config_try into fresh (zeroed by the caller); 0, or -1 with fresh
 * freed and a status=reload-refused log line (the caller keeps what it
 * has) */
int config_reread(struct config *fresh, const char *arg);

/* config_setid - this process runs set-id: the kernel's AT_SECURE, or
 * real and effective user or group ids differ */
int config_setid(void);

/* config_defaults - every key at its default (hostname from uname; domain
 * and injector follow other keys after config_parse) */
void config_defaults(struct config *c);

/* config_parse - parse buf as a config file named name into c (which holds
 * the defaults).  0 on success; -1 with a "name:line: reason" message in err.
 * Never exits: the fuzz target and the unit tests call it. */
int config_parse(struct config *c, const char *name, const char *buf,
                 unsigned long len, stralloc *err);

/* config_free - release what config_parse allocated */
void config_free(struct config *c);

/* config_size, config_duration - parse "10M", "5d" style values; 0 on
 * success, -1 if malformed or out of range */
int config_size(const char *s, unsigned long *out);
int config_duration(const char *s, unsigned long *out);
#endif
