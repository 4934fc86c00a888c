/* date.c - formatting dates (date.h) without strftime: no locale, no
 * stdio, the same bytes in every program. */
#include <time.h>
#include "byte.h"
#include "num.h"
#include "date.h"

static const char days[] = "SunMonTueWedThuFriSat";
static const char months[] = "JanFebMarAprMayJunJulAugSepOctNovDec";

/* broken_down - t as calendar time, local or UTC; the epoch on failure */
static void broken_down(unsigned long t, int local, struct tm *tm)
{
  time_t tt = (time_t)t;
  if (local ? localtime_r(&tt, tm) : gmtime_r(&tt, tm)) return;
  byte_zero(tm, sizeof *tm);
  tm->tm_mday = 1;
  tm->tm_year = 70;
  tm->tm_wday = 4;
}

/* clock_part - "hh:mm:ss" at out; its length */
static size_t clock_part(char *out, const struct tm *tm)
{
  size_t n = num_fmt0(out, (unsigned long)tm->tm_hour, 2);
  out[n++] = ':';
  n += num_fmt0(out + n, (unsigned long)tm->tm_min, 2);
  out[n++] = ':';
  return n + num_fmt0(out + n, (unsigned long)tm->tm_sec, 2);
}

size_t date_rfc5322(char *out, unsigned long t, int local)
{
  struct tm tm;
  long off;
  size_t n;
  broken_down(t, local, &tm);
  off = local ? tm.tm_gmtoff / 60 : 0;
  byte_copy(out, 3, days + 3 * (tm.tm_wday % 7));
  out[3] = ','; out[4] = ' ';
  n = 5 + num_fmt(out + 5, (unsigned long)tm.tm_mday);
  out[n++] = ' ';
  byte_copy(out + n, 3, months + 3 * (tm.tm_mon % 12));
  n += 3;
  out[n++] = ' ';
  n += num_fmt(out + n, (unsigned long)tm.tm_year + 1900);
  out[n++] = ' ';
  n += clock_part(out + n, &tm);
  out[n++] = ' ';
  out[n++] = off < 0 ? '-' : '+';
  if (off < 0) off = -off;
  n += num_fmt0(out + n, (unsigned long)off / 60 % 100, 2);
  n += num_fmt0(out + n, (unsigned long)off % 60, 2);
  out[n] = 0;
  return n;
}

size_t date_asctime(char *out, unsigned long t)
{
  struct tm tm;
  size_t n;
  broken_down(t, 0, &tm);
  byte_copy(out, 3, days + 3 * (tm.tm_wday % 7));
  out[3] = ' ';
  byte_copy(out + 4, 3, months + 3 * (tm.tm_mon % 12));
  out[7] = ' ';
  out[8] = tm.tm_mday < 10 ? ' ' : (char)('0' + tm.tm_mday / 10 % 10);
  out[9] = (char)('0' + tm.tm_mday % 10);
  out[10] = ' ';
  n = 11 + clock_part(out + 11, &tm);
  out[n++] = ' ';
  n += num_fmt(out + n, (unsigned long)tm.tm_year + 1900);
  out[n] = 0;
  return n;
}
