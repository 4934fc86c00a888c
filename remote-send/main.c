/* remote-send - deliver one message to one destination over SMTP or LMTP.
 *
 *   remote-send [-E envid] [-R ret] [-B body] [-U] destination sender rcpt...
 *
 * fd 0: the message (LF line ends, no dot-stuffing; normally the open
 * spool file).  fd 1: one line per recipient, "rcpt TAB ok|defer|fail TAB
 * text" (DESIGN.md delivery protocol).  fd 2: log lines.  A recipient
 * argument may carry its envelope(5) DSN tags after TABs (Nnotify,
 * Otype;xtext); the options are the message tags E, R, B, U.  Exit
 * codes (remote-send.8): 0 the lines hold every result, 64 usage, 74 the
 * message or fd 1 failed, 78 configuration; never touches the spool. */
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/random.h>
#include "dns.h"
#include "errmsg.h"
#include "str.h"
#include "address.h"
#include "exitcode.h"
#include "log.h"
#include "rs.h"

static struct config cfg;       /* postern.conf */
static struct job job;          /* sender, recipients, their results */
static struct dest dest;        /* where to */
static struct message msg;      /* the message on fd 0 */
static stralloc why;            /* the last reason a delivery failed */
static char relay[RS_HOST_MAX + 64] = "none";   /* the last server talked to */

/* die_usage - one usage line, exit 64 */
static void die_usage(void)
{
  die(EX_USAGE, "usage: remote-send [-E envid] [-R FULL|HDRS] [-B 7BIT|8BITMIME] [-U] destination sender rcpt...");
}

/* options - the message tags; returns the index of the destination */
static int options(int argc, char **argv)
{
  int c;
  while ((c = getopt(argc, argv, "+E:R:B:U")) != -1)
    switch (c) {
    case 'E': job.envid = optarg; break;
    case 'R': job.ret = optarg; break;
    case 'B': job.body = optarg; break;
    case 'U': job.smtputf8 = 1; break;
    default: die_usage();
    }
  return optind;
}

/* non_ascii - a byte above 127: the address needs SMTPUTF8 */
static int non_ascii(const char *s)
{
  for (; *s; s++) if ((unsigned char)*s > 127) return 1;
  return 0;
}

/* recipients - parse the arguments into job */
static void recipients(char **argv, unsigned int n)
{
  static stralloc space;
  unsigned int i;
  if (!stralloc_ready(&space, n * sizeof(struct rcpt))) die(EX_TEMPFAIL, "out of memory");
  job.r = (struct rcpt *)space.s;
  job.n = n;
  for (i = 0; i < n; i++) {
    if (rcpt_parse(&job.r[i], argv[i]) == -1) die(EX_USAGE, "bad recipient argument ", argv[i]);
    if (non_ascii(job.r[i].addr)) job.smtputf8 = 1;
  }
  if (*job.sender && address_check(job.sender, str_len(job.sender), ADDR_UTF8)) die(EX_USAGE, "bad sender ", job.sender);
  if (non_ascii(job.sender)) job.smtputf8 = 1;
}

/* seed - libowfat's DNS query ids and our MX tie-breaks from the kernel */
static void seed(void)
{
  char s[128];
  if (getrandom(s, sizeof s - 1, 0) != (ssize_t)sizeof s - 1) die(EX_OSERR, "unable to get random bytes");
  s[sizeof s - 1] = 0;
  dns_random_init(s);
}

/* prepare - destination, TLS policy, credentials; 0, or -1 with every
 * recipient deferred (a configuration problem: the mail waits for a fix) */
static int prepare(struct cred *cred, int *have_cred)
{
  static stralloc v, err;
  const char *bad = dest_parse(&dest, job.dest, cfg.relayhost);
  int r;
  if (!bad) {
    r = dest_lookup_policy(&dest, cfg.map_dir, &v);
    if (r == -1) bad = "unable to read tls-policy.cdb";
    else if (stralloc_0(&v)) bad = dest_policy(&dest, &cfg, r == 1 ? v.s : 0);
    else bad = "out of memory";
  }
  if (bad) {
    if (!stralloc_copys(&err, "4.3.5 bad route ") || !stralloc_cats(&err, job.dest) ||
        !stralloc_cats(&err, ": ") || !stralloc_cats(&err, bad) || !stralloc_0(&err)) die(EX_TEMPFAIL, "out of memory");
    result_all(&job, RES_DEFER, err.s);
    return -1;
  }
  if ((*have_cred = auth_lookup(cfg.map_dir, &dest, cred, &err)) == -1) {
    if (!stralloc_0(&err)) die(EX_TEMPFAIL, "out of memory");
    result_all(&job, RES_DEFER, err.s);
    return -1;
  }
  return 0;
}

/* why_z - the reason, NUL-terminated */
static const char *why_z(void)
{
  if (!stralloc_0(&why)) die(EX_TEMPFAIL, "out of memory");
  why.len--;
  return why.s;
}

/* deliver - the addresses in turn until one session completes; the
 * recipients left without a result are deferred, or failed when the
 * destination itself fails for good (NXDOMAIN, null MX, a loop) */
static void deliver(const struct cred *cred)
{
  static struct targets ts;
  static struct session s;
  unsigned int next = 0, won;
  int r = mx_targets(&ts, &dest, cfg.hostname, &why);
  if (r != MX_OK) { result_all(&job, r == MX_PERM ? RES_FAIL : RES_DEFER, why_z()); return; }
  s.cfg = &cfg; s.d = &dest; s.m = &msg; s.j = &job; s.cred = cred;
  while (next < ts.n) {
    int fd = net_connect(&ts, &next, &won, dest.port, cfg.smtp_connect_timeout, &why);
    if (fd == -1) break;
    net_use(fd);
    s.t = &ts.t[won];
    net_describe(s.t, dest.port, s.where, sizeof s.where);
    r = smtp_session(&s, &why);
    net_close();
    str_copy(relay, s.where);
    if (r == 0) break;
    log_event(job.id, "relay", s.where, "status", "next", "reason", why_z(), (char *)0);
  }
  result_all(&job, RES_DEFER, why_z());
}

/* report - log each result and write the lines */
static void report(void)
{
  static const char *const word[] = { "deferred", "sent", "deferred", "bounced" };
  unsigned int i;
  for (i = 0; i < job.n; i++) {
    char to[ADDR_MAX + 3];
    size_t n = str_copy(to, "<");
    n += str_copy(to + n, job.r[i].addr);
    str_copy(to + n, ">");
    log_event(job.id, "to", to, "dest", job.dest, "relay", relay, "status", word[job.r[i].state], "reply", job.r[i].text, (char *)0);
  }
  if (result_write(&job, 1) == -1) diesys(EX_IOERR, "unable to write the results");
}

int main(int argc, char **argv)
{
  struct cred cred;
  int have_cred = 0, first;
  stralloc copy = { 0 };
  errmsg_iam("remote-send");
  signal(SIGPIPE, SIG_IGN);
  alarm(RS_DEADLINE_SECONDS);
  first = options(argc, argv);
  if (argc - first < 3) die_usage();
  job.dest = argv[first];
  job.sender = argv[first + 1];
  recipients(argv + first + 2, (unsigned int)(argc - first - 2));
  config_load(&cfg, 0);
  log_init("remote-send", cfg.log);
  job.id = getenv("QUEUE_ID");
  seed();
  if (prepare(&cred, &have_cred) == 0) {
    if (data_load(0, &msg, &copy) == -1) diesys(EX_IOERR, "unable to read the message");
    if (!stralloc_copys(&why, "4.4.0 no address to try")) die(EX_TEMPFAIL, "out of memory");
    deliver(have_cred == 1 ? &cred : 0);
    auth_wipe(&cred);
  }
  report();
  return 0;
}
