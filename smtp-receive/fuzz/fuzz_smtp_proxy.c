/* fuzz_smtp_proxy.c - libFuzzer target for smtp-receive's PROXY protocol
 * reader (versions 1 and 2): whatever the header, the result is a valid
 * address or a refusal, never a crash or a hang. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static struct config cfg;
  static struct session s;
  unsigned char a[16];
  int p[2], r;
  if (size > 4096 || pipe(p) == -1) return 0;
  if (write(p[1], data, size) != (ssize_t)size) { close(p[0]); close(p[1]); return 0; }
  close(p[1]);
  cfg.smtpd_timeout = 1;
  memset(&s, 0, sizeof s);
  s.cfg = &cfg;
  strcpy(s.ip, "127.0.0.1");
  io_init(p[0], -1);
  r = proxy_read(&s, "127.0.0.0/8");
  if (r < -1 || r > 1) __builtin_trap();
  if (r == 1 && inet_pton(AF_INET, s.ip, a) != 1 && inet_pton(AF_INET6, s.ip, a) != 1) __builtin_trap();
  if (r == 0 && strcmp(s.ip, "127.0.0.1")) __builtin_trap();
  close(p[0]);
  return 0;
}
