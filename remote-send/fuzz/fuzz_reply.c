/* fuzz_reply.c - libFuzzer target: server replies and EHLO keywords, as
 * remote-send reads them: the input split into lines at LF, each fed to
 * reply_line (and, after the first line, ehlo_line) until the reply ends
 * or is refused; then formatted.  Nothing may read or write out of
 * bounds, and the text must stay bounded and free of controls. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "../rs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct reply r;
  struct ehlo e;
  char out[RS_TEXT_MAX + 1];
  size_t pos = 0, i;
  reply_init(&r);
  ehlo_init(&e);
  while (pos < size) {
    const uint8_t *nl = memchr(data + pos, '\n', size - pos);
    size_t n = nl ? (size_t)(nl - data) - pos : size - pos;
    char *line = malloc(n ? n : 1);   /* exact size: overreads are caught */
    int x;
    if (!line) return 0;
    memcpy(line, data + pos, n);
    x = reply_line(&r, line, n);
    if (r.lines > 1 && n > 4) ehlo_line(&e, line + 4, n - 4);
    free(line);
    pos += n + 1;
    if (x != 0) break;
  }
  if (r.len > RS_REPLY_TEXT_MAX) abort();
  for (i = 0; i < r.len; i++)
    if ((unsigned char)r.text[i] < 32 || r.text[i] == 127) abort();
  if (r.code) {
    reply_format(&r, out, sizeof out);
    if (strlen(out) > RS_TEXT_MAX || strchr(out, '\t') || strchr(out, '\n')) abort();
  }
  return 0;
}
