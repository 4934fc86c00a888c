/* verify.c - queue-run --route ADDRESS...: how each address would be
 * routed (sendmail -bv), with the routing code deliveries use, so the
 * answer is never a second opinion.  Nothing is queued or delivered and
 * the spool is not touched, so any user may ask; the routing decisions
 * are logged to stderr only (not the mail log).
 * fd 1: one line per delivery item (queue-run.8):
 *   INDEX TAB KIND TAB ADDRESS TAB USER TAB DESTINATION TAB TEXT */
#include <sysexits.h>
#include <unistd.h>
#include "buffer.h"
#include "errmsg.h"
#include "num.h"
#include "str.h"
#include "wbuf.h"
#include "qr.h"

int verify_route(char **addrs, unsigned int n)
{
  static char space[8192];
  static struct router r;
  static struct work w;
  buffer out;
  char num[NUM_ULONG];
  unsigned int i;
  for (i = 0; i < n; i++) {
    const char *s = addrs[i];
    for (; *s; s++)
      if ((unsigned char)*s < 32 || *s == 127) die(EX_USAGE, "control character in an address");
  }
  wbuf_init(&out, 1, space, sizeof space);
  route_open(&r, &qr_cfg);
  work_init(&w);
  for (i = 0; i < n; i++)
    if (route_rcpt(&r, &w, i, addrs[i]) == -1) die(EX_TEMPFAIL, "out of memory");
  for (i = 0; i < w.n; i++) {
    const struct item *it = &w.item[i];
    buffer_puts(&out, num_str(num, it->orig)); buffer_puts(&out, "\t");
    buffer_puts(&out, route_kind_name(it->kind)); buffer_puts(&out, "\t");
    buffer_puts(&out, work_s(&w, it->addr)); buffer_puts(&out, "\t");
    buffer_puts(&out, work_s(&w, it->user)); buffer_puts(&out, "\t");
    buffer_puts(&out, work_s(&w, it->dest)); buffer_puts(&out, "\t");
    buffer_puts(&out, work_s(&w, it->text)); buffer_puts(&out, "\n");
  }
  return wbuf_flush(&out) == 0 ? 0 : EX_IOERR;
}
