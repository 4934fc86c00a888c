/* args.c - the sendmail(8) command line.
 *
 * getopt(3) rules as Postfix's sendmail uses them, which every caller
 * expects: flags may be bundled (-ti), a flag's value may be glued (-fX,
 * -B8BITMIME, -odi, -q30m) or the next argument (-f X, -o i); options and
 * recipients come in any order; "--" ends the options, so that a recipient
 * after it may start with "-".  An unknown flag is a usage error naming it.
 * No argument may hold a control character (a newline in -f or a recipient
 * must never become a header or a second recipient) or be longer than
 * SM_ARG_MAX. */
#include <stdlib.h>
#include "case.h"
#include "str.h"
#include "sendmail.h"

/* in_set - c is one of the characters of set (never NUL) */
static int in_set(char c, const char *set)
{
  return c && set[str_chr(set, c)] != 0;
}

/* takes_value - flags followed by a value (glued or the next argument) */
static int takes_value(char c)
{
  return in_set(c, "ABCFLNORVXbefhopr");
}

/* plain_flag - flags without a value */
static int plain_flag(char c)
{
  return in_set(c, "GIimntvUc");
}

/* bad - record a usage error; returns -1 */
static int bad(struct args *a, const char *why, const char *arg)
{
  if (!a->error) { a->error = why; a->error_arg = arg; }
  return -1;
}

/* clean - no control character, not too long */
static int clean(struct args *a, const char *s, const char *what)
{
  size_t i;
  for (i = 0; s[i]; i++) {
    if ((unsigned char)s[i] < 32 || s[i] == 127) return bad(a, "control character (newline, CR, TAB, ...) in", what);
    if (i >= SM_ARG_MAX) return bad(a, "argument too long:", what);
  }
  return 0;
}

/* is_interval - "15m", "1h30m", "30": a queue run interval */
static int is_interval(const char *s)
{
  size_t i;
  int digits = 0;
  if (!*s) return 0;
  for (i = 0; s[i]; i++) {
    if (s[i] >= '0' && s[i] <= '9') digits = 1;
    else if (digits && in_set(s[i], "smhdw")) digits = 0;
    else return 0;
  }
  return 1;
}

/* opt_q - -q, -qIsub, -qRsub, -qSsub, -q15m, -qp15m */
static int opt_q(struct args *a, const char *v)
{
  static char qflag[4] = "-qX";
  if (clean(a, v, "-q") == -1) return -1;
  if (!*v) { if (a->mode != SM_DAEMON) a->mode = SM_FLUSH; a->flush_kind = 0; return 0; }
  if (v[0] == 'I' || v[0] == 'R' || v[0] == 'S') {
    qflag[2] = v[0];
    if (!v[1]) return bad(a, "missing value for flag", qflag);
    if (v[1] == '!') return bad(a, "negated queue selection is not supported:", qflag);
    a->mode = SM_FLUSH;
    a->flush_kind = v[0];
    a->flush_arg = v + 1;
    return 0;
  }
  if (is_interval(v[0] == 'p' ? v + 1 : v)) {
    if (a->mode != SM_DAEMON) a->mode = SM_INTERVAL;
    a->flush_arg = v;
    return 0;
  }
  return bad(a, "bad value for flag -q:", v);
}

/* opt_b - the mode letters of -b */
static int opt_b(struct args *a, const char *v)
{
  if (!v[0] || v[1]) return bad(a, "unknown mode for flag -b:", v);
  switch (v[0]) {
  case 'm': a->mode = SM_MAIL; return 0;
  case 'p': a->mode = SM_LIST; return 0;
  case 'i': a->mode = SM_ALIASES; return 0;
  case 's': a->mode = SM_SMTP; return 0;
  case 'v': a->mode = SM_VERIFY; return 0;
  case 'd': case 'D': case 'l': a->mode = SM_DAEMON; return 0;
  case 'h': a->mode = SM_HOSTSTAT; return 0;
  case 'H': a->mode = SM_PURGESTAT; return 0;
  default: return bad(a, "unknown mode for flag -b:", v);
  }
}

/* error_mode - the letter of -oeX or -O ErrorMode=X, others ignored */
static void error_mode(struct args *a, const char *v)
{
  if (in_set(v[0], "pmwqe") && !v[1]) a->errmode = v[0];
}

/* opt_o - sendmail's one-letter options: i, A, e?; the rest (-odi, -odb,
 * -om, -oL9, -o7, ...) are accepted and ignored, as Postfix does */
static int opt_o(struct args *a, const char *v)
{
  switch (v[0]) {
  case 'i': a->dot_ends = 0; return 0;
  case 'A': if (v[1]) a->alias_file = v + 1; return 0;
  case 'e': error_mode(a, v + 1); return 0;
  default: return 0;
  }
}

/* yes - an -O boolean value: none, or true/yes/on/1 */
static int yes(const char *v)
{
  return !v || !*v || !case_diffs(v, "true") || !case_diffs(v, "yes") || !case_diffs(v, "on") || !str_diff(v, "1");
}

/* delivery_mode - sendmail's DeliveryMode values (i, b, q, d and their
 * long names): postern always queues and its daemon delivers, which is
 * what each of them promises the caller */
static int delivery_mode(const char *v)
{
  static const char *const w[] = { "i", "b", "q", "d", "interactive", "background", "queueonly", "deferred" };
  size_t i;
  if (!v) return 0;
  for (i = 0; i < sizeof w / sizeof w[0]; i++)
    if (!case_diffs(v, w[i])) return 1;
  return 0;
}

/* opt_O - -O Name=value: IgnoreDots, ErrorMode, AliasFile and
 * DeliveryMode mean what they mean to sendmail; any other option is
 * refused, so a script never believes a setting took effect */
static int opt_O(struct args *a, const char *v)
{
  size_t eq = str_chr(v, '=');
  const char *val = v[eq] ? v + eq + 1 : 0;
  if (eq == 10 && !case_diffb(v, 10, "IgnoreDots")) a->dot_ends = !yes(val);
  else if (eq == 9 && !case_diffb(v, 9, "ErrorMode") && val && in_set(val[0], "pmwqe") && !val[1]) error_mode(a, val);
  else if (eq == 9 && !case_diffb(v, 9, "AliasFile") && val && *val) a->alias_file = val;
  else if (eq == 12 && !case_diffb(v, 12, "DeliveryMode") && delivery_mode(val)) return 0;
  else return bad(a, "option not supported by postern (sendmail(8) lists those it honours): -O", v);
  return 0;
}

/* opt_value - a flag with its value v */
static int opt_value(struct args *a, char c, const char *v)
{
  a->flag[0] = '-'; a->flag[1] = c; a->flag[2] = 0;
  if (clean(a, v, a->flag) == -1) return -1;
  switch (c) {
  case 'f': case 'r': a->sender = v; a->sender_flag = c; return 0;
  case 'F': a->fullname = v; return 0;
  case 'B': a->body = v; return 0;
  case 'N': a->notify = v; return 0;
  case 'R': a->ret = v; return 0;
  case 'V': a->envid = v; return 0;
  case 'C': a->conf = v; return 0;
  case 'L': a->label = v; return 0;
  case 'b': return opt_b(a, v);
  case 'o': return opt_o(a, v);
  case 'O': return opt_O(a, v);
  default: return 0;   /* -A, -X, -h, -e, -p: accepted, ignored */
  }
}

/* opt_plain - a flag without a value */
static void opt_plain(struct args *a, char c)
{
  switch (c) {
  case 't': a->extract = 1; break;
  case 'i': a->dot_ends = 0; break;
  case 'v': a->verbose++; break;
  case 'I': a->mode = SM_ALIASES; break;
  default: break;   /* -G, -m, -n, -U, -c: ignored, as Postfix does */
  }
}

/* cluster - one argument of bundled flags; *i moves past a separate value */
static int cluster(struct args *a, int argc, char **argv, int *i)
{
  const char *s = argv[*i] + 1;
  for (; *s; s++) {
    char c = *s;
    if (c == 'q') return opt_q(a, s + 1);
    if (plain_flag(c)) { opt_plain(a, c); continue; }
    a->flag[0] = '-'; a->flag[1] = c; a->flag[2] = 0;
    if (!takes_value(c)) return bad(a, "unknown flag", a->flag);
    if (s[1]) return opt_value(a, c, s + 1);
    if (*i + 1 >= argc) return bad(a, "missing value for flag", a->flag);
    return opt_value(a, c, argv[++*i]);
  }
  return 0;
}

const char *args_base(const char *path)
{
  const char *b = path;
  for (; *path; path++) if (*path == '/') b = path + 1;
  return b;
}

/* long_option - --json and --machine, for -bp and mailq */
static int long_option(struct args *a, const char *s)
{
  if (!str_diff(s, "--json")) { a->list_format = SM_LIST_JSON; return 0; }
  if (!str_diff(s, "--machine")) { a->list_format = SM_LIST_MACHINE; return 0; }
  if (clean(a, s, "an option") == -1) return -1;
  return bad(a, "unknown flag", s);
}

int args_parse(struct args *a, int argc, char **argv)
{
  int i, only_rcpt = 0;
  const char *me = argc > 0 && argv[0] ? args_base(argv[0]) : "sendmail";
  a->mode = !str_diff(me, "mailq") ? SM_LIST : !str_diff(me, "newaliases") ? SM_ALIASES
          : !str_diff(me, "hoststat") ? SM_HOSTSTAT : !str_diff(me, "purgestat") ? SM_PURGESTAT
          : !str_diff(me, "mailstats") ? SM_STATS : SM_MAIL;
  a->dot_ends = 1;
  a->errmode = 'p';
  if (!(a->rcpt = malloc(sizeof *a->rcpt * (size_t)(argc > 0 ? argc : 1)))) return bad(a, "out of memory", "");
  for (i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (only_rcpt || s[0] != '-' || !s[1]) {
      if (clean(a, s, "recipient") == -1) return -1;
      a->rcpt[a->nrcpt++] = argv[i];
    } else if (!str_diff(s, "--")) only_rcpt = 1;
    else if (!str_diff(s, "-SMTPUTF8")) a->smtputf8 = 1;   /* Postfix's spelling */
    else if (s[1] == '-') { if (long_option(a, s) == -1) return -1; }
    else if (cluster(a, argc, argv, &i) == -1) return -1;
  }
  if (a->list_format && a->mode != SM_LIST && (a->list_format != SM_LIST_MACHINE || (a->mode != SM_HOSTSTAT && a->mode != SM_STATS)))
    return bad(a, a->list_format == SM_LIST_JSON ? "only with -bp or mailq:" : "only with -bp, -bh, mailq, hoststat or mailstats:",
               a->list_format == SM_LIST_JSON ? "--json" : "--machine");
  if (a->nrcpt && a->mode != SM_MAIL && a->mode != SM_VERIFY)
    return bad(a, "unexpected argument in this mode:", a->rcpt[0]);
  return 0;
}

void args_free(struct args *a)
{
  free(a->rcpt);
  a->rcpt = 0;
}
