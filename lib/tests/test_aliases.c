/* test_aliases.c - unit tests for lib/aliases.c: splitting right-hand
 * sides into typed items, the normalized form stored in aliases.cdb, and
 * the whole-file parser with its "line N:" errors. */
#include <errno.h>
#include "aliases.h"
#include "t.h"

/* clean - control characters in a test name would break the output lines */
static const char *clean(char *name)
{
  char *p;
  for (p = name; *p; p++)
    if ((unsigned char)*p < 32) *p = '?';
  return name;
}

/* collect - aliases_split callback: "T:value|" per item, T one of APFI */
static int collect(void *arg, const struct alias_item *item)
{
  stralloc *out = arg;
  static const char types[] = "?APFI";
  if (out->len) stralloc_cats(out, "|");
  stralloc_catb(out, &types[item->type], 1);
  stralloc_cats(out, ":");
  stralloc_catb(out, item->s, item->len);
  return 0;
}

/* split cases: want is the items, or "!" and the reason */
static const struct { const char *rhs; const char *want; } split_t[] = {
  { "alice", "A:alice" },
  { "alice, bob@example.org", "A:alice|A:bob@example.org" },
  { "  alice ,\tbob  ", "A:alice|A:bob" },
  { "alice,", "A:alice" },                       /* one trailing comma */
  { "alice, ", "A:alice" },
  { "\"john smith\"@example.org", "A:\"john smith\"@example.org" },
  { "\"john smith\"", "A:\"john smith\"" },
  { "|/usr/bin/prog", "P:/usr/bin/prog" },
  { "\"|/usr/bin/prog -x arg\"", "P:/usr/bin/prog -x arg" },
  { "\"| /usr/bin/prog, with comma\"", "P:/usr/bin/prog, with comma" },
  { "\"|/bin/echo \\\"hi\\\" \\\\\"", "P:/bin/echo \"hi\" \\" },
  { "/var/mail/archive", "F:/var/mail/archive" },
  { "/srv/mail/a/Maildir/", "F:/srv/mail/a/Maildir/" },
  { "\"/path/with space\"", "F:/path/with space" },
  { ":include:/etc/postern/staff", "I:/etc/postern/staff" },
  { ":INCLUDE:/etc/staff", "I:/etc/staff" },
  { "\":include:/etc/with space\"", "I:/etc/with space" },
  { "a, |/p, /f, :include:/i", "A:a|P:/p|F:/f|I:/i" },
  { "caf\xc3\xa9@example.org", "A:caf\xc3\xa9@example.org" },
  { "", "" },
  { "   ", "" },
  { ",", "!empty item" },
  { "a,,b", "!empty item" },
  { ", a", "!empty item" },
  { "a, ,", "!empty item" },
  { "alice bob", "!blank inside an item (quote the item)" },
  { "|/usr/bin/prog -x", "!blank inside an item (quote the item)" },
  { "\"unterminated", "!unterminated quote" },
  { "\"a\\", "!backslash at the end of an item" },
  { "a\rb", "!control character in item" },
  { "a\nb", "!control character in item" },
  { "\"a\tb\"", "!control character in item" },
  { "a\x7f", "!control character in item" },
  { "|", "!empty command after '|'" },
  { "\"|  \"", "!empty command after '|'" },
  { "/", "!file name is only '/'" },
  { ":include:", "!:include: needs an absolute path" },
  { ":include:relative", "!:include: needs an absolute path" },
  { "|/bin/x\"y\"", "!quote inside an unquoted command or path (quote the whole item)" },
  { "@example.org", "!source routes are not accepted" },
  { "alice@", "!empty domain" },
  { "a..b", "!two dots in a row in local part" },
  { "alice@exa mple", "!blank inside an item (quote the item)" },
  { "x@-bad-.example", "!label in domain starts or ends with a hyphen" },
  { "0123456789012345678901234567890123456789012345678901234567890123456789", "!local part too long" },
};

static void test_split(void)
{
  stralloc got = { 0 };
  const char *why;
  char name[300];
  size_t i;
  for (i = 0; i < sizeof split_t / sizeof split_t[0]; i++) {
    int n;
    stralloc_copys(&got, "");
    why = "unset";
    n = aliases_split(split_t[i].rhs, strlen(split_t[i].rhs), collect, &got, &why);
    snprintf(name, sizeof name, "split '%s'", split_t[i].rhs);
    clean(name);
    if (split_t[i].want[0] == '!') {
      T_OK(name, n == -1 && got.len == 0);
      T_STR(name, split_t[i].want + 1, why, n == -1 && why ? strlen(why) : 0);
    } else {
      T_STR(name, split_t[i].want, got.s, got.len);
    }
  }
  T_OK("a NUL inside an rhs is refused", aliases_split("a\0b", 3, collect, &got, &why) == -1);
  stralloc_free(&got);
}

/* stop - a callback that stops the walk */
static int stop(void *arg, const struct alias_item *item)
{
  (void)item;
  return ++*(int *)arg == 2 ? -1 : 0;
}

static void test_split_limits(void)
{
  static char big[ALIAS_ITEM_MAX + 3];
  struct alias_iter it;
  struct alias_item item;
  const char *why = "unset";
  stralloc got = { 0 };
  int calls = 0;
  T_OK("fn returning -1 stops the walk",
       aliases_split("a, b, c", 7, stop, &calls, &why) == -1 && calls == 2 && why == 0);
  memset(big, 'a', ALIAS_ITEM_MAX);
  big[0] = '/';
  T_OK("item of ALIAS_ITEM_MAX bytes", aliases_split(big, ALIAS_ITEM_MAX, collect, &got, &why) == 1);
  stralloc_free(&got);
  big[0] = '"'; big[1] = '/'; big[ALIAS_ITEM_MAX + 1] = '"';
  memset(big + 2, 'b', ALIAS_ITEM_MAX - 1);
  aliases_start(&it, big, ALIAS_ITEM_MAX + 2);
  T_OK("item over ALIAS_ITEM_MAX", aliases_next(&it, &item) == -1 && !strcmp(it.why, "item too long"));
  T_OK("after an error the walk is over", aliases_next(&it, &item) == 0);
  aliases_start(&it, "x, \"/a b\"", 9);
  T_OK("iterator: first", aliases_next(&it, &item) == 1 && item.type == ALIAS_ADDRESS);
  T_OK("iterator: second keeps raw", aliases_next(&it, &item) == 1 && item.type == ALIAS_FILE
       && item.rawlen == 6 && !memcmp(item.raw, "\"/a b\"", 6) && item.len == 4);
  T_OK("iterator: end", aliases_next(&it, &item) == 0);
}

static const struct { const char *rhs; const char *want; } norm_t[] = {
  { "alice,bob", "alice, bob" },
  { "  alice ,\t \"|/bin/x -y\" ,  /f  ", "alice, \"|/bin/x -y\", /f" },
  { "a,", "a" },
  { "", "!no items" },
  { " ,", "!empty item" },
};

static void test_normalize(void)
{
  stralloc out = { 0 };
  const char *why;
  char name[300];
  size_t i;
  for (i = 0; i < sizeof norm_t / sizeof norm_t[0]; i++) {
    int r = aliases_normalize(norm_t[i].rhs, strlen(norm_t[i].rhs), &out, &why);
    snprintf(name, sizeof name, "normalize '%s'", norm_t[i].rhs);
    clean(name);
    if (norm_t[i].want[0] == '!') T_STR(name, norm_t[i].want + 1, why, r == -1 ? strlen(why) : 0);
    else T_STR(name, norm_t[i].want, out.s, r == 0 ? out.len : 0);
  }
  stralloc_free(&out);
}

/* parse callbacks: entries as "name=rhs@line;" and errors as "msg;" */
struct result { stralloc entries, errors; int stop_at; };

static int on_entry(void *arg, const char *name, size_t nlen, const char *rhs, size_t rlen,
                    unsigned long line)
{
  struct result *r = arg;
  char num[32];
  snprintf(num, sizeof num, "@%lu;", line);
  stralloc_catb(&r->entries, name, nlen);
  stralloc_cats(&r->entries, "=");
  stralloc_catb(&r->entries, rhs, rlen);
  stralloc_cats(&r->entries, num);
  return --r->stop_at == 0 ? -1 : 0;
}

static void on_error(void *arg, const char *msg)
{
  struct result *r = arg;
  stralloc_cats(&r->errors, msg);
  stralloc_cats(&r->errors, ";");
}

static const struct { const char *file; long nerr; const char *entries; const char *errors; } parse_t[] = {
  { "root: alice\n", 0, "root=alice@1;", "" },
  { "# comment\n\nRoot: Alice\npostmaster:root", 0, "root=Alice@3;postmaster=root@4;", "" },
  { "staff: a,\n  b,\n\tc\n", 0, "staff=a, b, c@1;", "" },
  { "staff: a,\n# comment between\n\n  b\nx: y\n", 0, "staff=a, b@1;x=y@5;", "" },
  { "staff: a,\n   # indented comment\n  b\n", 0, "staff=a, b@1;", "" },
  { "name : a\n", 0, "name=a@1;", "" },
  { "list: \"|/usr/bin/prog -x arg\", /var/log/x, :include:/etc/l\n", 0,
    "list=\"|/usr/bin/prog -x arg\", /var/log/x, :include:/etc/l@1;", "" },
  { "root alice\n", 1, "", "line 1: missing ':' after the alias name;" },
  { "a: x\nA: y\n", 1, "a=x@1;", "line 2: duplicate alias 'a' (first at line 1);" },
  { "  b\nroot: x\n", 1, "root=x@2;", "line 1: continuation line without an alias before it;" },
  { "a: x y\nb: ok\n", 1, "b=ok@2;", "line 1: alias 'a': blank inside an item (quote the item);" },
  { "a:\nb: ok\n", 1, "b=ok@2;", "line 1: alias 'a': no items;" },
  { "a: x\r\nb: y\n", 1, "b=y@2;", "line 1: carriage return (DOS line end?);" },
  { "a: x\n  y\x01\n  z\nb: y\n", 1, "b=y@4;", "line 2: control character;" },
  { "a: x\nb: \"unterminated\n  c: d\n", 1, "a=x@1;", "line 2: alias 'b': unterminated quote;" },
  { ": x\n", 1, "", "line 1: empty alias name;" },
  { "a@b: x\n", 1, "", "line 1: alias names are local parts: no '@';" },
  { "\"a b\": x\n", 1, "", "line 1: quoted alias names are not supported;" },
  { "a b: x\n", 1, "", "line 1: blank in the alias name;" },
  { "a(b: x\n", 1, "", "line 1: invalid character in the alias name;" },
  { "a: b\nc: d,,e\nf: g\nf: h\n", 2, "a=b@1;f=g@3;",
    "line 2: alias 'c': empty item;line 4: duplicate alias 'f' (first at line 3);" },
};

static void test_parse(void)
{
  struct result r;
  struct aliases_cb cb = { on_entry, on_error, 0 };
  buffer b;
  char name[300];
  size_t i;
  cb.arg = &r;
  for (i = 0; i < sizeof parse_t / sizeof parse_t[0]; i++) {
    long n;
    memset(&r, 0, sizeof r);
    stralloc_copys(&r.entries, "");
    stralloc_copys(&r.errors, "");
    buffer_frombuf(&b, parse_t[i].file, strlen(parse_t[i].file));
    n = aliases_parse(&b, &cb);
    snprintf(name, sizeof name, "parse '%s'", parse_t[i].file);
    clean(name);
    T_OK(name, n == parse_t[i].nerr);
    T_STR(name, parse_t[i].entries, r.entries.s, r.entries.len);
    T_STR(name, parse_t[i].errors, r.errors.s, r.errors.len);
    stralloc_free(&r.entries);
    stralloc_free(&r.errors);
  }
}

static void test_parse_limits(void)
{
  struct result r;
  struct aliases_cb cb = { on_entry, on_error, 0 };
  stralloc file = { 0 };
  buffer b;
  int i;
  cb.arg = &r;
  memset(&r, 0, sizeof r);
  for (i = 0; i < ALIAS_ERRORS_MAX + 10; i++) stralloc_cats(&file, "bad line\n");
  buffer_frombuf(&b, file.s, file.len);
  T_OK("gives up after ALIAS_ERRORS_MAX errors", aliases_parse(&b, &cb) == ALIAS_ERRORS_MAX + 1);
  T_OK("says so", r.errors.len > 0 && strstr(r.errors.s, "too many errors"));
  stralloc_free(&r.errors);
  memset(&r, 0, sizeof r);
  stralloc_copys(&file, "a: ");
  for (i = 0; i < ALIAS_LINE_MAX; i++) stralloc_cats(&file, "x");
  stralloc_cats(&file, "\nb: c\n");
  buffer_frombuf(&b, file.s, file.len);
  T_OK("overlong physical line", aliases_parse(&b, &cb) == 1);
  T_STR("overlong line reported", "line 1: line too long;", r.errors.s, r.errors.len);
  T_STR("next entry still read", "b=c@2;", r.entries.s, r.entries.len);
  stralloc_free(&r.errors);
  stralloc_free(&r.entries);
  memset(&r, 0, sizeof r);
  r.stop_at = 1;
  buffer_frombuf(&b, "a: b\nc: d\n", 10);
  T_OK("entry returning -1 stops the parse", aliases_parse(&b, &cb) == -1 && r.entries.len == 6);
  stralloc_free(&r.entries);
  stralloc_free(&file);
}

int main(void)
{
  test_split();
  test_split_limits();
  test_normalize();
  test_parse();
  test_parse_limits();
  T_DONE();
}
