/* config.h - postern.conf(5): one file of "key = value" lines.
 * Every key, its type and default sit in the table in config.c; unknown keys
 * and bad values are errors with file:line. */
#ifndef CONFIG_H
#define CONFIG_H
#include "stralloc.h"

enum { LOGTO_AUTO, LOGTO_STDERR, LOGTO_SYSLOG };

struct config {
  const char *file;             /* the file read, or 0 when defaults only */
  /* names (DESIGN.md fixes these) */
  const char *hostname;         /* our name in greetings, Received:, ids */
  const char *domain;           /* qualifies bare names like root */
  const char *spool;            /* spool directory */
  const char *map_dir;          /* where the maps live */
  const char *libexec_dir;      /* where the programs live */
  const char *injector;         /* program smtp-receive and sendmail run */
  const char *relayhost;        /* smarthost, or "" */
  const char *tls_cert_file;
  const char *tls_key_file;
  /* limits */
  unsigned long message_size_limit;  /* bytes; 0 means no limit */
  unsigned long spool_reserve;       /* bytes that must stay free on the spool */
  unsigned long queue_lifetime;      /* seconds */
  int log;                           /* LOGTO_AUTO, LOGTO_STDERR, LOGTO_SYSLOG */
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
