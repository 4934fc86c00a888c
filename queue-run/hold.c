/* hold.c - the hold list, state/hold: one destination or recipient
 * domain per line (queue-run --hold, --release).  Mail for a held
 * destination gets no job; it waits, without counting a try, until the
 * destination is released, which makes every message due (loop.c); until
 * then a message with held items is looked at again after retry_max at
 * the latest (queue-run(8)). */
#include <fcntl.h>
#include <unistd.h>
#include "byte.h"
#include "str.h"
#include "qr.h"

static stralloc held;           /* held destinations, NUL-separated */

int hold_item(const struct work *w, const struct item *it)
{
  return it->status == ST_PENDING && it->kind == KIND_REMOTE && hold_covers(work_s(w, it->dest), work_s(w, it->addr));
}

unsigned long hold_due(unsigned long due, unsigned long now)
{
  if (due > now + qr_cfg.retry_max) due = now + (qr_cfg.retry_max ? qr_cfg.retry_max : 3600);
  return due;
}

int hold_covers(const char *dest, const char *addr)
{
  size_t pos = 0;
  while (pos < held.len) {
    const char *h = held.s + pos;
    if (dest_matches(h, dest, addr)) return 1;
    pos += str_len(h) + 1;
  }
  return 0;
}

void hold_reload(void)
{
  char buf[8192];
  int fd = open(SPOOL_STATE "/hold", O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  ssize_t r;
  size_t i, start = 0;
  held.len = 0;
  if (fd == -1) return;
  r = read(fd, buf, sizeof buf - 1);      /* bounded: a hold list is short */
  close(fd);
  if (r <= 0) return;
  for (i = 0; i < (size_t)r; i++)
    if (buf[i] == '\n') {
      if (i > start && (!stralloc_catb(&held, buf + start, i - start) || !stralloc_0(&held))) return;
      start = i + 1;
    }
}

int hold_edit(const char *dest, int add)
{
  char buf[8192];
  stralloc text = { 0 };
  size_t start = 0, i, dlen = str_len(dest);
  ssize_t n = 0;
  int fd = open(SPOOL_STATE "/hold", O_RDONLY | O_CLOEXEC | O_NOFOLLOW), r;
  if (fd != -1) { n = read(fd, buf, sizeof buf - 1); close(fd); if (n < 0) n = 0; }
  for (i = 0; i < (size_t)n; i++)
    if (buf[i] == '\n') {
      if (!(i - start == dlen && !byte_diff(buf + start, dlen, dest)) && !stralloc_catb(&text, buf + start, i - start + 1)) return -1;
      start = i + 1;
    }
  if (add && (!stralloc_cats(&text, dest) || !stralloc_cats(&text, "\n"))) return -1;
  if (text.len > sizeof buf - 1) { stralloc_free(&text); return -1; }
  r = state_file_write(SPOOL_STATE "/hold", &text, 0644);
  stralloc_free(&text);
  return r;
}

