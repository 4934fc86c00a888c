/* fuzz_smtp_command.c - libFuzzer target for smtp-receive's command
 * parser: the verb, the MAIL/RCPT path and parameters, the BDAT argument,
 * and address_check on whatever path comes out. */
#include <stdint.h>
#include <string.h>
#include "address.h"
#include "smtp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char line[SMTP_LINE_MAX], addr[ADDR_PATH_MAX + 1];
  size_t arg, alen, rest;
  struct mail_params p;
  unsigned long n;
  int last;
  if (size > sizeof line) return 0;
  memcpy(line, data, size);
  int cmd = parse_verb(line, size, &arg);
  const char *a = line + arg;
  size_t len = size - arg;
  if (cmd == CMD_MAIL || cmd == CMD_RCPT) {
    const char *why = parse_path(a, len, cmd == CMD_MAIL ? "FROM:" : "TO:", addr, &alen, &rest);
    if (!why) {
      if (rest > len || alen > ADDR_MAX || addr[alen] != 0) __builtin_trap();
      if (cmd == CMD_MAIL) parse_mail_params(a + rest, len - rest, &p);
      else parse_rcpt_params(a + rest, len - rest, &p);
      if (alen) address_check(addr, alen, ADDR_UTF8);
    }
  }
  if (cmd == CMD_BDAT) parse_bdat(a, len, &n, &last);
  return 0;
}
