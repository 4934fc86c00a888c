/* data.c - the message bytes of DATA and BDAT, as a state machine over
 * whatever the network delivers, so that nothing depends on how the client
 * splits its writes.
 *
 * DATA (RFC 5321 4.1.1.4, 4.5.2): only <CR><LF>.<CR><LF> ends the data.
 * A bare LF or a bare CR anywhere is an error that refuses the message
 * (SMTP smuggling: servers that took "\n.\n" or "\r.\r" for the end let a
 * second message hide in the first), but never ends it: the reader goes on
 * to the real end, so both sides agree on where the data stops.  A leading
 * dot is removed (dot-unstuffing), CRLF becomes LF for the injector.
 * BDAT (RFC 3030): the chunk bytes are taken as they are, CRLF becomes LF,
 * and a bare CR or LF is refused the same way.
 *
 * Sizes are counted as on the wire (CRLF line ends), as SIZE declares them;
 * line lengths exclude the CRLF.  After the first error nothing more is
 * written to the sink.  The header's Received: and Delivered-To: fields
 * are counted on the way (lib/hops.c) for the hop limit. */
#include "smtp.h"

enum { S_BOL, S_DOT, S_MID, S_CR, S_DOTCR };

/* data_start - a new message; sink 0 throws the bytes away */
void data_start(struct data *d, buffer *sink, unsigned long line_limit, unsigned long size_limit)
{
  d->state = S_BOL;
  d->error = DATA_OK;
  d->line_len = 0;
  d->line_limit = line_limit;
  d->size = 0;
  d->size_limit = size_limit;
  d->sink = sink;
  hops_start(&d->hops);
}

/* fail - remember the first error */
static void fail(struct data *d, int error)
{
  if (d->error == DATA_OK) d->error = error;
}

/* room - bytes that may still come before a limit is passed (0: none) */
static unsigned long room(unsigned long used, unsigned long limit)
{
  if (!limit) return (unsigned long)-1;
  return used < limit ? limit - used : 0;
}

/* out_run - n bytes of one line (no LF) to the sink.  When a run passes
 * both limits, the error is the one a byte-by-byte reader meets first, so
 * that it never depends on how the client split its writes. */
static void out_run(struct data *d, const char *p, size_t n)
{
  unsigned long line_room = room(d->line_len, d->line_limit), size_room = room(d->size, d->size_limit);
  d->line_len += n;
  d->size += n;
  hops_feed(&d->hops, p, n);
  if (n > line_room || n > size_room) fail(d, line_room <= size_room ? DATA_LONG : DATA_SIZE);
  if (d->error != DATA_OK || !d->sink) return;
  if (buffer_put(d->sink, p, n) == -1) { d->sink = 0; d->error = DATA_SINK; }
}

/* out_nl - the end of a line */
static void out_nl(struct data *d)
{
  d->line_len = 0;
  d->size += 2;
  hops_feed(&d->hops, "\n", 1);
  if (d->size_limit && d->size > d->size_limit) fail(d, DATA_SIZE);
  if (d->error != DATA_OK || !d->sink) return;
  if (buffer_put(d->sink, "\n", 1) == -1) { d->sink = 0; d->error = DATA_SINK; }
}

/* mid - byte c inside a line: CR waits for its LF, a bare LF is refused */
static void mid(struct data *d, char c)
{
  if (c == '\r') { d->state = S_CR; return; }
  d->state = S_MID;
  if (c == '\n') fail(d, DATA_BARE);
  else out_run(d, &c, 1);
}

/* step - one byte of DATA; 1 when it completed the end marker */
static int step(struct data *d, char c)
{
  switch (d->state) {
  case S_BOL:
    if (c == '.') { d->state = S_DOT; return 0; }
    mid(d, c);
    return 0;
  case S_DOT:                       /* the dot is gone: unstuffed */
    if (c == '\r') { d->state = S_DOTCR; return 0; }
    mid(d, c);
    return 0;
  case S_CR:
    if (c == '\n') { out_nl(d); d->state = S_BOL; return 0; }
    fail(d, DATA_BARE);
    mid(d, c);
    return 0;
  case S_DOTCR:
    if (c == '\n') return 1;
    fail(d, DATA_BARE);
    mid(d, c);
    return 0;
  default:
    mid(d, c);
    return 0;
  }
}

/* run - length of the leading bytes of p that are neither CR nor LF */
static size_t run(const char *p, size_t len)
{
  size_t i = 0;
  while (i < len && p[i] != '\r' && p[i] != '\n') i++;
  return i;
}

/* data_dot - feed DATA bytes; the number used.  *done is set when the
 * end marker was read: the bytes after it belong to the next command. */
size_t data_dot(struct data *d, const char *buf, size_t len, int *done)
{
  size_t i = 0;
  *done = 0;
  while (i < len) {
    if (d->state == S_MID) {
      size_t n = run(buf + i, len - i);
      if (n) { out_run(d, buf + i, n); i += n; continue; }
    }
    if (step(d, buf[i++])) { *done = 1; return i; }
  }
  return i;
}

/* data_chunk - feed the bytes of a BDAT chunk */
void data_chunk(struct data *d, const char *buf, size_t len)
{
  size_t i = 0;
  while (i < len) {
    char c = buf[i];
    if (d->state == S_CR) {
      d->state = S_MID;
      if (c == '\n') { out_nl(d); i++; continue; }
      fail(d, DATA_BARE);
    }
    if (c == '\r') { d->state = S_CR; i++; continue; }
    if (c == '\n') { fail(d, DATA_BARE); i++; continue; }
    size_t n = run(buf + i, len - i);
    out_run(d, buf + i, n);
    i += n;
  }
}

/* data_chunk_end - after BDAT LAST: a CR may not end the message */
void data_chunk_end(struct data *d)
{
  if (d->state == S_CR) fail(d, DATA_BARE);
  d->state = S_MID;
}

/* data_reply - the reply for a refused message */
const char *data_reply(int error)
{
  switch (error) {
  case DATA_BARE: return "554 5.6.0 Message refused: bare CR or LF in the data (lines must end with CRLF)";
  case DATA_LONG: return "554 5.6.0 Message refused: a line is longer than the limit";
  case DATA_SIZE: return "552 5.3.4 Message size exceeds fixed limit";
  case DATA_SINK: return "451 4.3.0 The injector stopped reading the message";
  default: return "250 2.0.0 Ok";
  }
}
