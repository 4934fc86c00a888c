/* test_milter - lib/milter.c without a network: the list syntax, the
 * reply decoder, custom reply texts and header changes byte for byte. */
#include <stdlib.h>
#include "t.h"
#include "stralloc.h"
#include "milter.h"

static struct config cfg;

/* parse - decode a packet given as bytes */
static int parse(const char *p, size_t len, struct milter_reply *r) { return milter_reply_parse(p, len, r); }

static void test_conf(void)
{
  struct milter_conf mc;
  config_defaults(&cfg);
  T_OK("two milters", !milter_conf_parse(&mc, " inet:127.0.0.1:8891  unix:/run/x.sock,command=5,default_action=accept", &cfg) && mc.n == 2);
  T_OK("inet host and port", mc.m[0].port == 8891 && !strcmp(mc.m[0].host, "127.0.0.1") && !mc.m[0].default_accept);
  T_OK("defaults from the config", mc.m[0].connect_seconds == 30 && mc.m[0].content_seconds == 300);
  T_OK("per-milter options", mc.m[1].unix_socket && mc.m[1].command_seconds == 5 && mc.m[1].default_accept);
  T_OK("IPv6 in brackets", !milter_conf_parse(&mc, "inet:[::1]:11332", &cfg) && !strcmp(mc.m[0].host, "::1"));
  T_OK("a host name is refused", milter_conf_parse(&mc, "inet:localhost:8891", &cfg) != 0);
  T_OK("unknown option refused", milter_conf_parse(&mc, "inet:127.0.0.1:1,bogus=1", &cfg) != 0);
  T_OK("bad port refused", milter_conf_parse(&mc, "inet:127.0.0.1:0", &cfg) != 0);
  T_OK("empty list: no milters", !milter_conf_parse(&mc, "", &cfg) && mc.n == 0);
}

static void test_parse(void)
{
  struct milter_reply r;
  T_OK("continue", parse("c", 1, &r) == 0 && r.cmd == 'c');
  T_OK("continue with data refused", parse("cx", 2, &r) == -1);
  T_OK("add header", parse("hX-A\0v\0", 7, &r) == 0 && r.namelen == 3 && r.valuelen == 1);
  T_OK("header without the final NUL refused", parse("hX-A\0v", 6, &r) == -1);
  T_OK("header name with a colon refused", parse("hX:A\0v\0", 7, &r) == -1);
  T_OK("value with a bare LF refused (a second header smuggled)", parse("hX\0a\nB: c\0", 10, &r) == -1);
  T_OK("folded value accepted", parse("hX\0a\r\n\tb\0", 9, &r) == 0);
  T_OK("insert with index", parse("i\0\0\0\2X\0v\0", 9, &r) == 0 && r.index == 2);
  T_OK("unknown letter refused", parse("Z", 1, &r) == -1);
  T_OK("option negotiation", parse("O\0\0\0\6\0\0\0\1\0\0\0\0", 13, &r) == 0 && r.version == 6 && r.actions == 1);
}

static void test_text(void)
{
  char out[MILTER_REPLY_MAX];
  T_OK("one line", milter_reply_text("550 5.7.1 no", 12, out) == '5' && !strcmp(out, "550 5.7.1 no"));
  T_OK("two lines get continuation marks", milter_reply_text("451-4.7.1 a\r\n451 4.7.1 b", 24, out) == '4' &&
       !strcmp(out, "451-4.7.1 a\r\n451 4.7.1 b"));
  T_OK("2xx refused", milter_reply_text("250 ok", 6, out) == 0);
  T_OK("mixed codes refused", milter_reply_text("550-a\r\n451 b", 12, out) == 0);
  {
    static char big[2000];
    memset(big, 'x', sizeof big); memcpy(big, "550 ", 4);
    T_OK("over-long line refused", milter_reply_text(big, sizeof big, out) == 0);
  }
}

/* edit - keep one change decoded from a packet */
static void edit(struct milter_set *ms, const char *p, size_t len)
{
  struct milter_reply r;
  if (parse(p, len, &r) == 0) milter_edit_add(ms, &r, 0);
}

static void test_edits(void)
{
  static struct milter_conf conf;
  struct milter_set ms;
  stralloc out = {0};
  const char hdr[] = "A: 1\nSubject:  x\n\ty\nB: 2\nb: 3\n\nbody\n";
  milter_init(&ms, &conf);
  edit(&ms, "hX-End\0e\0", 9);
  edit(&ms, "i\0\0\0\0X-Top\0t\0", 13);
  edit(&ms, "m\0\0\0\2B\0\0", 8);
  edit(&ms, "m\0\0\0\1subject\0new\0", 17);
  edit(&ms, "m\0\0\0\1Nope\0\0", 11);
  T_OK("edits applied", milter_edits_apply(&ms, hdr, sizeof hdr - 1, &out) == 0);
  T_STR("add at end, insert at 0, delete the 2nd B, change Subject, rest unchanged",
        "X-Top: t\nA: 1\nsubject: new\nB: 2\nX-End: e\n\nbody\n", out.s, out.len);
  stralloc_free(&out);
  stralloc_free(&ms.pool);
  free(ms.edit);
  /* HDR_LEADSPC: a value is taken as it is, but gets a blank when it has none */
  milter_init(&ms, &conf);
  {
    struct milter_reply r;
    if (parse("hA\0x\0", 5, &r) == 0) milter_edit_add(&ms, &r, 1);
    if (parse("hB\0 y\0", 6, &r) == 0) milter_edit_add(&ms, &r, 1);
    if (parse("hC\0\tz\0", 6, &r) == 0) milter_edit_add(&ms, &r, 0);
  }
  T_OK("leadspc edits applied", milter_edits_apply(&ms, "\nbody\n", 6, &out) == 0);
  T_STR("leading blanks: one added when missing, kept when present", "A: x\nB: y\nC: \tz\n\nbody\n", out.s, out.len);
  stralloc_free(&out);
  stralloc_free(&ms.pool);
  free(ms.edit);
}

int main(void)
{
  test_conf();
  test_parse();
  test_text();
  test_edits();
  T_DONE();
}
