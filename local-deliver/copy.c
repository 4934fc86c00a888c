/* copy.c - write the message (fd in, the spool file, from the offset it
 * had when the run began: ld_start) to a mailbox, file or pipe: our prefix headers, then the message byte for byte; for mbox,
 * with mboxrd ">From " quoting and the empty line that separates entries.
 * The copy itself is lib/mbox.c's, which sendmail's dead.letter shares. */
#include "mbox.h"
#include "ld.h"

int ld_copy(int in, int out, const char *prefix, size_t plen, int mbox, unsigned long *bytes)
{
  return mbox_copy(in, ld_start(), out, prefix, plen, mbox, bytes);
}
