/* t.h - a tiny unit-test harness: prints "ok - name" / "not ok - name" lines
 * that tests/run counts; main returns non-zero if anything failed. */
#ifndef T_H
#define T_H
#include <stdio.h>
#include <string.h>

static int t_failures;

/* t_check - report one assertion */
static inline void t_check(int good, const char *name, const char *expr,
                           const char *file, int line)
{
  if (good) { printf("ok - %s\n", name); return; }
  t_failures++;
  printf("not ok - %s\n# %s:%d: %s\n", name, file, line, expr);
}
#define T_OK(name, cond) t_check(!!(cond), (name), #cond, __FILE__, __LINE__)
#define T_STR(name, want, got, gotlen) \
  do { const char *t_w = (want); size_t t_l = (gotlen); \
       int t_g = strlen(t_w) == t_l && memcmp(t_w, (got), t_l) == 0; \
       t_check(t_g, (name), "string equality", __FILE__, __LINE__); \
       if (!t_g) printf("#   want: %s\n#   got:  %.*s\n", t_w, (int)t_l, (const char *)(got)); } while (0)
#define T_DONE() return t_failures ? 1 : 0

/* t_template - "$TMPDIR/name.XXXXXX" (TMPDIR unset or empty: /tmp) in
 * buf, for mkstemp or mkdtemp; buf, or 0 when it does not fit */
#include <stdlib.h>
static inline char *t_template(char *buf, size_t size, const char *name)
{
  const char *tmp = getenv("TMPDIR");
  int n = snprintf(buf, size, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
  return n > 0 && (size_t)n < size ? buf : 0;
}
#endif
