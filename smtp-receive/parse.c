/* parse.c - SMTP command syntax: the verb, the <path> of MAIL and RCPT
 * with its parameters (RFC 5321, 1870, 3461, 6152, 6531, 4954) and the BDAT
 * argument (RFC 3030).  Pure functions over bytes with lengths, no I/O and
 * no policy, so the fuzzer and the unit tests drive them directly.  Refusals
 * come back as complete SMTP reply lines. */
#include "byte.h"
#include "case.h"
#include "scan.h"
#include "str.h"
#include "address.h"
#include "smtp.h"

struct verb {
  const char *name;
  size_t len;
  int cmd;
};

/* the verbs; an argument, if any, follows one space */
static const struct verb verbs[] = {
  { "HELO", 4, CMD_HELO }, { "EHLO", 4, CMD_EHLO }, { "MAIL", 4, CMD_MAIL },
  { "RCPT", 4, CMD_RCPT }, { "DATA", 4, CMD_DATA }, { "BDAT", 4, CMD_BDAT },
  { "RSET", 4, CMD_RSET }, { "NOOP", 4, CMD_NOOP }, { "QUIT", 4, CMD_QUIT },
  { "HELP", 4, CMD_HELP }, { "VRFY", 4, CMD_VRFY }, { "EXPN", 4, CMD_EXPN },
  { "STARTTLS", 8, CMD_STARTTLS }, { "AUTH", 4, CMD_AUTH },
};

/* web requests sent to port 25 by browsers and proxies (cross-protocol
 * attacks): the session ends at once */
static const char *const http[] = { "GET ", "POST ", "CONNECT ", "HEAD ", "PUT ",
                                    "User-Agent:", "Host:" };

/* parse_verb - the command on line[0..len) and where its argument starts */
int parse_verb(const char *line, size_t len, size_t *arg)
{
  unsigned int i;
  *arg = len;
  for (i = 0; i < sizeof http / sizeof http[0]; i++) {
    size_t n = str_len(http[i]);
    if (len >= n && case_diffb(line, n, http[i]) == 0) return CMD_HTTP;
  }
  for (i = 0; i < sizeof verbs / sizeof verbs[0]; i++) {
    size_t n = verbs[i].len;
    if (len < n || case_diffb(line, n, verbs[i].name)) continue;
    if (len == n) { *arg = len; return verbs[i].cmd; }
    if (line[n] != ' ') continue;
    *arg = n + 1;
    return verbs[i].cmd;
  }
  return CMD_UNKNOWN;
}

/* route_end - length of a source route "@a,@b:" at s, 0 if malformed */
static size_t route_end(const char *s, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++) {
    char c = s[i];
    if (c == ':') return i > 1 ? i + 1 : 0;
    if (c == '@' && (i == 0 || s[i - 1] == ',')) continue;
    if (c == ',' || c == '.' || c == '-' || c == '[' || c == ']') continue;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) continue;
    return 0;
  }
  return 0;
}

/* close_angle - position of the '>' that ends a path starting at s (after
 * '<'), skipping quoted strings; len if none */
static size_t close_angle(const char *s, size_t len)
{
  size_t i;
  int quoted = 0;
  for (i = 0; i < len; i++) {
    if (quoted && s[i] == '\\') { i++; continue; }
    if (s[i] == '"') quoted = !quoted;
    else if (s[i] == '>' && !quoted) return i;
  }
  return len;
}

/* parse_path - "FROM:<addr>" (prefix "FROM:") into addr[ADDR_PATH_MAX+1];
 * a source route is dropped (RFC 5321 4.1.1.3 and C); rest is where the
 * parameters start.  0, or the reply refusing it. */
const char *parse_path(const char *s, size_t len, const char *prefix,
                       char *addr, size_t *alen, size_t *rest)
{
  size_t n = str_len(prefix), i, end, skip;
  if (len < n || case_diffb(s, n, prefix)) return "501 5.5.4 Syntax error in parameters";
  for (i = n; i < len && s[i] == ' '; i++) ;
  if (i == len || s[i] != '<') return "501 5.5.4 Syntax error: address must be in angle brackets";
  i++;
  end = i + close_angle(s + i, len - i);
  if (end == len) return "501 5.5.4 Syntax error: missing '>'";
  if (end + 1 < len && s[end + 1] != ' ') return "501 5.5.4 Syntax error after '>'";
  skip = 0;
  if (end > i && s[i] == '@') {
    skip = route_end(s + i, end - i);
    if (!skip) return "501 5.1.3 Bad address syntax: malformed source route";
  }
  i += skip;
  if (end - i > ADDR_MAX) return "501 5.1.3 Address too long";
  byte_copy(addr, end - i, s + i);
  addr[end - i] = 0;
  *alen = end - i;
  *rest = end + 1;
  return 0;
}

/* struct param - one KEYWORD[=value] of a parameter list */
struct param {
  const char *key, *value;
  size_t klen, vlen;
  int has_value;
};

/* next_param - the next parameter at s[*pos..len): 1, 0 at the end */
static int next_param(const char *s, size_t len, size_t *pos, struct param *p)
{
  size_t i = *pos, start, eq;
  while (i < len && s[i] == ' ') i++;
  if (i == len) return 0;
  start = i;
  while (i < len && s[i] != ' ') i++;
  *pos = i;
  eq = byte_chr(s + start, i - start, '=');
  p->key = s + start;
  p->klen = eq;
  p->has_value = eq < i - start;
  p->value = p->has_value ? s + start + eq + 1 : 0;
  p->vlen = p->has_value ? i - start - eq - 1 : 0;
  return 1;
}

/* is - p's keyword is k (case-insensitive) */
static int is(const struct param *p, const char *k)
{
  size_t n = str_len(k);
  return p->klen == n && case_diffb(p->key, n, k) == 0;
}

/* value_is - p's value is w (case-insensitive) */
static int value_is(const struct param *p, const char *w)
{
  size_t n = str_len(w);
  return p->vlen == n && case_diffb(p->value, n, w) == 0;
}

static const char bad_param[] = "501 5.5.4 Syntax error in parameters";
static const char unsupported[] = "555 5.5.4 Unsupported parameter";
static const char repeated[] = "501 5.5.4 Repeated parameter";

/* mail_size - SIZE=digits */
static const char *mail_size(const struct param *p, struct mail_params *m)
{
  unsigned long v;
  if (!p->has_value || p->vlen == 0 || p->vlen > 19) return bad_param;
  if (scan_ulongn(p->value, p->vlen, &v) != p->vlen) return bad_param;
  if (m->size) return repeated;
  m->size = v ? v : 1;
  return 0;
}

/* hexval - a hex digit's value, -1 if it is none */
static int hexval(char c)
{
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

/* xtext_printable - does the xtext v[0..len) decode to printable ASCII
 * only?  RFC 3461 allows nothing else in ENVID and ORCPT; a "+00" or
 * "+0D+0A" would carry NUL, CR or LF into notices.  A malformed "+"
 * escape is left to the envelope's own syntax check. */
static int xtext_printable(const char *v, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++) {
    int c = (unsigned char)v[i];
    if (c == '+' && i + 2 < len && hexval(v[i + 1]) >= 0 && hexval(v[i + 2]) >= 0) {
      c = hexval(v[i + 1]) * 16 + hexval(v[i + 2]);
      i += 2;
    }
    if (c < 32 || c > 126) return 0;
  }
  return 1;
}

static const char bad_envid[] = "501 5.5.4 Invalid ENVID: it must decode to printable ASCII";
static const char bad_orcpt[] = "501 5.5.4 Invalid ORCPT: it must decode to printable ASCII";

/* mail_param - one MAIL FROM parameter */
static const char *mail_param(const struct param *p, struct mail_params *m)
{
  if (is(p, "SIZE")) return mail_size(p, m);
  if (is(p, "BODY")) {
    if (m->body) return repeated;
    if (value_is(p, "7BIT")) m->body = 7;
    else if (value_is(p, "8BITMIME")) m->body = 8;
    else return value_is(p, "BINARYMIME") ? unsupported : bad_param;
    return 0;
  }
  if (is(p, "SMTPUTF8")) {
    if (p->has_value) return bad_param;
    if (m->smtputf8) return repeated;
    m->smtputf8 = 1;
    return 0;
  }
  if (is(p, "RET")) {
    if (m->ret) return repeated;
    if (!value_is(p, "FULL") && !value_is(p, "HDRS")) return bad_param;
    m->ret = p->value; m->retlen = p->vlen;
    return 0;
  }
  if (is(p, "ENVID")) {
    if (m->envid) return repeated;
    if (!p->vlen) return bad_param;
    if (!xtext_printable(p->value, p->vlen)) return bad_envid;
    m->envid = p->value; m->envidlen = p->vlen;
    return 0;
  }
  if (is(p, "AUTH")) return p->vlen ? 0 : bad_param;   /* RFC 4954 5: accepted, not trusted */
  return unsupported;
}

const char *parse_mail_params(const char *s, size_t len, struct mail_params *m)
{
  struct param p;
  size_t pos = 0;
  const char *why;
  byte_zero(m, sizeof *m);
  while (next_param(s, len, &pos, &p))
    if ((why = mail_param(&p, m))) return why;
  return 0;
}

const char *parse_rcpt_params(const char *s, size_t len, struct mail_params *m)
{
  struct param p;
  size_t pos = 0;
  byte_zero(m, sizeof *m);
  while (next_param(s, len, &pos, &p)) {
    if (is(&p, "NOTIFY")) {
      if (m->notify) return repeated;
      if (!p.vlen) return bad_param;
      m->notify = p.value; m->notifylen = p.vlen;
    } else if (is(&p, "ORCPT")) {
      if (m->orcpt) return repeated;
      if (!p.vlen) return bad_param;
      if (!xtext_printable(p.value, p.vlen)) return bad_orcpt;
      m->orcpt = p.value; m->orcptlen = p.vlen;
    } else return unsupported;
  }
  return 0;
}

/* parse_bdat - "size" or "size LAST": 0, or -1 if malformed */
int parse_bdat(const char *s, size_t len, unsigned long *size, int *last)
{
  size_t n = 0;
  while (n < len && s[n] >= '0' && s[n] <= '9') n++;
  if (n == 0 || n > 19 || scan_ulongn(s, n, size) != n) return -1;
  *last = 0;
  if (n == len) return 0;
  if (len - n == 5 && s[n] == ' ' && case_diffb(s + n + 1, 4, "LAST") == 0) {
    *last = 1;
    return 0;
  }
  return -1;
}
