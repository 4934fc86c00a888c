/* rfc5322.c - RFC 5322 address lists, as sendmail -t, the
 * qualification of header addresses and remote-send's rewriting need them.
 *
 * The text (a field body, folded lines included) is first cut into
 * tokens: atoms (atext runs; bytes >= 0x80 count as atext, RFC 6532),
 * quoted strings, domain literals and the specials < > @ , ; : . -
 * comments and folding white space only separate tokens.  The parser then
 * walks the tokens: address-list of mailboxes (name-addr or addr-spec) and
 * groups ("undisclosed-recipients:;"), the obsolete forms RFC 5322 section
 * 4 says to accept (empty list elements, CFWS around dots, routes in angle
 * brackets), and, as every MTA does, a bare local part without a domain.
 * A display name may hold '@' and '.' ("a@b.c <a@b.c>" is common).
 * Nothing is changed in the text itself: encoded words, comments and
 * quoting stay as they were; callers only learn where each addr-spec is. */
#include <stdlib.h>
#include "byte.h"
#include "case.h"
#include "str.h"
#include "rfc5322.h"

enum { TK_ATOM = 'a', TK_QSTR = 'q', TK_DLIT = 'd' };   /* else the special itself */
#define COMMENT_DEPTH_MAX 100

struct tok {
  int type;
  size_t start, end;     /* bytes of the token in the text */
};

struct parser {
  const char *s;
  struct tok *t;
  size_t n, i;           /* tokens, the next one */
  stralloc addr;         /* the canonical addr-spec being built */
  int (*fn)(void *, const struct rfc5322_mailbox *);
  void *ctx;
  const char *why;
};

/* atext_byte - RFC 5322 atext, and any byte >= 0x80 */
static int atext_byte(unsigned char c)
{
  if (c >= 0x80) return 1;
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return 1;
  return c && "!#$%&'*+-/=?^_`{|}~"[str_chr("!#$%&'*+-/=?^_`{|}~", (char)c)] != 0;
}

static int blank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

/* skip_comment - s[*i] is '('; move past the matching ')' */
static const char *skip_comment(const char *s, size_t len, size_t *i)
{
  unsigned int depth = 0;
  for (; *i < len; (*i)++) {
    char c = s[*i];
    if (c == '\\') { (*i)++; continue; }
    if (c == '(' && ++depth > COMMENT_DEPTH_MAX) return "comments nested too deeply";
    if (c == ')' && --depth == 0) { (*i)++; return 0; }
  }
  return "unterminated comment";
}

/* skip_quoted - s[*i] is open ('"' or '['); move past close */
static const char *skip_quoted(const char *s, size_t len, size_t *i, char open, char close)
{
  for ((*i)++; *i < len; (*i)++) {
    char c = s[*i];
    if (c == '\\') { (*i)++; continue; }
    if (c == close) { (*i)++; return 0; }
    if (open == '[' && c == '[') return "'[' inside a domain literal";
  }
  return open == '"' ? "unterminated quoted string" : "unterminated domain literal";
}

/* tokenize - the tokens of s[0..len) into p->t */
static const char *tokenize(struct parser *p, const char *s, size_t len)
{
  size_t i = 0;
  const char *why;
  for (i = 0; i < len; i++)   /* none anywhere, quoted or not (NUL, ESC, ...) */
    if (((unsigned char)s[i] < 32 && !blank(s[i])) || s[i] == 127) return "control character in address list";
  i = 0;
  p->t = malloc(sizeof *p->t * (len + 1));
  if (!p->t) return "out of memory";
  p->n = 0;
  while (i < len) {
    unsigned char c = (unsigned char)s[i];
    struct tok *t = &p->t[p->n];
    t->start = i;
    if (blank((char)c)) { i++; continue; }
    if (c == '(') { if ((why = skip_comment(s, len, &i))) return why; continue; }
    if (c == '"' || c == '[') {
      if ((why = skip_quoted(s, len, &i, (char)c, c == '"' ? '"' : ']'))) return why;
      t->type = c == '"' ? TK_QSTR : TK_DLIT;
    } else if (atext_byte(c)) {
      while (i < len && atext_byte((unsigned char)s[i])) i++;
      t->type = TK_ATOM;
    } else if (c && "<>@,;:."[str_chr("<>@,;:.", (char)c)]) {
      t->type = c;
      i++;
    } else return c == ')' ? "unbalanced ')'" : c == ']' ? "unbalanced ']'" : "invalid character in address list";
    t->end = i;
    p->n++;
  }
  return 0;
}

static int peek(const struct parser *p) { return p->i < p->n ? p->t[p->i].type : 0; }
static int fail(struct parser *p, const char *why) { p->why = why; return -1; }

/* add_unfolded - token text without CR and LF (folding removed) */
static int add_unfolded(struct parser *p, const struct tok *t, int drop_blanks)
{
  size_t k;
  for (k = t->start; k < t->end; k++) {
    char c = p->s[k];
    if (c == '\r' || c == '\n' || (drop_blanks && (c == ' ' || c == '\t'))) continue;
    if (!stralloc_catb(&p->addr, &c, 1)) return -1;
  }
  return 0;
}

/* add_quoted_content - the content of a quoted string, unescaped */
static int add_quoted_content(stralloc *sa, const char *s, const struct tok *t)
{
  size_t k;
  for (k = t->start + 1; k + 1 < t->end; k++) {
    if (s[k] == '\r' || s[k] == '\n') continue;
    if (s[k] == '\\') k++;
    if (!stralloc_catb(sa, s + k, 1)) return -1;
  }
  return 0;
}

/* dot_atom - s[0..len) needs no quotes: atext runs joined by single dots */
static int dot_atom(const char *s, size_t len)
{
  size_t i;
  if (!len || s[0] == '.' || s[len - 1] == '.') return 0;
  for (i = 0; i < len; i++)
    if (s[i] == '.' ? s[i + 1] == '.' : !atext_byte((unsigned char)s[i])) return 0;
  return 1;
}

/* local_part - word *("." word) from token a to b (exclusive) into
 * p->addr: atoms joined by dots; with quoted strings, the words' content
 * joined by dots, quoted again only if it needs to be ("erin" is erin) */
static int local_part(struct parser *p, size_t a, size_t b)
{
  size_t k, quoted = 0;
  stralloc raw = { 0 };
  int ok = 1;
  for (k = a; k < b; k++) quoted += p->t[k].type == TK_QSTR;
  if (!quoted) {
    for (k = a; k < b; k++)
      if (!stralloc_catb(&p->addr, p->s + p->t[k].start, p->t[k].end - p->t[k].start)) return -1;
    return 0;
  }
  for (k = a; k < b && ok; k++) {
    const struct tok *t = &p->t[k];
    if (t->type == TK_QSTR) ok = add_quoted_content(&raw, p->s, t) == 0;
    else ok = stralloc_catb(&raw, p->s + t->start, t->end - t->start);
  }
  if (ok && dot_atom(raw.s, raw.len)) ok = stralloc_catb(&p->addr, raw.s, raw.len);
  else {
    ok = ok && stralloc_cats(&p->addr, "\"");
    for (k = 0; ok && k < raw.len; k++) {
      if ((raw.s[k] == '"' || raw.s[k] == '\\') && !stralloc_cats(&p->addr, "\\")) ok = 0;
      if (ok && !stralloc_catb(&p->addr, raw.s + k, 1)) ok = 0;
    }
    ok = ok && stralloc_cats(&p->addr, "\"");
  }
  stralloc_free(&raw);
  return ok ? 0 : -1;
}

/* addr_spec - local-part ["@" domain] at the current token */
static int addr_spec(struct parser *p)
{
  struct rfc5322_mailbox m;
  size_t a = p->i;
  byte_zero(&m, sizeof m);
  if (peek(p) != TK_ATOM && peek(p) != TK_QSTR) return fail(p, "expected an address");
  p->i++;
  while (peek(p) == '.') {
    p->i++;
    if (peek(p) != TK_ATOM && peek(p) != TK_QSTR) return fail(p, "local part ends with a dot");
    p->i++;
  }
  p->addr.len = 0;
  if (local_part(p, a, p->i) == -1) return fail(p, "out of memory");
  m.start = p->t[a].start;
  m.local_end = p->t[p->i - 1].end;
  if (peek(p) == '@') {
    p->i++;
    if (!stralloc_cats(&p->addr, "@")) return fail(p, "out of memory");
    if (peek(p) == TK_DLIT) {
      if (add_unfolded(p, &p->t[p->i++], 1) == -1) return fail(p, "out of memory");
    } else {
      if (peek(p) != TK_ATOM) return fail(p, "expected a domain after '@'");
      for (;;) {
        const struct tok *t = &p->t[p->i++];
        if (!stralloc_catb(&p->addr, p->s + t->start, t->end - t->start)) return fail(p, "out of memory");
        if (peek(p) != '.') break;
        p->i++;
        if (peek(p) != TK_ATOM) return fail(p, "domain ends with a dot");
        if (!stralloc_cats(&p->addr, ".")) return fail(p, "out of memory");
      }
    }
    m.qualified = 1;
  }
  m.end = p->t[p->i - 1].end;
  if (!stralloc_0(&p->addr)) return fail(p, "out of memory");
  m.addr = p->addr.s;
  m.len = p->addr.len - 1;
  return p->fn(p->ctx, &m);
}

/* route - obsolete "@a,@b:" before the addr-spec in angle brackets */
static int route(struct parser *p)
{
  while (p->i < p->n && peek(p) != ':' && peek(p) != '>') p->i++;
  if (peek(p) != ':') return fail(p, "bad route in angle brackets");
  p->i++;
  return 0;
}

/* angle_addr - the current token is '<' */
static int angle_addr(struct parser *p)
{
  int r;
  p->i++;
  if (peek(p) == '>') {   /* "<>": the null address */
    struct rfc5322_mailbox m;
    byte_zero(&m, sizeof m);
    m.null = 1;
    m.addr = "";
    m.start = m.end = m.local_end = p->t[p->i].start;
    p->i++;
    return p->fn(p->ctx, &m);
  }
  if (peek(p) == '@' && route(p) == -1) return -1;
  if ((r = addr_spec(p))) return r;
  if (peek(p) != '>') return fail(p, "missing '>'");
  p->i++;
  return 0;
}

/* first_of - index of the first token from i on whose type is in set */
static size_t first_of(const struct parser *p, const char *set)
{
  size_t k;
  for (k = p->i; k < p->n; k++)
    if (p->t[k].type < 128 && set[str_chr(set, (char)p->t[k].type)]) return k;
  return p->n;
}

/* mailbox - name-addr or addr-spec; stops before ',' ';' or the end */
static int mailbox(struct parser *p)
{
  size_t k = first_of(p, "<,;");
  int r;
  if (k < p->n && p->t[k].type == '<') {
    p->i = k;       /* the display name is skipped, whatever it holds */
    r = angle_addr(p);
  } else r = addr_spec(p);
  if (r) return r;
  if (p->i < p->n && peek(p) != ',' && peek(p) != ';') return fail(p, "unexpected text after an address");
  return 0;
}

/* group - display-name ":" [mailbox-list] ";"; the current token starts
 * the name, k is the ':' */
static int group(struct parser *p, size_t k)
{
  int r;
  p->i = k + 1;
  for (;;) {
    while (peek(p) == ',') p->i++;
    if (p->i == p->n) return 0;                /* a missing ';' is forgiven */
    if (peek(p) == ';') { p->i++; return 0; }
    if ((r = mailbox(p))) return r;
  }
}

/* address - mailbox or group */
static int address(struct parser *p)
{
  size_t k = first_of(p, "<:,;");
  if (k < p->n && p->t[k].type == ':') return group(p, k);
  return mailbox(p);
}

int rfc5322_addrlist(const char *text, size_t len,
                int (*fn)(void *ctx, const struct rfc5322_mailbox *m), void *ctx,
                const char **why)
{
  struct parser p;
  int r = 0;
  byte_zero(&p, sizeof p);
  p.s = text; p.fn = fn; p.ctx = ctx;
  if ((p.why = tokenize(&p, text, len))) r = -1;
  while (!r) {
    while (peek(&p) == ',') p.i++;
    if (p.i == p.n) break;
    if ((r = address(&p))) break;
    if (p.i < p.n && peek(&p) != ',') r = fail(&p, peek(&p) == ';' ? "';' outside a group" : "unexpected text after an address");
  }
  free(p.t);
  stralloc_free(&p.addr);
  if (r == -1) *why = p.why ? p.why : "not an address list";
  return r;
}

int rfc5322_is_local(const char *addr, size_t len, const char *locals)
{
  size_t at = 0, i, k;
  int quoted = 0;
  for (i = 0, at = len; i < len; i++) {
    if (quoted && addr[i] == '\\') { i++; continue; }
    if (addr[i] == '"') quoted = !quoted;
    else if (addr[i] == '@' && !quoted) at = i;
  }
  if (at == len) return 1;
  const char *d = addr + at + 1;
  size_t dlen = len - at - 1;
  for (i = 0; locals[i]; i = k) {
    while (locals[i] == ' ') i++;
    for (k = i; locals[k] && locals[k] != ' '; k++) ;
    if (k > i && k - i == dlen && !case_diffb(locals + i, dlen, d)) return 1;
  }
  return 0;
}

/* struct edit - one change to the text: [start, end) becomes text */
struct edit { size_t start, end; const char *text; };
struct qualify {
  struct edit *e;
  size_t n, a;
  const char *domain, *rewrite, *locals;
  stralloc at_domain;
};

/* qualify_one - rfc5322_addrlist callback: note the edit for one mailbox */
static int qualify_one(void *ctx, const struct rfc5322_mailbox *m)
{
  struct qualify *q = ctx;
  struct edit *e;
  if (m->null) return 0;
  if (q->n == q->a) {
    size_t a = q->a ? q->a * 2 : 8;
    struct edit *x = realloc(q->e, a * sizeof *x);
    if (!x) return -2;
    q->e = x; q->a = a;
  }
  e = &q->e[q->n];
  if (q->rewrite && rfc5322_is_local(m->addr, m->len, q->locals)) {
    e->start = m->start; e->end = m->end; e->text = q->rewrite;
  } else if (!m->qualified) {
    e->start = e->end = m->local_end; e->text = q->at_domain.s;
  } else return 0;
  q->n++;
  return 0;
}

int rfc5322_qualify_text(const char *text, size_t len, const char *domain,
                    const char *rewrite, const char *locals, stralloc *out)
{
  struct qualify q;
  const char *why;
  size_t pos = 0, k;
  int r, ok;
  byte_zero(&q, sizeof q);
  q.domain = domain; q.rewrite = rewrite; q.locals = locals;
  out->len = 0;
  if (!stralloc_copys(&q.at_domain, "@") || !stralloc_cats(&q.at_domain, domain) || !stralloc_0(&q.at_domain)) r = -2;
  else r = rfc5322_addrlist(text, len, qualify_one, &q, &why);
  ok = r == 0;
  for (k = 0; ok && k < q.n; k++) {
    ok = stralloc_catb(out, text + pos, q.e[k].start - pos) && stralloc_cats(out, q.e[k].text);
    pos = q.e[k].end;
  }
  ok = ok && stralloc_catb(out, text + pos, len - pos);
  free(q.e);
  stralloc_free(&q.at_domain);
  if (ok) return 0;
  out->len = 0;
  if (!stralloc_catb(out, text, len)) out->len = 0;
  return -1;
}

/* phrase_atoms - name is atoms separated by single blanks (no quoting needed) */
static int phrase_atoms(const char *name, size_t len)
{
  size_t i;
  if (!len || name[0] == ' ' || name[len - 1] == ' ') return 0;
  for (i = 0; i < len; i++) {
    unsigned char c = (unsigned char)name[i];
    if (c == ' ' ? name[i + 1] == ' ' : (c >= 0x80 || !atext_byte(c))) return 0;
  }
  return 1;
}

/* encoded_words - RFC 2047 "=?UTF-8?B?...?=" words of at most 75 bytes,
 * split between UTF-8 characters */
static int encoded_words(stralloc *out, const unsigned char *s, size_t len)
{
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  while (i < len) {
    size_t n = len - i > 45 ? 45 : len - i, k;   /* 45 bytes: 60 of base64 */
    while (n < len - i && n > 1 && (s[i + n] & 0xc0) == 0x80) n--;
    if ((i && !stralloc_cats(out, " ")) || !stralloc_cats(out, "=?UTF-8?B?")) return -1;
    for (k = 0; k < n; k += 3) {
      unsigned long v = (unsigned long)s[i + k] << 16 | (k + 1 < n ? (unsigned long)s[i + k + 1] << 8 : 0)
                      | (k + 2 < n ? s[i + k + 2] : 0);
      char q[4] = { b64[v >> 18 & 63], b64[v >> 12 & 63], k + 1 < n ? b64[v >> 6 & 63] : '=', k + 2 < n ? b64[v & 63] : '=' };
      if (!stralloc_catb(out, q, 4)) return -1;
    }
    if (!stralloc_cats(out, "?=")) return -1;
    i += n;
  }
  return 0;
}

int rfc5322_phrase(stralloc *out, const char *name, size_t len)
{
  size_t i;
  for (i = 0; i < len; i++)
    if ((unsigned char)name[i] >= 0x80) return encoded_words(out, (const unsigned char *)name, len);
  if (phrase_atoms(name, len)) return stralloc_catb(out, name, len) ? 0 : -1;
  if (!stralloc_cats(out, "\"")) return -1;
  for (i = 0; i < len; i++) {
    if ((name[i] == '"' || name[i] == '\\') && !stralloc_cats(out, "\\")) return -1;
    if (!stralloc_catb(out, name + i, 1)) return -1;
  }
  return stralloc_cats(out, "\"") ? 0 : -1;
}
