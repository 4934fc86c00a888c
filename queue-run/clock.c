/* clock.c - the scheduler's clock, alone in its file so that a unit test
 * can link its own clock_now instead (queue-run/tests/) */
#include <time.h>
#include "qr.h"

unsigned long clock_now(void)
{
  return (unsigned long)time(0);
}
