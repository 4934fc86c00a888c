/* log.h - one line per event, "program: id=ID key=value ...", to stderr
 * (journald picks it up under systemd) or to syslog (facility mail, ident
 * "postern"), as postern.conf's log key says. */
#ifndef LOG_H
#define LOG_H

#define LOG_LINE_MAX 2048   /* bytes per log line; longer values are cut with "..." */

/* log_init - program name and target (LOGTO_AUTO, LOGTO_STDERR, LOGTO_SYSLOG from
 * config.h); LOGTO_AUTO means stderr when it is the journal (never in a
 * set-id run: JOURNAL_STREAM is the caller's, so syslog always), else
 * syslog when /dev/log takes a connection, else stderr unless stderr is no
 * log (the client's socket; spool-inject's reply channel) */
void log_init(const char *program, int target);

/* log_name - the program name log_init was last given */
const char *log_name(void);

/* log_event - id (or 0) then key, value pairs ending with a 0 key:
 *   log_event(id, "from", "<a@b>", "status", "queued", (char *)0);
 * Values are quoted when they hold blanks; controls are escaped. */
void log_event(const char *id, ...);

/* log_format - the line log_event would write, without newline, into
 * out[LOG_LINE_MAX]; returns its length (for the unit tests) */
unsigned long log_vformat(char *out, const char *id, const char *const *kv, unsigned int n);
#endif
