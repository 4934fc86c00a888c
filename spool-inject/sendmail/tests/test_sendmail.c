/* test_sendmail.c - the pieces of sendmail(8) without a process: the
 * command line, RFC 5322 address lists, qualification, display names, the
 * header reader and body copy, header fixing, the recipient set and the
 * queue listing conversions. */
#include "../../../lib/tests/t.h"
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>
#include "str.h"
#include "../sendmail.h"

/* parse - args_parse on a NULL-terminated list */
static int parse(struct args *a, const char **v)
{
  int n = 0;
  args_free(a);
  memset(a, 0, sizeof *a);
  while (v[n]) n++;
  return args_parse(a, n, (char **)v);
}

/* collected addresses of an address list, "a|b|c", or "ERR:why" */
static char got[4096];
static int on_mb(void *ctx, const struct rfc5322_mailbox *m)
{
  (void)ctx;
  if (got[0]) strcat(got, "|");
  strcat(got, m->null ? "<>" : m->addr);
  if (!m->qualified && !m->null) strcat(got, "(u)");
  return 0;
}
static const char *list(const char *s)
{
  const char *why;
  got[0] = 0;
  if (rfc5322_addrlist(s, strlen(s), on_mb, 0, &why) == -1) { snprintf(got, sizeof got, "ERR:%s", why); }
  return got;
}

static stralloc q;
static const char *qualify(const char *s, const char *rewrite)
{
  rfc5322_qualify_text(s, strlen(s), "ex.test", rewrite, "mx.ex.test ex.test localhost", &q);
  stralloc_0(&q);
  return q.s;
}

/* input - a buffer reading s from a memory file */
static char inspace[64];
static buffer inbuf;
static void input(const char *s, size_t len)
{
  int fd = memfd_create("in", 0);
  if (write(fd, s, len) != (ssize_t)len) abort();
  lseek(fd, 0, SEEK_SET);
  buffer_init(&inbuf, read, fd, inspace, sizeof inspace);
}

/* body - headers_copy_body of s (headers first) into out, as a string */
static stralloc outsa;
static char outspace[16];
static ssize_t out_write(int fd, const char *x, size_t n) { (void)fd; return stralloc_catb(&outsa, x, n) ? (ssize_t)n : -1; }
static unsigned long body_limit = SM_NO_LIMIT;   /* headers_copy_body's budget in whole() */
static int copy_result;                          /* and what it returned */
static const char *whole(const char *s, size_t len, int dot_ends, int *hr)
{
  static struct message m;
  buffer out;
  const char *why;
  headers_free(&m);
  memset(&m, 0, sizeof m);
  input(s, len);
  m.in = &inbuf; m.dot_ends = dot_ends;
  outsa.len = 0;
  *hr = headers_read(&m, &why);
  if (*hr) return why;
  stralloc_catb(&outsa, m.hdr.s, m.hdr.len);
  stralloc_cats(&outsa, "\n--\n");
  buffer_init(&out, out_write, 1, outspace, sizeof outspace);
  if ((copy_result = headers_copy_body(&m, &out, body_limit)) != SM_OK || buffer_flush(&out)) return "copy failed";
  stralloc_0(&outsa);
  return outsa.s;
}

#define LIST(name, want, in) do { const char *g_ = list(in); T_STR(name, want, g_, strlen(g_)); } while (0)
#define QUAL(name, want, ...) do { const char *g_ = qualify(__VA_ARGS__); T_STR(name, want, g_, strlen(g_)); } while (0)

static void test_args(void)
{
  static struct args a;
  const char *v1[] = { "sendmail", "-FCronDaemon", "-i", "-odi", "-oem", "-oi", "-t", "-f", "root", 0 };
  T_OK("args: cronie line", parse(&a, v1) == 0 && a.extract && !a.dot_ends && a.errmode == 'm'
       && !strcmp(a.sender, "root") && !strcmp(a.fullname, "CronDaemon") && a.nrcpt == 0 && a.mode == SM_MAIL);
  const char *v2[] = { "sendmail", "-oem", "-oi", "-B8BITMIME", "-f", "me@x.test", "-N", "success,delay", "-R", "hdrs",
                       "--", "-dash@x.test", "b@x.test", 0 };
  T_OK("args: mutt line", parse(&a, v2) == 0 && !strcmp(a.body, "8BITMIME") && !strcmp(a.notify, "success,delay")
       && !strcmp(a.ret, "hdrs") && a.nrcpt == 2 && !strcmp(a.rcpt[0], "-dash@x.test"));
  const char *v3[] = { "sendmail", "user", "-FAnacron", "-odi", 0 };
  T_OK("args: recipient before options", parse(&a, v3) == 0 && a.nrcpt == 1 && !strcmp(a.fullname, "Anacron"));
  const char *v4[] = { "sendmail", "-tfX@y.test", 0 };
  T_OK("args: bundled -t with glued -f", parse(&a, v4) == 0 && a.extract && !strcmp(a.sender, "X@y.test"));
  const char *v5[] = { "sendmail", "-y", "u", 0 };
  T_OK("args: unknown flag named", parse(&a, v5) == -1 && !strcmp(a.error_arg, "-y"));
  const char *v6[] = { "sendmail", "-f", 0 };
  T_OK("args: missing value", parse(&a, v6) == -1 && !strcmp(a.error_arg, "-f"));
  const char *v7[] = { "sendmail", "-f", "a@b\nBcc: x@y", "u", 0 };
  T_OK("args: newline in -f refused", parse(&a, v7) == -1);
  const char *v8[] = { "sendmail", "u\r", 0 };
  T_OK("args: CR in a recipient refused", parse(&a, v8) == -1);
  const char *v9[] = { "mailq", "--json", 0 };
  T_OK("args: mailq --json", parse(&a, v9) == 0 && a.mode == SM_LIST && a.list_format == SM_LIST_JSON);
  const char *v10[] = { "/usr/bin/newaliases", 0 };
  T_OK("args: newaliases by argv[0]", parse(&a, v10) == 0 && a.mode == SM_ALIASES);
  const char *v11[] = { "sendmail", "-q30m", 0 };
  T_OK("args: -q30m is an interval", parse(&a, v11) == 0 && a.mode == SM_INTERVAL);
  const char *v12[] = { "sendmail", "-qRexample.test", 0 };
  T_OK("args: -qR", parse(&a, v12) == 0 && a.mode == SM_FLUSH && a.flush_kind == 'R' && !strcmp(a.flush_arg, "example.test"));
  const char *v13[] = { "sendmail", "-bd", "-q30m", 0 };
  T_OK("args: -bd -q30m is the daemon mode", parse(&a, v13) == 0 && a.mode == SM_DAEMON);
  const char *v14[] = { "sendmail", "-O", "IgnoreDots", "-O", "ErrorMode=q", "x", 0 };
  T_OK("args: -O options honoured", parse(&a, v14) == 0 && !a.dot_ends && a.errmode == 'q');
  {
    const char *v15[] = { "sendmail", "-O", "DeliveryMode=background", "-O", "AliasFile=/etc/aliases", "x", 0 };
    const char *v16[] = { "sendmail", "-O", "LogLevel=9", "x", 0 };
    const char *v17[] = { "sendmail", "-O", "DeliveryMode=sometimes", "x", 0 };
    const char *v18[] = { "sendmail", "-O", "ErrorMode=z", "x", 0 };
    T_OK("args: -O DeliveryMode and AliasFile taken", parse(&a, v15) == 0 && !str_diff(a.alias_file, "/etc/aliases"));
    T_OK("args: -O an option postern has not is refused", parse(&a, v16) == -1 && a.error && strstr(a.error, "not supported"));
    T_OK("args: -O DeliveryMode with an unknown value is refused", parse(&a, v17) == -1);
    T_OK("args: -O ErrorMode with an unknown value is refused", parse(&a, v18) == -1);
  }
  const char *v15[] = { "sendmail", "-bp", "x", 0 };
  T_OK("args: recipient in list mode refused", parse(&a, v15) == -1);
  const char *v16[] = { "sendmail", "--machine", 0 };
  T_OK("args: --machine only with -bp", parse(&a, v16) == -1);
  const char *v17[] = { "sendmail", "-h", "20", "-n", "-U", "-G", "-v", "-L", "lbl", "-X", "/tmp/x", "-A", "c", "-oA/etc/aliases", "u", 0 };
  T_OK("args: accepted and ignored flags", parse(&a, v17) == 0 && a.verbose && !strcmp(a.label, "lbl") && !strcmp(a.alias_file, "/etc/aliases"));
  const char *v18[] = { "sendmail", "-r", "x@y.test", "-SMTPUTF8", "u", 0 };
  T_OK("args: -r and -SMTPUTF8", parse(&a, v18) == 0 && a.sender_flag == 'r' && a.smtputf8);
  char big[SM_ARG_MAX + 10];
  memset(big, 'a', sizeof big - 1); big[sizeof big - 1] = 0;
  const char *v19[] = { "sendmail", big, 0 };
  T_OK("args: over-long argument refused", parse(&a, v19) == -1);
  const char *v20[] = { "sendmail", "-bv", "a", "b", 0 };
  T_OK("args: -bv takes addresses", parse(&a, v20) == 0 && a.mode == SM_VERIFY && a.nrcpt == 2);
  const char *v21[] = { "sendmail", "-bx", 0 };
  T_OK("args: unknown -b mode", parse(&a, v21) == -1);
  args_free(&a);
}

static void test_addrlist(void)
{
  LIST("list: plain", "a@b.test", "a@b.test");
  LIST("list: bare name", "root(u)", "root");
  LIST("list: name-addr and comments", "a@b.test|c@d.test", "Joe (the man) <a@b.test>, \"Doe, Jane\" <c@d.test> (comment)");
  LIST("list: group", "x@y.test|z(u)", "team: x@y.test, z; , ");
  LIST("list: empty group", "", "undisclosed-recipients:;");
  LIST("list: folded", "a@b.test|c@d.test", "a@b.test,\n\tc@d.test");
  LIST("list: quoted local part", "\"a b\"@c.test", "\"a b\"@c.test");
  LIST("list: needless quotes dropped", "erin@c.test|a.b@c.test|\"a\\\"b\"@c.test", "\"erin\"@c.test, \"a\".b@c.test, \"a\\\"b\"@c.test");
  LIST("list: obsolete CFWS around dots", "john.doe@ex.test", "john . doe @ ex . test");
  LIST("list: route dropped", "a@b.test", "<@r1.test,@r2.test:a@b.test>");
  LIST("list: null", "<>", "<>");
  LIST("list: encoded word display name", "a@b.test", "=?UTF-8?Q?J=C3=B6rg?= <a@b.test>");
  LIST("list: @ in display name", "a@b.test", "a@b.test <a@b.test>");
  LIST("list: domain literal", "a@[192.0.2.1]", "a@[ 192.0.2.1 ]");
  LIST("list: UTF-8 address", "j\xc3\xb6rg@b.test", "j\xc3\xb6rg@b.test");
  LIST("list: empty elements", "a@b.test", " , ,a@b.test,, ");
  T_OK("list: unterminated quote", !strncmp(list("\"a@b.test"), "ERR:", 4));
  T_OK("list: unterminated comment", !strncmp(list("a@b.test (x"), "ERR:", 4));
  T_OK("list: missing >", !strncmp(list("Joe <a@b.test"), "ERR:", 4));
  T_OK("list: two addresses without comma", !strncmp(list("a@b.test c@d.test"), "ERR:", 4));
  T_OK("list: domain ends with a dot", !strncmp(list("a@b."), "ERR:", 4));
  T_OK("list: control character", !strncmp(list("a@b.test\001"), "ERR:", 4));
  T_OK("list: ; outside group", !strncmp(list("a@b.test;"), "ERR:", 4));
}

static void test_qualify(void)
{
  QUAL("qualify: bare", "root@ex.test", "root", 0);
  QUAL("qualify: keeps comments and names", "Cron Daemon <root@ex.test> (x), b@far.test", "Cron Daemon <root> (x), b@far.test", 0);
  QUAL("qualify: group", "g: a@ex.test, b@ex.test;", "g: a, b;", 0);
  QUAL("qualify: unparseable left alone", "a <b", "a <b", 0);
  QUAL("qualify: rewrite local", "Me <one@smart.test>, x@far.test", "Me <root@mx.ex.test>, x@far.test", "one@smart.test");
  QUAL("qualify: rewrite bare", "one@smart.test (me)", "alice (me)", "one@smart.test");
  T_OK("is_local: hostname", rfc5322_is_local("a@MX.ex.test", 12, "mx.ex.test ex.test localhost"));
  T_OK("is_local: far", !rfc5322_is_local("a@far.test", 10, "mx.ex.test ex.test localhost"));
}

static void test_phrase(void)
{
  stralloc p = { 0 };
  rfc5322_phrase(&p, "CronDaemon", 10);
  T_STR("phrase: atom", "CronDaemon", p.s, p.len);
  p.len = 0; rfc5322_phrase(&p, "Doe, J. \"x\"", 11);
  T_STR("phrase: quoted", "\"Doe, J. \\\"x\\\"\"", p.s, p.len);
  p.len = 0; rfc5322_phrase(&p, "J\xc3\xb6rg", 5);
  T_STR("phrase: encoded word", "=?UTF-8?B?SsO2cmc=?=", p.s, p.len);
  p.len = 0;
  char longname[120];
  memset(longname, 0, sizeof longname);
  for (int i = 0; i < 40; i++) memcpy(longname + 2 * i, "\xc3\xa9", 2);
  rfc5322_phrase(&p, longname, 80);
  stralloc_0(&p);
  T_OK("phrase: long names split into words of at most 75 bytes", strstr(p.s, "?= =?UTF-8?B?") && strlen(strstr(p.s, " ") + 1) <= 75);
  stralloc_free(&p);
}

static void test_message(void)
{
  int r;
  const char *s;
  s = whole("Subject: a\r\nTo: b\r\n folded\r\n\r\nline\r\n.\r\n", sizeof "Subject: a\r\nTo: b\r\n folded\r\n\r\nline\r\n.\r\n" - 1, 0, &r);
  T_STR("message: CRLF to LF, folding kept, dot kept with -i", "Subject: a\nTo: b\n folded\n--\nline\n.\n", s, strlen(s));
  s = whole("Subject: a\n\nline\n.\nafter\n", sizeof "Subject: a\n\nline\n.\nafter\n" - 1, 1, &r);
  T_STR("message: a lone dot ends the input", "Subject: a\n--\nline\n", s, strlen(s));
  s = whole("Subject: a\n\nline\n..\n. \n", sizeof "Subject: a\n\nline\n..\n. \n" - 1, 1, &r);
  T_STR("message: .. and '. ' are no end", "Subject: a\n--\nline\n..\n. \n", s, strlen(s));
  s = whole("From alice Mon Jan  1 00:00:00 2026\nSubject: a\n\nb", sizeof "From alice Mon Jan  1 00:00:00 2026\nSubject: a\n\nb" - 1, 1, &r);
  T_STR("message: mbox From line dropped, final newline added", "Subject: a\n--\nb\n", s, strlen(s));
  s = whole("no header here\nsecond\n", sizeof "no header here\nsecond\n" - 1, 1, &r);
  T_STR("message: not a header: all body", "\n--\nno header here\nsecond\n", s, strlen(s));
  s = whole("Subject: a\nbody without blank line\n", sizeof "Subject: a\nbody without blank line\n" - 1, 1, &r);
  T_STR("message: first non-header line starts the body", "Subject: a\n--\nbody without blank line\n", s, strlen(s));
  s = whole("Subject: a\n\nbare\rcr\n", sizeof "Subject: a\n\nbare\rcr\n" - 1, 1, &r);
  T_STR("message: bare CR in the body kept", "Subject: a\n--\nbare\rcr\n", s, strlen(s));
  s = whole("Subject: a\0b\n\nx\n", sizeof "Subject: a\0b\n\nx\n" - 1, 1, &r);
  T_OK("message: NUL in a header refused", r == SM_EDATA);
  s = whole("Subject: a\rb\n\nx\n", sizeof "Subject: a\rb\n\nx\n" - 1, 1, &r);
  T_OK("message: bare CR in a header refused", r == SM_EDATA);
  /* the budget: exactly its bytes pass; 0 is no room at all, not "no
   * limit" (sendmail's header exactly at message_size_limit) */
  body_limit = 4;
  s = whole("Subject: a\n\nabc\n", sizeof "Subject: a\n\nabc\n" - 1, 1, &r);
  T_OK("message: a body of exactly the budget passes", copy_result == SM_OK);
  body_limit = 3;
  s = whole("Subject: a\n\nabc\n", sizeof "Subject: a\n\nabc\n" - 1, 1, &r);
  T_OK("message: a body one byte over the budget: SM_EBIG", copy_result == SM_EBIG);
  body_limit = 0;
  s = whole("Subject: a\n\nx\n", sizeof "Subject: a\n\nx\n" - 1, 1, &r);
  T_OK("message: a budget of 0 and a body: SM_EBIG", copy_result == SM_EBIG);
  s = whole("Subject: a\n\n", sizeof "Subject: a\n\n" - 1, 1, &r);
  T_OK("message: a budget of 0 and no body: SM_OK", copy_result == SM_OK);
  body_limit = SM_NO_LIMIT;
  s = whole("Subject: a\n\nx\0y\n", sizeof "Subject: a\n\nx\0y\n" - 1, 1, &r);
  T_OK("message: NUL in the body passes", r == 0 && outsa.len >= 16 && !memcmp(outsa.s + 14, "x\0y\n", 4));
  /* long body lines: exactly one piece before CRLF, and a bare CR right
   * after a full piece */
  static char big[3 * SM_LINE_CHUNK];
  size_t n = 0;
  memcpy(big, "S: x\n\n", 6); n = 6;
  memset(big + n, 'a', SM_LINE_CHUNK - 1); n += SM_LINE_CHUNK - 1;
  memcpy(big + n, "\r\n", 2); n += 2;
  memset(big + n, 'b', SM_LINE_CHUNK); n += SM_LINE_CHUNK;
  memcpy(big + n, "\rc\r\n", 4); n += 4;
  s = whole(big, n, 1, &r);
  T_OK("message: long lines, CRLF at a piece end, bare CR after one", r == 0
       && outsa.len == 8 + SM_LINE_CHUNK - 1 + 1 + SM_LINE_CHUNK + 3 + 1
       && outsa.s[8 + SM_LINE_CHUNK - 1] == '\n' && !memcmp(outsa.s + outsa.len - 5, "b\rc\n", 4));
  static char hdr[SM_HEADER_MAX + 100];
  memcpy(hdr, "X-Long: ", 8);
  memset(hdr + 8, 'x', SM_HEADER_MAX);
  memcpy(hdr + 8 + SM_HEADER_MAX, "\n\nb\n", 4);
  s = whole(hdr, 12 + SM_HEADER_MAX, 1, &r);
  T_OK("message: over-long header refused", r == SM_EDATA);
}

static void test_fix(void)
{
  static struct message m;
  static struct rcpts rc;
  struct fix f;
  stralloc out = { 0 };
  const char *why;
  int r;
  const char *msg = "From: alice\nTo: bob, Carol <c@far.test>\nBcc: hidden@x.test\nReturn-Path: <x@y>\nSubject: s\n\nbody\n";
  input(msg, strlen(msg));
  memset(&m, 0, sizeof m); m.in = &inbuf; m.dot_ends = 1;
  T_OK("fix: headers read", headers_read(&m, &why) == 0 && m.nh == 5);
  memset(&f, 0, sizeof f);
  f.hostname = "mx.ex.test"; f.domain = "ex.test"; f.locals = "mx.ex.test ex.test localhost";
  f.login = "alice"; f.uid = 1000; f.fullname = "Alice A"; f.sender = "alice@ex.test"; f.own = "alice@ex.test";
  f.untrusted = 1; f.extract = 1; f.now = 1700000000; f.usec = 5; f.pid = 42; f.random = "abcd"; f.rcpts = &rc;
  r = fix_headers(&m, &f, &out, &why);
  stralloc_0(&out);
  T_OK("fix: ok", r == 0);
  T_OK("fix: Received on top", !strncmp(out.s, "Received: by mx.ex.test (postern sendmail, from userid 1000);\n\t", 62));
  T_OK("fix: no warning without -f", !strstr(out.s, "X-Authentication-Warning"));
  T_OK("fix: From qualified", strstr(out.s, "\nFrom: alice@ex.test\n") != 0);
  T_OK("fix: To qualified", strstr(out.s, "\nTo: bob@ex.test, Carol <c@far.test>\n") != 0);
  T_OK("fix: Bcc and Return-Path removed", !strstr(out.s, "Bcc") && !strstr(out.s, "Return-Path"));
  T_OK("fix: Date and Message-ID added", strstr(out.s, "\nDate: ") && strstr(out.s, "\nMessage-ID: <1700000000.000005.42.abcd@ex.test>\n"));
  T_OK("fix: no Sender when From is the caller", !strstr(out.s, "Sender:"));
  T_OK("fix: ends with the empty line", out.len >= 3 && !strcmp(out.s + out.len - 3, "\n\n"));
  T_OK("fix: -t recipients with Bcc", rc.n == 3 && !strcmp(rc.s.s, "bob@ex.test") && strstr(rc.s.s + 12, "c@far.test")
       && !strcmp(rc.s.s + rc.s.len - 14, "hidden@x.test"));
  headers_free(&m);
  rcpts_free(&rc);

  msg = "From: boss@far.test\nSender: someone@else.test\nResent-To: r@x.test\nTo: not@x.test\n\nb\n";
  input(msg, strlen(msg));
  memset(&m, 0, sizeof m); m.in = &inbuf; m.dot_ends = 1;
  headers_read(&m, &why);
  f.warn_flag = 'f'; f.sender = "boss@far.test";
  r = fix_headers(&m, &f, &out, &why);
  stralloc_0(&out);
  T_OK("fix: untrusted -f warned", r == 0 && strstr(out.s, "\nX-Authentication-Warning: mx.ex.test: alice set sender to boss@far.test using -f\n"));
  T_OK("fix: Sender names the untrusted caller, replacing his", strstr(out.s, "\nSender: alice@ex.test\n") && !strstr(out.s, "someone@else"));
  T_OK("fix: Resent-To wins for -t", rc.n == 1 && !strcmp(rc.s.s, "r@x.test"));
  headers_free(&m);
  rcpts_free(&rc);

  msg = "Subject: none\n\nb\n";
  input(msg, strlen(msg));
  memset(&m, 0, sizeof m); m.in = &inbuf; m.dot_ends = 1;
  headers_read(&m, &why);
  f.warn_flag = 0; f.sender = "alice@ex.test"; f.fullname = "J\xc3\xb6rg"; f.extract = 0;
  r = fix_headers(&m, &f, &out, &why);
  stralloc_0(&out);
  T_OK("fix: From added with an encoded full name", r == 0 && strstr(out.s, "\nFrom: =?UTF-8?B?SsO2cmc=?= <alice@ex.test>\n"));
  headers_free(&m);

  msg = "To: a@b.test, \"broken\n\nb\n";
  input(msg, strlen(msg));
  memset(&m, 0, sizeof m); m.in = &inbuf; m.dot_ends = 1;
  headers_read(&m, &why);
  f.extract = 1;
  r = fix_headers(&m, &f, &out, &why);
  T_OK("fix: a bad To: with -t is refused", r == -1 && strstr(why, "To:") && strstr(why, "quoted"));
  headers_free(&m);
  rcpts_free(&rc);
  stralloc_free(&out);
}

static void test_rcpts(void)
{
  static struct rcpts r;
  char a[32];
  int i, ok = 1;
  T_OK("rcpts: add", rcpts_add(&r, "a@B.test", 8) == 1);
  T_OK("rcpts: same with domain case", rcpts_add(&r, "a@b.TEST", 8) == 0);
  T_OK("rcpts: local part case matters", rcpts_add(&r, "A@b.test", 8) == 1);
  for (i = 0; i < 5000; i++) { int n = snprintf(a, sizeof a, "u%d@x.test", i); if (rcpts_add(&r, a, (size_t)n) != 1) ok = 0; }
  for (i = 0; i < 5000; i += 7) { int n = snprintf(a, sizeof a, "u%d@X.test", i); if (rcpts_add(&r, a, (size_t)n) != 0) ok = 0; }
  T_OK("rcpts: many, duplicates found", ok && r.n == 5002);
  rcpts_free(&r);
}

static void test_listing(void)
{
  const char *l = "M\t1.2.3\t100\t1700000000\ts@x.test\n"
                  "R\t1.2.3\ta@far.test\tpending\t2\t1700000600\tsmtp:far.test\t451 4.2.0 \"busy\"\\ later\n"
                  "R\t1.2.3\tb@x.test\tfailed\t1\t0\t\t550 no\n"
                  "M\t4.5.6\t7\t1700000001\t\n";
  stralloc out = { 0 }, ids = { 0 };
  T_OK("json: converts", listing_json(l, strlen(l), &out) == 0);
  stralloc_0(&out);
  T_STR("json: two lines", "{\"queue_id\":\"1.2.3\",\"arrival_time\":1700000000,\"message_size\":100,\"sender\":\"s@x.test\",\"recipients\":["
        "{\"address\":\"a@far.test\",\"status\":\"pending\",\"tries\":2,\"next_try\":1700000600,\"destination\":\"smtp:far.test\","
        "\"reason\":\"451 4.2.0 \\\"busy\\\"\\\\ later\"},{\"address\":\"b@x.test\",\"status\":\"failed\",\"tries\":1,\"next_try\":0,"
        "\"destination\":\"\",\"reason\":\"550 no\"}]}\n"
        "{\"queue_id\":\"4.5.6\",\"arrival_time\":1700000001,\"message_size\":7,\"sender\":\"\",\"recipients\":[]}\n", out.s, out.len - 1);
  out.len = 0;
  T_OK("json: garbage refused", listing_json("X\tfoo\n", 6, &out) == -1);
  out.len = 0;
  listing_json_string(&out, "a\xff\x01\xc3\xa9", 5);
  T_STR("json: bad UTF-8 and controls escaped", "\"a\\ufffd\\u0001\xc3\xa9\"", out.s, out.len);
  T_OK("select: -qR pending recipient", listing_select_ids(l, strlen(l), 'R', "FAR.test", &ids) == 1 && !strcmp(ids.s, "1.2.3"));
  T_OK("select: -qR ignores failed", listing_select_ids(l, strlen(l), 'R', "b@x", &ids) == 0);
  T_OK("select: -qS", listing_select_ids(l, strlen(l), 'S', "s@x", &ids) == 1);
  T_OK("select: -qI", listing_select_ids(l, strlen(l), 'I', "5.6", &ids) == 1 && !strcmp(ids.s, "4.5.6"));
  stralloc_free(&out);
  stralloc_free(&ids);
}

int main(void)
{
  test_args();
  test_addrlist();
  test_qualify();
  test_phrase();
  test_message();
  test_fix();
  test_rcpts();
  test_listing();
  stralloc_free(&q);
  stralloc_free(&outsa);
  T_DONE();
}
