/* exitcode.c - classify sysexits(3) codes (see exitcode.h, envelope.5).
 *
 * 75 EX_TEMPFAIL, 71 EX_OSERR, 74 EX_IOERR and death by signal are
 * temporary.  So is 78 EX_CONFIG: a mistake in the administrator's own
 * configuration must queue mail until it is fixed, not bounce it
 * (doc/architecture.md explains this departure from DESIGN.md).  Every other
 * non-zero code is permanent. */
#include <sys/wait.h>
#include "exitcode.h"

struct exitcode {
  int code;
  int class;
  const char *status;
  const char *text;
};

static const struct exitcode table[] = {
  { 0,              EXIT_DONE, "2.0.0", "ok" },
  { EX_USAGE,       EXIT_PERM, "5.5.4", "command line usage error" },
  { EX_DATAERR,     EXIT_PERM, "5.6.0", "data format error" },
  { EX_NOINPUT,     EXIT_PERM, "5.3.0", "cannot open input" },
  { EX_NOUSER,      EXIT_PERM, "5.1.1", "addressee unknown" },
  { EX_NOHOST,      EXIT_PERM, "5.1.2", "host name unknown" },
  { EX_UNAVAILABLE, EXIT_PERM, "5.3.0", "service unavailable" },
  { EX_SOFTWARE,    EXIT_PERM, "5.3.0", "internal software error" },
  { EX_OSERR,       EXIT_TEMP, "4.3.0", "system error" },
  { EX_OSFILE,      EXIT_PERM, "5.3.5", "critical system file missing" },
  { EX_CANTCREAT,   EXIT_PERM, "5.2.0", "cannot create output file" },
  { EX_IOERR,       EXIT_TEMP, "4.3.0", "input/output error" },
  { EX_TEMPFAIL,    EXIT_TEMP, "4.3.0", "temporary failure" },
  { EX_PROTOCOL,    EXIT_PERM, "5.5.0", "remote error in protocol" },
  { EX_NOPERM,      EXIT_PERM, "5.7.0", "permission denied" },
  { EX_CONFIG,      EXIT_TEMP, "4.3.5", "configuration error" },
};
static const struct exitcode unknown = { -1, EXIT_PERM, "5.3.0", "unknown error" };

/* exitcode_find - table entry for code, or the permanent "unknown" entry */
static const struct exitcode *exitcode_find(int code)
{
  unsigned int i;
  for (i = 0; i < sizeof table / sizeof table[0]; i++)
    if (table[i].code == code) return &table[i];
  return &unknown;
}

int exitcode_class(int code) { return exitcode_find(code)->class; }
const char *exitcode_status(int code) { return exitcode_find(code)->status; }
const char *exitcode_text(int code) { return exitcode_find(code)->text; }

/* exitcode_reply - the basic SMTP reply code that goes with an exit code */
int exitcode_reply(int code)
{
  switch (exitcode_class(code)) {
  case EXIT_DONE: return 250;
  case EXIT_TEMP: return 451;
  default: return 554;
  }
}

/* exitcode_wait - an exit code for a wait(2) status: a child killed by a
 * signal, or stopped in some way we do not understand, is temporary */
int exitcode_wait(int wstatus)
{
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  return EX_TEMPFAIL;
}
