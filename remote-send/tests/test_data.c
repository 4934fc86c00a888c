/* test_data.c - dot-stuffing and CRLF, the message scan, base64 and
 * AUTH PLAIN, recipient arguments, family interleaving */
#include <sys/socket.h>
#include "../../lib/tests/t.h"
#include "../rs.h"

static stralloc got;
static ssize_t collect(int fd, const char *buf, size_t len)
{
  (void)fd;
  return stralloc_catb(&got, buf, len) ? (ssize_t)len : -1;
}

/* stuffed - data_write of s into got */
static void stuffed(const char *s)
{
  char space[16];   /* small: the buffer is flushed many times */
  buffer b;
  got.len = 0;
  buffer_init(&b, (ssize_t (*)())collect, 1, space, sizeof space);
  data_write(&b, s, strlen(s));
  buffer_flush(&b);
}

int main(void)
{
  struct message m;
  struct rcpt r;
  struct cred c;
  char out[800], arg[200];
  struct target t[6];
  int i;

  stuffed("a\nb\n");
  T_STR("LF to CRLF, dot at the end", "a\r\nb\r\n.\r\n", got.s, got.len);
  stuffed(".x\n..\n.\n");
  T_STR("dots doubled at line starts", "..x\r\n...\r\n..\r\n.\r\n", got.s, got.len);
  stuffed("a\r\nb");
  T_STR("CRLF kept, last line ended", "a\r\nb\r\n.\r\n", got.s, got.len);
  stuffed("");
  T_STR("empty message", ".\r\n", got.s, got.len);
  stuffed("x.y\n \n.\r\n");
  T_STR("dots inside a line untouched", "x.y\r\n \r\n..\r\n.\r\n", got.s, got.len);
  stuffed("x\n\r.\n");
  T_STR("bare CR before a dot: a line end, the dot stuffed (no smuggled end of data)",
        "x\r\n\r\n..\r\n.\r\n", got.s, got.len);
  stuffed("a\rb\r\r\nc\r");
  T_STR("bare CRs become CRLF, a CRLF stays one", "a\r\nb\r\n\r\nc\r\n.\r\n", got.s, got.len);
  stuffed("x\r\n.\r.\r\n");
  T_STR("a dot after a bare CR is stuffed", "x\r\n..\r\n..\r\n.\r\n", got.s, got.len);
  {
    static const char *const odd[] = { "x\n\r.\n", "a\rb\r\r\nc\r", "\r", "\r\r\n\n", "a\n\rb", "" };
    unsigned int k, all = 1;
    for (k = 0; k < sizeof odd / sizeof *odd; k++) {
      size_t dots = 0, i;
      m.s = odd[k]; m.len = strlen(m.s);
      data_scan(&m);
      stuffed(odd[k]);
      for (i = 0; i + 1 < got.len; i++) if (got.s[i] == '.' && got.s[i + 1] == '.') dots++;
      if (m.wire + dots + 3 != got.len) all = 0;
      for (i = 0; i < got.len; i++)
        if (got.s[i] == '\r' && (i + 1 == got.len || got.s[i + 1] != '\n')) all = 0;
    }
    T_OK("wire size matches what data_write sends; no bare CR on the wire", all);
  }

  m.s = "ab\ncd\r\nef"; m.len = strlen(m.s);
  data_scan(&m);
  T_OK("wire size counts added CRs and the final CRLF", m.wire == m.len + 1 + 2 && !m.eightbit);
  m.s = "caf\xc3\xa9\n"; m.len = strlen(m.s);
  data_scan(&m);
  T_OK("8-bit seen", m.eightbit && m.wire == m.len + 1);
  T_OK("8-bit in a header section without a body", m.eightbit_head);
  m.s = "Subject: x\n\ncaf\xc3\xa9\n"; m.len = strlen(m.s);
  data_scan(&m);
  T_OK("8-bit only in the body", m.eightbit && !m.eightbit_head);
  m.s = "Subject: caf\xc3\xa9\r\n\r\nbody\r\n"; m.len = strlen(m.s);
  data_scan(&m);
  T_OK("8-bit in the headers (CRLF)", m.eightbit && m.eightbit_head);
  m.s = "\ncaf\xc3\xa9\n"; m.len = strlen(m.s);
  data_scan(&m);
  T_OK("no header section at all", m.eightbit && !m.eightbit_head);
  {
    struct job j;
    memset(&j, 0, sizeof j);
    m.s = "Subject: x\n\ncaf\xc3\xa9\n"; m.len = strlen(m.s);
    data_scan(&m);
    j.smtputf8 = 1;
    T_OK("SMTPUTF8 requested, ASCII headers: not needed", !smtp_utf8_needed(&j, &m));
    j.utf8_addr = 1;
    T_OK("UTF-8 address: needed", smtp_utf8_needed(&j, &m));
    j.utf8_addr = 0;
    m.s = "Subject: caf\xc3\xa9\n\nx\n"; m.len = strlen(m.s);
    data_scan(&m);
    T_OK("SMTPUTF8 requested, UTF-8 header: needed", smtp_utf8_needed(&j, &m));
    j.smtputf8 = 0;
    T_OK("UTF-8 header without the request: sent as 8-bit", !smtp_utf8_needed(&j, &m));
  }

  T_STR("base64 pad 2", "YQ==", out, auth_base64(out, "a", 1));
  T_STR("base64 pad 1", "YWI=", out, auth_base64(out, "ab", 2));
  T_STR("base64 no pad", "YWJj", out, auth_base64(out, "abc", 3));
  strcpy(c.user, "tim"); strcpy(c.pass, "tanstaaftanstaaf");
  T_STR("AUTH PLAIN (RFC 4616 example)", "AHRpbQB0YW5zdGFhZnRhbnN0YWFm", out, auth_plain(out, &c));
  auth_wipe(&c);
  T_OK("credentials wiped", c.user[0] == 0 && c.pass[0] == 0);

  strcpy(arg, "a@b.test");
  T_OK("plain recipient", rcpt_parse(&r, arg) == 0 && !r.notify && !r.orcpt);
  strcpy(arg, "a@b.test\tNSUCCESS,DELAY\tOrfc822;a@b.test");
  T_OK("recipient with DSN tags", rcpt_parse(&r, arg) == 0 && !strcmp(r.addr, "a@b.test") &&
       !strcmp(r.notify, "SUCCESS,DELAY") && !strcmp(r.orcpt, "rfc822;a@b.test"));
  strcpy(arg, "a@b.test\tXfoo");
  T_OK("unknown tag refused", rcpt_parse(&r, arg) == -1);
  strcpy(arg, "a@b.test\tOnosemicolon");
  T_OK("ORCPT without type refused", rcpt_parse(&r, arg) == -1);
  strcpy(arg, "not an address");
  T_OK("bad address refused", rcpt_parse(&r, arg) == -1);

  for (i = 0; i < 6; i++) { t[i].family = i < 2 ? AF_INET : AF_INET6; t[i].pref = i; }
  mx_interleave(t, 6);
  T_OK("families alternate, IPv6 first, order kept",
       t[0].pref == 2 && t[1].pref == 0 && t[2].pref == 3 && t[3].pref == 1 && t[4].pref == 4 && t[5].pref == 5);
  T_DONE();
}
