/* ld.h - the parts of local-deliver(8): one message (fd 0, a seekable spool
 * file, from its offset at the start to its end) to one recipient, as that
 * recipient.  Each delivery function returns
 * a struct ld_result; main.c turns it into the delivery-protocol line on
 * fd 1 and the sysexits(3) exit code. */
#ifndef LD_H
#define LD_H
#include <stddef.h>
#include <sys/types.h>
#include "stralloc.h"
#include "config.h"

#define LD_TEXT_MAX 400             /* bytes of reason text we keep */
#define LD_HEADER_SCAN_MAX (1UL << 20)  /* header bytes searched for loops */
#define LD_PROGRAM_SECONDS 3600     /* a program delivery may run this long */
#define LD_COPY_BUFFER 65536

/* struct ld_result - the outcome: code is a sysexits(3) code (0 delivered),
 * text begins with an enhanced status code */
struct ld_result {
  int code;
  char text[LD_TEXT_MAX];
};

/* struct ld - what one run knows */
struct ld {
  struct config cfg;
  const char *sender;       /* "" for the null sender */
  const char *recipient;    /* the address, for Delivered-To and the line */
  const char *dest;         /* the destination argument */
  const char *user;         /* our login name (getpwuid) */
  const char *home;
  uid_t uid;
  stralloc prefix;          /* "Return-Path: ...\nDelivered-To: ...\n" */
  stralloc local, ext, domain;   /* parts of recipient: LOCAL, EXTENSION, DOMAIN */
};

/* run.c: the whole run of local-deliver (main.c; local-spawn's child):
 * argv as local-deliver's, the environment's POSTERN_CONF and QUEUE_ID;
 * ends the process with the protocol line and the exit code.  ld_run_as:
 * the same with pw, our password entry, which the caller has just looked
 * up and become (local-spawn): no second lookup. */
struct passwd;
_Noreturn void ld_run(int argc, char **argv);
_Noreturn void ld_run_as(int argc, char **argv, const struct passwd *pw);

/* result.c */
void ld_ok(struct ld_result *r, const char *what, const char *arg);
void ld_temp(struct ld_result *r, const char *status, const char *what, const char *arg);
void ld_perm(struct ld_result *r, int code, const char *status, const char *what, const char *arg);
void ld_sys(struct ld_result *r, const char *what, const char *arg);   /* errno, temporary */
/* the message's start: fd 0's offset when the run began (ld_mark), where
 * ld_rewind goes back to and ld_copy starts */
int ld_mark(int fd);                             /* note fd's offset as the start; 0 or -1 */
off_t ld_start(void);                            /* the start (0 before ld_mark) */
int ld_rewind(int fd);                           /* lseek to the start; 0 or -1 */

/* header.c */
int ld_prepare(struct ld *d);                    /* prefix and address parts; -1 no memory */
int ld_loop(int fd, const char *recipient);      /* 1 our Delivered-To is there, 0 no, -1 read error */

/* copy.c: the message from fd in (from ld_start) to the writer, prefixed (lib/mbox.c's mbox_copy) */
int ld_copy(int in, int out, const char *prefix, size_t plen, int mbox_quote, unsigned long *bytes);

/* maildir.c, mbox.c, program.c, forward.c */
void ld_maildir(struct ld *d, const char *dir, struct ld_result *r);
void ld_mbox(struct ld *d, const char *path, struct ld_result *r);
void ld_program(struct ld *d, const char *cmd, int shell, struct ld_result *r);
void ld_forward_inject(struct ld *d, const stralloc *rcpts, unsigned int n, struct ld_result *r);
/* ld_user - the recipient's own mail: .forward, mailbox_command, mbox or
 * Maildir as the configuration says */
void ld_user(struct ld *d, struct ld_result *r);
#endif
