/* test_rewrite.c - masquerade_domains, the Received: modes and the
 * exempt routes (rewrite.c), without a generic map */
#include "../../lib/tests/t.h"
#include "../rs.h"

static stralloc out;

/* T_IS - got (a call of masq or msg) is want */
#define T_IS(name, want, got) do { const char *g_ = (got); T_STR(name, want, g_, strlen(g_)); } while (0)

/* masq - addr as rewrite_address leaves it */
static const char *masq(const char *addr)
{
  const char *why;
  int r = rewrite_address(addr, strlen(addr), &out, &why);
  if (r == 0) return addr;
  if (r == -1 || !stralloc_0(&out)) return "ERROR";
  return out.s;
}

/* msg - rewrite_message of s, "=" when unchanged */
static const char *msg(const char *s)
{
  const char *why;
  int r = rewrite_message(s, strlen(s), &out, "t", &why);
  if (r == 0) return "=";
  if (r == -1 || !stralloc_0(&out)) return "ERROR";
  return out.s;
}

int main(void)
{
  struct config c;
  struct dest d;
  config_defaults(&c);
  c.map_dir = "/nonexistent/postern-test";
  c.masquerade_domains = "!keep.example.com, example.com corp.test";
  c.smtp_rewrite_exempt = "[hub.example.com] [10.0.0.2]:2525";
  T_OK("setup", rewrite_setup(&c) == 0);
  T_IS("host part stripped", "joe@example.com", masq("joe@ws7.corp.example.com"));
  T_IS("case ignored", "joe@example.com", masq("joe@WS7.Example.COM"));
  T_IS("the domain itself stays", "joe@example.com", masq("joe@example.com"));
  T_IS("a label boundary is needed", "joe@notexample.com", masq("joe@notexample.com"));
  T_IS("!domain keeps it", "a@keep.example.com", masq("a@keep.example.com"));
  T_IS("!domain keeps its subdomains", "a@x.keep.example.com", masq("a@x.keep.example.com"));
  T_IS("second entry", "a@corp.test", masq("a@b.corp.test"));
  T_IS("quoted local part kept", "\"a b\"@example.com", masq("\"a b\"@h.example.com"));
  T_IS("no domain: unchanged", "root", masq("root"));
  T_IS("domain literal: unchanged", "a@[10.0.0.1]", masq("a@[10.0.0.1]"));
  T_IS("ends in @: unchanged", "a@", masq("a@"));

  T_IS("From: with a comment and a display name", "From: \"J. D.\" (x) <joe@example.com> (y)\n\nFrom: joe@h.example.com\n", msg("From: \"J. D.\" (x) <joe@h.example.com> (y)\n\nFrom: joe@h.example.com\n"));
  T_IS("other fields untouched", "=", msg("To: joe@h.example.com\nCc: a@b.example.com\n\nbody\n"));
  T_IS("folded Reply-To:", "Reply-To: a@example.com,\n\tb@example.com\n\n", msg("Reply-To: a@x.example.com,\n\tb@y.example.com\n\n"));
  T_IS("malformed: unchanged", "=", msg("From: <a@x.example.com\n\n"));
  T_IS("CRLF header", "Sender: a@example.com\r\n\r\nbody\r\n", msg("Sender: a@x.example.com\r\n\r\nbody\r\n"));

  c.smtp_received_headers = "ours-only";
  T_OK("ours-only", rewrite_setup(&c) == 0);
  T_IS("ours-only keeps the topmost", "X: 1\nReceived: a\nY: 2\n\nb\n", msg("X: 1\nReceived: a\nY: 2\nReceived: b\n\tc\nReceived: d\n\nb\n"));
  c.smtp_received_headers = "strip-internal";
  c.smtp_internal_networks = "10.0.0.0/8, 2001:db8::/32";
  T_OK("strip-internal", rewrite_setup(&c) == 0);
  T_IS("strip-internal: inside and local hops go, the last bracketed address before by is the client",
       "Received: from o (o [192.0.2.1]) by g; d\nReceived: from [10.0.0.1] (y [192.0.2.2]) by g; d\n\n",
       msg("Received: from h (h [10.1.1.1]) by g; d\nReceived: from o (o [192.0.2.1]) by g; d\n"
           "Received: from v ([IPv6:2001:db8::1]) by g; d\nReceived: by w; d\n"
           "Received: from [10.0.0.1] (y [192.0.2.2]) by g; d\n\n"));
  T_IS("an address after by does not count", "=", msg("Received: from a (a [192.0.2.9]) by b [10.0.0.1]; d\n\n"));
  c.smtp_received_headers = "all";
  T_OK("unknown word refused", rewrite_setup(&c) != 0);
  c.smtp_received_headers = "keep";
  c.smtp_internal_networks = "10.0.0.0/40";
  T_OK("bad prefix refused", rewrite_setup(&c) != 0);
  c.smtp_internal_networks = "host.example";
  T_OK("a name refused", rewrite_setup(&c) != 0);
  c.smtp_internal_networks = "";
  T_OK("keep", rewrite_setup(&c) == 0);

  T_OK("exempt route", !dest_parse(&d, "smtp:[HUB.example.com]", "") && !rewrite_applies(&d));
  T_OK("exempt route with port", !dest_parse(&d, "smtp:[10.0.0.2]:2525", "") && !rewrite_applies(&d));
  T_OK("MX route applies", !dest_parse(&d, "smtp:example.net", "") && rewrite_applies(&d));
  T_OK("LMTP never", !dest_parse(&d, "lmtp:unix:/run/lmtp", "") && !rewrite_applies(&d));
  c.masquerade_domains = "";
  T_OK("nothing configured: nothing applies", !dest_parse(&d, "smtp:example.net", "") && !rewrite_applies(&d));
  T_DONE();
}
