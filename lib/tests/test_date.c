/* test_date.c - date_rfc5322 (UTC and local with its offset, either sign)
 * and date_asctime (the mbox From_ line's date, the day padded). */
#include <stdlib.h>
#include <time.h>
#include "t.h"
#include "../date.h"

int main(void)
{
  char d[DATE_MAX];
  size_t n;
  n = date_rfc5322(d, 0, 0);
  T_STR("rfc5322: the epoch in UTC", "Thu, 1 Jan 1970 00:00:00 +0000", d, n);
  n = date_rfc5322(d, 1700000000, 0);
  T_STR("rfc5322: UTC", "Tue, 14 Nov 2023 22:13:20 +0000", d, n);
  n = date_rfc5322(d, 1699000000, 0);
  T_STR("rfc5322: a one-digit day is not padded", "Fri, 3 Nov 2023 08:26:40 +0000", d, n);
  n = date_rfc5322(d, 253402300799UL, 0);
  T_STR("rfc5322: the last second of 9999", "Fri, 31 Dec 9999 23:59:59 +0000", d, n);
  T_OK("rfc5322: NUL-terminated, the length returned", d[n] == 0 && strlen(d) == n);
  setenv("TZ", "XYZ-5:30", 1);
  tzset();
  n = date_rfc5322(d, 1700000000, 1);
  T_STR("rfc5322: local time east of UTC, half-hour offset", "Wed, 15 Nov 2023 03:43:20 +0530", d, n);
  setenv("TZ", "ABC3", 1);
  tzset();
  n = date_rfc5322(d, 1700000000, 1);
  T_STR("rfc5322: local time west of UTC", "Tue, 14 Nov 2023 19:13:20 -0300", d, n);
  n = date_rfc5322(d, 1700000000, 0);
  T_STR("rfc5322: UTC whatever TZ says", "Tue, 14 Nov 2023 22:13:20 +0000", d, n);
  n = date_asctime(d, 1700000000);
  T_STR("asctime: UTC whatever TZ says", "Tue Nov 14 22:13:20 2023", d, n);
  n = date_asctime(d, 1699000000);
  T_STR("asctime: a one-digit day padded with a blank", "Fri Nov  3 08:26:40 2023", d, n);
  n = date_asctime(d, 0);
  T_STR("asctime: the epoch", "Thu Jan  1 00:00:00 1970", d, n);
  n = date_rfc5322(d, 1UL << 62, 0);
  T_OK("rfc5322: a time beyond the calendar gives the epoch, within DATE_MAX", n < DATE_MAX && !strcmp(d, "Thu, 1 Jan 1970 00:00:00 +0000"));
  T_DONE();
}
