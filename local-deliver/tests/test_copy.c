/* test_copy.c - ld_copy: the prefix, the message byte for byte, and mbox
 * mode's mboxrd quoting, final newline and separator line, including
 * "From " split across read boundaries and NUL bytes. */
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include "../../lib/tests/t.h"
#include "../ld.h"

/* run - ld_copy of in through memory files; the output in out */
static size_t run(const char *in, size_t len, int mbox, char *out, size_t max)
{
  int i = memfd_create("in", 0), o = memfd_create("out", 0);
  ssize_t n;
  if (i == -1 || o == -1 || write(i, in, len) != (ssize_t)len) abort();
  if (ld_copy(i, o, "P: x\n", 5, mbox, 0) == -1) abort();
  lseek(o, 0, SEEK_SET);
  n = read(o, out, max);
  close(i); close(o);
  return n < 0 ? 0 : (size_t)n;
}

int main(void)
{
  static char out[1 << 20];
  static char big[200000];
  size_t n, i;
  n = run("a\nFrom b\n", 9, 0, out, sizeof out);
  T_STR("plain copy: prefix then bytes", "P: x\na\nFrom b\n", out, n);
  n = run("From x\n>From y\n>>From z\nFromage\n From q\n>Fro\n", 45, 1, out, sizeof out);
  T_STR("mboxrd quoting", "P: x\n>From x\n>>From y\n>>>From z\nFromage\n From q\n>Fro\n\n", out, n);
  n = run("no newline", 10, 1, out, sizeof out);
  T_STR("mbox: final newline and separator", "P: x\nno newline\n\n", out, n);
  n = run("a\0b\nFrom", 8, 1, out, sizeof out);
  T_OK("mbox: NUL bytes kept, a trailing partial \"From\" line kept", n == 5 + 10 && memcmp(out + 5, "a\0b\nFrom\n\n", 10) == 0);
  for (i = 0; i < sizeof big; i++) big[i] = "From x\n"[i % 7];
  n = run(big, sizeof big, 1, out, sizeof out);
  size_t lines = sizeof big / 7, expect = 5 + sizeof big + lines + 1 + (sizeof big % 7 ? 1 : 0);
  T_OK("mbox: quoting across read buffer boundaries", n == expect);
  T_DONE();
}
