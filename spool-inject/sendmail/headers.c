/* headers.c - reading the caller's message: the header section
 * into memory (bounded), the body streamed.
 *
 * Line ends are normalised: CRLF becomes LF, a missing final newline is
 * added; without -i a line holding only "." ends the input, as sendmail
 * does (no dot-unstuffing: that belongs to SMTP).  A leading mbox "From "
 * line is dropped.  The header section ends at the first empty line, or
 * at the first line that is not a header field or its continuation (that
 * line then starts the body).  Header fields with a NUL byte or a bare CR,
 * a field longer than SM_HEADER_MAX or a section longer than
 * SM_HEADERS_MAX are refused, never cut: a broken header must not turn
 * into something else further down the line.  The body passes byte for
 * byte. */
#include <stdlib.h>
#include "byte.h"
#include "case.h"
#include "str.h"
#include "getln.h"
#include "sendmail.h"

/* is_field - "Name:" or "Name :" (RFC 5322 ftext: 33-126 but ':') */
static size_t is_field(const char *x, size_t len)
{
  size_t i = 0, name;
  while (i < len && (unsigned char)x[i] > 32 && (unsigned char)x[i] < 127 && x[i] != ':') i++;
  name = i;
  if (!name) return 0;
  while (i < len && (x[i] == ' ' || x[i] == '\t')) i++;
  return i < len && x[i] == ':' ? name : 0;
}

/* header_ok - no NUL, no CR in a header line */
static const char *header_ok(const char *x, size_t len)
{
  if (byte_chr(x, len, 0) != len) return "NUL byte in the header section";
  if (byte_chr(x, len, '\r') != len) return "bare CR in the header section";
  return 0;
}

/* add_field - a new field in m->h */
static int add_field(struct message *m, size_t name_len)
{
  if (m->nh == m->ah) {
    unsigned int a = m->ah ? m->ah * 2 : 32;
    struct header *h = realloc(m->h, a * sizeof *h);
    if (!h) return -1;
    m->h = h; m->ah = a;
  }
  m->h[m->nh].start = m->hdr.len;
  m->h[m->nh].len = 0;
  m->h[m->nh].name_len = name_len;
  m->nh++;
  return 0;
}

/* header_line - one line of the header section: 1 it was one, 0 it ends
 * the section (not a field), or an SM_ error */
static int header_line(struct message *m, const char *x, size_t len, const char **why)
{
  size_t name = 0;
  int cont = len && (x[0] == ' ' || x[0] == '\t');
  if (cont ? m->nh == 0 : !(name = is_field(x, len))) return 0;
  if ((*why = header_ok(x, len))) return SM_EDATA;
  if (cont) {
    if (m->h[m->nh - 1].len + len + 1 > SM_HEADER_MAX) { *why = "header field too long"; return SM_EDATA; }
    if (!stralloc_cats(&m->hdr, "\n")) return SM_ENOMEM;
  } else {
    if (m->hdr.len && !stralloc_cats(&m->hdr, "\n")) return SM_ENOMEM;
    if (add_field(m, name) == -1) return SM_ENOMEM;
  }
  if (m->hdr.len + len > SM_HEADERS_MAX) { *why = "header section too long"; return SM_EDATA; }
  if (!stralloc_catb(&m->hdr, x, len)) return SM_ENOMEM;
  m->h[m->nh - 1].len = m->hdr.len - m->h[m->nh - 1].start;
  return 1;
}

int headers_read(struct message *m, const char **why)
{
  static char line[SM_HEADER_MAX];
  size_t len;
  int first = 1, r;
  *why = 0;
  for (;;) {
    switch (getln(m->in, line, sizeof line, &len)) {
    case GETLN_ERROR: return SM_EIO;
    case GETLN_EOF: m->ended = 1; return SM_OK;
    case GETLN_LONG: *why = "header field too long"; return SM_EDATA;
    case GETLN_PARTIAL: m->ended = 1; break;
    default: break;
    }
    if (len && line[len - 1] == '\r') len--;
    if (m->dot_ends && len == 1 && line[0] == '.') { m->ended = 1; return SM_OK; }
    if (first && len >= 5 && !byte_diff(line, 5, "From ")) { first = 0; if (m->ended) return SM_OK; continue; }
    first = 0;
    if (len == 0) return SM_OK;          /* the empty line: consumed, we write our own */
    if ((r = header_line(m, line, len, why)) < 0) return r;
    if (r == 0) {                        /* not a header: the body's first line */
      if (!stralloc_copyb(&m->first_body, line, len)) return SM_ENOMEM;
      m->had_first_body = 1;
      return SM_OK;
    }
    if (m->ended) return SM_OK;
  }
}

int headers_is(const struct message *m, unsigned int k, const char *name)
{
  size_t n = str_len(name);
  return k < m->nh && m->h[k].name_len == n && !case_diffb(m->hdr.s + m->h[k].start, n, name);
}

const char *headers_value(const struct message *m, unsigned int k, size_t *len)
{
  const char *f = m->hdr.s + m->h[k].start;
  size_t colon = byte_chr(f, m->h[k].len, ':');
  *len = m->h[k].len - colon - 1;
  return f + colon + 1;
}

/* put - out of the body to out, counted against the budget */
static int put(struct message *m, buffer *out, const char *x, size_t len, unsigned long limit)
{
  m->body_bytes += len;
  if (m->body_bytes > limit) return SM_EBIG;
  return buffer_put(out, x, len) == 0 ? SM_OK : SM_EOUT;
}

/* body_line - a whole line (LF consumed) of n bytes; 1 when it is the
 * final "." */
static int body_line(struct message *m, buffer *out, char *x, size_t n, int bol, unsigned long limit)
{
  int r;
  if (bol && m->dot_ends && (n == 1 || (n == 2 && x[1] == '\r')) && x[0] == '.') return 1;
  if (n && x[n - 1] == '\r') n--;
  else if (n == 0 && m->pending_cr) m->pending_cr = 0;   /* CRLF split between pieces */
  if (m->pending_cr) { m->pending_cr = 0; if ((r = put(m, out, "\r", 1, limit))) return r; }
  if ((r = put(m, out, x, n, limit))) return r;
  return put(m, out, "\n", 1, limit);
}

int headers_copy_body(struct message *m, buffer *out, unsigned long limit)
{
  static char piece[SM_LINE_CHUNK];
  size_t n;
  int bol = 1, r;
  if (m->had_first_body) {
    if ((r = put(m, out, m->first_body.s, m->first_body.len, limit))) return r;
    if ((r = put(m, out, "\n", 1, limit))) return r;
  }
  while (!m->ended) {
    switch (getln(m->in, piece, sizeof piece, &n)) {
    case GETLN_ERROR: return SM_EIO;
    case GETLN_EOF:
      m->ended = 1;
      if (m->pending_cr && (r = put(m, out, "\r", 1, limit))) return r;
      if (!bol && (r = put(m, out, "\n", 1, limit))) return r;
      break;
    case GETLN_LINE: case GETLN_PARTIAL:   /* PARTIAL: the last line, its LF added */
      r = body_line(m, out, piece, n, bol, limit);
      if (r == 1) { m->ended = 1; break; }
      if (r) return r;
      bol = 1;
      break;
    default:   /* GETLN_LONG: a piece of a long line */
      if (m->pending_cr) { m->pending_cr = 0; if ((r = put(m, out, "\r", 1, limit))) return r; }
      if (piece[n - 1] == '\r') { m->pending_cr = 1; n--; }
      if ((r = put(m, out, piece, n, limit))) return r;
      bol = 0;
      break;
    }
  }
  return SM_OK;
}

void headers_free(struct message *m)
{
  stralloc_free(&m->hdr);
  stralloc_free(&m->first_body);
  free(m->h);
  m->h = 0;
  m->nh = m->ah = 0;
}
