/* test_dest.c - destination syntax, TLS policy words */
#include "../../lib/tests/t.h"
#include "../rs.h"

int main(void)
{
  struct dest d;
  struct config c;
  config_defaults(&c);

  T_OK("smtp:host is MX on 25", !dest_parse(&d, "smtp:example.com", "") && d.mx && d.port == 25 && d.proto == PROTO_SMTP);
  T_STR("host", "example.com", d.host, strlen(d.host));
  T_OK("smtp:host:port is MX on port", !dest_parse(&d, "smtp:example.com:2525", "") && d.mx && d.port == 2525);
  T_OK("smtp:[host]:port is not MX", !dest_parse(&d, "smtp:[mail.example.com]:587", "") && !d.mx && d.port == 587);
  T_STR("bracketed host", "mail.example.com", d.host, strlen(d.host));
  T_STR("map key", "[mail.example.com]:587", d.key, strlen(d.key));
  T_OK("IPv4 literal", !dest_parse(&d, "smtp:[192.0.2.1]", "") && !d.mx && d.port == 25);
  T_OK("IPv6 literal with tag", !dest_parse(&d, "smtp:[IPv6:2001:db8::1]:26", "") && d.port == 26 && !strcmp(d.host, "2001:db8::1"));
  T_OK("IPv6 literal without tag", !dest_parse(&d, "smtp:[::1]", "") && !strcmp(d.host, "::1"));
  T_OK("smtps default port 465, implicit TLS", !dest_parse(&d, "smtps:[h.example]", "") && d.port == 465 && d.implicit_tls);
  T_OK("lmtp:unix:", !dest_parse(&d, "lmtp:unix:/run/dovecot/lmtp", "") && d.proto == PROTO_LMTP && !strcmp(d.path, "/run/dovecot/lmtp"));
  T_OK("lmtp host:port is never MX", !dest_parse(&d, "lmtp:localhost:24", "") && !d.mx && d.port == 24);
  T_OK("trailing dot dropped", !dest_parse(&d, "smtp:example.com.", "") && !strcmp(d.host, "example.com"));
  T_OK("relayhost recognised", !dest_parse(&d, "smtp:[smart.example]:587", "[smart.example]:587") && d.relayhost && d.port == 587);
  T_OK("relayhost with a scheme", !dest_parse(&d, "smtp:smtps:[smart.example]:465", "smtps:[smart.example]:465") && d.relayhost && d.implicit_tls);
  T_OK("other route is not the relayhost", !dest_parse(&d, "smtp:[other.example]:587", "[smart.example]:587") && !d.relayhost);
  T_OK("bad port", dest_parse(&d, "smtp:[h]:0", "") != 0);
  T_OK("port too big", dest_parse(&d, "smtp:[h]:65536", "") != 0);
  T_OK("junk after ]", dest_parse(&d, "smtp:[h]x", "") != 0);
  T_OK("missing ]", dest_parse(&d, "smtp:[h", "") != 0);
  T_OK("bad host character", dest_parse(&d, "smtp:ex ample.com", "") != 0);
  T_OK("empty host", dest_parse(&d, "smtp:", "") != 0);
  T_OK("unknown scheme", dest_parse(&d, "x400:foo", "") != 0);
  T_OK("relative unix path", dest_parse(&d, "lmtp:unix:run/lmtp", "") != 0);

  dest_parse(&d, "smtp:example.com", "");
  T_OK("MX default may", !dest_policy(&d, &c, 0) && d.tls == TLSP_MAY);
  dest_parse(&d, "smtp:[s]:587", "[s]:587");
  T_OK("relayhost default verify", !dest_policy(&d, &c, 0) && d.tls == TLSP_VERIFY);
  dest_parse(&d, "smtp:[s]:587", "");
  d.has_cred = 1;
  T_OK("a route with credentials: the relayhost's default, verify", !dest_policy(&d, &c, 0) && d.tls == TLSP_VERIFY);
  T_OK("a route with credentials: an explicit entry wins", !dest_policy(&d, &c, "encrypt") && d.tls == TLSP_ENCRYPT);
  dest_parse(&d, "lmtp:unix:/x", "");
  d.has_cred = 1;
  T_OK("LMTP over a unix socket with credentials: still none", !dest_policy(&d, &c, 0) && d.tls == TLSP_NONE);
  dest_parse(&d, "lmtp:unix:/x", "");
  T_OK("LMTP default none", !dest_policy(&d, &c, 0) && d.tls == TLSP_NONE);
  T_OK("no TLS over unix sockets", dest_policy(&d, &c, "encrypt") != 0);
  dest_parse(&d, "smtps:[s]", "");
  T_OK("smtps at least encrypt", !dest_policy(&d, &c, "may") && d.tls == TLSP_ENCRYPT);
  dest_parse(&d, "smtp:[s]", "");
  T_OK("map value with options", !dest_policy(&d, &c, "verify match=mx.example plaintext-auth") && d.tls == TLSP_VERIFY &&
       d.plaintext_auth && !strcmp(d.match, "mx.example"));
  T_OK("unknown policy", dest_policy(&d, &c, "sometimes") != 0);
  T_OK("unknown option", dest_policy(&d, &c, "may please") != 0);
  T_DONE();
}
