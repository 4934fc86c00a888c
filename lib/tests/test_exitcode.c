/* test_exitcode.c - the one exit-code table (lib/exitcode.c): the class,
 * enhanced status code, text and reply code of every sysexits(3) code, of
 * unknown codes, and exitcode_wait on real wait(2) statuses (exits, signals,
 * stops) made with fork. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include "exitcode.h"
#include "t.h"

static char name[256];

struct ecase {
  int code;
  int class;
  const char *status;   /* the enhanced status code, or 0: any of the class */
};

static const struct ecase cases[] = {
  { 0, EXIT_DONE, "2.0.0" },
  { EX_TEMPFAIL, EXIT_TEMP, "4.3.0" },     /* 75 */
  { EX_OSERR, EXIT_TEMP, "4.3.0" },        /* 71 */
  { EX_IOERR, EXIT_TEMP, "4.3.0" },        /* 74 */
  { EX_CONFIG, EXIT_TEMP, "4.3.5" },       /* 78: temporary, doc/architecture.md */
  { EX_USAGE, EXIT_PERM, "5.5.4" },        /* 64 */
  { EX_DATAERR, EXIT_PERM, "5.6.0" },      /* 65 */
  { EX_NOINPUT, EXIT_PERM, 0 },            /* 66 */
  { EX_NOUSER, EXIT_PERM, "5.1.1" },       /* 67 */
  { EX_NOHOST, EXIT_PERM, "5.1.2" },       /* 68 */
  { EX_UNAVAILABLE, EXIT_PERM, 0 },        /* 69 */
  { EX_SOFTWARE, EXIT_PERM, 0 },           /* 70 */
  { EX_OSFILE, EXIT_PERM, 0 },             /* 72 */
  { EX_CANTCREAT, EXIT_PERM, 0 },          /* 73 */
  { EX_PROTOCOL, EXIT_PERM, 0 },           /* 76 */
  { EX_NOPERM, EXIT_PERM, "5.7.0" },       /* 77 */
  { 1, EXIT_PERM, 0 },                     /* unknown codes are permanent */
  { 2, EXIT_PERM, 0 },
  { 63, EXIT_PERM, 0 },
  { 79, EXIT_PERM, 0 },
  { 100, EXIT_PERM, 0 },
  { 111, EXIT_PERM, 0 },
  { 255, EXIT_PERM, 0 },
  { -1, EXIT_PERM, 0 },
};

/* status_ok - "C.S.D": class digit 2, 4 or 5, then two numbers */
static int status_ok(const char *s, int class)
{
  const char *want = class == EXIT_DONE ? "2" : class == EXIT_TEMP ? "4" : "5";
  size_t i = 1, dots = 0;
  if (!s || s[0] != want[0]) return 0;
  for (; s[i]; i++) {
    if (s[i] == '.') { if (s[i - 1] == '.') return 0; dots++; }
    else if (s[i] < '0' || s[i] > '9') return 0;
  }
  return dots == 2 && s[1] == '.' && s[i - 1] != '.';
}

/* child_status - the wait(2) status of a child that exits with arg (how 0),
 * is killed by signal arg (how 1) or is stopped (how 2).  The child sets the
 * signal to its default action first (sanitizers catch SIGSEGV) and says so
 * on a pipe before the parent sends it. */
static int child_status(int how, int arg)
{
  int st = 0, p[2];
  char c;
  pid_t pid;
  if (pipe(p) == -1) return -1;
  pid = fork();
  if (pid == -1) return -1;
  if (pid == 0) {
    close(p[0]);
    if (how == 0) _exit(arg);
    if (how == 1) signal(arg, SIG_DFL);
    if (write(p[1], "r", 1) != 1) _exit(111);
    for (;;) pause();          /* wait to be killed or stopped */
  }
  close(p[1]);
  if (how != 0 && read(p[0], &c, 1) != 1) how = -1;
  close(p[0]);
  if (how == 1) kill(pid, arg);
  if (how == 2) {              /* stopped: WUNTRACED reports it */
    kill(pid, SIGSTOP);
    if (waitpid(pid, &st, WUNTRACED) != pid) st = -1;
    kill(pid, SIGKILL);
    kill(pid, SIGCONT);
    waitpid(pid, 0, 0);
    return st;
  }
  if (how == -1) kill(pid, SIGKILL);
  if (waitpid(pid, &st, 0) != pid || how == -1) return -1;
  return st;
}

int main(void)
{
  struct rlimit nocore = { 0, 0 };
  unsigned int i;
  setrlimit(RLIMIT_CORE, &nocore);   /* the signal deaths below leave no core files */
  for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    const struct ecase *c = &cases[i];
    const char *cls = c->class == EXIT_DONE ? "done" : c->class == EXIT_TEMP ? "temporary" : "permanent";
    int reply = c->class == EXIT_DONE ? 250 : c->class == EXIT_TEMP ? 451 : 554;
    const char *st = exitcode_status(c->code);
    const char *tx = exitcode_text(c->code);

    snprintf(name, sizeof name, "exit code %d is %s", c->code, cls);
    T_OK(name, exitcode_class(c->code) == c->class);
    snprintf(name, sizeof name, "exit code %d has a %s enhanced status code", c->code, cls);
    T_OK(name, status_ok(st, c->class));
    if (!status_ok(st, c->class)) printf("#   got \"%s\"\n", st ? st : "(null)");
    if (c->status) {
      snprintf(name, sizeof name, "exit code %d has status %s", c->code, c->status);
      T_STR(name, c->status, st, st ? strlen(st) : 0);
    }
    snprintf(name, sizeof name, "exit code %d has a text", c->code);
    T_OK(name, tx && *tx);
    snprintf(name, sizeof name, "exit code %d replies %d", c->code, reply);
    T_OK(name, exitcode_reply(c->code) == reply);
  }
  T_OK("unknown codes have a distinct text", strcmp(exitcode_text(1), exitcode_text(EX_SOFTWARE)) != 0);
  T_OK("EX_TEMPFAIL text is not the ok text", strcmp(exitcode_text(EX_TEMPFAIL), exitcode_text(0)) != 0);

  /* exitcode_wait on real statuses */
  {
    static const int codes[] = { 0, 1, EX_TEMPFAIL, EX_OSERR, EX_IOERR, EX_CONFIG, EX_DATAERR, EX_NOPERM, 100, 255 };
    for (i = 0; i < sizeof codes / sizeof codes[0]; i++) {
      int st = child_status(0, codes[i]);
      snprintf(name, sizeof name, "exitcode_wait of _exit(%d) is %d", codes[i], codes[i]);
      T_OK(name, st != -1 && exitcode_wait(st) == codes[i]);
    }
  }
  {
    static const int sigs[] = { SIGKILL, SIGTERM, SIGSEGV, SIGHUP, SIGPIPE, SIGALRM, SIGABRT };
    for (i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
      int st = child_status(1, sigs[i]);
      snprintf(name, sizeof name, "exitcode_wait of death by signal %d is EX_TEMPFAIL", sigs[i]);
      T_OK(name, st != -1 && WIFSIGNALED(st) && exitcode_wait(st) == EX_TEMPFAIL);
      snprintf(name, sizeof name, "death by signal %d is temporary", sigs[i]);
      T_OK(name, exitcode_class(exitcode_wait(st)) == EXIT_TEMP);
    }
  }
  {
    int st = child_status(2, 0);
    T_OK("exitcode_wait of a stopped child is EX_TEMPFAIL", st != -1 && WIFSTOPPED(st) && exitcode_wait(st) == EX_TEMPFAIL);
  }
  {
    /* a core dump is a signal death too */
    int st = child_status(1, SIGQUIT);
    T_OK("exitcode_wait of SIGQUIT (core) is EX_TEMPFAIL", st != -1 && exitcode_wait(st) == EX_TEMPFAIL);
  }
  T_DONE();
}
