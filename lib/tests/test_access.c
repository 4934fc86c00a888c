/* test_access.c - unit tests for lib/access.c: the key order for IPv4,
 * IPv6, host names and addresses, the values, the key spelling
 * postern-maps stores, and access_check against a real cdb. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include "cdb_make.h"
#include "access.h"
#include "t.h"

/* joined - keys as "k1|k2|..." into out */
static void joined(const stralloc *keys, char *out, size_t size)
{
  size_t i, n = 0;
  for (i = 0; i < keys->len && n + 1 < size; i++) out[n++] = keys->s[i] ? keys->s[i] : '|';
  if (n > 0 && out[n - 1] == '|') n--;
  out[n] = 0;
}

/* key order: want 0 means malformed (-1, EINVAL) */
static const struct { int kind; const char *subject; const char *want; } key_order[] = {
  { ACCESS_KIND_IP, "192.0.2.15", "192.0.2.15|192.0.2|192.0|192" },
  { ACCESS_KIND_IP, "0.0.0.0", "0.0.0.0|0.0.0|0.0|0" },
  { ACCESS_KIND_IP, "255.255.255.255", "255.255.255.255|255.255.255|255.255|255" },
  { ACCESS_KIND_IP, "2001:db8::1",
    "2001:db8::1|2001:db8:0:0:0:0:0|2001:db8:0:0:0:0|2001:db8:0:0:0|2001:db8:0:0|2001:db8:0|2001:db8|2001" },
  { ACCESS_KIND_IP, "2001:0DB8:0000:0000:0000:0000:0000:0001",
    "2001:db8::1|2001:db8:0:0:0:0:0|2001:db8:0:0:0:0|2001:db8:0:0:0|2001:db8:0:0|2001:db8:0|2001:db8|2001" },
  { ACCESS_KIND_IP, "2001:db8:0:1:0:0:0:abcd",
    "2001:db8:0:1::abcd|2001:db8:0:1:0:0:0|2001:db8:0:1:0:0|2001:db8:0:1:0|2001:db8:0:1|2001:db8:0|2001:db8|2001" },
  { ACCESS_KIND_IP, "2001:db8:1:0:1:0:0:1",   /* RFC 5952: the longer zero run is compressed */
    "2001:db8:1:0:1::1|2001:db8:1:0:1:0:0|2001:db8:1:0:1:0|2001:db8:1:0:1|2001:db8:1:0|2001:db8:1|2001:db8|2001" },
  { ACCESS_KIND_IP, "fe80:0:1:2:3:4:5:6",       /* one zero group is not compressed */
    "fe80:0:1:2:3:4:5:6|fe80:0:1:2:3:4:5|fe80:0:1:2:3:4|fe80:0:1:2:3|fe80:0:1:2|fe80:0:1|fe80:0|fe80" },
  { ACCESS_KIND_IP, "::1", "::1|0:0:0:0:0:0:0|0:0:0:0:0:0|0:0:0:0:0|0:0:0:0|0:0:0|0:0|0" },
  { ACCESS_KIND_IP, "::ffff:192.0.2.1", "192.0.2.1|192.0.2|192.0|192" },   /* IPv4-mapped */
  { ACCESS_KIND_IP, "192.0.2", 0 },
  { ACCESS_KIND_IP, "192.0.2.256", 0 },
  { ACCESS_KIND_IP, "192.0.2.01", 0 },
  { ACCESS_KIND_IP, "1.2.3.4 ", 0 },
  { ACCESS_KIND_IP, "", 0 },
  { ACCESS_KIND_IP, "fe80::1%eth0", 0 },
  { ACCESS_KIND_IP, "example.com", 0 },
  { ACCESS_KIND_HOST, "mail.Example.COM", "mail.example.com|example.com|com" },
  { ACCESS_KIND_HOST, "mail.example.com.", "mail.example.com|example.com|com" },
  { ACCESS_KIND_HOST, "localhost", "localhost" },
  { ACCESS_KIND_HOST, "a-b_c.d9", "a-b_c.d9|d9" },
  { ACCESS_KIND_HOST, "", 0 },
  { ACCESS_KIND_HOST, ".", 0 },
  { ACCESS_KIND_HOST, ".example.com", 0 },
  { ACCESS_KIND_HOST, "a..b", 0 },
  { ACCESS_KIND_HOST, "a b.com", 0 },
  { ACCESS_KIND_HOST, "a@b.com", 0 },
  { ACCESS_KIND_HOST, "[192.0.2.1]", 0 },
  { ACCESS_KIND_ADDRESS, "User@Mail.Example.com",
    "user@mail.example.com|user@|mail.example.com|example.com|com" },
  { ACCESS_KIND_ADDRESS, "user@example.com.", "user@example.com|user@|example.com|com" },
  { ACCESS_KIND_ADDRESS, "\"a@b\"@example.com", "\"a@b\"@example.com|\"a@b\"@|example.com|com" },
  { ACCESS_KIND_ADDRESS, "user@[192.0.2.1]", "user@[192.0.2.1]|user@|[192.0.2.1]" },
  { ACCESS_KIND_ADDRESS, "postmaster", "postmaster@" },
  { ACCESS_KIND_ADDRESS, "", "<>" },
  { ACCESS_KIND_ADDRESS, "@example.com", 0 },
  { ACCESS_KIND_ADDRESS, "user@", 0 },
  { ACCESS_KIND_ADDRESS, "user@.", 0 },
  { ACCESS_KIND_ADDRESS, "user@a..b", 0 },
  { ACCESS_KIND_ADDRESS, "user@[1.2.3.4", 0 },
  { ACCESS_KIND_ADDRESS, "us\ter@example.com", 0 },
  { ACCESS_KIND_ADDRESS, "user@exa\nmple.com", 0 },
};

/* clean - control characters in a test name would break the output lines */
static const char *clean(char *name)
{
  char *p;
  for (p = name; *p; p++)
    if ((unsigned char)*p < 32) *p = '?';
  return name;
}

static int keys_of(int kind, const char *s, stralloc *keys)
{
  if (kind == ACCESS_KIND_IP) return access_keys_ip(s, keys);
  if (kind == ACCESS_KIND_HOST) return access_keys_host(s, keys);
  return access_keys_address(s, keys);
}

static void test_key_order(void)
{
  stralloc keys = { 0 };
  char got[1024], name[300];
  size_t i;
  for (i = 0; i < sizeof key_order / sizeof key_order[0]; i++) {
    int n = keys_of(key_order[i].kind, key_order[i].subject, &keys);
    snprintf(name, sizeof name, "keys of '%s'", key_order[i].subject);
    clean(name);
    if (!key_order[i].want) {
      T_OK(name, n == -1 && errno == EINVAL);
      continue;
    }
    joined(&keys, got, sizeof got);
    T_STR(name, key_order[i].want, got, strlen(got));
    T_OK(name, n > 0 && keys.len > 0 && keys.s[keys.len - 1] == 0);
  }
  stralloc_free(&keys);
}

/* values: action 0 means invalid */
static const struct {
  const char *v; int action; const char *code, *status, *text;
} values[] = {
  { "OK", ACCESS_OK, "", "", "" },
  { "ok", ACCESS_OK, "", "", "" },
  { "RELAY", ACCESS_RELAY, "", "", "" },
  { "Discard", ACCESS_DISCARD, "", "", "" },
  { "REJECT", ACCESS_REJECT, "550", "5.7.1", "Access denied" },
  { "ERROR:550 go away", ACCESS_ERROR, "550", "5.7.1", "go away" },
  { "ERROR:450 try later", ACCESS_ERROR, "450", "4.7.1", "try later" },
  { "ERROR:554 5.7.0 spam source", ACCESS_ERROR, "554", "5.7.0", "spam source" },
  { "ERROR:421 4.3.2 closing", ACCESS_ERROR, "421", "4.3.2", "closing" },
  { "ERROR:550 5.123.456 long codes", ACCESS_ERROR, "550", "5.123.456", "long codes" },
  { "error:550", ACCESS_ERROR, "550", "5.7.1", "Access denied" },
  { "ERROR:550 5.1.1", ACCESS_ERROR, "550", "5.1.1", "Access denied" },
  { "ERROR:550   spaced   out", ACCESS_ERROR, "550", "5.7.1", "spaced   out" },
  { "ERROR:550 5.7.1x text", 0, 0, 0, 0 },   /* looks like a status code, is not one */
  { "", 0, 0, 0, 0 },
  { "OK ", 0, 0, 0, 0 },
  { "OKAY", 0, 0, 0, 0 },
  { "REJECT now", 0, 0, 0, 0 },
  { "ERROR:", 0, 0, 0, 0 },
  { "ERROR:250 fine", 0, 0, 0, 0 },
  { "ERROR:350 fine", 0, 0, 0, 0 },
  { "ERROR:560 bad second digit", 0, 0, 0, 0 },
  { "ERROR:55 short", 0, 0, 0, 0 },
  { "ERROR:5500 long", 0, 0, 0, 0 },
  { "ERROR:550text", 0, 0, 0, 0 },
  { "ERROR:550 4.7.1 wrong class", 0, 0, 0, 0 },
  { "ERROR:450 5.7.1 wrong class", 0, 0, 0, 0 },
  { "ERROR:550 5.1234.1 too many digits", 0, 0, 0, 0 },
  { "ERROR:550 5..1 empty", 0, 0, 0, 0 },
  { "ERROR:550 tab\there", 0, 0, 0, 0 },
  { "ERROR:550 caf\xc3\xa9", 0, 0, 0, 0 },
  { "SKIP", ACCESS_SKIP, "", "", "" },
  { "skip", ACCESS_SKIP, "", "", "" },
  /* sendmail's spellings */
  { "ERROR:\"550 go away\"", ACCESS_ERROR, "550", "5.7.1", "go away" },
  { "ERROR:\"550 5.7.0 go away\"", ACCESS_ERROR, "550", "5.7.0", "go away" },
  { "ERROR:5.7.2:550 go away", ACCESS_ERROR, "550", "5.7.2", "go away" },
  { "ERROR:5.7.2:\"550 go away\"", ACCESS_ERROR, "550", "5.7.2", "go away" },
  { "ERROR:4.3.0:451", ACCESS_ERROR, "451", "4.3.0", "Access denied" },
  { "ERROR:4.3.0:550 wrong class", 0, 0, 0, 0 },
  { "ERROR:5.7.2:550", ACCESS_ERROR, "550", "5.7.2", "Access denied" },
  { "ERROR:5.7.2:5500 long", 0, 0, 0, 0 },
  { "ERROR:\"550 unterminated", 0, 0, 0, 0 },
  { "ERROR:5.7:550 short status", 0, 0, 0, 0 },
};

static void test_values(void)
{
  struct access_result r = { 0 };
  char name[300];
  size_t i;
  for (i = 0; i < sizeof values / sizeof values[0]; i++) {
    int got = access_parse(values[i].v, strlen(values[i].v), &r);
    snprintf(name, sizeof name, "value '%s'", values[i].v);
    clean(name);
    if (!values[i].action) {
      T_OK(name, got == -1 && errno == EINVAL && r.action == ACCESS_NONE);
      continue;
    }
    T_OK(name, got == 0 && r.action == values[i].action);
    T_STR(name, values[i].code, r.code, strlen(r.code));
    T_STR(name, values[i].status, r.status, strlen(r.status));
    T_STR(name, values[i].text, r.text.s, r.text.len);
  }
  T_OK("a NUL inside a value is invalid", access_parse("OK\0", 3, &r) == -1);
  T_OK("ERROR with an embedded NUL is invalid", access_parse("ERROR:550 a\0b", 13, &r) == -1);
  {
    char big[7 + 4 + ACCESS_TEXT_MAX + 2];
    memcpy(big, "ERROR:550 ", 10);
    memset(big + 10, 'x', ACCESS_TEXT_MAX);
    T_OK("text of ACCESS_TEXT_MAX bytes", access_parse(big, 10 + ACCESS_TEXT_MAX, &r) == 0);
    big[10 + ACCESS_TEXT_MAX] = 'x';
    T_OK("text over ACCESS_TEXT_MAX", access_parse(big, 11 + ACCESS_TEXT_MAX, &r) == -1);
  }
  access_result_free(&r);
}

/* normalized key spelling: want 0 means refused */
static const struct { const char *k; const char *want; } norm[] = {
  { "192.0.2.1", "192.0.2.1" }, { "192.0.2", "192.0.2" }, { "10", "10" },
  { "192.0.02", 0 }, { "256.1", 0 }, { "1.2.3.4.5", 0 }, { "1..2", 0 }, { "1.", 0 }, { ".1", 0 },
  { "2001:DB8::0:1", "2001:db8::1" }, { "2001:0db8", "2001:db8" },
  { "2001:db8:0000:0:0:0:0", "2001:db8:0:0:0:0:0" }, { "::FFFF:192.0.2.1", "192.0.2.1" },
  { "2001:db8:1:2:3:4:5:6:7", 0 }, { "2001:db8::g", 0 }, { "2001:", 0 }, { "2001:00db8", 0 },
  { "Example.COM", "example.com" }, { "example.com.", "example.com" },
  { "User@Example.com", "user@example.com" }, { "user@", "user@" },
  /* role tags and CIDR prefixes that need no expansion */
  { "Connect:192.0.2", "connect:192.0.2" }, { "FROM:Spammer@Example.com", "from:spammer@example.com" },
  { "To:example.com.", "to:example.com" }, { "From:<>", "from:<>" },
  { "connect:2001:DB8::1", "connect:2001:db8::1" }, { "192.0.2.0/24", "192.0.2" },
  { "Connect:2001:db8::/32", "connect:2001:db8" }, { "10.0.0.0/8", "10" }, { "192.0.2.7/32", "192.0.2.7" },
  { "2001:db8::1/128", "2001:db8::1" },
  /* keys nothing can match */
  { "Spam:example.com", 0 }, { "From:192.0.2.1", 0 }, { "To:2001:db8::1", 0 }, { "From:10.0.0.0/8", 0 },
  { "Connect:user@example.com", 0 }, { "Connect:<>", 0 }, { "*.example.com", 0 }, { "exa mple.com", 0 },
  { "@example.com", 0 }, { "192.0.2.1/24", 0 }, { "192.0.2.0/33", 0 }, { "192.0.2.0/", 0 },
  { "192.0.2.0/x", 0 }, { "example.com/24", 0 }, { "2001:db8::/129", 0 }, { "::ffff:10.0.0.0/104", 0 },
  { "user@exa..mple", 0 }, { "192.0.2.0/25", 0 },   /* needs expanding: not one key */
};

static void test_normalize(void)
{
  stralloc out = { 0 };
  char name[300];
  size_t i;
  for (i = 0; i < sizeof norm / sizeof norm[0]; i++) {
    int r = access_key_normalize(norm[i].k, strlen(norm[i].k), &out);
    snprintf(name, sizeof name, "key spelling '%s'", norm[i].k);
    if (!norm[i].want) { T_OK(name, r == 0); continue; }
    T_OK(name, r == 1);
    if (r == 1) T_STR(name, norm[i].want, out.s, out.len);
  }
  stralloc_free(&out);
}

/* prefixes: how many keys, and the first and last */
static const struct { const char *k; unsigned count; const char *first, *last; } prefixes[] = {
  { "192.0.2.0/25", 128, "192.0.2.0", "192.0.2.127" },
  { "192.0.2.128/26", 64, "192.0.2.128", "192.0.2.191" },
  { "192.0.0.0/22", 4, "192.0.0", "192.0.3" },
  { "Connect:203.0.112.0/20", 16, "connect:203.0.112", "connect:203.0.127" },
  { "10.0.0.0/7", 2, "10", "11" },
  { "0.0.0.0/0", 256, "0", "255" },
  { "2001:db8::/36", 4096, "2001:db8:0", "2001:db8:fff" },
  { "2001:db8:1:2::/63", 2, "2001:db8:1:2", "2001:db8:1:3" },
  { "2001:db8::100/120", 256, "2001:db8::100", "2001:db8::1ff" },
};

static void test_prefixes(void)
{
  struct access_key k = { { 0 }, 0, -1, 0 };
  char name[300];
  size_t i, last;
  for (i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    int r = access_key_parse(prefixes[i].k, strlen(prefixes[i].k), &k);
    snprintf(name, sizeof name, "prefix '%s' expands", prefixes[i].k);
    T_OK(name, r == 1 && k.count == prefixes[i].count);
    if (r != 1) continue;
    T_STR(name, prefixes[i].first, k.keys.s, strlen(k.keys.s));
    for (last = k.keys.len - 1; last > 0 && k.keys.s[last - 1]; last--)
      ;
    T_STR(name, prefixes[i].last, k.keys.s + last, strlen(k.keys.s + last));
  }
  T_OK("2001:db8::/33 is refused (32768 keys)", access_key_parse("2001:db8::/33", 13, &k) == 0 && k.why);
  T_OK("the reason names the limit", k.why && strstr(k.why, "4096"));
  T_OK("host bits set are refused", access_key_parse("192.0.2.1/24", 12, &k) == 0 && strstr(k.why, "network address"));
  access_key_free(&k);
}

/* make_map - an access cdb from pairs */
static int make_map(const char *path, const char *const *kv, size_t n)
{
  struct cdb_make cm;
  size_t i;
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd == -1 || cdb_make_start(&cm, fd) == -1) return -1;
  for (i = 0; i < n; i++)
    if (cdb_make_add(&cm, (const unsigned char *)kv[2 * i], strlen(kv[2 * i]),
                     (const unsigned char *)kv[2 * i + 1], strlen(kv[2 * i + 1])) == -1)
      return -1;
  if (cdb_make_finish(&cm) == -1) return -1;
  while (cm.head) { struct cdb_hplist *x = cm.head; cm.head = x->next; free(x); }
  free(cm.split);
  return close(fd);
}

static void test_check(void)
{
  static const char *const kv[] = {
    "192.0.2", "REJECT", "192.0.2.7", "OK", "2001:db8", "ERROR:450 4.7.1 slow down",
    "spam.example", "DISCARD", "friend@spam.example", "OK", "abuse@", "RELAY",
    "bad.example", "MAYBE", "from:spammer@b.example", "REJECT", "to:abuse@b.example", "OK",
    "connect:198.51.100", "RELAY", "198.51.100.9", "SKIP", "skip.example", "SKIP", "other.example", "REJECT",
  };
  static const struct { int kind; const char *s; int want; const char *key; int action; } t[] = {
    { ACCESS_KIND_IP, "192.0.2.7", 1, "192.0.2.7", ACCESS_OK },       /* most specific wins */
    { ACCESS_KIND_IP, "192.0.2.8", 1, "192.0.2", ACCESS_REJECT },
    { ACCESS_KIND_IP, "192.0.3.8", 0, 0, 0 },
    { ACCESS_KIND_IP, "2001:db8::25", 1, "2001:db8", ACCESS_ERROR },
    { ACCESS_KIND_IP, "::ffff:192.0.2.9", 1, "192.0.2", ACCESS_REJECT },
    { ACCESS_KIND_HOST, "mx.SPAM.example", 1, "spam.example", ACCESS_DISCARD },
    { ACCESS_KIND_ADDRESS, "friend@spam.example", 1, "friend@spam.example", ACCESS_OK },
    { ACCESS_KIND_ADDRESS, "other@sub.spam.example", 1, "spam.example", ACCESS_DISCARD },
    { ACCESS_KIND_ADDRESS, "Abuse@anywhere.test", 1, "abuse@", ACCESS_RELAY },
    { ACCESS_KIND_ADDRESS, "x@bad.example", -1, "bad.example", 0 },
    { ACCESS_KIND_ADDRESS, "x@good.example", 0, 0, 0 },
    { ACCESS_KIND_IP, "not an ip", -1, 0, 0 },
    /* role tags: the tagged key for its role only */
    { ACCESS_KIND_FROM, "spammer@b.example", 1, "from:spammer@b.example", ACCESS_REJECT },
    { ACCESS_KIND_TO, "spammer@b.example", 0, 0, 0 },
    { ACCESS_KIND_ADDRESS, "spammer@b.example", 0, 0, 0 },
    { ACCESS_KIND_TO, "abuse@b.example", 1, "to:abuse@b.example", ACCESS_OK },
    { ACCESS_KIND_FROM, "abuse@b.example", 1, "abuse@", ACCESS_RELAY },   /* To: key not used: the untagged one next */
    { ACCESS_KIND_IP, "198.51.100.7", 1, "connect:198.51.100", ACCESS_RELAY },
    { ACCESS_KIND_FROM, "friend@spam.example", 1, "friend@spam.example", ACCESS_OK },   /* untagged: every role */
    { ACCESS_KIND_TO, "other@sub.spam.example", 1, "spam.example", ACCESS_DISCARD },
    /* SKIP: the less specific keys are not looked at */
    { ACCESS_KIND_IP, "198.51.100.9", 0, 0, 0 },
    { ACCESS_KIND_FROM, "x@skip.example", 0, 0, 0 },
    { ACCESS_KIND_FROM, "x@sub.other.example", 1, "other.example", ACCESS_REJECT },
  };
  char path[] = "/tmp/postern-test-access.XXXXXX";
  struct access_result r = { 0 };
  struct map m = { 0 };
  char name[300];
  size_t i;
  int fd = mkstemp(path);
  T_OK("make access map", fd != -1 && close(fd) == 0 && make_map(path, kv, sizeof kv / sizeof kv[0] / 2) == 0);
  T_OK("open access map", map_open(&m, path) == 1);
  for (i = 0; i < sizeof t / sizeof t[0]; i++) {
    int got = access_check(&m, t[i].kind, t[i].s, &r);
    snprintf(name, sizeof name, "check '%s'", t[i].s);
    T_OK(name, got == t[i].want);
    if (got == 1) T_OK(name, r.action == t[i].action);
    if (t[i].key) T_STR(name, t[i].key, r.key.s, r.key.len);
    if (got == -1) T_OK(name, errno == (t[i].key ? EPROTO : EINVAL));
  }
  T_OK("ERROR value in check", access_check(&m, ACCESS_KIND_IP, "2001:db8::25", &r) == 1
       && !strcmp(r.code, "450") && !strcmp(r.status, "4.7.1") && !strcmp(r.text.s, "slow down"));
  map_close(&m);
  access_result_free(&r);
  unlink(path);
}

int main(void)
{
  test_key_order();
  test_values();
  test_normalize();
  test_prefixes();
  test_check();
  T_DONE();
}
