/* fuzz_smtp_proxy.c - libFuzzer target for smtp-receive's PROXY protocol
 * parser (versions 1 and 2): proxy_length finds the header's end within
 * the input and never past it, more input never changes a decision already
 * made, and proxy_parse gives a valid address or a refusal. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>
#include "smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct config cfg;
  static struct session s;
  const char *buf = (const char *)data;
  unsigned char a[16];
  int k, r;
  size_t i;
  if (size > 4096) return 0;
  k = proxy_length(buf, size);
  if (k < -1 || k > (int)size) __builtin_trap();
  for (i = 0; i < size; i++) {          /* a prefix decides no differently */
    int p = proxy_length(buf, i);
    if (p > 0 && p != k) __builtin_trap();
    if (p < 0 && k >= 0) __builtin_trap();
  }
  if (k <= 0) return 0;
  memset(&s, 0, sizeof s);
  s.cfg = &cfg;
  strcpy(s.ip, "127.0.0.1");
  r = proxy_parse(&s, buf, (size_t)k);
  if (r < -1 || r > 1) __builtin_trap();
  if (r == 1 && inet_pton(AF_INET, s.ip, a) != 1 && inet_pton(AF_INET6, s.ip, a) != 1) __builtin_trap();
  if (r == 0 && strcmp(s.ip, "127.0.0.1")) __builtin_trap();
  return 0;
}
