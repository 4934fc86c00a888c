/* forward.c - a user's ~/.forward: which file, whether it may be used,
 * its items as one aliases right-hand side (forward.h) */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include "byte.h"
#include "forward.h"

int forward_path(stralloc *path, const char *home, const char *ext, size_t extlen, int pass)
{
  if (pass == 0 && (!extlen || byte_chr(ext, extlen, '/') != extlen)) return 0;
  if (!stralloc_copys(path, home) || !stralloc_cats(path, "/.forward")) return -1;
  if (pass == 0 && (!stralloc_cats(path, "+") || !stralloc_catb(path, ext, extlen))) return -1;
  return stralloc_0(path) ? 1 : -1;
}

int forward_read(const char *path, uid_t owner, stralloc *text, const char **why)
{
  struct stat st;
  char buf[4096];
  int fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC | O_NONBLOCK), r = -1;
  *why = 0;
  text->len = 0;
  if (fd == -1) {
    if (errno == ENOENT || errno == ENOTDIR) return 0;
    *why = "unable to open";
    return errno == EACCES ? -2 : -1;
  }
  if (fstat(fd, &st) == -1) *why = "unable to stat";
  else if (!S_ISREG(st.st_mode)) *why = "not a regular file";
  else if (st.st_uid != owner) *why = "not owned by the user";
  else if (st.st_mode & 022) *why = "writable by group or others";
  else if (st.st_size > FORWARD_MAX) *why = "too large";
  while (!*why) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) { r = 1; break; }
    if (n == -1 && errno == EACCES) { *why = "unable to read"; r = -2; }
    else if (n == -1 || text->len + (size_t)n > FORWARD_MAX) *why = "unable to read";
    else if (!stralloc_catb(text, buf, (size_t)n)) { *why = "out of memory"; r = -3; }
  }
  close(fd);
  return r;
}

int forward_rhs(const stralloc *text, stralloc *rhs)
{
  size_t pos = 0, i, o;
  int quoted = 0, start = 1;
  rhs->len = 0;
  while (pos < text->len) {   /* the lines that are not comments, joined */
    size_t n = byte_chr(text->s + pos, text->len - pos, '\n'), k = 0;
    const char *l = text->s + pos;
    while (k < n && (l[k] == ' ' || l[k] == '\t')) k++;
    if (k < n && l[k] != '#' && ((rhs->len && !stralloc_cats(rhs, ",")) || !stralloc_catb(rhs, l, n))) return -1;
    pos += n + 1;
  }
  for (i = 0, o = 0; i < rhs->len; i++) {   /* "\user" is the user's own name here */
    char c = rhs->s[i];
    if (c == '"') quoted = !quoted;
    if (!quoted && start && c == '\\') { start = 0; continue; }
    if (!quoted && c == ',') start = 1;
    else if (c != ' ' && c != '\t') start = 0;
    rhs->s[o++] = c;
  }
  rhs->len = o;
  return 0;
}
