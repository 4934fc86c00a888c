/* data.c - the message on its way out.  It arrives on fd 0 with LF line
 * ends and no dot-stuffing (DESIGN.md), normally as the open spool file
 * at the offset where the message starts, which is mapped rather than
 * copied.  On the wire each line ends in CRLF
 * (a CRLF already there stays one, a bare CR becomes one), a line
 * starting with '.' gets a second one (RFC 5321 4.5.2), a last line
 * without LF is ended, and ".\r\n" closes the data. */
#include <errno.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include "byte.h"
#include "rs.h"

#define DATA_PIPE_MAX (1UL << 30)   /* bytes read from a non-file fd 0 */

/* data_head - the length of the header section (up to the first empty
 * line, or all of it) */
size_t data_head(const char *text, size_t len)
{
  const unsigned char *s = (const unsigned char *)text;
  size_t i, line = 0;
  for (i = 0; i < len; i++) {
    if (s[i] != '\n') continue;
    if (i == line || (i == line + 1 && s[line] == '\r')) return line;
    line = i + 1;
  }
  return len;
}

/* data_scan - wire size (CRLF line ends, before stuffing) and 8-bit
 * content, in the whole message and in its header section.  Each bare
 * LF and each bare CR gains a byte on the wire (data_write) */
void data_scan(struct message *m)
{
  const unsigned char *s = (const unsigned char *)m->s;
  size_t i, bare = 0, head = data_head(m->s, m->len);
  unsigned char high = 0;
  m->eightbit_head = 0;
  for (i = 0; i < m->len; i++) {
    high |= s[i];
    if (i + 1 == head) m->eightbit_head = (high & 0x80) != 0;
    if (s[i] == '\n' && (i == 0 || s[i - 1] != '\r')) bare++;
    if (s[i] == '\r' && (i + 1 == m->len || s[i + 1] != '\n')) bare++;
  }
  m->eightbit = (high & 0x80) != 0;
  if (head == m->len) m->eightbit_head = m->eightbit;
  m->wire = m->len + bare + (m->len && s[m->len - 1] != '\n' && s[m->len - 1] != '\r' ? 2 : 0);
}

/* line_len - the bytes of s[0..len) before the first CR or LF */
static size_t line_len(const char *s, size_t len)
{
  size_t lf = byte_chr(s, len, '\n');
  size_t cr = byte_chr(s, lf, '\r');
  return cr < lf ? cr : lf;
}

/* data_write - the message s[0..len) as DATA content, ending with ".\r\n";
 * 0, or -1 when out fails.  A line ends at LF, CRLF or a bare CR, and
 * each goes out as CRLF: a bare CR never reaches the wire, where a
 * receiver that took it for a line end could be made to see an end of
 * data ("\r.\r") that is not one (SMTP smuggling) */
int data_write(buffer *out, const char *s, size_t len)
{
  size_t pos = 0;
  while (pos < len) {
    size_t n = line_len(s + pos, len - pos);
    if (s[pos] == '.' && buffer_put(out, ".", 1) == -1) return -1;
    if (buffer_put(out, s + pos, n) == -1 || buffer_put(out, "\r\n", 2) == -1) return -1;
    pos += n;
    if (pos < len && s[pos] == '\r') pos++;
    if (pos < len && s[pos] == '\n') pos++;
  }
  return buffer_put(out, ".\r\n", 3);
}

/* read_all - a pipe or terminal on fd 0: read it into copy */
static int read_all(int fd, stralloc *copy)
{
  char buf[65536];
  ssize_t r;
  copy->len = 0;
  for (;;) {
    r = read(fd, buf, sizeof buf);
    if (r == -1 && errno == EINTR) continue;
    if (r == -1) return -1;
    if (r == 0) return 0;
    if (copy->len + (size_t)r > DATA_PIPE_MAX) { errno = EFBIG; return -1; }
    if (!stralloc_catb(copy, buf, (size_t)r)) { errno = ENOMEM; return -1; }
  }
}

/* map - the regular file fd from offset start to its end (size bytes):
 * mapped from start rounded down to a page (mmap's rule), the bytes
 * before start skipped; 0, or -1 with errno */
static int map(int fd, off_t start, off_t size, struct message *m)
{
  off_t page = (off_t)sysconf(_SC_PAGESIZE), base;
  void *p;
  if (start > size) { errno = EINVAL; return -1; }   /* nothing of ours starts past the end */
  if (start == size) { m->s = ""; m->len = 0; return 0; }
  if (page <= 0) page = 4096;
  base = start - start % page;
  if ((p = mmap(0, (size_t)(size - base), PROT_READ, MAP_PRIVATE, fd, base)) == MAP_FAILED) return -1;
  m->map = p;
  m->mapped = (size_t)(size - base);
  m->s = (const char *)p + (start - base);
  m->len = (size_t)(size - start);
  return 0;
}

/* data_load - the message from fd, from its current offset to its end (a
 * one-file spool message starts at its body): a regular file is mapped,
 * anything else read; 0, or -1 with errno */
int data_load(int fd, struct message *m, stralloc *copy)
{
  struct stat st;
  off_t start;
  m->mapped = 0;
  m->map = 0;
  if (fstat(fd, &st) == -1) return -1;
  if (!S_ISREG(st.st_mode)) {
    if (read_all(fd, copy) == -1) return -1;
    m->s = copy->s ? copy->s : "";
    m->len = copy->len;
  } else if ((start = lseek(fd, 0, SEEK_CUR)) == -1 || map(fd, start, st.st_size, m) == -1) return -1;
  data_scan(m);
  return 0;
}

/* data_unload - unmap what data_load mapped (before the next message) */
void data_unload(struct message *m)
{
  if (m->mapped) munmap(m->map, m->mapped);
  m->mapped = 0;
  m->map = 0;
  m->s = "";
  m->len = 0;
}
