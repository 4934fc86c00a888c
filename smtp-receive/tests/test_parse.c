/* test_parse.c - command syntax (parse.c) */
#include "../../lib/tests/t.h"
#include "str.h"
#include "address.h"
#include "../smtp.h"

/* path - parse_path on s; the refusal or 0, the address in a */
static const char *path(const char *s, const char *prefix, char *a, size_t *rest)
{
  size_t alen;
  return parse_path(s, str_len(s), prefix, a, &alen, rest);
}

int main(void)
{
  char a[ADDR_PATH_MAX + 1];
  size_t arg, rest;
  struct mail_params p;
  unsigned long size;
  int last;

  T_OK("verb: MAIL", parse_verb("MAIL FROM:<>", 12, &arg) == CMD_MAIL && arg == 5);
  T_OK("verb: case-insensitive", parse_verb("ehlo x", 6, &arg) == CMD_EHLO && arg == 5);
  T_OK("verb: QUIT alone", parse_verb("QUIT", 4, &arg) == CMD_QUIT && arg == 4);
  T_OK("verb: STARTTLS", parse_verb("STARTTLS", 8, &arg) == CMD_STARTTLS);
  T_OK("verb: no space after verb", parse_verb("MAILFROM:<>", 11, &arg) == CMD_UNKNOWN);
  T_OK("verb: HTTP", parse_verb("GET / HTTP/1.1", 14, &arg) == CMD_HTTP);
  T_OK("verb: header", parse_verb("Host: x", 7, &arg) == CMD_HTTP);

  T_OK("path: plain", !path("FROM:<a@b.c>", "FROM:", a, &rest) && !str_diff(a, "a@b.c") && rest == 12);
  T_OK("path: null", !path("FROM:<>", "FROM:", a, &rest) && a[0] == 0);
  T_OK("path: space after colon", !path("FROM: <a@b.c>", "FROM:", a, &rest));
  T_OK("path: lower-case keyword", !path("to:<a@b.c>", "TO:", a, &rest));
  T_OK("path: source route dropped", !path("TO:<@x.y,@z.w:a@b.c>", "TO:", a, &rest) && !str_diff(a, "a@b.c"));
  T_OK("path: malformed route", path("TO:<@x y:a@b.c>", "TO:", a, &rest) != 0);
  T_OK("path: quoted >", !path("TO:<\"a>b\"@c.d>", "TO:", a, &rest) && !str_diff(a, "\"a>b\"@c.d"));
  T_OK("path: no brackets", path("FROM:a@b.c", "FROM:", a, &rest) != 0);
  T_OK("path: unterminated", path("FROM:<a@b.c", "FROM:", a, &rest) != 0);
  T_OK("path: junk after >", path("FROM:<a@b.c>x", "FROM:", a, &rest) != 0);

  T_OK("params: SIZE BODY SMTPUTF8", !parse_mail_params(" SIZE=100 BODY=8bitmime SMTPUTF8", 32, &p) &&
       p.size == 100 && p.body == 8 && p.smtputf8);
  T_OK("params: RET ENVID", !parse_mail_params(" RET=HDRS ENVID=x+2By", 21, &p) && p.retlen == 4 && p.envidlen == 5);
  T_OK("params: unknown", parse_mail_params(" X=1", 4, &p) != 0);
  T_OK("params: repeated SIZE", parse_mail_params(" SIZE=1 SIZE=2", 14, &p) != 0);
  T_OK("params: SIZE overflow", parse_mail_params(" SIZE=99999999999999999999999", 29, &p) != 0);
  T_OK("params: AUTH=<> accepted", !parse_mail_params(" AUTH=<>", 8, &p));
  T_OK("rcpt params", !parse_rcpt_params(" NOTIFY=NEVER ORCPT=rfc822;a@b", 30, &p) && p.notifylen == 5 && p.orcptlen == 10);
  T_OK("rcpt params: SIZE refused", parse_rcpt_params(" SIZE=1", 7, &p) != 0);
  T_OK("ENVID decoding to NUL refused", parse_mail_params(" ENVID=abc+00def", 16, &p) != 0);
  T_OK("ENVID decoding to CR LF refused", parse_mail_params(" ENVID=abc+0D+0Adef", 19, &p) != 0);
  T_OK("ENVID decoding to DEL refused", parse_mail_params(" ENVID=a+7f", 11, &p) != 0);
  T_OK("ENVID ending in a short escape left to the envelope", !parse_mail_params(" ENVID=a+0", 10, &p));
  T_OK("ORCPT decoding to NUL refused", parse_rcpt_params(" ORCPT=rfc822;a+00b@example.test", 32, &p) != 0);
  T_OK("ORCPT with printable escapes", !parse_rcpt_params(" ORCPT=rfc822;a+2Bb+3D@example.test", 35, &p));

  T_OK("bdat: size", !parse_bdat("123", 3, &size, &last) && size == 123 && !last);
  T_OK("bdat: LAST", !parse_bdat("0 last", 6, &size, &last) && size == 0 && last);
  T_OK("bdat: junk", parse_bdat("12 LASTX", 8, &size, &last) == -1);
  T_OK("bdat: empty", parse_bdat("", 0, &size, &last) == -1);
  T_OK("bdat: huge", parse_bdat("99999999999999999999999", 23, &size, &last) == -1);
  T_DONE();
}
