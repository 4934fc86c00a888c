/* fuzz_hops.c - libFuzzer target for the hop counter (lib/hops.c): any
 * bytes, fed whole, byte by byte and split at a point the input chooses,
 * must give the same count; the count never exceeds the number of lines. */
#include <stdint.h>
#include <stdlib.h>
#include "hops.h"

/* fed - the count of data[0..len) fed in pieces of step bytes (0: whole) */
static unsigned long fed(const uint8_t *data, size_t len, size_t step)
{
  struct hops h;
  size_t i;
  hops_start(&h);
  if (!step) step = len ? len : 1;
  for (i = 0; i < len; i += step) hops_feed(&h, (const char *)data + i, len - i < step ? len - i : step);
  return h.count;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  size_t lines = 0, i, step;
  unsigned long whole;
  if (size < 1) return 0;
  step = data[0] % 17 + 1;
  data++; size--;
  for (i = 0; i < size; i++) lines += data[i] == '\n';
  whole = fed(data, size, 0);
  if (whole != fed(data, size, 1) || whole != fed(data, size, step)) abort();
  if (whole > lines + 1) abort();
  return 0;
}
