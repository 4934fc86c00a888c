/* test_client.c - the client's name rules (client.c) and the PROXY
 * trusted list (proxy.c) */
#include "../../lib/tests/t.h"
#include "str.h"
#include "../smtp.h"

static int name_ok(const char *n) { return client_name_ok(n, str_len(n)); }

int main(void)
{
  T_OK("name: host", name_ok("mail.example.com"));
  T_OK("name: digits and hyphens inside", name_ok("host-1-2-3.dsl.isp.example"));
  T_OK("name: one label", name_ok("localhost"));
  T_OK("name: an IPv4 address is not a name", !name_ok("192.0.2.1"));
  T_OK("name: a numeric last label is not a name", !name_ok("x.10.0.0.1"));
  T_OK("name: numeric first labels are fine", name_ok("1.2.3.4.dyn.example"));
  T_OK("name: empty", !name_ok(""));
  T_OK("name: empty label", !name_ok("a..b"));
  T_OK("name: leading dot", !name_ok(".a.b"));
  T_OK("name: trailing dot", !name_ok("a.b."));
  T_OK("name: leading hyphen", !name_ok("-a.b"));
  T_OK("name: hyphen before dot", !name_ok("a-.b"));
  T_OK("name: trailing hyphen", !name_ok("a.b-"));
  T_OK("name: underscore", !name_ok("a_b.example"));
  T_OK("name: blank", !name_ok("a b.example"));
  T_OK("name: 63-byte label", name_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example"));
  T_OK("name: 64-byte label", !name_ok("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example"));
  T_OK("name: control byte", !name_ok("a\x01.example"));

  T_OK("proxy: exact address", proxy_trusted("192.0.2.1", "192.0.2.1"));
  T_OK("proxy: among several", proxy_trusted("192.0.2.2", "192.0.2.1, 192.0.2.2,192.0.2.3"));
  T_OK("proxy: not listed", !proxy_trusted("192.0.2.4", "192.0.2.1 192.0.2.2"));
  T_OK("proxy: no prefix match by text", !proxy_trusted("192.0.2.10", "192.0.2.1"));
  T_OK("proxy: /24", proxy_trusted("10.1.2.3", "10.1.2.0/24"));
  T_OK("proxy: outside /24", !proxy_trusted("10.1.3.3", "10.1.2.0/24"));
  T_OK("proxy: /12", proxy_trusted("172.31.0.1", "172.16.0.0/12") && !proxy_trusted("172.32.0.1", "172.16.0.0/12"));
  T_OK("proxy: /0", proxy_trusted("203.0.113.9", "0.0.0.0/0"));
  T_OK("proxy: /32", proxy_trusted("203.0.113.9", "203.0.113.9/32") && !proxy_trusted("203.0.113.8", "203.0.113.9/32"));
  T_OK("proxy: IPv6 exact", proxy_trusted("2001:db8::1", "2001:db8::1"));
  T_OK("proxy: IPv6 prefix", proxy_trusted("2001:db8:1::5", "2001:db8::/32") && !proxy_trusted("2001:db9::5", "2001:db8::/32"));
  T_OK("proxy: families do not mix", !proxy_trusted("10.0.0.1", "::/0") && !proxy_trusted("::1", "0.0.0.0/0"));
  T_OK("proxy: bad prefix length", !proxy_trusted("10.0.0.1", "10.0.0.0/33") && !proxy_trusted("10.0.0.1", "10.0.0.0/"));
  T_OK("proxy: junk in the list", !proxy_trusted("10.0.0.1", "junk 10.0.0.0/x"));
  T_OK("proxy: empty list", !proxy_trusted("10.0.0.1", ""));
  T_OK("proxy: not an address", !proxy_trusted("", "0.0.0.0/0"));
  T_DONE();
}
