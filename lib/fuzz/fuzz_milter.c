/* fuzz_milter - libFuzzer target for what a (possibly compromised) milter
 * sends: milter_reply_parse, milter_reply_text and the header changes
 * (lib/milter.c).  The input is a sequence of packets, each a 2-byte
 * length and that many bytes; every packet that parses and is a header
 * change is kept, then the changes are applied to a fixed header.
 * Invariants (any broken one aborts): a parsed header name is a valid
 * field name and a value has no NUL and no line break without a blank
 * after it; a reply text is 4xx/5xx, CRLF-separated lines of one code,
 * within MILTER_REPLY_MAX; the changed header is still a header section:
 * each line a field or a continuation, the body after it unchanged. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "stralloc.h"
#include "milter.h"

static const char hdr[] = "Received: from a\n\tby b\nSubject: s\nX-A: 1\nx-a: 2\n\nbody\n";

/* header_ok - out starts with lines that are fields or continuations up
 * to an empty line, then exactly the original body */
static int header_ok(const stralloc *out)
{
  const char *body = strstr(hdr, "\n\n") + 1;
  size_t blen = strlen(body), i = 0;
  if (out->len < blen || memcmp(out->s + out->len - blen, body, blen)) return 0;
  while (i < out->len - blen) {
    const char *nl = memchr(out->s + i, '\n', out->len - blen - i);
    if (!nl) return 0;
    size_t l = (size_t)(nl - (out->s + i));
    if (l == 0) return 0;                     /* an empty line only where the body starts */
    if (out->s[i] != ' ' && out->s[i] != '\t' && !memchr(out->s + i, ':', l)) return 0;
    if (memchr(out->s + i, '\r', l) || memchr(out->s + i, 0, l)) return 0;
    i += l + 1;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct milter_conf conf;
  struct milter_set ms;
  struct milter_reply r;
  stralloc out = {0};
  char text[MILTER_REPLY_MAX];
  size_t pos = 0;
  milter_init(&ms, &conf);
  while (pos + 2 <= size) {
    size_t n = (size_t)data[pos] << 8 | data[pos + 1];
    pos += 2;
    if (n > size - pos) n = size - pos;
    if (milter_reply_parse((const char *)data + pos, n, &r) == 0) {
      if (r.cmd == 'h' || r.cmd == 'i' || r.cmd == 'm') {
        size_t i;
        if (!r.namelen || memchr(r.name, ':', r.namelen) || memchr(r.value, 0, r.valuelen)) abort();
        for (i = 0; i < r.valuelen; i++)
          if (r.value[i] == '\n' && (i + 1 >= r.valuelen || (r.value[i + 1] != ' ' && r.value[i + 1] != '\t'))) abort();
        milter_edit_add(&ms, &r, data[0] & 1);
      }
      if (r.cmd == 'y') {
        int c = milter_reply_text(r.value, r.valuelen, text);
        if (c) {
          size_t l = strlen(text);
          if ((c != '4' && c != '5') || text[0] != c || l >= MILTER_REPLY_MAX || text[l - 1] == '\n') abort();
        }
      }
    }
    pos += n;
  }
  if (milter_edits_apply(&ms, hdr, sizeof hdr - 1, &out) == 0 && !header_ok(&out)) abort();
  stralloc_free(&out);
  stralloc_free(&ms.pool);
  free(ms.edit);
  return 0;
}
