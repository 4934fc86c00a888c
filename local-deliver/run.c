/* run.c - one run of local-deliver (ld_run): the arguments, our user
 * (never root), the configuration, the loop check, the delivery by the
 * form of the destination, and the protocol line on fd 1.  main.c calls
 * it; so does local-spawn, in the child it forked and made the
 * recipient's user, instead of executing local-deliver (doc/architecture.md
 * "local-spawn runs local-deliver's code without an exec"). */
#include <pwd.h>
#include <signal.h>
#include <sysexits.h>
#include <unistd.h>
#include "buffer.h"
#include "errmsg.h"
#include "str.h"
#include "address.h"
#include "delivery.h"
#include "exitcode.h"
#include "log.h"
#include "ld.h"

static struct ld d;   /* this run */

/* report - the protocol line on fd 1, then exit with r's code */
_Noreturn static void report(const struct ld_result *r)
{
  char space[1024];
  buffer b = BUFFER_INIT(write, 1, space, sizeof space);
  int cls = exitcode_class(r->code);
  delivery_put(&b, d.recipient ? d.recipient : "?",
               cls == EXIT_DONE ? DELIVERY_OK : cls == EXIT_TEMP ? DELIVERY_DEFER : DELIVERY_FAIL, r->text);
  buffer_flush(&b);
  _exit(r->code);
}

/* fail_early - a result before the delivery started */
_Noreturn static void fail_early(int code, const char *status, const char *what, const char *arg)
{
  struct ld_result r;
  if (exitcode_class(code) == EXIT_TEMP) ld_temp(&r, status, what, arg);
  else ld_perm(&r, code, status, what, arg);
  r.code = code;
  report(&r);
}

/* who - our user from the password file (or the entry our caller looked
 * up and became: no second lookup), and the root refusal */
static void who(const struct passwd *pw)
{
  if (getuid() == 0 || geteuid() == 0) fail_early(EX_TEMPFAIL, "4.3.0", "local-deliver refuses to run as root", 0);
  if (pw && pw->pw_uid != getuid()) pw = 0;
  if (!pw && !(pw = getpwuid(getuid()))) fail_early(EX_TEMPFAIL, "4.3.0", "unable to find our user in the password file", 0);
  d.uid = pw->pw_uid;
  d.user = pw->pw_name;
  d.home = pw->pw_dir;
}

/* arguments - [-C config] sender recipient destination */
static const char *arguments(int argc, char **argv)
{
  const char *conf = 0;
  if (argc >= 3 && !str_diff(argv[1], "-C")) { conf = argv[2]; argc -= 2; argv += 2; }
  if (argc != 4) {
    d.recipient = argc >= 3 ? argv[2] : 0;
    fail_early(EX_USAGE, "5.3.5", "usage: local-deliver [-C config] sender recipient destination", 0);
  }
  d.sender = argv[1]; d.recipient = argv[2]; d.dest = argv[3];
  if (*d.sender && address_check(d.sender, str_len(d.sender), ADDR_UTF8))
    fail_early(EX_USAGE, "5.1.7", "invalid sender address", 0);
  if (address_check(d.recipient, str_len(d.recipient), ADDR_UTF8))
    fail_early(EX_USAGE, "5.1.3", "invalid recipient address", 0);
  return conf;
}

/* load_config - postern.conf; an error is temporary (EX_CONFIG) */
static void load_config(const char *conf)
{
  stralloc err = { 0 };
  if (config_try(&d.cfg, conf, &err) == 0) return;
  if (!stralloc_0(&err)) fail_early(EX_CONFIG, "4.3.5", "configuration error", 0);
  fail_early(EX_CONFIG, "4.3.5", "configuration error: ", err.s);
}

/* deliver - by the form of the destination */
static void deliver(struct ld_result *r)
{
  const char *t = d.dest;
  size_t len = str_len(t);
  if (!str_diff(t, "~")) ld_user(&d, r);
  else if (t[0] == '|') ld_program(&d, t + 1, 0, r);
  else if (t[0] == '/' && t[len - 1] == '/') ld_maildir(&d, t, r);
  else if (t[0] == '/') ld_mbox(&d, t, r);
  else ld_perm(r, EX_USAGE, "5.3.5", "unknown destination form: ", t);
}

void ld_run(int argc, char **argv)
{
  ld_run_as(argc, argv, 0);
}

void ld_run_as(int argc, char **argv, const struct passwd *pw)
{
  struct ld_result r;
  const char *conf;
  errmsg_iam("local-deliver");
  signal(SIGPIPE, SIG_IGN);          /* a program that stops reading is an error, not a death */
  signal(SIGXFSZ, SIG_IGN);          /* a file size limit is a write error: roll back, defer */
  conf = arguments(argc, argv);
  who(pw);                           /* refuses root */
  load_config(conf);
  log_init("local-deliver", d.cfg.log);
  if (ld_prepare(&d) == -1) fail_early(EX_TEMPFAIL, "4.3.0", "out of memory", 0);
  if (ld_mark(0) == -1) fail_early(EX_TEMPFAIL, "4.3.0", "unable to read the message", 0);
  switch (ld_loop(0, d.recipient)) {
  case 1: fail_early(EX_UNAVAILABLE, "5.4.6", "mail loop: the message was already delivered to ", d.recipient);
  case -1: fail_early(EX_TEMPFAIL, "4.3.0", "unable to read the message", 0);
  }
  deliver(&r);
  report(&r);
}
