/* modes.c - every mode of sendmail(8) but -bm: each hands the
 * work to the program that owns it.
 *   -bp, mailq        queue-run --list [--machine]; --json converted here
 *   -q                queue-run --flush (which pokes a running daemon
 *                     through the trigger, DESIGN.md invariant 5); for
 *                     an ordinary user spool-inject -q, which only pokes
 *   -qI, -qR, -qS     the matching ids from the machine listing, then
 *                     queue-run --flush ID for each
 *   -bi, newaliases   postern-maps newaliases (or compile the -oA file)
 *   -bs               smtp-receive -bs on our stdin and stdout
 *   -bv               queue-run --route: the routing of each address
 *   -q15m             one queue run now, and a word that timers repeat it
 *   -bd               refused, explained: socket units do that job
 *   -bh, hoststat     queue-run --hoststat [--machine]
 *   -bH, purgestat    queue-run --purgestat
 *   mailstats         queue-run --stats [--machine]
 * Listing and running the queue are for root and the queue owner only,
 * as queue-run enforces; others get the refusal here, in sendmail's
 * words, before anything runs. */
#include <stdlib.h>
#include <unistd.h>
#include "byte.h"
#include "str.h"
#include "exitcode.h"
#include "sendmail.h"

/* program - libexec_dir/name, or 0 (out of memory) */
static char *program(const struct config *cfg, const char *name, stralloc *sa)
{
  return run_path(sa, cfg, name) == 0 ? sa->s : 0;
}

/* exec_or_fail - run argv in our place; only returns the failure code */
static int exec_or_fail(char *const argv[])
{
  run_exec(argv);
  run_say("unable to run ", argv[0], "");
  return EX_OSERR;
}

/* refuse - not root or the queue owner */
static int refuse(const char *what)
{
  run_say("permission denied: only root and the owner of the queue (postern-queue) may ", what, "");
  return EX_NOPERM;
}

/* pass_on - a child failed: its stderr to ours, its code to our caller */
static int pass_on(const struct child_result *r)
{
  if (r->log.len && write(2, r->log.s, r->log.len) < 0) return r->code;
  return r->code;
}

int modes_list(const struct args *a, const struct config *cfg)
{
  static stralloc path, out, json;
  static struct child_result r;
  char *argv[4];
  if (!run_queue_allowed(cfg)) return refuse("list it");
  if (!(argv[0] = program(cfg, "queue-run", &path))) return EX_OSERR;
  argv[1] = "--list";
  argv[2] = a->list_format == SM_LIST_HUMAN ? 0 : "--machine";
  argv[3] = 0;
  if (a->list_format != SM_LIST_JSON) return exec_or_fail(argv);
  if (run_program(argv, -1, -1, &out, &r) == -1) { run_say("unable to run ", argv[0], ""); return EX_OSERR; }
  if (r.code) return pass_on(&r);
  if (listing_json(out.s, out.len, &json) == -1) { run_say("unexpected output from ", argv[0], ""); return EX_SOFTWARE; }
  if (json.len && write(1, json.s, json.len) != (ssize_t)json.len) return EX_IOERR;
  return 0;
}

/* flush_one - queue-run --flush ID */
static int flush_one(char *qr, const char *id)
{
  static struct child_result r;
  char *argv[4] = { qr, "--flush", (char *)id, 0 };
  if (run_program(argv, -1, -1, 0, &r) == -1) { run_say("unable to run ", qr, ""); return EX_OSERR; }
  return r.code ? pass_on(&r) : 0;
}

int modes_flush(const struct args *a, const struct config *cfg)
{
  static stralloc path, listing, ids;
  static struct child_result r;
  char *qr, *argv[4];
  unsigned long off;
  long n;
  int worst = 0;
  if (!run_queue_allowed(cfg) && !a->flush_kind) {
    /* an ordinary user: the set-gid injector wakes the queue daemon */
    if (!(argv[0] = program(cfg, "spool-inject", &path))) return EX_OSERR;
    argv[1] = "-q"; argv[2] = 0;
    return exec_or_fail(argv);
  }
  if (!run_queue_allowed(cfg)) return refuse("run it");
  if (!(qr = program(cfg, "queue-run", &path))) return EX_OSERR;
  if (!a->flush_kind) {
    argv[0] = qr; argv[1] = "--flush"; argv[2] = 0;
    return exec_or_fail(argv);
  }
  argv[0] = qr; argv[1] = "--list"; argv[2] = "--machine"; argv[3] = 0;
  if (run_program(argv, -1, -1, &listing, &r) == -1) { run_say("unable to run ", qr, ""); return EX_OSERR; }
  if (r.code) return pass_on(&r);
  if ((n = listing_select_ids(listing.s, listing.len, a->flush_kind, a->flush_arg, &ids)) == -1) return EX_TEMPFAIL;
  if (n == 0) {
    if (a->verbose) run_say("no queued message matches ", a->flush_arg, "");
    return 0;
  }
  for (off = 0; off < ids.len; off += str_len(ids.s + off) + 1) {
    int code = flush_one(qr, ids.s + off);
    if (code && !worst) worst = code;
    if (a->verbose && !code) run_say("flushed ", ids.s + off, "");
  }
  return worst;
}

/* alias_path - -oA's file, without a "type:" prefix (hash:/etc/aliases) */
static const char *alias_path(const char *f)
{
  size_t colon = str_chr(f, ':');
  return f[colon] && f[colon + 1] == '/' && byte_chr(f, colon, '/') == colon ? f + colon + 1 : f;
}

int modes_aliases(const struct args *a, const struct config *cfg)
{
  static stralloc path;
  char *argv[4];
  if (!(argv[0] = program(cfg, "postern-maps", &path))) return EX_OSERR;
  if (a->alias_file) { argv[1] = "compile"; argv[2] = (char *)alias_path(a->alias_file); argv[3] = 0; }
  else { argv[1] = "newaliases"; argv[2] = 0; }
  return exec_or_fail(argv);
}

int modes_smtp(const struct args *a, const struct config *cfg)
{
  static stralloc path;
  char *argv[3];
  (void)a;
  if (!(argv[0] = program(cfg, "smtp-receive", &path))) return EX_OSERR;
  argv[1] = "-bs";
  argv[2] = 0;
  return exec_or_fail(argv);
}

/* verify_line - one delivery item from queue-run --route, in words; the
 * class of the answer: 0 deliverable, 1 deferred, 2 undeliverable */
static int verify_line(const char *line, size_t len, const stralloc *addrs, stralloc *out, unsigned int *seen, unsigned int n)
{
  const char *f[6];
  size_t l[6], k, pos = 0, idx;
  unsigned int i, cls;
  for (i = 0; i < 6; i++) {
    size_t end = pos + byte_chr(line + pos, len - pos, '\t');
    if (pos > len || (i < 5 && end >= len)) return -1;
    f[i] = line + pos; l[i] = (i == 5 ? len : end) - pos;
    pos = end + 1;
  }
  for (idx = 0, k = 0; k < l[0]; k++) {
    if (f[0][k] < '0' || f[0][k] > '9' || idx > n) return -1;
    idx = idx * 10 + (size_t)(f[0][k] - '0');
  }
  if (!l[0] || idx >= n) return -1;
  seen[idx] = 1;
  for (pos = 0, i = 0; i < idx; i++) pos += str_len(addrs->s + pos) + 1;
  cls = l[1] == 5 && !byte_diff(f[1], 5, "error") ? 2 : l[1] == 5 && !byte_diff(f[1], 5, "retry") ? 1 : 0;
  if (!stralloc_cats(out, "<") || !stralloc_cats(out, addrs->s + pos) || !stralloc_cats(out, ">")) return -1;
  if ((l[2] != str_len(addrs->s + pos) || byte_diff(f[2], l[2], addrs->s + pos)) &&
      (!stralloc_cats(out, " -> <") || !stralloc_catb(out, f[2], l[2]) || !stralloc_cats(out, ">"))) return -1;
  if (!stralloc_cats(out, cls == 2 ? ": undeliverable: " : cls == 1 ? ": deferred: " : ": deliverable: ")) return -1;
  if (cls) return stralloc_catb(out, f[5], l[5]) && stralloc_cats(out, "\n") ? (int)cls : -1;
  if (l[1] == 4 && !byte_diff(f[1], 4, "user"))   /* a system user's own mail: local-deliver ~ */
    return stralloc_cats(out, "local user ") && stralloc_catb(out, f[3], l[3])
        && (!l[5] || (stralloc_cats(out, " (") && stralloc_catb(out, f[5], l[5]) && stralloc_cats(out, ")")))
        && stralloc_cats(out, "\n") ? 0 : -1;
  if (!stralloc_catb(out, f[1], l[1]) || !stralloc_cats(out, " ") || !stralloc_catb(out, f[4], l[4])) return -1;
  if (l[3] && (!stralloc_cats(out, " as user ") || !stralloc_catb(out, f[3], l[3]))) return -1;
  return stralloc_cats(out, "\n") ? 0 : -1;
}

/* verify_report - queue-run's lines in words into text; the worst class,
 * or -1 (unexpected output) */
static int verify_report(const stralloc *out, const struct rcpts *list, unsigned int *seen, stralloc *text)
{
  size_t pos = 0;
  unsigned long off;
  unsigned int i;
  int worst = 0;
  while (pos < out->len) {
    size_t n = byte_chr(out->s + pos, out->len - pos, '\n');
    int c = verify_line(out->s + pos, n, &list->s, text, seen, list->n);
    if (c < 0) return -1;
    if (c > worst) worst = c;
    pos += n + 1;
  }
  for (i = 0, off = 0; i < list->n; i++, off += str_len(list->s.s + off) + 1)
    if (!seen[i] && (!stralloc_cats(text, "<") || !stralloc_cats(text, list->s.s + off)
                     || !stralloc_cats(text, ">: deliverable: the same delivery as an address before it\n"))) return -1;
  return worst;
}

int modes_verify(const struct args *a, const struct config *cfg)
{
  static stralloc path, out, text;
  static struct child_result r;
  static struct rcpts list;
  unsigned int *seen = 0, i;
  unsigned long off;
  char **argv = 0;
  const char *why;
  int code;
  if (rcpts_args(a, cfg, &list, &why) == -1) { run_say(why, "", ""); return EX_USAGE; }
  if (!list.n) { run_say("no addresses to verify", "", ""); return EX_USAGE; }
  if (!(argv = calloc(list.n + 3, sizeof *argv)) || !(seen = calloc(list.n, sizeof *seen)) || !(argv[0] = program(cfg, "queue-run", &path))) {
    free(argv);
    return EX_TEMPFAIL;
  }
  argv[1] = "--route";
  for (i = 0, off = 0; i < list.n; i++, off += str_len(list.s.s + off) + 1) argv[2 + i] = list.s.s + off;
  if (run_program(argv, -1, -1, &out, &r) == -1) { run_say("unable to run ", argv[0], ""); code = EX_OSERR; }
  else if (r.code) code = pass_on(&r);
  else {
    int worst = verify_report(&out, &list, seen, &text);
    if (worst < 0) { run_say("unexpected output from ", argv[0], ""); code = EX_SOFTWARE; }
    else if (text.len && write(1, text.s, text.len) != (ssize_t)text.len) code = EX_IOERR;
    else code = worst == 2 ? EX_NOUSER : worst == 1 ? EX_TEMPFAIL : 0;
  }
  free(argv);
  free(seen);
  return code;
}

int modes_ops(const struct args *a, const struct config *cfg)
{
  static stralloc path;
  char *argv[4];
  if (!run_queue_allowed(cfg))
    return refuse(a->mode == SM_PURGESTAT ? "clear the destination status" : a->mode == SM_STATS ? "read the statistics" : "read the destination status");
  if (!(argv[0] = program(cfg, "queue-run", &path))) return EX_OSERR;
  argv[1] = a->mode == SM_HOSTSTAT ? "--hoststat" : a->mode == SM_PURGESTAT ? "--purgestat" : "--stats";
  argv[2] = a->list_format == SM_LIST_MACHINE ? "--machine" : 0;
  argv[3] = 0;
  return exec_or_fail(argv);
}

int modes_daemon(const struct args *a)
{
  (void)a;
  run_say("postern does not run as a daemon from sendmail -bd: smtp-receive is started per connection by its",
         " socket units (postern-smtpd.socket, postern-submission.socket) or inetd, and queue-run by",
         " postern-queue.service; see sendmail(8)");
  return EX_UNAVAILABLE;
}

int modes_interval(const struct args *a, const struct config *cfg)
{
  struct args once = *a;
  once.flush_kind = 0;
  /* said first: the flush may become queue-run in our place */
  run_say("-q", a->flush_arg, ": running the queue once now; postern does not repeat it: periodic runs are the "
         "job of postern-flush.timer (null client) or postern-queue.service (hub), see sendmail(8)");
  return modes_flush(&once, cfg);
}
