/* test_reply.c - the reply parser and the EHLO keyword parser */
#include "../../lib/tests/t.h"
#include "../rs.h"

/* feed - lines separated by \n into r; the last reply_line result */
static int feed(struct reply *r, const char *s)
{
  int x = -1;
  reply_init(r);
  while (*s) {
    size_t n = strcspn(s, "\n");
    x = reply_line(r, s, n);
    if (x != 0) return x;
    s += n + (s[n] == '\n');
  }
  return x;
}

int main(void)
{
  struct reply r;
  struct ehlo e;
  char out[RS_TEXT_MAX + 1];

  T_OK("one line", feed(&r, "250 2.1.0 Ok\r") == 1 && r.code == 250);
  T_STR("status code taken", "2.1.0", r.status, strlen(r.status));
  T_STR("text without the status", "Ok", r.text, r.len);
  reply_format(&r, out, sizeof out);
  T_STR("formatted", "250 2.1.0 Ok", out, strlen(out));
  T_OK("multi-line", feed(&r, "550-5.1.1 first\n550-5.1.1 second\n550 5.1.1 third") == 1 && r.lines == 3);
  T_STR("multi-line text joined, repeated status dropped", "first second third", r.text, r.len);
  T_OK("continuation wants more", feed(&r, "250-a\n250-b") == 0);
  T_OK("code change refused", feed(&r, "250-a\n251 b") == -1);
  T_OK("bare code", feed(&r, "354") == 1 && r.code == 354 && r.len == 0);
  reply_format(&r, out, sizeof out);
  T_STR("no enhanced code: class.0.0 made up", "354 3.0.0", out, strlen(out));
  T_OK("status class must match", feed(&r, "450 5.1.1 x") == 1 && r.status[0] == 0);
  T_OK("garbage refused", feed(&r, "hello") == -1);
  T_OK("short refused", feed(&r, "25") == -1);
  T_OK("1xx refused", feed(&r, "150 x") == -1);
  T_OK("6xx refused", feed(&r, "650 x") == -1);
  T_OK("x6x refused", feed(&r, "260 x") == -1);
  T_OK("no separator refused", feed(&r, "250x") == -1);
  feed(&r, "250 done");
  T_OK("after the end refused", reply_line(&r, "250 x", 5) == -1);
  T_OK("controls masked", feed(&r, "250 a\tb\x01") == 1 && !memchr(r.text, '\t', r.len) && !memchr(r.text, 1, r.len));
  {
    char line[10];
    int i, x = 0;
    reply_init(&r);
    memcpy(line, "250-xxxxx", 9);
    for (i = 0; i < RS_REPLY_LINES_MAX + 5 && x == 0; i++) x = reply_line(&r, line, 9);
    T_OK("line count bounded", x == -1 && r.lines <= RS_REPLY_LINES_MAX + 1);
    T_OK("text bounded", r.len <= RS_REPLY_TEXT_MAX);
  }
  ehlo_init(&e);
  ehlo_line(&e, "PIPELINING", 10);
  ehlo_line(&e, "SIZE 1000", 9);
  ehlo_line(&e, "auth=login", 10);
  ehlo_line(&e, "AUTH CRAM-MD5 PLAIN", 19);
  ehlo_line(&e, "8bitmime", 8);
  ehlo_line(&e, "STARTTLS", 8);
  ehlo_line(&e, "DSN", 3);
  ehlo_line(&e, "SMTPUTF8", 8);
  T_OK("EHLO keywords", e.pipelining && e.size == 1000 && e.size_given && e.auth_login && e.auth_plain &&
       e.eightbit && e.starttls && e.dsn && e.smtputf8);
  ehlo_init(&e);
  ehlo_line(&e, "SIZE", 4);
  T_OK("SIZE without a number: no limit", e.size_given && e.size == 0);
  ehlo_line(&e, "SIZE 99999999999999999999999", 27);
  T_OK("SIZE too large: no limit", e.size == 0);
  ehlo_line(&e, "PIPELININGX", 11);
  T_OK("keyword prefix is not the keyword", !e.pipelining);
  T_DONE();
}
