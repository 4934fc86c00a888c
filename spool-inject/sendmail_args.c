/* sendmail_args.c - the sendmail(8) command line.
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
#include "str.h"
#include "sendmail.h"

/* takes_value - flags followed by a value (glued or the next argument) */
static int takes_value(char c)
{
  return c && "ABCFLNORVXbefhopr"[str_chr("ABCFLNORVXbefhopr", c)] != 0;
}

/* plain_flag - flags without a value */
static int plain_flag(char c)
{
  return c && "GIimntvUc"[str_chr("GIimntvUc", c)] != 0;
}

/* bad - record a usage error; returns -1 */
static int bad(struct sm_args *a, const char *why, const char *arg)
{
  if (!a->error) { a->error = why; a->error_arg = arg; }
  return -1;
}

/* clean - no control character, not too long */
static int clean(struct sm_args *a, const char *s, const char *what)
{
  size_t i;
  for (i = 0; s[i]; i++) {
    if ((unsigned char)s[i] < 32 || s[i] == 127) return bad(a, "control character (newline, CR, TAB, ...) in", what);
    if (i >= SM_ARG_MAX) return bad(a, "argument too long:", what);
  }
  return 0;
}

/* is_interval - "15m", "1h30m", "30": a queue-run interval */
static int is_interval(const char *s)
{
  size_t i;
  int digits = 0;
  if (!*s) return 0;
  for (i = 0; s[i]; i++) {
    if (s[i] >= '0' && s[i] <= '9') digits = 1;
    else if (digits && "smhdw"[str_chr("smhdw", s[i])]) digits = 0;
    else return 0;
  }
  return 1;
}

/* opt_q - -q, -qIid, -qRsite, -qSsite, -q15m, -qp15m */
static int opt_q(struct sm_args *a, const char *v)
{
  if (!*v) { a->mode = SM_FLUSH; a->flush_kind = 0; return 0; }
  if (v[0] == 'I' || v[0] == 'R' || v[0] == 'S') {
    if (!v[1]) return bad(a, "missing value for flag", v[0] == 'I' ? "-qI" : v[0] == 'R' ? "-qR" : "-qS");
    if (v[1] == '!') return bad(a, "negated queue selection is not supported:", "-q!");
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
static int opt_b(struct sm_args *a, const char *v)
{
  if (!v[0] || v[1]) return bad(a, "unknown mode for flag -b:", v);
  switch (v[0]) {
  case 'm': a->mode = SM_MAIL; return 0;
  case 'p': a->mode = SM_LIST; return 0;
  case 'i': a->mode = SM_ALIASES; return 0;
  case 's': a->mode = SM_SMTP; return 0;
  case 'v': a->mode = SM_VERIFY; return 0;
  case 'd': case 'l': a->mode = SM_DAEMON; return 0;
  case 'h': case 'H': a->mode = SM_IGNORED; return 0;
  default: return bad(a, "unknown mode for flag -b:", v);
  }
}

/* opt_o - sendmail's one-letter options: i, A, e?, the rest ignored */
static int opt_o(struct sm_args *a, const char *v)
{
  switch (v[0]) {
  case 'i': a->dot_ends = 0; return 0;
  case 'A': if (v[1]) a->alias_file = v + 1; return 0;
  case 'e':
    if (v[1] && "pmwqe"[str_chr("pmwqe", v[1])] && !v[2]) a->errmode = v[1];
    return 0;
  default: return 0;   /* -om, -odi, -odb, -o7, -o8, -oL..., ignored as Postfix does */
  }
}

/* opt_value - a flag with its value v */
static int opt_value(struct sm_args *a, char c, const char *v)
{
  static char flag[3] = "-x";
  flag[1] = c;
  if (clean(a, v, flag) == -1) return -1;
  switch (c) {
  case 'f': case 'r': a->sender = v; return 0;
  case 'F': a->fullname = v; return 0;
  case 'B': a->body = v; return 0;
  case 'N': a->notify = v; return 0;
  case 'R': a->ret = v; return 0;
  case 'V': a->envid = v; return 0;
  case 'C': a->conf = v; return 0;
  case 'L': a->label = v; return 0;
  case 'b': return opt_b(a, v);
  case 'o': return opt_o(a, v);
  default: return 0;   /* -A, -O, -X, -h, -e, -p: accepted, ignored */
  }
}

/* opt_plain - a flag without a value */
static void opt_plain(struct sm_args *a, char c)
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
static int cluster(struct sm_args *a, int argc, char **argv, int *i)
{
  const char *s = argv[*i] + 1;
  static char flag[3] = "-x";
  for (; *s; s++) {
    char c = *s;
    if (c == 'q') return opt_q(a, s + 1);
    if (plain_flag(c)) { opt_plain(a, c); continue; }
    flag[1] = c;
    if (!takes_value(c)) return bad(a, "unknown flag", flag);
    if (s[1]) return opt_value(a, c, s + 1);
    if (*i + 1 >= argc) return bad(a, "missing value for flag", flag);
    return opt_value(a, c, argv[++*i]);
  }
  return 0;
}

/* base - the part of path after its last '/' */
static const char *base(const char *path)
{
  const char *b = path;
  for (; *path; path++) if (*path == '/') b = path + 1;
  return b;
}

/* long_option - --json and --machine, for -bp and mailq */
static int long_option(struct sm_args *a, const char *s)
{
  if (!str_diff(s, "--json")) { a->list_format = SM_LIST_JSON; return 0; }
  if (!str_diff(s, "--machine")) { a->list_format = SM_LIST_MACHINE; return 0; }
  if (clean(a, s, "an option") == -1) return -1;
  return bad(a, "unknown flag", s);
}

int sm_args_parse(struct sm_args *a, int argc, char **argv)
{
  int i, only_rcpt = 0;
  const char *me = argc > 0 ? base(argv[0]) : "sendmail";
  a->mode = !str_diff(me, "mailq") ? SM_LIST : !str_diff(me, "newaliases") ? SM_ALIASES : SM_MAIL;
  a->dot_ends = 1;
  a->errmode = 'p';
  if (!(a->rcpt = malloc(sizeof *a->rcpt * (size_t)(argc > 0 ? argc : 1)))) return bad(a, "out of memory", "");
  for (i = 1; i < argc; i++) {
    const char *s = argv[i];
    if (only_rcpt || s[0] != '-' || !s[1]) {
      if (clean(a, s, "recipient") == -1) return -1;
      a->rcpt[a->nrcpt++] = argv[i];
    } else if (!str_diff(s, "--")) only_rcpt = 1;
    else if (s[1] == '-') { if (long_option(a, s) == -1) return -1; }
    else if (cluster(a, argc, argv, &i) == -1) return -1;
  }
  if (a->list_format && a->mode != SM_LIST) return bad(a, "only with -bp or mailq:", a->list_format == SM_LIST_JSON ? "--json" : "--machine");
  if (a->nrcpt && a->mode != SM_MAIL && a->mode != SM_VERIFY)
    return bad(a, "unexpected argument in this mode:", a->rcpt[0]);
  return 0;
}

void sm_args_free(struct sm_args *a)
{
  free(a->rcpt);
  a->rcpt = 0;
}
