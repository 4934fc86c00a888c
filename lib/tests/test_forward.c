/* test_forward.c - ~/.forward's shared rules (lib/forward.c): which file
 * for user+EXT, when a file may be used, and its text as one right-hand
 * side ('#' lines out, "\user" as "user", backslashes in quotes kept). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include "t.h"
#include "../forward.h"

/* rhs - forward_rhs of text as a C string (static) */
static const char *rhs(const char *text)
{
  static stralloc in, out;
  if (!stralloc_copys(&in, text) || forward_rhs(&in, &out) == -1 || !stralloc_0(&out)) return "(out of memory)";
  return out.s;
}

/* put - a file at path with text and mode; 0 or -1 */
static int put(const char *path, const char *text, mode_t mode)
{
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd == -1) return -1;
  if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) { close(fd); return -1; }
  close(fd);
  return chmod(path, mode);
}

/* forward_rhs: a .forward's text, and the right-hand side it makes */
static const struct { const char *name, *text, *want; } rhs_cases[] = {
  { "lines joined, comments out", "a@b.test\n# no\n  # not this either\nc@d.test\n", "a@b.test,c@d.test" },
  { "blank lines out", "\n\n  \na\n", "a" },
  { "\\user: the backslash dropped", "\\me, x@y.test", "me, x@y.test" },
  { "\\user after a comma", "x@y.test, \\me", "x@y.test, me" },
  { "a backslash inside quotes kept", "\"a\\b\"@c.test", "\"a\\b\"@c.test" },
  { "a backslash inside a word kept", "a\\b@c.test", "a\\b@c.test" },
  { "no final newline", "a\nb", "a,b" },
  { "empty", "", "" },
};

int main(void)
{
  static stralloc path, text;
  const char *why, *got;
  char dir[4096], fn[4200];
  unsigned int i;

  T_OK("pass 0 with an extension: .forward+EXT", forward_path(&path, "/home/u", "list", 4, 0) == 1 && !strcmp(path.s, "/home/u/.forward+list"));
  T_OK("pass 1: .forward", forward_path(&path, "/home/u", "list", 4, 1) == 1 && !strcmp(path.s, "/home/u/.forward"));
  T_OK("no extension: no pass 0", forward_path(&path, "/home/u", "", 0, 0) == 0);
  T_OK("an extension with '/': no pass 0", forward_path(&path, "/home/u", "../x", 4, 0) == 0);

  for (i = 0; i < sizeof rhs_cases / sizeof rhs_cases[0]; i++) {
    got = rhs(rhs_cases[i].text);
    T_STR(rhs_cases[i].name, rhs_cases[i].want, got, strlen(got));
  }

  T_OK("a directory for the files", t_template(dir, sizeof dir, "test_forward") && mkdtemp(dir) != 0);
  snprintf(fn, sizeof fn, "%s/.forward", dir);
  T_OK("absent: 0", forward_read(fn, getuid(), &text, &why) == 0);
  T_OK("a safe file: 1 and its text", put(fn, "a@b.test\n", 0644) == 0 && forward_read(fn, getuid(), &text, &why) == 1 &&
       text.len == 9 && !memcmp(text.s, "a@b.test\n", 9));
  T_OK("writable by the group: ignored", put(fn, "a\n", 0664) == 0 && forward_read(fn, getuid(), &text, &why) == -1 &&
       !strcmp(why, "writable by group or others") && text.len == 0);
  T_OK("writable by others: ignored", put(fn, "a\n", 0646) == 0 && forward_read(fn, getuid(), &text, &why) == -1);
  T_OK("owned by someone else: ignored", put(fn, "a\n", 0644) == 0 && forward_read(fn, getuid() + 1, &text, &why) == -1 &&
       !strcmp(why, "not owned by the user"));
  unlink(fn);
  T_OK("a directory: ignored", mkdir(fn, 0755) == 0 && forward_read(fn, getuid(), &text, &why) == -1 && !strcmp(why, "not a regular file"));
  rmdir(fn);
  T_OK("a symlink is followed only to a file the user owns", symlink("/etc/passwd", fn) == 0 &&
       forward_read(fn, getuid() == 0 ? 12345 : getuid(), &text, &why) == -1 && !strcmp(why, "not owned by the user"));
  unlink(fn);
  {
    char *big = malloc(FORWARD_MAX + 2);
    T_OK("a buffer", big != 0);
    if (big) {
      memset(big, 'a', FORWARD_MAX + 1);
      big[FORWARD_MAX + 1] = 0;
      T_OK("over FORWARD_MAX: ignored", put(fn, big, 0644) == 0 && forward_read(fn, getuid(), &text, &why) == -1 && !strcmp(why, "too large"));
      big[FORWARD_MAX] = 0;
      T_OK("FORWARD_MAX exactly: used", put(fn, big, 0644) == 0 && forward_read(fn, getuid(), &text, &why) == 1 && text.len == FORWARD_MAX);
      free(big);
    }
  }
  unlink(fn);
  rmdir(dir);
  T_DONE();
}
