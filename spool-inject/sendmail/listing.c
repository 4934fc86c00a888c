/* listing.c - reading queue-run's machine-readable listing: mailq --json,
 * and the ids sendmail -qI/-qR/-qS selects. */
#include "byte.h"
#include "case.h"
#include "str.h"
#include "scan.h"
#include "sendmail.h"

/* field - the k-th TAB-separated field of line[0..len) */
static const char *field(const char *line, size_t len, unsigned int k, size_t *flen)
{
  size_t start = 0, end;
  for (;;) {
    end = start + byte_chr(line + start, len - start, '\t');
    if (!k--) { *flen = end - start; return line + start; }
    if (end >= len) { *flen = 0; return 0; }
    start = end + 1;
  }
}

/* utf8_len - length of a well-formed UTF-8 sequence at s, or 0 */
static size_t utf8_len(const unsigned char *s, size_t len)
{
  size_t n, k;
  unsigned int cp;
  if (s[0] >= 0xc2 && s[0] <= 0xdf) { n = 2; cp = s[0] & 0x1f; }
  else if (s[0] >= 0xe0 && s[0] <= 0xef) { n = 3; cp = s[0] & 0x0f; }
  else if (s[0] >= 0xf0 && s[0] <= 0xf4) { n = 4; cp = s[0] & 0x07; }
  else return 0;
  if (len < n) return 0;
  for (k = 1; k < n; k++) {
    if ((s[k] & 0xc0) != 0x80) return 0;
    cp = cp << 6 | (s[k] & 0x3f);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff))) return 0;
  return n;
}

int listing_json_string(stralloc *out, const char *s, size_t len)
{
  static const char hex[] = "0123456789abcdef";
  size_t i = 0;
  if (!stralloc_cats(out, "\"")) return -1;
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    size_t n;
    if (c == '"' || c == '\\') { char e[2] = { '\\', (char)c }; if (!stralloc_catb(out, e, 2)) return -1; i++; }
    else if (c < 32 || c == 127) {
      char e[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
      if (!stralloc_catb(out, e, 6)) return -1;
      i++;
    } else if (c < 0x80) { if (!stralloc_catb(out, s + i, 1)) return -1; i++; }
    else if ((n = utf8_len((const unsigned char *)s + i, len - i))) { if (!stralloc_catb(out, s + i, n)) return -1; i += n; }
    else { if (!stralloc_cats(out, "\\ufffd")) return -1; i++; }
  }
  return stralloc_cats(out, "\"") ? 0 : -1;
}

/* json_number - a field that must be a decimal number */
static int json_number(stralloc *out, const char *s, size_t len)
{
  unsigned long v;
  if (!len || len > 20 || scan_ulongn(s, len, &v) != len) return -1;
  return stralloc_catb(out, s, len) ? 0 : -1;
}

/* json_key - ,"key": (comma unless first) */
static int json_key(stralloc *out, const char *key, int first)
{
  return (first || stralloc_cats(out, ",")) && stralloc_cats(out, "\"") && stralloc_cats(out, key)
      && stralloc_cats(out, "\":") ? 0 : -1;
}

/* json_m - start a message object from an M line */
static int json_m(stralloc *out, const char *line, size_t len)
{
  size_t l[5];
  const char *f[5];
  unsigned int k;
  for (k = 0; k < 5; k++) if (!(f[k] = field(line, len, k, &l[k]))) return -1;
  return stralloc_cats(out, "{") && json_key(out, "queue_id", 1) == 0 && listing_json_string(out, f[1], l[1]) == 0
      && json_key(out, "arrival_time", 0) == 0 && json_number(out, f[3], l[3]) == 0
      && json_key(out, "message_size", 0) == 0 && json_number(out, f[2], l[2]) == 0
      && json_key(out, "sender", 0) == 0 && listing_json_string(out, f[4], l[4]) == 0
      && stralloc_cats(out, ",\"recipients\":[") ? 0 : -1;
}

/* json_r - one recipient object from an R line */
static int json_r(stralloc *out, const char *line, size_t len, int first)
{
  static const char *const keys[] = { 0, 0, "address", "status", "tries", "next_try", "destination", "reason" };
  size_t l;
  unsigned int k;
  if ((!first && !stralloc_cats(out, ",")) || !stralloc_cats(out, "{")) return -1;
  for (k = 2; k < 8; k++) {
    const char *f = field(line, len, k, &l);
    if (!f || json_key(out, keys[k], k == 2) == -1) return -1;
    if ((k == 4 || k == 5) ? json_number(out, f, l) == -1 : listing_json_string(out, f, l) == -1) return -1;
  }
  return stralloc_cats(out, "}") ? 0 : -1;
}

int listing_json(const char *text, size_t len, stralloc *out)
{
  size_t pos = 0;
  int in_msg = 0, first = 1;
  while (pos < len) {
    size_t n = byte_chr(text + pos, len - pos, '\n');
    const char *line = text + pos;
    pos += n + 1;
    if (n == 0) continue;
    if (line[0] == 'M' && n > 1 && line[1] == '\t') {
      if (in_msg && !stralloc_cats(out, "]}\n")) return -1;
      if (json_m(out, line, n) == -1) return -1;
      in_msg = 1; first = 1;
    } else if (line[0] == 'R' && n > 1 && line[1] == '\t' && in_msg) {
      if (json_r(out, line, n, first) == -1) return -1;
      first = 0;
    } else return -1;
  }
  if (in_msg && !stralloc_cats(out, "]}\n")) return -1;
  return 0;
}

/* contains - sub occurs in s[0..len), ASCII case ignored */
static int contains(const char *s, size_t len, const char *sub)
{
  size_t n = str_len(sub), i;
  for (i = 0; i + n <= len; i++)
    if (!case_diffb(s + i, n, sub)) return 1;
  return 0;
}

long listing_select_ids(const char *text, size_t len, char kind, const char *sub, stralloc *ids)
{
  size_t pos = 0, l, idl = 0;
  const char *id = 0, *f;
  long count = 0;
  int taken = 0;
  ids->len = 0;
  while (pos < len) {
    size_t n = byte_chr(text + pos, len - pos, '\n');
    const char *line = text + pos;
    int match = 0;
    pos += n + 1;
    if (n < 2 || line[1] != '\t') continue;
    if (line[0] == 'M') {
      id = field(line, n, 1, &idl);
      taken = 0;
      if (kind == 'I') match = contains(id, idl, sub);
      else if (kind == 'S' && (f = field(line, n, 4, &l))) match = contains(f, l, sub);
    } else if (line[0] == 'R' && id && kind == 'R' && (f = field(line, n, 2, &l))) {
      size_t sl;
      const char *st = field(line, n, 3, &sl);
      match = contains(f, l, sub) && st && sl == 7 && !byte_diff(st, 7, "pending");
    }
    if (match && !taken && id) {
      if (!stralloc_catb(ids, id, idl) || !stralloc_0(ids)) return -1;
      taken = 1;
      count++;
    }
  }
  return count;
}
