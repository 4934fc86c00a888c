/* local-deliver - deliver one message to one local recipient, as that
 * recipient (never as root).
 *   local-deliver [-C config] sender recipient destination
 * fd 0: the message, a seekable file, from its offset when the program
 *       starts to the end (queue-run passes a one-file message at its body).
 * fd 1: one line "recipient TAB ok|defer|fail TAB text" (DESIGN.md's
 *       delivery protocol).  fd 2: log lines.
 * Exit codes: sysexits(3) as every LDA uses them, classified by
 * lib/exitcode.c: 0 delivered, 75 temporary, others permanent
 * (local-deliver.8).
 * The whole run is ld_run (run.c), which local-spawn also calls in the
 * child it made the recipient's user, without executing this program. */
#include "ld.h"

int main(int argc, char **argv)
{
  ld_run(argc, argv);
}
