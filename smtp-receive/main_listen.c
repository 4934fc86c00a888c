/* smtp-listen - postern's long-lived SMTP listener: accepts on its
 * listening sockets and runs one session per connection in a forked
 * process (smtp-receive's code, without an exec), inside the sandbox its
 * service manager built once.  The limits (smtpd_max_sessions,
 * smtpd_max_source_sessions, smtpd_source_rate_limit, smtpd_max_load)
 * are kept here: over one, the client gets 421 from the listener itself
 * and no process is started.  SIGHUP rereads postern.conf for new
 * connections; SIGTERM stops accepting and lets the sessions finish
 * (smtpd_shutdown_timeout).  smtp-listen(8); doc/architecture.md "One
 * listener, a fork per connection".
 * Usage: smtp-listen [-C config] [-m mx|submission|smtps]
 *                    [-l [ADDRESS:]PORT]... [-u USER] [-g GROUP[,GROUP]...] */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "byte.h"
#include "errmsg.h"
#include "scan.h"
#include "str.h"
#include "num.h"
#include "exitcode.h"
#include "log.h"
#include "smtp.h"
#include "limit.h"
#include "listen.h"
#include "pool.h"

static struct config cfg;         /* postern.conf, as last read without error */
static struct settings set;       /* its smtpd_* settings */
static const char *conf_arg;      /* -C */
static int mode = MODE_MX;
static int lfd[LISTEN_MAX], nlfd; /* listening sockets */
static int can_setgid;            /* sessions can drop the spool group */
static struct limits lim;
static pid_t spid[LIMIT_SESSIONS_MAX];   /* open sessions: pid, limit slot */
static int sslot[LIMIT_SESSIONS_MAX];
static volatile sig_atomic_t got_chld, got_hup, got_term;
static char **self_argv;              /* for the re-exec */
static int reexec_pending;        /* a session crashed: re-exec before the next accept */
static struct session ready;      /* the maps, open for the next session (policy_maps_ready) */
static int ready_ok;

#define STATE_ENV "POSTERN_LISTEN_STATE"   /* fd of the open sessions across a re-exec */

/* struct carried - an open session, across a re-exec */
struct carried {
  int pid;
  int keyed;                      /* key holds its source */
  unsigned char key[16];
};

/* fatal - why we cannot start, on stderr (where every supervisor and
 * the journal look), then exit 78 */
_Noreturn static void fatal(const char *why, const char *what)
{
  errmsg_warn(why, what ? ": " : "", what ? what : "", "\n", (char *)0);
  _exit(EX_CONFIG);
}

_Noreturn static void usage(void)
{
  fatal("usage: smtp-listen [-C config] [-m mx|submission|smtps] [-l [ADDRESS:]PORT]... [-u USER] [-g GROUP[,GROUP]...]", 0);
}

/* args - the options; -l specs into binds[*nb] */
static void args(int argc, char **argv, const char **binds, int *nb, const char **user, const char **groups)
{
  int i;
  for (i = 1; i < argc; i++) {
    const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : 0;
    if (!v) usage();
    i++;
    if (!str_diff(o, "-C")) conf_arg = v;
    else if (!str_diff(o, "-u")) *user = v;
    else if (!str_diff(o, "-g")) *groups = v;
    else if (!str_diff(o, "-l") && *nb < LISTEN_MAX) binds[(*nb)++] = v;
    else if (!str_diff(o, "-m")) {
      if (!str_diff(v, "mx")) mode = MODE_MX;
      else if (!str_diff(v, "submission")) mode = MODE_SUBMISSION;
      else if (!str_diff(v, "smtps")) mode = MODE_SMTPS;
      else usage();
    } else usage();
  }
}

/* load - read postern.conf into c and s; 0, or -1 with the reason */
static int load(struct config *c, struct settings *s, stralloc *err, const char **why, const char **what)
{
  *what = 0;
  if (config_try(c, conf_arg, err) == -1) { *why = stralloc_0(err) ? err->s : "out of memory"; return -1; }
  if (serve_settings(c, s, why, what) == -1) { config_free(c); return -1; }
  if (c->smtpd_max_sessions > LIMIT_SESSIONS_MAX) {   /* config.c's bound; here in case they part */
    *why = "smtpd_max_sessions is above 4096";
    config_free(c);
    return -1;
  }
  return 0;
}

/* use - make c the configuration of new sessions */
static void use(void)
{
  lim.max_sessions = cfg.smtpd_max_sessions;
  lim.max_source = cfg.smtpd_max_source_sessions;
  lim.rate = cfg.smtpd_source_rate_limit;
  if (cfg.file) setenv("POSTERN_CONF", cfg.file, 1);   /* for a configured injector */
  log_init("smtp-listen", cfg.log);
}

/* forget_maps - in a new injector worker: the listener's session maps
 * unmapped and closed (a worker reads none of them) */
static void forget_maps(void)
{
  policy_close(&ready);
}

/* workers_anew - a new generation of injector workers, forked with the
 * configuration in force (the last one's serve the sessions they have) */
static void workers_anew(void)
{
  if (pool_open() == -1) {
    log_event(0, "status", "warning", "detail", "cannot make a new injector workers' socket; the old workers stay", (char *)0);
    return;
  }
  if (pool_fill(&cfg, 1, forget_maps) < 1) log_event(0, "status", "warning", "detail", "cannot fork an injector worker", (char *)0);
}

/* reload - SIGHUP: a new configuration for new connections; a bad one
 * leaves the old one in force */
static void reload(void)
{
  static stralloc err;
  struct config c;
  struct settings s;
  const char *why, *what;
  if (load(&c, &s, &err, &why, &what) == -1) {
    log_event(0, "status", "reload-failed", "reason", why, what ? "value" : (char *)0, what, (char *)0);
    return;
  }
  policy_close(&ready);   /* map_dir may have changed: opened anew for the next session */
  config_free(&cfg);
  cfg = c;
  set = s;
  use();
  workers_anew();
  log_event(0, "status", "reloaded", "file", cfg.file ? cfg.file : "(defaults)", (char *)0);
}

static void on_signal(int sig)
{
  if (sig == SIGCHLD) got_chld = 1;
  else if (sig == SIGHUP) got_hup = 1;
  else got_term = 1;
}

/* signals - our handlers, and the signals blocked but in ppoll */
static void signals(sigset_t *during_poll)
{
  static const int sigs[] = { SIGCHLD, SIGHUP, SIGTERM, SIGINT };
  struct sigaction sa;
  sigset_t block;
  unsigned int i;
  sigemptyset(&block);
  byte_zero(&sa, sizeof sa);
  sa.sa_handler = on_signal;
  sigfillset(&sa.sa_mask);
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) { sigaddset(&block, sigs[i]); sigaction(sigs[i], &sa, 0); }
  signal(SIGPIPE, SIG_IGN);
  sigprocmask(SIG_BLOCK, &block, during_poll);
  for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) sigdelset(during_poll, sigs[i]);
}

/* peer_ip - the client address as text, IPv4-mapped shown as IPv4 */
static void peer_ip(const struct sockaddr_storage *ss, char *ip, size_t len)
{
  str_copy(ip, "0.0.0.0");
  if (ss->ss_family == AF_INET) inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, len);
  else if (ss->ss_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(a)) inet_ntop(AF_INET, a->s6_addr + 12, ip, len);
    else inet_ntop(AF_INET6, a, ip, len);
  }
}

static void reap(void);

/* refuse - 421 from the listener, without a process: one write that
 * cannot block (the socket is new, its send buffer empty), then close */
static void refuse(int fd, const char *ip, const char *reply, const char *limit)
{
  log_event(0, "status", "reject", "client", ip, "reply", reply, "limit", limit, (char *)0);
  if (send(fd, reply, str_len(reply), MSG_DONTWAIT | MSG_NOSIGNAL) < 0) { /* it left: nobody to tell */ }
  if (send(fd, "\r\n", 2, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) { /* the same */ }
  close(fd);
}

/* session - the forked session process: clean signals, the connection
 * on fds 0 and 1, only the sessions' end of the injector workers' socket
 * kept and the spool group dropped (listen_split), then smtp-receive's
 * session */
_Noreturn static void session(int fd)
{
  static struct session sess;
  struct sigaction sa;
  sigset_t none;
  const char *why;
  int i;
  byte_zero(&sa, sizeof sa);
  sa.sa_handler = SIG_DFL;
  sigaction(SIGCHLD, &sa, 0);
  sigaction(SIGHUP, &sa, 0);
  sigaction(SIGINT, &sa, 0);
  sa.sa_handler = smtp_stop;
  sigfillset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, 0);
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, 0);
  for (i = 0; i < nlfd; i++) close(lfd[i]);
  log_init("smtp-receive", cfg.log);
  if (fcntl(fd, F_SETFL, 0) == -1 || dup2(fd, 0) == -1 || dup2(fd, 1) == -1) _exit(EX_OSERR);
  if (fd > 1) close(fd);
  if (listen_split(can_setgid, &why) == -1) {
    log_event(0, "status", "tempfail", "detail", "cannot start the session", "reason", why, (char *)0);
    if (write(1, "421 4.3.0 Temporary failure; try again later\r\n", 46) < 0) _exit(EX_OSERR);
    _exit(EX_OSERR);
  }
  sess.cfg = &cfg;
  sess.set = set;
  sess.mode = mode;
  if (ready_ok) policy_maps_take(&sess, &ready);
  serve_session(&sess);
}

/* start - a connection passed the limits: fork its session */
static void start(int fd, const char *ip, int slot)
{
  int i;
  pid_t pid;
  for (i = 0; i < LIMIT_SESSIONS_MAX && spid[i]; i++) ;
  ready.cfg = &cfg;
  ready_ok = policy_maps_ready(&ready) == 0;
  if (i == LIMIT_SESSIONS_MAX || (pid = fork()) == -1) {
    limit_release(&lim, slot);
    refuse(fd, ip, "421 4.3.0 Temporary failure; try again later", "cannot fork");
    return;
  }
  if (pid == 0) session(fd);
  spid[i] = pid;
  sslot[i] = slot;
  close(fd);
  /* a worker free for every session, and one more: then no session
   * waits for a fork of ours, and in a steady flow none is forked */
  if (pool_fill(&cfg, lim.sessions + 1, forget_maps) < (int)lim.sessions + 1)
    log_event(0, "status", "warning", "detail", "cannot fork an injector worker", (char *)0);
}

/* admit - one new connection: the limits, then a session or 421 */
static void admit(int fd, const struct sockaddr_storage *ss)
{
  unsigned char key[16];
  char ip[INET6_ADDRSTRLEN];
  int slot, a, exempt;
  peer_ip(ss, ip, sizeof ip);
  reap();   /* a session that just said 221 may have ended since the last signal: its place is free */
  if (policy_overloaded(set.max_load)) {
    refuse(fd, ip, "421 4.3.2 System overloaded, try again later", "smtpd_max_load");
    return;
  }
  /* a balancer's clients are behind its one address: only the total counts */
  exempt = limit_key(ss, key) == -1 || proxy_trusted(ip, cfg.smtpd_limit_exempt) ||
           proxy_trusted(ip, cfg.smtpd_proxy_trusted);
  a = limit_admit(&lim, exempt ? 0 : key, (unsigned long)time(0), &slot);
  if (a == LIMIT_OK) { start(fd, ip, slot); return; }
  refuse(fd, ip, a == LIMIT_TOTAL ? "421 4.7.0 Too many connections; try again later"
                 : a == LIMIT_RATE ? "421 4.7.0 Too many connections from your address; slow down"
                 : "421 4.7.0 Too many connections from your address; try again later", limit_name(a));
}

/* accept_all - take what waits on listening socket fd, a bounded batch */
static void accept_all(int fd)
{
  int i;
  for (i = 0; i < 64; i++) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c == -1) return;   /* EAGAIN: done; a client gone already; EMFILE: next round */
    admit(c, &ss);
  }
}

/* reap - ended children: sessions give back their place; an injector
 * worker that crashed is a crash as a session's is; the workers of an
 * older image and the orphaned injectors we adopt (subreaper) are only
 * reaped */
static void reap(void)
{
  int status, i, bad;
  pid_t pid;
  while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
    const char *who = "a session";
    if (pool_reaped(pid, status, &bad)) who = "an injector worker";
    else {
      for (i = 0; i < LIMIT_SESSIONS_MAX && spid[i] != pid; i++) ;
      if (i == LIMIT_SESSIONS_MAX) continue;
      spid[i] = 0;
      limit_release(&lim, sslot[i]);
      bad = pool_crashed(status);
    }
    if (bad) {
      char sig[NUM_ULONG], detail[120];
      str_copy(detail, who);
      str_copy(detail + str_len(detail), " was killed by a signal; re-executing for a new address layout and stack canary");
      log_event(0, "status", "crash", "detail", detail, "signal", num_str(sig, (unsigned long)WTERMSIG(status)), (char *)0);
      reexec_pending = 1;
    }
  }
}

/* carry - the open sessions into a memfd for the next image; its fd or -1 */
static int carry(void)
{
  int fd = memfd_create("smtp-listen-sessions", 0), i;
  if (fd == -1) return -1;
  for (i = 0; i < LIMIT_SESSIONS_MAX; i++) {
    struct carried c;
    if (!spid[i]) continue;
    byte_zero(&c, sizeof c);
    c.pid = (int)spid[i];
    if (sslot[i] >= 0) { c.keyed = 1; byte_copy(c.key, 16, lim.slot[sslot[i]].key); }
    if (write(fd, &c, sizeof c) != sizeof c) { close(fd); return -1; }
  }
  return fd;
}

/* reexec - after a crashed session: run our own program anew, so that
 * the sessions forked from now on have a new address layout and stack
 * canary and whatever a crash taught about the old ones is worthless.
 * The listening sockets go along as LISTEN_FDS, the open sessions in a
 * memfd; the credentials are those we have (CAP_SETGID is ambient).  If
 * it fails we go on as we are. */
static void reexec(void)
{
  char num[NUM_ULONG];
  int hi[LISTEN_MAX], i, state;
  reexec_pending = 0;
  if ((state = carry()) == -1) { log_event(0, "status", "reexec-failed", "reason", "memfd", (char *)0); return; }
  for (i = 0; i < nlfd; i++) hi[i] = fcntl(lfd[i], F_DUPFD, 3 + LISTEN_MAX + 1);
  int st = fcntl(state, F_DUPFD, 3 + LISTEN_MAX + 1);
  close(state);
  for (i = 0; i < nlfd; i++) if (hi[i] == -1 || dup2(hi[i], 3 + i) == -1) break;
  if (i < nlfd || st == -1 || dup2(st, 3 + nlfd) == -1) {
    log_event(0, "status", "reexec-failed", "reason", "cannot arrange the descriptors", (char *)0);
    _exit(EX_OSERR);   /* the sockets may be shuffled: the supervisor starts us again */
  }
  for (i = 0; i < nlfd; i++) close(hi[i]);
  close(st);
  setenv("LISTEN_PID", num_str(num, (unsigned long)getpid()), 1);
  setenv("LISTEN_FDS", num_str(num, (unsigned long)nlfd), 1);
  setenv(STATE_ENV, num_str(num, (unsigned long)(3 + nlfd)), 1);
  execv("/proc/self/exe", self_argv);
  log_event(0, "status", "reexec-failed", "reason", "exec", (char *)0);
  _exit(EX_OSERR);
}

/* adopt - after a re-exec: count the sessions the old image started */
static void adopt(void)
{
  const char *e = getenv(STATE_ENV);
  unsigned long fd;
  struct carried c;
  int i = 0;
  if (!e) return;
  if (e[scan_ulong(e, &fd)] || fd < 3 || fd > 3 + LISTEN_MAX) fatal(STATE_ENV " is not a descriptor", e);
  lseek((int)fd, 0, SEEK_SET);
  while (read((int)fd, &c, sizeof c) == sizeof c) {
    while (i < LIMIT_SESSIONS_MAX && spid[i]) i++;
    if (i == LIMIT_SESSIONS_MAX || c.pid <= 0) break;
    spid[i] = c.pid;
    sslot[i] = limit_adopt(&lim, c.keyed ? c.key : 0, (unsigned long)time(0));
  }
  close((int)fd);
  unsetenv(STATE_ENV);
  char num[NUM_ULONG];
  log_event(0, "status", "reexecuted", "sessions", num_str(num, lim.sessions), (char *)0);
}

/* signal_sessions - sig to every open session */
static void signal_sessions(int sig)
{
  int i;
  for (i = 0; i < LIMIT_SESSIONS_MAX; i++) if (spid[i]) kill(spid[i], sig);
}

/* serve - the accept loop until SIGTERM, then the wait for the sessions */
static void serve(const sigset_t *during_poll)
{
  struct pollfd p[LISTEN_MAX];
  struct timespec stop_at = { 0, 0 }, tick = { 1, 0 };
  int i;
  for (i = 0; i < nlfd; i++) { p[i].fd = lfd[i]; p[i].events = POLLIN; }
  for (;;) {
    int n = ppoll(p, (nfds_t)nlfd, got_term ? &tick : 0, during_poll);
    if (got_chld) { got_chld = 0; reap(); }
    if (reexec_pending && !got_term) reexec();
    if (got_hup) { got_hup = 0; reload(); }
    if (got_term) {
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      if (nlfd) {   /* the first round: stop accepting, tell the sessions */
        for (i = 0; i < nlfd; i++) close(lfd[i]);
        nlfd = 0;
        stop_at = now;
        stop_at.tv_sec += (time_t)cfg.smtpd_shutdown_timeout;
        signal_sessions(SIGTERM);
        char num[NUM_ULONG];
        log_event(0, "status", "stopping", "sessions", num_str(num, lim.sessions), (char *)0);
      }
      if (!lim.sessions) return;
      if (now.tv_sec >= stop_at.tv_sec) {
        char num[NUM_ULONG];
        log_event(0, "status", "stop-timeout", "killed", num_str(num, lim.sessions), (char *)0);
        signal_sessions(SIGKILL);
        return;
      }
      continue;
    }
    if (n <= 0) continue;
    for (i = 0; i < nlfd; i++) if (p[i].revents) accept_all(lfd[i]);
  }
}

/* sockets - from systemd, or bound from -l; then, as root, the drop to
 * -u and -g before any connection is accepted */
static void sockets(const char **binds, int nb, const char *user, const char *groups)
{
  const char *why;
  int i;
  nlfd = listen_inherited(lfd, LISTEN_MAX, &why);
  if (nlfd == -1) fatal(why, 0);
  /* nothing else a supervisor left open reaches the sessions */
  if (close_range((unsigned int)(3 + nlfd + (getenv(STATE_ENV) != 0)), ~0U, 0) == -1)
    for (i = 3 + nlfd + (getenv(STATE_ENV) != 0); i < 1024; i++) close(i);
  if (getenv(STATE_ENV)) {   /* our own re-exec: sockets bound, credentials set */
    if (!nlfd) fatal("re-executed without sockets", 0);
    return;
  }
  if (nlfd && nb) fatal("sockets both from systemd (LISTEN_FDS) and from -l: give one", 0);
  if (!nlfd && !nb)
    fatal("no socket to listen on: give -l [ADDRESS:]PORT, or start smtp-listen by socket activation (LISTEN_FDS)", 0);
  for (i = 0; i < nb; i++)
    if ((lfd[nlfd++] = listen_bind(binds[i], &why)) == -1) fatal(why, binds[i]);
  if (getuid() == 0 || geteuid() == 0) {
    if (!user) fatal("running as root: -u USER is needed (sessions never run as root)", 0);
    if (listen_drop(user, groups, &why) == -1) fatal(why, user);
  } else if (user || groups) fatal("-u and -g need root", 0);
}

/* fds - fd 2 must exist, or a pipe could land there */
static void fds(void)
{
  if (fcntl(2, F_GETFD) == -1 && open("/dev/null", O_WRONLY) != 2) _exit(EX_OSERR);
}

int main(int argc, char **argv)
{
  static stralloc err;
  const char *binds[LISTEN_MAX], *user = 0, *groups = 0, *why, *what;
  sigset_t during_poll;
  int nb = 0;
  /* first: no core files of mail, and no same-uid process (a session)
   * may attach to us or read our memory, not even right after a re-exec */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  prctl(PR_SET_NAME, "smtp-listen", 0, 0, 0);   /* after our re-exec of /proc/self/exe it would be "exe" */
  self_argv = argv;
  errmsg_iam("smtp-listen");
  fds();
  log_init("smtp-listen", LOGTO_AUTO);
  args(argc, argv, binds, &nb, &user, &groups);
  if (load(&cfg, &set, &err, &why, &what) == -1) fatal(why, what);
  use();
  signals(&during_poll);
  sockets(binds, nb, user, groups);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) fatal("cannot set no_new_privs", 0);   /* no set-id program regains anything */
  prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);   /* orphaned injector programs come back to us */
  adopt();
  can_setgid = listen_can_setgid();
  if (pool_open() == -1) fatal("cannot make the injector workers' socket", 0);
  if (pool_fill(&cfg, 1, forget_maps) < 1) fatal("cannot fork an injector worker", 0);
  if (!can_setgid && getgroups(0, 0) > 0)
    log_event(0, "status", "warning", "detail", "no CAP_SETGID: sessions keep the supplementary groups (the spool group)", (char *)0);
  log_event(0, "status", "listening", "sockets", num_str((char[NUM_ULONG]){0}, (unsigned long)nlfd), (char *)0);
  serve(&during_poll);
  log_event(0, "status", "stopped", (char *)0);
  return 0;
}
