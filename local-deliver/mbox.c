/* mbox.c - delivery to an mbox file (the recipient's mailbox, or a /file
 * target): lib/mbox.c appends the entry with our prefix headers, locked,
 * all or nothing and durable; /dev/null discards.  A file owned by
 * another user than ours is deferred, never written (doc/architecture.md
 * "Mailboxes and files belong to the delivering user"). */
#include <sysexits.h>
#include "str.h"
#include "mbox.h"
#include "ld.h"

void ld_mbox(struct ld *d, const char *path, struct ld_result *r)
{
  const char *what, *arg;
  if (!str_diff(path, "/dev/null")) { ld_ok(r, "discarded (/dev/null)", 0); return; }
  switch (mbox_append(path, 0, ld_start(), d->sender, d->prefix.s, d->prefix.len, &what, &arg)) {
  case MBOX_OK: ld_ok(r, "delivered to mbox ", path); break;
  case MBOX_PERM: ld_perm(r, EX_CANTCREAT, "5.2.0", what, arg); break;
  case MBOX_DEFER: ld_temp(r, "4.2.0", what, arg); break;
  default: ld_sys(r, what, arg); break;
  }
}
