/* config.h - postern.conf(5): one file of "key = value" lines.
 * Every key, its type and default sit in the table in config.c; unknown keys
 * and bad values are errors with file:line. */
#ifndef CONFIG_H
#define CONFIG_H
#include "stralloc.h"

enum { LOGTO_AUTO, LOGTO_STDERR, LOGTO_SYSLOG };

struct config {
  const char *file;             /* the file read (absolute), or 0 when defaults only */
  /* names (DESIGN.md fixes these) */
  const char *hostname;         /* our name in greetings, Received:, ids */
  const char *domain;           /* qualifies bare names like root */
  const char *spool;            /* spool directory */
  const char *map_dir;          /* where the maps live */
  const char *libexec_dir;      /* where the programs live */
  const char *injector;         /* program smtp-receive and sendmail run */
  int injector_default;         /* injector is libexec_dir/spool-inject (inject_child_start may fork it) */
  const char *relayhost;        /* smarthost, or "" */
  const char *tls_cert_file;
  const char *tls_key_file;
  /* limits */
  unsigned long message_size_limit;  /* bytes; 0 means no limit */
  unsigned long spool_reserve;       /* bytes that must stay free on the spool */
  unsigned long queue_lifetime;      /* seconds */
  int log;                           /* LOGTO_AUTO, LOGTO_STDERR, LOGTO_SYSLOG */
  /* smtp-receive (smtp-receive.8); yes/no values are checked there */
  const char *smtpd_banner;          /* greeting text after the hostname */
  unsigned long smtpd_recipient_limit;    /* recipients per message */
  unsigned long smtpd_command_limit;      /* commands per session */
  unsigned long smtpd_error_limit;        /* refused commands per session */
  unsigned long smtpd_timeout;            /* seconds to wait for a command */
  unsigned long smtpd_data_timeout;       /* seconds to wait for message data */
  unsigned long smtpd_greet_pause;        /* seconds of silence before the greeting */
  unsigned long smtpd_line_limit;         /* bytes per message line, CRLF excluded */
  unsigned long smtpd_auth_failure_limit; /* failed AUTH attempts per session */
  const char *smtpd_max_load;        /* load average above which we refuse, "" off */
  const char *smtpd_delay_checks;    /* yes: client/sender refusals at RCPT */
  const char *smtpd_verify_recipients;  /* yes: unknown local users at RCPT */
  const char *smtpd_sender_dns_check;   /* yes: MAIL FROM domain must resolve */
  const char *smtpd_dnsbl_zones;     /* DNSBL zones, blank or comma separated */
  const char *smtpd_proxy_trusted;   /* addresses that may send a PROXY header */
  const char *smtpd_auth_program;    /* checkpassword-style AUTH program, "": passwd map */
  unsigned long smtpd_auth_failure_delay; /* seconds before answering a failed AUTH */
  const char *smtpd_client_name_lookup; /* yes: the client's name from DNS (PTR + forward) */
  /* sendmail (sendmail.8) */
  const char *sendmail_trusted_users;   /* may set the sender without a warning; %group */
  const char *sendmail_rewrite_sender;  /* local senders become this address; "": off */
  /* queue-run and local-deliver (queue-run.8, local-deliver.8) */
  const char *home_mailbox;          /* relative to home: Maildir if it ends in / */
  const char *mail_spool_directory;  /* "": none; else mbox DIR/USER */
  const char *mailbox_command;       /* "": none; else run by /bin/sh -c */
  const char *virtual_user;          /* runs virtual-map and alias deliveries */
  const char *program_dir;           /* allow-list for |program; "": none allowed */
  const char *remote_deliverer;      /* "": libexec_dir/remote-send */
  unsigned long concurrency_limit;   /* deliveries at once */
  unsigned long destination_concurrency_limit;  /* per destination */
  unsigned long retry_min;           /* seconds before the first retry */
  unsigned long retry_max;           /* longest back-off, seconds */
  unsigned long delay_warning_time;  /* seconds; 0: no delay warnings */
  unsigned long bounce_rate_limit;   /* bounces per hour per address; 0: none */
  unsigned long queue_load_limit;    /* pause above this load average; 0: off */
  const char *queue_user;            /* queue-run drops to this user as root */
  const char *send_user;             /* remote-spawn drops to this user */
  unsigned long bounce_size_limit;   /* bounces return larger originals' header only */
  unsigned long queue_shutdown_timeout;  /* seconds SIGTERM waits for deliveries */
  /* remote-send (remote-send.8); policy words are checked there */
  unsigned long smtp_connect_timeout;     /* seconds per connection attempt */
  unsigned long smtp_greeting_timeout;    /* seconds to wait for the 220 */
  unsigned long smtp_command_timeout;     /* EHLO, STARTTLS, AUTH, MAIL, RCPT, RSET, QUIT */
  unsigned long smtp_data_init_timeout;   /* the 354 after DATA */
  unsigned long smtp_data_block_timeout;  /* each write of message data */
  unsigned long smtp_data_done_timeout;   /* the reply after the final dot */
  const char *smtp_tls_policy;       /* none, may, encrypt, verify: MX and routes */
  const char *relayhost_tls_policy;  /* the same for relayhost */
  const char *smtp_tls_ca_file;      /* "": the system CA store */
  unsigned long dns_timeout;         /* seconds per DNS question */
  unsigned long smtp_connection_reuse_time;  /* idle seconds a connection waits for the next message; 0: no reuse */
  /* issue 13 (sec-smtp): hop count, relay by host name, sender logins */
  unsigned long hop_count_limit;     /* Received:+Delivered-To: fields a queued message may have; 0: no limit */
  const char *smtpd_relay_by_name;   /* yes: an access host-name key may grant RELAY */
  const char *smtpd_sender_login_map;  /* map of sender -> login names, "": off */
  char *arena;                       /* string values live here */
  unsigned long arena_size, arena_used;
};

#define CONFIG_DEFAULT_FILE "/etc/postern/postern.conf"
#define CONFIG_LINE_MAX 4096          /* bytes per line, LF excluded */
#define CONFIG_FILE_MAX (1024 * 1024) /* bytes per file */

/* config_load - fill c from -C FILE (arg), else $POSTERN_CONF, else the
 * default file (missing: defaults).  Refuses a file writable by group or
 * others, or owned by someone other than root or the effective user, and
 * when running set-id one not owned by root.  Ends the process with
 * EX_CONFIG (temporary) on any error, naming file:line. */
void config_load(struct config *c, const char *arg);

/* config_try - the same, but returns -1 with the reason in err instead of
 * ending the process (for programs that must answer in their own way) */
int config_try(struct config *c, const char *arg, stralloc *err);

/* config_defaults - every key at its default (hostname from uname) */
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
