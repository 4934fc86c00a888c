/* exitcode.h - the one table of exit codes (sysexits(3)) every postern
 * program uses: class (done, temporary, permanent), enhanced status code
 * (RFC 3463) and text.  Callers never test raw numbers. */
#ifndef EXITCODE_H
#define EXITCODE_H
#include <sysexits.h>

enum exitclass { EXIT_DONE, EXIT_TEMP, EXIT_PERM };

int exitcode_class(int code);           /* EXIT_DONE, EXIT_TEMP or EXIT_PERM */
const char *exitcode_status(int code);  /* "4.3.0": enhanced status code */
const char *exitcode_text(int code);    /* "temporary system error" */
int exitcode_reply(int code);           /* 250, 451 or 554: a basic reply code */
int exitcode_wait(int wstatus);         /* wait(2) status -> exit code; signals are EX_TEMPFAIL */
#endif
