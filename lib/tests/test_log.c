/* test_log.c - event lines (lib/log.c): "program: id=ID key=value ...",
 * quoting of blanks and quotes, \xHH escapes for controls, truncation with
 * "..." at LOG_LINE_MAX, and log_event's one write to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "log.h"
#include "t.h"

static char out[LOG_LINE_MAX + 16];

/* fmt - log_vformat of id and kv[0..n) into out; the length, or -1 if it
 * wrote beyond LOG_LINE_MAX bytes */
static long fmt(const char *id, const char *const *kv, unsigned int n)
{
  unsigned long len;
  memset(out, '#', sizeof out);
  len = log_vformat(out, id, kv, n);
  for (size_t i = LOG_LINE_MAX; i < sizeof out; i++) if (out[i] != '#') return -1;
  return len > LOG_LINE_MAX ? -1 : (long)len;
}

struct vcase {
  const char *name;
  const char *value;
  const char *want;     /* the line with the default program name */
};

static const struct vcase values[] = {
  { "plain value is not quoted", "queued", "postern: id=1 k=queued" },
  { "address value is not quoted", "<a@b.example>", "postern: id=1 k=<a@b.example>" },
  { "empty value is quoted", "", "postern: id=1 k=\"\"" },
  { "value with a blank is quoted", "a b", "postern: id=1 k=\"a b\"" },
  { "value with a TAB is quoted and the TAB escaped", "a\tb", "postern: id=1 k=\"a\\x09b\"" },
  { "value with a quote is quoted and the quote escaped", "say \"hi\"", "postern: id=1 k=\"say \\\"hi\\\"\"" },
  { "value with only a quote inside is quoted", "a\"b", "postern: id=1 k=\"a\\\"b\"" },
  { "backslash is escaped", "a\\b", "postern: id=1 k=a\\\\b" },
  { "LF is escaped", "a\nb", "postern: id=1 k=a\\x0ab" },
  { "CR is escaped", "a\rb", "postern: id=1 k=a\\x0db" },
  { "ESC is escaped", "\x1b[1m", "postern: id=1 k=\\x1b[1m" },
  { "DEL is escaped", "a\x7f", "postern: id=1 k=a\\x7f" },
  { "control 0x01 is escaped", "\x01", "postern: id=1 k=\\x01" },
  { "control 0x1f is escaped", "\x1f", "postern: id=1 k=\\x1f" },
  { "UTF-8 is kept", "j\xc3\xb6rg", "postern: id=1 k=j\xc3\xb6rg" },
  { "SMTP reply is quoted", "250 2.0.0 Ok: queued as 1.2.3",
    "postern: id=1 k=\"250 2.0.0 Ok: queued as 1.2.3\"" },
  { "= in a value is kept", "a=b", "postern: id=1 k=a=b" },
};

static void format(void)
{
  unsigned int i;
  long n;

  {
    const char *kv[] = { "from", "<a@b.example>", "to", "<c@d.example>", "status", "queued" };
    n = fmt("1700000000.000001.42", kv, 6);
    T_STR("default program prefix, id first, then key=value pairs",
          "postern: id=1700000000.000001.42 from=<a@b.example> to=<c@d.example> status=queued",
          out, n < 0 ? 0 : (size_t)n);
  }
  {
    const char *kv[] = { "status", "started" };
    n = fmt(0, kv, 2);
    T_STR("no id: no id field", "postern: status=started", out, n < 0 ? 0 : (size_t)n);
  }
  n = fmt(0, 0, 0);
  T_STR("no id and no pairs: just the prefix", "postern:", out, n < 0 ? 0 : (size_t)n);
  n = fmt("1.2.3", 0, 0);
  T_STR("id and no pairs", "postern: id=1.2.3", out, n < 0 ? 0 : (size_t)n);
  n = fmt("a b", 0, 0);
  T_STR("an id with a blank is quoted", "postern: id=\"a b\"", out, n < 0 ? 0 : (size_t)n);
  n = fmt("a\nb", 0, 0);
  T_STR("an id with a LF is escaped", "postern: id=a\\x0ab", out, n < 0 ? 0 : (size_t)n);
  {
    const char *kv[] = { "k", 0 };
    n = fmt("1", kv, 2);
    T_STR("a null value is the empty value", "postern: id=1 k=\"\"", out, n < 0 ? 0 : (size_t)n);
  }
  {
    const char *kv[] = { "a", "1", "b" };
    n = fmt("1", kv, 3);
    T_STR("a key without a value is left out", "postern: id=1 a=1", out, n < 0 ? 0 : (size_t)n);
  }
  for (i = 0; i < sizeof values / sizeof values[0]; i++) {
    const char *kv[] = { "k", values[i].value };
    n = fmt("1", kv, 2);
    T_STR(values[i].name, values[i].want, out, n < 0 ? 0 : (size_t)n);
  }

  log_init("spool-inject", LOGTO_STDERR);
  {
    const char *kv[] = { "status", "queued" };
    n = fmt("9", kv, 2);
    T_STR("log_init sets the program prefix", "spool-inject: id=9 status=queued", out, n < 0 ? 0 : (size_t)n);
  }
  log_init("postern", LOGTO_STDERR);
}

/* truncation: lines are cut at LOG_LINE_MAX with "..." and never overrun */
static void truncation(void)
{
  static char big[3 * LOG_LINE_MAX];
  const char *kv[] = { "k", big };
  const size_t fixed = sizeof "postern: id=1 k=" - 1;    /* bytes before the value */
  long n;

  memset(big, 'v', sizeof big - 1);
  n = fmt("1", kv, 2);
  T_OK("an overlong line stays within LOG_LINE_MAX", n > 0 && n < LOG_LINE_MAX);
  T_OK("an overlong line ends with ...", n > 3 && !memcmp(out + n - 3, "...", 3));
  T_OK("an overlong line keeps its start", n > 0 && !memcmp(out, "postern: id=1 k=vvv", 19));
  T_OK("an overlong line is cut near the limit", n >= LOG_LINE_MAX - 8);

  /* escapes near the limit: each control is 4 bytes out */
  memset(big, '\n', sizeof big - 1);
  n = fmt("1", kv, 2);
  T_OK("a line of escapes stays within LOG_LINE_MAX", n > 0 && n < LOG_LINE_MAX);
  T_OK("a line of escapes ends with ...", n > 3 && !memcmp(out + n - 3, "...", 3));

  /* many pairs */
  {
    static const char *many[400];
    unsigned int i;
    for (i = 0; i < 400; i += 2) { many[i] = "key"; many[i + 1] = "value value"; }
    n = fmt("1", many, 400);
    T_OK("many pairs stay within LOG_LINE_MAX", n > 0 && n < LOG_LINE_MAX);
    T_OK("many pairs end with ...", n > 3 && !memcmp(out + n - 3, "...", 3));
  }

  /* lines that fit are not marked as cut */
  memset(big, 'v', sizeof big - 1);
  big[LOG_LINE_MAX - 5 - fixed] = 0;          /* a line of LOG_LINE_MAX - 5 bytes */
  n = fmt("1", kv, 2);
  T_OK("a line of LOG_LINE_MAX-5 bytes is kept whole",
       n == LOG_LINE_MAX - 5 && out[n - 1] == 'v');
  memset(big, 'v', sizeof big - 1);
  big[LOG_LINE_MAX - 4 - fixed] = 0;          /* a line of LOG_LINE_MAX - 4 bytes */
  n = fmt("1", kv, 2);
  T_OK("a line of LOG_LINE_MAX-4 bytes is kept whole, without ...",
       n == LOG_LINE_MAX - 4 && out[n - 1] == 'v');
  if (n != LOG_LINE_MAX - 4 || out[n - 1] != 'v')
    printf("#   got %ld bytes ending in \"%.*s\"\n", n, 6, n >= 6 ? out + n - 6 : out);
}

/* log_event - one line with a newline, in one write, on fd 2 */
static void event(void)
{
  int fd[2], saved;
  char buf[LOG_LINE_MAX * 2];
  ssize_t n;
  if (pipe(fd) == -1 || (saved = dup(2)) == -1) { printf("not ok - log_event pipe setup\n"); return; }
  fflush(stdout);
  dup2(fd[1], 2);
  close(fd[1]);
  log_init("queue-run", LOGTO_STDERR);
  log_event("1.2.3", "to", "<a@b.example>", "status", "sent (250 ok)", (char *)0);
  log_event(0, "status", "idle", (char *)0);
  dup2(saved, 2);
  close(saved);
  n = read(fd[0], buf, sizeof buf);
  close(fd[0]);
  T_STR("log_event writes the formatted lines with newlines to stderr",
        "queue-run: id=1.2.3 to=<a@b.example> status=\"sent (250 ok)\"\nqueue-run: status=idle\n",
        buf, n > 0 ? (size_t)n : 0);

  /* a long event: cut, but still one line with a newline */
  {
    static char big[LOG_LINE_MAX * 2];
    memset(big, 'x', sizeof big - 1);
    if (pipe(fd) == -1 || (saved = dup(2)) == -1) return;
    dup2(fd[1], 2);
    close(fd[1]);
    log_event("1", "k", big, (char *)0);
    dup2(saved, 2);
    close(saved);
    n = read(fd[0], buf, sizeof buf);
    close(fd[0]);
    T_OK("a long log_event is one line of at most LOG_LINE_MAX bytes",
         n > 0 && n <= LOG_LINE_MAX && buf[n - 1] == '\n' && memchr(buf, '\n', (size_t)n) == buf + n - 1);
  }
  log_init("postern", LOGTO_STDERR);
}

int main(void)
{
  format();
  truncation();
  event();
  T_DONE();
}
