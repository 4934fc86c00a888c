/* num.c - decimal formatting (see num.h) */
#include "num.h"

size_t num_fmt(char *dest, unsigned long n)
{
  return num_fmt0(dest, n, 1);
}

size_t num_fmt0(char *dest, unsigned long n, size_t width)
{
  char tmp[NUM_ULONG];
  size_t len = 0, i;
  do { tmp[len++] = (char)('0' + n % 10); n /= 10; } while (n);
  while (len < width && len < sizeof tmp) tmp[len++] = '0';
  for (i = 0; i < len; i++) dest[i] = tmp[len - 1 - i];
  return len;
}

char *num_str(char dest[NUM_ULONG], unsigned long n)
{
  dest[num_fmt(dest, n)] = 0;
  return dest;
}

size_t num_xfmt(char *dest, unsigned long n)
{
  static const char hex[] = "0123456789abcdef";
  char tmp[NUM_ULONG];
  size_t len = 0, i;
  do { tmp[len++] = hex[n & 15]; n >>= 4; } while (n);
  for (i = 0; i < len; i++) dest[i] = tmp[len - 1 - i];
  return len;
}
