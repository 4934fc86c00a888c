/* test_inject.c - running the injector (inject_child_*): the reply is the
 * last non-empty stderr line (CR dropped, a line without LF counted, long
 * lines cut), the lines before it kept or passed to our fd 2, stdout
 * captured, exit codes and signals, the deadline (also for a child that
 * closed its stderr), SIGPIPE/SIGXFSZ default and no blocked signal in a
 * spawned child, the clean environment, and the forked spool-inject:
 * queued under the id asked for, and still when close_range(2) is refused
 * (the fallback must close the caller's end of the child's stdin pipe);
 * never under an id asked for that a message in new/ (or a body of the
 * older layout in mess/, or another writer's file in tmp/) already has,
 * which is left as it was; committed by link(2) where renameat2's
 * RENAME_NOREPLACE is refused;
 * INJECT_IN_PROCESS (sendmail's: no fork, queued, refused, and our fds,
 * directory, signal handlers and log name as they were, also with
 * clone(2) refused); and the injector workers of smtp-listen's sessions (inject_helper):
 * messages queued and filters run through them, the injection not our
 * child, a deadline that kills its injector leaving them in step, a
 * worker killed in a message (the next goes to another), a request nobody
 * waits for not run, a malformed request dropped, the idle timeout, and
 * the end when the sessions' end closes. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "t.h"
#include "../inject.h"
#include "../exitcode.h"
#include "../wbuf.h"
#include "../spool.h"
#include "../log.h"

static struct child_result r;

/* sh - run /bin/sh -c script as a child, waited for with seconds and flags */
static int sh(const char *script, unsigned int seconds, int flags, stralloc *out)
{
  char *argv[4] = { "/bin/sh", "-c", (char *)script, 0 };
  struct child c;
  if (child_start(&c, argv, 0, -1, -1, out) == -1) return -1;
  child_wait(&c, seconds, flags, &r);
  return 0;
}

/* mask - the hex mask of a /proc status line ("SigIgn:\t0000...") */
static unsigned long long mask(const char *line)
{
  const char *tab = strchr(line, '\t');
  return tab ? strtoull(tab + 1, 0, 16) : ~0ULL;
}

static void children(void)
{
  stralloc out = { 0 };
  struct timespec a, b;
  sh("echo log1 >&2; echo log2 >&2; echo '250 2.0.0 ok' >&2", 10, CHILD_KEEP_LOG, 0);
  T_OK("reply: the last line", r.code == 0 && !r.late && !strcmp(r.reply, "250 2.0.0 ok"));
  T_OK("KEEP_LOG: all of stderr kept", r.log.len == 23 && !memcmp(r.log.s, "log1\nlog2\n250 2.0.0 ok\n", 23));
  sh("echo '451 4.3.0 busy' >&2; echo >&2; echo >&2; exit 75", 10, 0, 0);
  T_OK("reply: the last non-empty line; exit code 75", r.code == 75 && !strcmp(r.reply, "451 4.3.0 busy"));
  T_OK("without KEEP_LOG nothing is kept", r.log.len == 0);
  sh("printf 'log\\r\\n554 5.7.1 no\\r\\n' >&2; exit 65", 10, 0, 0);
  T_OK("reply: CR dropped", r.code == 65 && !strcmp(r.reply, "554 5.7.1 no"));
  sh("printf 'a\\n452 no newline' >&2; exit 75", 10, 0, 0);
  T_OK("reply: a last line without LF", !strcmp(r.reply, "452 no newline"));
  sh("head -c 5000 /dev/zero | tr '\\0' x >&2; echo >&2", 10, 0, 0);
  T_OK("reply: a long line is cut at CHILD_REPLY_MAX", strlen(r.reply) == CHILD_REPLY_MAX && r.reply[0] == 'x');
  sh("kill -9 $$", 10, 0, 0);
  T_OK("death by a signal: EX_TEMPFAIL, not late", r.code == EX_TEMPFAIL && !r.late);
  sh("echo out; echo err >&2", 10, 0, &out);
  T_OK("stdout captured into out_sa", out.len == 4 && !memcmp(out.s, "out\n", 4) && !strcmp(r.reply, "err"));

  clock_gettime(CLOCK_MONOTONIC, &a);
  sh("echo 'started' >&2; sleep 30", 1, 0, 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  T_OK("deadline: killed, EX_TEMPFAIL, late", r.code == EX_TEMPFAIL && r.late);
  T_OK("deadline: within a second or two", b.tv_sec - a.tv_sec < 4);
  clock_gettime(CLOCK_MONOTONIC, &a);
  sh("exec 2>&-; sleep 30", 1, 0, 0);
  clock_gettime(CLOCK_MONOTONIC, &b);
  T_OK("deadline: also for a child that closed its stderr and lives on", r.code == EX_TEMPFAIL && r.late && b.tv_sec - a.tv_sec < 4);

  /* we ignore PIPE and XFSZ and block TERM; the child must not */
  {
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigprocmask(SIG_BLOCK, &term, &old);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGXFSZ, SIG_IGN);
    sh("grep SigIgn /proc/self/status >&2", 10, 0, 0);
    unsigned long long ign = mask(r.reply);
    sh("grep SigBlk /proc/self/status >&2", 10, 0, 0);
    unsigned long long blk = mask(r.reply);
    signal(SIGPIPE, SIG_DFL);
    signal(SIGXFSZ, SIG_DFL);
    sigprocmask(SIG_SETMASK, &old, 0);
    T_OK("spawned: SIGPIPE and SIGXFSZ at their defaults", !(ign & (1ULL << (SIGPIPE - 1))) && !(ign & (1ULL << (SIGXFSZ - 1))));
    T_OK("spawned: no signal blocked", blk == 0);
  }

  /* PASS_LOG: the lines before the reply go to our fd 2 */
  {
    int save = dup(2), m = memfd_create("err", 0);
    char got[64];
    ssize_t n;
    dup2(m, 2);
    sh("echo one >&2; echo two >&2; echo '250 done' >&2", 10, CHILD_PASS_LOG, 0);
    dup2(save, 2);
    close(save);
    n = pread(m, got, sizeof got - 1, 0);
    close(m);
    T_OK("PASS_LOG: earlier lines passed on, the reply kept", n == 8 && !memcmp(got, "one\ntwo\n", 8) && !strcmp(r.reply, "250 done"));
  }
  stralloc_free(&out);
}

static char dir[64];

/* script - an executable file in dir */
static const char *script(const char *name, const char *text)
{
  static char fn[128];
  int fd;
  snprintf(fn, sizeof fn, "%s/%s", dir, name);
  fd = open(fn, O_WRONLY | O_CREAT | O_TRUNC, 0755);
  if (fd == -1 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) abort();
  close(fd);
  return fn;
}

/* memfile - a memory file holding s, rewound */
static int memfile(const char *s, size_t len)
{
  int fd = memfd_create("f", MFD_CLOEXEC);
  if (fd == -1 || write(fd, s, len) != (ssize_t)len || lseek(fd, 0, SEEK_SET) != 0) abort();
  return fd;
}

/* envfile - the envelope a@b.test -> c@d.test in a memory file */
static int envfile(void)
{
  static char space[1024];
  struct envelope e;
  buffer b;
  int fd = memfd_create("e", MFD_CLOEXEC);
  envelope_init(&e);
  envelope_set_sender(&e, "a@b.test", 8);
  envelope_add_rcpt(&e, "c@d.test", 8);
  wbuf_init(&b, fd, space, sizeof space);
  if (envelope_write(&b, &e) == -1 || wbuf_flush(&b) == -1 || lseek(fd, 0, SEEK_SET) != 0) abort();
  envelope_free(&e);
  return fd;
}

/* forked - the forked spool-inject on a pipe for the message (written and
 * closed by us, as smtp-receive does), the envelope from a memory file;
 * 0 queued under want */
static int forked_as(const struct config *cfg, const char *want, int flags)
{
  struct child c;
  int p[2], env = envfile();
  size_t n;
  if (pipe2(p, O_CLOEXEC) == -1) return -1;
  if (inject_child_start(&c, cfg, want, p[0], env, flags) == -1) return -1;
  close(p[0]);
  close(env);
  if (write(p[1], "Subject: x\n\nhi\n", 15) != 15) return -1;
  close(p[1]);
  child_wait(&c, 5, CHILD_KEEP_LOG, &r);
  n = strlen(r.reply);
  return r.code == 0 && n > strlen(want) && !strcmp(r.reply + n - strlen(want), want) ? 0 : -1;
}

static int forked(const struct config *cfg, const char *want)
{
  return forked_as(cfg, want, 0);
}

/* refuse - a seccomp filter: the system call nr fails with errno e */
static int refuse(unsigned int nr, unsigned int e)
{
  struct sock_filter f[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
    BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, nr, 0, 1),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (e & SECCOMP_RET_DATA)),
    BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = { sizeof f / sizeof f[0], f };
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) return -1;
  return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int wsock = -1;   /* the workers' end of the request socket, kept to fork more on it */

/* send_fds - one packet on sock: an empty wanted id and n fds; 1 if sent */
static int send_fds(int sock, const int *fds, int n)
{
  char space[CMSG_SPACE(4 * sizeof(int))];
  struct iovec iov = { "", 1 };
  struct msghdr m;
  struct cmsghdr *cm;
  if (n > 4) return 0;
  memset(&m, 0, sizeof m); memset(space, 0, sizeof space);
  m.msg_iov = &iov; m.msg_iovlen = 1; m.msg_control = space; m.msg_controllen = CMSG_SPACE(n * sizeof(int));
  cm = CMSG_FIRSTHDR(&m);
  cm->cmsg_level = SOL_SOCKET; cm->cmsg_type = SCM_RIGHTS; cm->cmsg_len = CMSG_LEN(n * sizeof(int));
  memcpy(CMSG_DATA(cm), fds, n * sizeof(int));
  return sendmsg(sock, &m, 0) == 1;
}

/* start_worker - one more injector worker for cfg on wsock, as
 * smtp-listen forks them (it keeps the cfg it was forked with); its pid */
static pid_t start_worker(const struct config *cfg)
{
  pid_t h = fork();
  if (h == 0) { close(inject_helper); inject_worker_serve(cfg, wsock); }
  return h;
}

/* start_helper - a new request socket pair and its first worker; its pid */
static pid_t start_helper(const struct config *cfg)
{
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) return -1;
  inject_helper = sv[0];
  wsock = sv[1];
  return start_worker(cfg);
}

/* end_helper - the sessions' and our worker end closed: the workers end */
static void end_helper(void)
{
  close(inject_helper);
  close(wsock);
  inject_helper = wsock = -1;
}

/* count_dir - entries of a directory but . and .., -1 if it cannot be read */
static int count_dir(const char *path)
{
  DIR *d = opendir(path);
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d))) if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n;
}

/* through_helper - one small message through the helper: started? */
static int through_helper(const struct config *cfg, unsigned int seconds, pid_t *pid)
{
  struct child c;
  int msg = memfile("x\n", 2), env = envfile();
  int started = inject_child_start(&c, cfg, 0, msg, env, 0) == 0;
  close(msg); close(env);
  if (started && pid) *pid = c.pid;
  if (started) child_wait(&c, seconds, 0, &r);
  return started;
}

/* body_is - is new/<the id in r.reply> a one-file message whose body
 * offset is off and whose body is want (len bytes)? */
static int body_is(const struct config *cfg, unsigned long off, const char *want, size_t len)
{
  static char got[1 << 17];
  const char *as = strstr(r.reply, "queued as ");
  char fn[256];
  struct spool_head h;
  struct stat st;
  ssize_t n = -1;
  int fd;
  if (!as || len > sizeof got) return 0;
  snprintf(fn, sizeof fn, "%s/new/%s", cfg->spool, as + 10);
  if ((fd = open(fn, O_RDONLY)) == -1) return 0;
  if (fstat(fd, &st) == 0 && spool_head_read(fd, (unsigned long)st.st_size, &h) == 1 && h.body == off
      && (unsigned long)st.st_size == off + len)
    n = pread(fd, got, sizeof got, (off_t)h.body);
  close(fd);
  return n == (ssize_t)len && !memcmp(got, want, len);
}

/* helper_sizes - through one helper process, a message behind an
 * envelope of several 4 KiB units (its body moved up), then a small one:
 * nothing of the first is left in the second */
static void helper_sizes(const struct config *cfg)
{
  static char body[100000];
  stralloc env = { 0 };
  struct child c;
  unsigned int i;
  int msg, efd, started;
  for (i = 0; i < sizeof body; i++) body[i] = (char)('a' + i * 7 % 26);
  body[sizeof body - 1] = '\n';
  stralloc_copys(&env, "V1\nFa@b.test\n");
  for (i = 0; i < 600; i++) {
    char line[64];
    snprintf(line, sizeof line, "Trecipient-number-%u@d.test\n", i);
    stralloc_cats(&env, line);
  }
  stralloc_cats(&env, "\n");
  msg = memfile(body, sizeof body); efd = memfile(env.s, env.len);
  started = inject_child_start(&c, cfg, 0, msg, efd, 0) == 0;
  close(msg); close(efd);
  if (started) child_wait(&c, 10, 0, &r);
  T_OK("worker: 600 recipients queued, the body byte-exact at its offset (5 units)",
       started && r.code == 0 && body_is(cfg, 5 * 4096, body, sizeof body));
  T_OK("worker: then a small message: its own head and body", through_helper(cfg, 10, 0) && r.code == 0 && body_is(cfg, 4096, "x\n", 2));
  stralloc_free(&env);
}

static int entries(const char *spool, const char *sub);
static int queued_as(const char *spool, const char *id);

static void on_int(int sig) { (void)sig; }

/* in_process_one - one message by INJECT_IN_PROCESS from memory files
 * (want: the id asked for, or 0); started? */
static int in_process_one(const struct config *cfg, const char *want, const char *msg, size_t len, int env)
{
  struct child c;
  int m = memfile(msg, len), started = inject_child_start(&c, cfg, want, m, env, INJECT_IN_PROCESS) == 0;
  close(m);
  close(env);
  if (started) child_wait(&c, 5, CHILD_KEEP_LOG, &r);
  return started && c.ended && c.pid == 0;
}

/* in_process - INJECT_IN_PROCESS: spool-inject's code in this very
 * process (sendmail's way), which is as it was afterwards */
static void in_process(const struct config *cfg, const char *spool)
{
  char id[SPOOL_ID_MAX], cwd0[512], cwd1[512];
  struct sigaction mine, now;
  struct stat s0[3], s1[3];
  int i, same = 1, status;
  pid_t pid;
  memset(&mine, 0, sizeof mine);
  mine.sa_handler = on_int;
  sigaction(SIGINT, &mine, 0);
  for (i = 0; i < 3; i++) if (fstat(i, &s0[i]) == -1) same = 0;
  if (!getcwd(cwd0, sizeof cwd0)) cwd0[0] = 0;
  log_init("test-inject", LOGTO_STDERR);
  usleep(2000);
  spool_id(id);
  T_OK("INJECT_IN_PROCESS: no child; queued under the id asked for, its reply read",
       in_process_one(cfg, id, "Subject: x\n\nhi\n", 15, envfile()) && r.code == 0 && strstr(r.reply, id) && queued_as(spool, id));
  for (i = 0; i < 3; i++) if (fstat(i, &s1[i]) == -1 || s0[i].st_ino != s1[i].st_ino || s0[i].st_dev != s1[i].st_dev) same = 0;
  T_OK("INJECT_IN_PROCESS: our fds 0 to 2 are as they were", same);
  T_OK("INJECT_IN_PROCESS: our working directory too", getcwd(cwd1, sizeof cwd1) && !strcmp(cwd0, cwd1));
  sigaction(SIGINT, 0, &now);
  T_OK("INJECT_IN_PROCESS: our signal handlers too", now.sa_handler == on_int);
  T_OK("INJECT_IN_PROCESS: our log name too", !strcmp(log_name(), "test-inject"));
  T_OK("INJECT_IN_PROCESS: a refused message (no recipient): its reply and exit code, and we go on",
       in_process_one(cfg, 0, "x\n", 2, memfile("V1\nFa@b.test\n", 13)) && r.code != 0 && (r.reply[0] == '4' || r.reply[0] == '5'));
  T_OK("INJECT_IN_PROCESS: then the next one is queued", in_process_one(cfg, 0, "x\n", 2, envfile()) && r.code == 0);
  T_OK("INJECT_IN_PROCESS: nothing left in tmp/", entries(spool, "tmp") == 0);
  pid = fork();   /* with clone refused: nothing may be forked */
  if (pid == 0) _exit(refuse(__NR_clone, EPERM) == 0 && refuse(__NR_clone3, ENOSYS) == 0 &&
                      in_process_one(cfg, 0, "x\n", 2, envfile()) && r.code == 0 ? 0 : 1);
  T_OK("INJECT_IN_PROCESS: queued with clone(2) refused: no fork at all",
       waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  signal(SIGINT, SIG_DFL);
}

/* helper - the injector workers of smtp-listen's sessions */
static void helper(struct config *cfg)
{
  char id[SPOOL_ID_MAX], flag[160], text[400];
  int status, sock;
  pid_t h, pid = 0;
  /* the default injector */
  cfg->injector_default = 1;
  h = start_helper(cfg);
  spool_id(id);
  T_OK("worker: a message queued through it, under the id asked for", h > 0 && forked(cfg, id) == 0);
  stralloc_0(&r.log);
  T_OK("worker: the queued line is left to its session", r.log.s && !strstr(r.log.s, "status=queued"));
  T_OK("worker: its status comes back", through_helper(cfg, 10, &pid) && r.code == 0 && !strncmp(r.reply, "250 ", 4));
  T_OK("worker: spool-inject's code runs in the helper itself, no fork per message", pid == h);
  {   /* one helper, several messages: a refusal in between leaves it as it was */
    struct child c;
    char fdir[200];
    int msg, env, before, after, started;
    snprintf(fdir, sizeof fdir, "/proc/%d/fd", (int)h);
    before = count_dir(fdir);
    for (int n = 0; n < 20; n++) {   /* the last message's reply socket: closed just after its answer */
      int now = count_dir(fdir);
      if (now < before) before = now;
      usleep(10000);
    }
    msg = memfile("x\n", 2); env = memfile("V1\nFa@b.test\n", 13);   /* no recipient, no end line */
    started = inject_child_start(&c, cfg, 0, msg, env, 0) == 0;
    close(msg); close(env);
    if (started) child_wait(&c, 10, 0, &r);
    T_OK("worker: a refused message gets its reply and exit code", started && r.code != 0 && (r.reply[0] == '4' || r.reply[0] == '5'));
    T_OK("worker: the next message after a refusal is queued", through_helper(cfg, 10, 0) && r.code == 0 && !strncmp(r.reply, "250 ", 4));
    T_OK("worker: the next message after a refusal is queued again", through_helper(cfg, 10, 0) && r.code == 0);
    helper_sizes(cfg);
    for (int n = 0; (after = count_dir(fdir)) != before && n < 100; n++) usleep(10000);   /* its last close follows its answer */
    T_OK("worker: no descriptor left open by the messages it ran", before > 0 && after == before);
    snprintf(fdir, sizeof fdir, "%s/tmp", cfg->spool);
    T_OK("worker: nothing uncommitted left in tmp/", count_dir(fdir) == 0);
  }
  {   /* two workers on one socket: one killed in the middle of a message */
    struct child c;
    int p[2], env = envfile(), started, before = entries(cfg->spool, "new");
    pid_t h2 = start_worker(cfg), victim = 0;
    if (pipe(p) == -1) p[0] = p[1] = -1;
    started = inject_child_start(&c, cfg, 0, p[0], env, 0) == 0;
    close(p[0]); close(env);
    if (started) {
      victim = c.pid;
      if (write(p[1], "half a mess", 11) != 11) { /* the worker reads it or not: it is killed either way */ }
      kill(victim, SIGKILL);
      child_wait(&c, 10, 0, &r);
    }
    close(p[1]);
    T_OK("worker: killed in the middle of a message: a temporary failure, not late",
         started && r.code == EX_TEMPFAIL && !r.late && (victim == h || victim == h2));
    waitpid(victim, &status, 0);
    T_OK("worker: the killed message is not queued", entries(cfg->spool, "new") == before);
    T_OK("worker: and the next message goes to the other worker", through_helper(cfg, 10, &pid) && r.code == 0 && pid != victim &&
         (pid == h || pid == h2));
    h = victim == h ? h2 : h;
  }
  {   /* a request whose session has given up before a worker took it */
    int fds[4], errp[2], rep[2], before = entries(cfg->spool, "new");
    fds[0] = memfile("x\n", 2); fds[1] = envfile();
    if (pipe(errp) == -1 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, rep) == -1) errp[0] = errp[1] = rep[0] = rep[1] = -1;
    fds[2] = errp[1]; fds[3] = rep[1];
    close(rep[0]);
    T_OK("worker: a request nobody waits for is taken", send_fds(inject_helper, fds, 4));
    for (int i = 0; i < 4; i++) close(fds[i]);
    close(errp[0]);
    T_OK("worker: but not run, and the next one is", through_helper(cfg, 10, &pid) && r.code == 0 && pid == h &&
         entries(cfg->spool, "new") == before + 1);
  }
  end_helper();
  T_OK("worker: ends when the socket's other end is closed", waitpid(h, &status, 0) == h && WIFEXITED(status));
  /* a configured program that hangs while a flag file exists */
  snprintf(flag, sizeof flag, "%s/slow", dir);
  snprintf(text, sizeof text, "#!/bin/sh\n[ -e %s ] && exec sleep 30\ncat >/dev/null; echo '250 2.0.0 filtered' >&2\n", flag);
  cfg->injector = script("filter", text);
  cfg->injector_default = 0;
  h = start_helper(cfg);
  sock = inject_helper;
  close(open(flag, O_WRONLY | O_CREAT, 0644));
  T_OK("worker: a program past its deadline is killed (late, temporary)", through_helper(cfg, 1, 0) && r.late && r.code == EX_TEMPFAIL);
  T_OK("worker: and the session's socket is kept", inject_helper == sock);
  unlink(flag);
  T_OK("worker: in step after the kill: the next message answers", through_helper(cfg, 10, 0) && r.code == 0 && !strcmp(r.reply, "250 2.0.0 filtered"));
  {   /* a request with two fds instead of four is dropped */
    int fds[2] = { 0, 1 };
    T_OK("worker: a malformed request is dropped", send_fds(sock, fds, 2));
    T_OK("worker: and the next one is served", through_helper(cfg, 10, 0) && r.code == 0 && !strcmp(r.reply, "250 2.0.0 filtered"));
  }
  {   /* idle for the socket's receive timeout: it ends */
    struct timeval idle = { 1, 0 };
    struct timespec t0, t1;
    pid_t h2;
    setsockopt(wsock, SOL_SOCKET, SO_RCVTIMEO, &idle, sizeof idle);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    h2 = start_worker(cfg);
    T_OK("worker: idle for its receive timeout, it ends with 0",
         waitpid(h2, &status, 0) == h2 && WIFEXITED(status) && WEXITSTATUS(status) == 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    T_OK("worker: after about that timeout", t1.tv_sec - t0.tv_sec >= 0 && t1.tv_sec - t0.tv_sec <= 5);
  }
  close(wsock);
  wsock = -1;
  kill(h, SIGKILL);
  waitpid(h, &status, 0);
  T_OK("worker: every worker gone, so the next message fails at once and the socket is dropped", !through_helper(cfg, 10, 0) && inject_helper == -1);
  cfg->injector_default = 1;
}

/* entries - the number of files in spool/sub */
static int entries(const char *spool, const char *sub)
{
  char p[200];
  struct dirent *e;
  int n = 0;
  DIR *d;
  snprintf(p, sizeof p, "%s/%s", spool, sub);
  if (!(d = opendir(p))) return -1;
  while ((e = readdir(d))) if (e->d_name[0] != '.') n++;
  closedir(d);
  return n;
}

/* holds - does spool/sub/id hold exactly text? */
static int holds(const char *spool, const char *sub, const char *id, const char *text)
{
  char fn[256], got[64];
  ssize_t n;
  int fd;
  snprintf(fn, sizeof fn, "%s/%s/%s", spool, sub, id);
  if ((fd = open(fn, O_RDONLY)) == -1) return 0;
  n = read(fd, got, sizeof got);
  close(fd);
  return n == (ssize_t)strlen(text) && !memcmp(got, text, (size_t)n);
}

/* queued_as - is new/id a one-file message (lib/spool.h) with the body
 * forked() sends? */
static int queued_as(const char *spool, const char *id)
{
  char fn[256], got[32];
  struct spool_head h;
  struct stat st;
  ssize_t n = -1;
  int fd;
  snprintf(fn, sizeof fn, "%s/new/%s", spool, id);
  if ((fd = open(fn, O_RDONLY)) == -1) return 0;
  if (fstat(fd, &st) == 0 && spool_head_read(fd, (unsigned long)st.st_size, &h) == 1)
    n = pread(fd, got, sizeof got, (off_t)h.body);
  close(fd);
  return n == 15 && !memcmp(got, "Subject: x\n\nhi\n", 15);
}

/* taken - an id asked for that a file in new/, mess/ or tmp/ already has:
 * queued under another id, the file there left as it was */
static void taken(const struct config *cfg, const char *spool)
{
  static const char *const subs[] = { "new", "mess", "tmp" };
  char id[SPOOL_ID_MAX], fn[256], name[160];
  unsigned int i;
  for (i = 0; i < 3; i++) {
    int fd, before = entries(spool, "new");
    const char *as;
    usleep(2000);
    spool_id(id);
    snprintf(fn, sizeof fn, "%s/%s/%s", spool, subs[i], id);
    fd = open(fn, O_WRONLY | O_CREAT | O_EXCL, 0644);
    if (fd == -1 || write(fd, "older\n", 6) != 6) abort();
    close(fd);
    snprintf(name, sizeof name, "forked spool-inject: %s/ID taken: queued, under another id", subs[i]);
    T_OK(name, forked(cfg, id) == -1 && r.code == 0 && (as = strstr(r.reply, "queued as ")) != 0
         && strcmp(as + 10, id) != 0 && queued_as(spool, as + 10) && entries(spool, "new") == before + 1 + (i == 0));
    snprintf(name, sizeof name, "forked spool-inject: %s/ID taken: that file left as it was", subs[i]);
    T_OK(name, holds(spool, subs[i], id, "older\n"));
    unlink(fn);
  }
}

static void injector(void)
{
  struct config cfg;
  char spool[128], id[SPOOL_ID_MAX];
  const char *sub[] = { "tmp", "mess", "new" };
  unsigned int i;
  pid_t pid;
  int status;
  strcpy(dir, "/tmp/postern-test-inject.XXXXXX");
  if (!mkdtemp(dir)) { printf("not ok - inject temp dir\n"); return; }
  snprintf(spool, sizeof spool, "%s/spool", dir);
  mkdir(spool, 0755);
  for (i = 0; i < 3; i++) {
    char d[160];
    snprintf(d, sizeof d, "%s/%s", spool, sub[i]);
    mkdir(d, 0755);
  }
  config_defaults(&cfg);
  cfg.spool = spool;
  cfg.log = LOGTO_STDERR;

  /* a configured program: spawned with the clean environment */
  cfg.injector = script("filter", "#!/bin/sh\ncat >/dev/null; env >&2; echo '250 2.0.0 filtered' >&2\n");
  cfg.injector_default = 0;
  cfg.file = "/etc/postern/test.conf";
  {
    struct child c;
    int msg = memfile("x\n", 2), env = envfile();
    int started = inject_child_start(&c, &cfg, 0, msg, env, INJECT_CLEAN_ENV) == 0;
    close(msg); close(env);
    if (started) child_wait(&c, 10, CHILD_KEEP_LOG, &r);
    stralloc_0(&r.log);
    T_OK("a configured injector: spawned, its reply", started && r.code == 0 && !strcmp(r.reply, "250 2.0.0 filtered"));
    T_OK("INJECT_CLEAN_ENV: POSTERN_CONF and PATH, nothing of ours",
         started && strstr(r.log.s, "POSTERN_CONF=/etc/postern/test.conf\n") && strstr(r.log.s, "PATH=/usr/bin:/bin\n")
         && !strstr(r.log.s, "HOME="));
  }
  cfg.injector = "/nonexistent/injector";
  {
    struct child c;
    errno = 0;
    T_OK("a missing injector: -1 with errno, nothing started", inject_child_start(&c, &cfg, 0, 0, 1, 0) == -1 && errno == ENOENT);
  }

  /* the default injector: spool-inject's code in a forked child */
  cfg.injector_default = 1;
  spool_id(id);
  T_OK("forked spool-inject: queued under the id asked for", forked(&cfg, id) == 0);
  stralloc_0(&r.log);
  T_OK("forked spool-inject: its log line before the reply", strstr(r.log.s, "status=queued") != 0);
  usleep(2000);
  spool_id(id);
  T_OK("INJECT_CALLER_LOGS: queued", forked_as(&cfg, id, INJECT_CALLER_LOGS) == 0);
  stralloc_0(&r.log);
  T_OK("INJECT_CALLER_LOGS: no status=queued line of its own", r.log.s && !strstr(r.log.s, "status=queued"));
  in_process(&cfg, spool);
  usleep(2000);
  spool_id(id);
  pid = fork();
  if (pid == 0) _exit(refuse(__NR_close_range, ENOSYS) == 0 && forked(&cfg, id) == 0 ? 0 : 1);
  T_OK("forked spool-inject: queued when close_range is refused (fds closed one by one)",
       waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
  taken(&cfg, spool);
  usleep(2000);
  spool_id(id);
  pid = fork();
  if (pid == 0) _exit(refuse(__NR_renameat2, EINVAL) == 0 && forked(&cfg, id) == 0 ? 0 : 1);
  T_OK("forked spool-inject: committed by link(2) where RENAME_NOREPLACE is refused",
       waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0 && queued_as(spool, id));
  T_OK("forked spool-inject: nothing left in tmp/ after the link", entries(spool, "tmp") == 0);
  helper(&cfg);
  {
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0) printf("# could not remove %s\n", dir);
  }
}

int main(void)
{
  children();
  injector();
  stralloc_free(&r.log);
  T_DONE();
}
