/* test_address.c - address_check, address_domain_check and address_at
 * (lib/address.c): RFC 5321 mailbox syntax, its limits, and everything that
 * must never pass the door (controls, source routes, bad literals). */
#include <stdio.h>
#include <string.h>
#include "address.h"
#include "t.h"

/* one case: s[0..len) (len 0: strlen), flags, and for refusals the reason
 * expected, or 0 when any reason will do */
struct acase {
  const char *name;
  const char *s;
  size_t len;
  int flags;
  const char *why;
};

static const struct acase valid[] = {
  { "simple address", "alice@example.com", 0, 0, 0 },
  { "single-letter parts", "a@b", 0, 0, 0 },
  { "dot-atom local part", "first.middle.last@example.com", 0, 0, 0 },
  { "every atext special", "!#$%&'*+-/=?^_`{|}~@example.com", 0, 0, 0 },
  { "plus extension", "user+ext@sub.example.co.uk", 0, 0, 0 },
  { "digits and hyphens in labels", "a@0-9.x-y.example", 0, 0, 0 },
  { "upper case", "Alice@EXAMPLE.COM", 0, 0, 0 },
  { "quoted local part with blank", "\"john smith\"@example.com", 0, 0, 0 },
  { "quoted local part with @", "\"a@b\"@example.com", 0, 0, 0 },
  { "quoted local part with escaped quote", "\"a\\\"b\"@example.com", 0, 0, 0 },
  { "quoted local part with escaped backslash", "\"a\\\\b\"@example.com", 0, 0, 0 },
  { "quoted local part with dots", "\"..a..\"@example.com", 0, 0, 0 },
  { "empty quoted local part", "\"\"@example.com", 0, 0, 0 },
  { "IPv4 literal", "root@[1.2.3.4]", 0, 0, 0 },
  { "IPv6 literal ::1", "root@[IPv6:::1]", 0, 0, 0 },
  { "IPv6 literal full", "root@[IPv6:2001:db8:0:0:0:0:0:1]", 0, 0, 0 },
  { "IPv6 literal tag in lower case", "root@[ipv6:2001:db8::1]", 0, 0, 0 },
  { "bare postmaster", "postmaster", 0, 0, 0 },
  { "bare postmaster in mixed case", "PostMaster", 0, 0, 0 },
  { "bare postmaster in upper case", "POSTMASTER", 0, 0, 0 },
  { "UTF-8 local part with ADDR_UTF8", "j\xc3\xb6rg@example.com", 0, ADDR_UTF8, 0 },
  { "UTF-8 domain with ADDR_UTF8", "a@b\xc3\xbc" "cher.example", 0, ADDR_UTF8, 0 },
  { "UTF-8 address in CJK with ADDR_UTF8", "\xe7\x94\xa8\xe6\x88\xb7@\xe4\xbe\x8b\xe5\xad\x90.\xe5\x85\xac\xe5\x8f\xb8", 0, ADDR_UTF8, 0 },
  { "UTF-8 in quoted local part with ADDR_UTF8", "\"j\xc3\xb6 rg\"@example.com", 0, ADDR_UTF8, 0 },
  { "ASCII address with ADDR_UTF8", "alice@example.com", 0, ADDR_UTF8, 0 },
};

static const struct acase invalid[] = {
  { "empty address", "", 0, 0, "empty address" },
  { "NUL inside", "a\0b@example.com", 15, 0, "control character" },
  { "NUL at the end", "a@example.com\0", 14, 0, "control character" },
  { "CR at the end", "a@example.com\r", 0, 0, "control character" },
  { "LF at the end", "a@example.com\n", 0, 0, "control character" },
  { "LF then a second recipient", "a@example.com\nTb@example.org", 0, 0, "control character" },
  { "TAB inside", "a\t@example.com", 0, 0, "control character" },
  { "DEL inside", "a\x7f@example.com", 0, 0, "control character" },
  { "ESC inside", "a\x1b@example.com", 0, 0, "control character" },
  { "CR in a quoted local part", "\"a\rb\"@example.com", 0, 0, "control character" },
  { "control character with ADDR_UTF8", "a\x01@example.com", 0, ADDR_UTF8, "control character" },
  { "space in local part", "a b@example.com", 0, 0, "invalid character in local part" },
  { "space in domain", "a@exa mple.com", 0, 0, "invalid character in domain" },
  { "no domain", "root", 0, 0, "no domain" },
  { "postmaster with a trailing blank", "postmaster ", 0, 0, 0 },
  { "postmaster prefix", "postmaste", 0, 0, "no domain" },
  { "10 bytes that are not postmaster", "postmastex", 0, 0, "no domain" },
  { "postmaster with a suffix", "postmasters", 0, 0, "no domain" },
  { "empty domain", "a@", 0, 0, "empty domain" },
  { "empty local part", "@example.com", 0, 0, 0 },
  { "source route", "@a:b@c", 0, 0, "source route" },
  { "source route with two hops", "@a,@b:c@d", 0, 0, "source route" },
  { "angle brackets", "<a@example.com>", 0, 0, 0 },
  { "leading dot in local part", ".a@example.com", 0, 0, "dot" },
  { "trailing dot in local part", "a.@example.com", 0, 0, "dot" },
  { "double dot in local part", "a..b@example.com", 0, 0, "two dots" },
  { "local part only a dot", ".@example.com", 0, 0, "dot" },
  { "leading dot in domain", "a@.example.com", 0, 0, "empty label" },
  { "trailing dot in domain", "a@example.com.", 0, 0, "empty label" },
  { "double dot in domain", "a@example..com", 0, 0, "empty label" },
  { "hyphen at label start", "a@-example.com", 0, 0, "hyphen" },
  { "hyphen at label end", "a@example-.com", 0, 0, "hyphen" },
  { "hyphen at end of last label", "a@example.com-", 0, 0, "hyphen" },
  { "underscore in domain", "a@ex_ample.com", 0, 0, "invalid character in domain" },
  { "quote in unquoted local part", "a\"b@example.com", 0, 0, 0 },
  { "backslash in unquoted local part", "a\\b@example.com", 0, 0, 0 },
  { "bracket in local part", "a[b@example.com", 0, 0, 0 },
  { "IPv4 literal with three parts", "a@[1.2.3]", 0, 0, "address literal" },
  { "IPv4 literal with 256", "a@[1.2.3.256]", 0, 0, "address literal" },
  { "IPv4 literal with five parts", "a@[1.2.3.4.5]", 0, 0, "address literal" },
  { "IPv6 literal with bad digits", "a@[IPv6:zz]", 0, 0, "IPv6" },
  { "IPv6 literal with zone", "a@[IPv6:fe80::1%eth0]", 0, 0, "IPv6" },
  { "IPv6 literal with nothing after the tag", "a@[IPv6:]", 0, 0, 0 },
  { "IPv6 address without the tag", "a@[::1]", 0, 0, "address literal" },
  { "general address literal", "a@[x400:abc]", 0, 0, "address literal" },
  { "empty literal", "a@[]", 0, 0, "literal" },
  { "unterminated literal", "a@[1.2.3.4", 0, 0, "unterminated" },
  { "literal followed by a label", "a@[1.2.3.4].com", 0, 0, 0 },
  { "literal too long", "a@[IPv6:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000:0000]", 0, 0, "too long" },
  { "unterminated quote", "\"abc@example.com", 0, 0, 0 },
  { "quote closed by an escaped quote only", "\"abc\\\"@example.com", 0, 0, 0 },
  { "text after the closing quote", "\"a\"b@example.com", 0, 0, 0 },
  { "stray quote inside quotes", "\"a\"\"@example.com", 0, 0, 0 },
  { "two quoted strings in a row", "\"a\"\"b\"@example.com", 0, 0, "stray quote" },
  { "quoted, atom, quoted", "\"a\"b\"c\"@example.com", 0, 0, "stray quote" },
  { "UTF-8 local part without ADDR_UTF8", "j\xc3\xb6rg@example.com", 0, 0, "invalid character in local part" },
  { "UTF-8 domain without ADDR_UTF8", "a@b\xc3\xbc" "cher.example", 0, 0, "invalid character in domain" },
  { "UTF-8 in quoted local part without ADDR_UTF8", "\"j\xc3\xb6rg\"@example.com", 0, 0, "quoted" },
};

static char name[256];
static const char *named(const char *a, const char *b)
{
  snprintf(name, sizeof name, "%s: %s", a, b);
  return name;
}

/* fill - n copies of c at p */
static char *fill(char *p, char c, size_t n)
{
  memset(p, c, n);
  return p + n;
}

/* domain_of - a domain of len bytes built from labels of at most lab bytes */
static size_t domain_of(char *p, size_t len, size_t lab)
{
  size_t n = 0;
  while (n < len) {
    size_t take = len - n > lab ? lab : len - n;
    if (n) { p[n++] = '.'; if (take > len - n) take = len - n; }
    fill(p + n, 'd', take);
    n += take;
  }
  return n;
}

static void limits(void)
{
  char b[600];
  char *p;
  size_t n;
  const char *why;

  /* local part: 64 octets is the limit */
  p = fill(b, 'l', 64); memcpy(p, "@example.com", 12); n = 64 + 12;
  T_OK("64-byte local part is accepted", address_check(b, n, 0) == 0);
  p = fill(b, 'l', 65); memcpy(p, "@example.com", 12); n = 65 + 12;
  why = address_check(b, n, 0);
  T_OK("65-byte local part is refused as too long", why && strstr(why, "local part too long"));
  b[0] = '"'; b[63] = '"'; p = b + 64; memcpy(p, "@example.com", 12);
  T_OK("64-byte quoted local part is accepted", address_check(b, 64 + 12, 0) == 0);

  /* labels: 63 octets is the limit */
  memcpy(b, "a@", 2); p = fill(b + 2, 'x', 63); memcpy(p, ".com", 4);
  T_OK("63-byte label is accepted", address_check(b, 2 + 63 + 4, 0) == 0);
  memcpy(b, "a@", 2); p = fill(b + 2, 'x', 64); memcpy(p, ".com", 4);
  why = address_check(b, 2 + 64 + 4, 0);
  T_OK("64-byte label is refused", why && strstr(why, "label in domain too long"));
  memcpy(b, "a@com.", 6); fill(b + 6, 'x', 64);
  why = address_check(b, 6 + 64, 0);
  T_OK("64-byte last label is refused", why && strstr(why, "label in domain too long"));

  /* whole address: 254 octets (256 with the angle brackets) */
  p = fill(b, 'l', 64); *p++ = '@';
  n = 65 + domain_of(p, 254 - 65, 63);
  T_OK("254-byte address is built", n == 254);
  T_OK("254-byte address is accepted", address_check(b, n, 0) == 0);
  p = fill(b, 'l', 64); *p++ = '@';
  n = 65 + domain_of(p, 255 - 65, 63);
  why = address_check(b, n, 0);
  T_OK("255-byte address is refused as too long", n == 255 && why && strstr(why, "address too long"));
  p = fill(b, 'l', 10); *p++ = '@';
  n = 11 + domain_of(p, 243, 63);
  T_OK("254-byte address with a long domain is accepted", n == 256 - 2 && address_check(b, n, 0) == 0);

  /* domains on their own: 255 octets */
  n = domain_of(b, 255, 63);
  T_OK("255-byte domain is accepted by address_domain_check", address_domain_check(b, n, 0) == 0);
  n = domain_of(b, 256, 63);
  why = address_domain_check(b, n, 0);
  T_OK("256-byte domain is refused by address_domain_check", why && strstr(why, "domain too long"));
  T_OK("address_domain_check refuses the empty domain", address_domain_check("", 0, 0) != 0);
  T_OK("address_domain_check accepts an IPv4 literal", address_domain_check("[192.0.2.1]", 11, 0) == 0);
  T_OK("address_domain_check accepts an IPv6 literal", address_domain_check("[IPv6:2001:db8::1]", 18, 0) == 0);
  T_OK("address_domain_check refuses a trailing dot", address_domain_check("example.com.", 12, 0) != 0);
  T_OK("address_domain_check refuses UTF-8 without ADDR_UTF8", address_domain_check("b\xc3\xbc.de", 6, 0) != 0);
  T_OK("address_domain_check accepts UTF-8 with ADDR_UTF8", address_domain_check("b\xc3\xbc.de", 6, ADDR_UTF8) == 0);
  T_OK("address_domain_check reads only len bytes", address_domain_check("example.com\n", 11, 0) == 0);
  T_OK("address_check reads only len bytes", address_check("a@example.com\nTx@y", 13, 0) == 0);
}

static void at(void)
{
  static const struct { const char *name, *s; size_t want; } cases[] = {
    { "address_at finds the @", "a@b", 1 },
    { "address_at skips an @ inside quotes", "\"a@b\"@c", 5 },
    { "address_at skips an @ after an escaped quote inside quotes", "\"a\\\"@b\"@c", 7 },
    { "address_at takes the last @ outside quotes", "a@b@c", 3 },
    { "address_at returns len without @", "postmaster", 10 },
    { "address_at returns len when the @ is only quoted", "\"a@b\"", 5 },
    { "address_at returns len for the empty string", "", 0 },
    { "address_at with an escaped backslash before the closing quote", "\"a\\\\\"@b", 5 },
  };
  unsigned int i;
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t got = address_at(cases[i].s, strlen(cases[i].s));
    T_OK(cases[i].name, got == cases[i].want);
    if (got != cases[i].want) printf("#   want %zu, got %zu\n", cases[i].want, got);
  }
}

int main(void)
{
  unsigned int i;
  for (i = 0; i < sizeof valid / sizeof valid[0]; i++) {
    const struct acase *c = &valid[i];
    const char *why = address_check(c->s, c->len ? c->len : strlen(c->s), c->flags);
    T_OK(named("accepted", c->name), why == 0);
    if (why) printf("#   %s\n", why);
  }
  for (i = 0; i < sizeof invalid / sizeof invalid[0]; i++) {
    const struct acase *c = &invalid[i];
    const char *why = address_check(c->s, c->len ? c->len : strlen(c->s), c->flags);
    T_OK(named("refused", c->name), why && (!c->why || strstr(why, c->why)));
    if (!why) printf("#   accepted\n");
    else if (c->why && !strstr(why, c->why)) printf("#   want a reason with \"%s\", got \"%s\"\n", c->why, why);
  }
  /* the UTF-8 addresses must need the flag */
  for (i = 0; i < sizeof valid / sizeof valid[0]; i++) {
    const struct acase *c = &valid[i];
    if (!(c->flags & ADDR_UTF8) || !strcmp(c->name, "ASCII address with ADDR_UTF8")) continue;
    T_OK(named("refused without ADDR_UTF8", c->name), address_check(c->s, strlen(c->s), 0) != 0);
  }
  limits();
  at();
  T_DONE();
}
