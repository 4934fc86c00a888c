/* remote-send - deliver one message to one destination over SMTP or LMTP.
 *
 *   remote-send [-E envid] [-R ret] [-B body] [-U] destination sender rcpt...
 *   remote-send -V destination rcpt      (a probe without DATA: probe.c)
 *
 * fd 0: the message (LF line ends, no dot-stuffing; normally the open
 * spool file), from its offset when we get it to the end of the file.
 * fd 1: one line per recipient, "rcpt TAB ok|defer|fail TAB text"
 * (DESIGN.md delivery protocol).  fd 2: log lines.  A recipient
 * argument may carry its envelope(5) DSN tags after TABs (Nnotify,
 * Otype;xtext); the options are the message tags E, R, B, U.  fd 3 (with
 * POSTERN_REUSE_FD=3, from remote-spawn): more messages for the same
 * connection (reuse.c).  Exit codes (remote-send.8): 0 the lines hold
 * every result, 64 usage, 74 the message or fd 1 failed, 78
 * configuration; never touches the spool. */
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include "dns.h"
#include "errmsg.h"
#include "byte.h"
#include "str.h"
#include "address.h"
#include "exitcode.h"
#include "log.h"
#include "resolve.h"
#include "rs.h"

static struct config cfg;       /* postern.conf */
static struct job job;          /* sender, recipients, their results */
static struct dest dest;        /* where to */
static struct message msg;      /* the message on fd 0 */
static stralloc why;            /* the last reason a delivery failed */
static char relay[RS_HOST_MAX + 64] = "none";   /* the last server talked to */
static struct session sess;     /* the connection, kept between messages */
static stralloc sess_dest;      /* the destination of an open connection */

/* die_usage - one usage line, exit 64 */
static void die_usage(void)
{
  die(EX_USAGE, "usage: remote-send [-E envid] [-R FULL|HDRS] [-B 7BIT|8BITMIME] [-U] destination sender rcpt...");
}

/* options - the message tags; returns the index of the destination */
static int options(int argc, char **argv)
{
  int c;
  job.envid = job.ret = job.body = 0;
  job.smtputf8 = job.utf8_addr = 0;
  optind = 0;                   /* glibc: start afresh (a request on fd 3) */
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
    if (non_ascii(job.r[i].addr)) job.utf8_addr = 1;
  }
  if (*job.sender && address_check(job.sender, str_len(job.sender), ADDR_UTF8)) die(EX_USAGE, "bad sender ", job.sender);
  if (non_ascii(job.sender)) job.utf8_addr = 1;
}

/* arguments - options, destination, sender, recipients into job */
static void arguments(int argc, char **argv)
{
  int first = options(argc, argv);
  if (argc - first < 3) die_usage();
  job.dest = argv[first];
  job.sender = argv[first + 1];
  recipients(argv + first + 2, (unsigned int)(argc - first - 2));
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
  *have_cred = 0;
  if (!bad && (*have_cred = auth_lookup(cfg.map_dir, &dest, cred, &err)) == -1) {
    if (!stralloc_0(&err)) die(EX_TEMPFAIL, "out of memory");
    result_all(&job, RES_DEFER, err.s);
    return -1;
  }
  dest.has_cred = *have_cred == 1;
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
  return 0;
}

/* why_z - the reason, NUL-terminated */
static const char *why_z(void)
{
  if (!stralloc_0(&why)) die(EX_TEMPFAIL, "out of memory");
  why.len--;
  return why.s;
}

/* again - the message over the connection kept from the last one, if it
 * goes to the same destination; 1 done, 0 connect afresh */
static int again(void)
{
  if (!sess.open) return 0;
  if (str_diff(sess_dest.s, job.dest)) { smtp_quit(&sess); return 0; }
  if (smtp_again(&sess, &why) == 0) {
    str_copy(relay, sess.where);
    result_all(&job, RES_DEFER, why_z());
    return 1;
  }
  log_event(job.id, "relay", sess.where, "status", "reconnect", "reason", why_z(), (char *)0);
  return 0;
}

/* deliver - the addresses in turn until one session completes; the
 * recipients left without a result are deferred, or failed when the
 * destination itself fails for good (NXDOMAIN, null MX, a loop) */
static void deliver(const struct cred *cred, int keep)
{
  static struct targets ts;
  unsigned int next = 0, won;
  int r;
  sess.cfg = &cfg; sess.d = &dest; sess.m = &msg; sess.j = &job; sess.cred = cred; sess.keep = keep;
  net_log_id(job.id);
  if ((r = mx_targets(&ts, &dest, cfg.hostname, &why)) != MX_OK) {
    result_all(&job, r == MX_PERM ? RES_FAIL : RES_DEFER, why_z());
    return;
  }
  while (next < ts.n) {
    int fd = net_connect(&ts, &next, &won, dest.port, cfg.smtp_connect_timeout, &why);
    if (fd == -1) break;
    net_use(fd);
    sess.t = &ts.t[won];
    net_describe(sess.t, dest.port, sess.where, sizeof sess.where);
    r = smtp_session(&sess, &why);
    str_copy(relay, sess.where);
    if (r == 0) break;
    log_event(job.id, "relay", sess.where, "status", "next", "reason", why_z(), (char *)0);
  }
  if (sess.open && !stralloc_copys(&sess_dest, job.dest)) smtp_quit(&sess);
  if (sess.open && !stralloc_0(&sess_dest)) smtp_quit(&sess);
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

/* afresh - a new connection: destination, policy and credentials, read
 * per connection (TLS and AUTH happen once on it), then the delivery */
static void afresh(int keep)
{
  struct cred cred;
  int have_cred;
  if (prepare(&cred, &have_cred) == 0) deliver(have_cred == 1 ? &cred : 0, keep);
  auth_wipe(&cred);
}

/* outbound - on the way out (rewrite.c): the envelope sender and the
 * message rewritten into sender and text when the destination wants it;
 * 0 go on, -1 every recipient deferred (the generic map is unreadable) */
static int outbound(stralloc *sender, stralloc *text)
{
  struct dest d;
  const char *err = 0;
  int r = 0;
  byte_zero(&d, sizeof d);
  if (dest_parse(&d, job.dest, cfg.relayhost) || !rewrite_applies(&d)) return 0;
  if (*job.sender && (r = rewrite_address(job.sender, str_len(job.sender), sender, &err)) == 1) {
    if (!stralloc_0(sender)) { r = -1; err = "4.3.0 out of memory"; }
    else {
      log_event(job.id, "rewrite", "sender", "from", job.sender, "to", sender->s, (char *)0);
      job.sender = sender->s;
      if (non_ascii(job.sender)) job.utf8_addr = 1;
    }
  }
  if (r != -1 && (r = rewrite_message(msg.s, msg.len, text, job.id, &err)) == 1) {
    msg.s = text->s;
    msg.len = text->len;
    data_scan(&msg);
  }
  if (r == -1) { result_all(&job, RES_DEFER, err); return -1; }
  return 0;
}

/* one - deliver the message on fd 0 as job says, results on fd 1: over
 * the kept connection when it goes to the same destination, else afresh */
static void one(int keep)
{
  static stralloc copy, sender, text;
  const char *mapped;
  size_t len;
  alarm(RS_DEADLINE_SECONDS);
  if (data_load(0, &msg, &copy) == -1) diesys(EX_IOERR, "unable to read the message");
  if (!stralloc_copys(&why, "4.4.0 no address to try")) die(EX_TEMPFAIL, "out of memory");
  mapped = msg.s;
  len = msg.len;
  if (outbound(&sender, &text) == 0 && !again()) afresh(keep);
  msg.s = mapped;               /* what data_load mapped */
  msg.len = len;
  data_unload(&msg);
  report();
  alarm(0);
}

/* next_job - after a message: report it done on fd 3 and wait for the next
 * one for the open connection; 1 with fds 0 and 1 and job set up, 0 none */
static int next_job(int ctl)
{
  static char buf[RS_REUSE_MSG_MAX];
  static struct reuse_req r;
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  /* let go of the message and the result pipe: queue-run reads to EOF */
  if (null == -1 || dup2(null, 0) == -1 || dup2(null, 1) == -1) diesys(EX_OSERR, "unable to open /dev/null");
  close(null);
  if (reuse_done(ctl, 0) == -1) return 0;
  if (!reuse_wait(ctl, net_socket(), cfg.smtp_connection_reuse_time, buf, sizeof buf, &r)) return 0;
  if (dup2(r.msgfd, 0) == -1 || dup2(r.outfd, 1) == -1) diesys(EX_OSERR, "unable to take the next message");
  close(r.msgfd);
  close(r.outfd);
  job.id = r.id;
  arguments(r.argc, r.argv);
  return 1;
}

int main(int argc, char **argv)
{
  const char *bad;
  int ctl;
  errmsg_iam("remote-send");
  signal(SIGPIPE, SIG_IGN);
  prctl(PR_SET_DUMPABLE, 0);    /* no core file or ptrace of a process holding a password */
  if (argc > 1 && !str_diff(argv[1], "-V")) return probe_main(argc, argv);   /* probe.c */
  arguments(argc, argv);
  config_load(&cfg, 0);
  log_init("remote-send", cfg.log);
  resolve_timeout(cfg.dns_timeout);
  if ((bad = net_source(cfg.smtp_address_family, cfg.smtp_bind_address, cfg.smtp_bind_address6))
      || (bad = resolve_servers(cfg.dns_servers, cfg.dns_domain_servers)))
    die(EX_CONFIG, bad);        /* temporary: every recipient waits for the fix */
  if ((bad = rewrite_setup(&cfg))) die(EX_CONFIG, bad);
  job.id = getenv("QUEUE_ID");
  seed();
  ctl = cfg.smtp_connection_reuse_time ? reuse_fd() : -1;
  one(ctl != -1);
  while (sess.open && next_job(ctl)) one(1);
  smtp_quit(&sess);
  return 0;
}
