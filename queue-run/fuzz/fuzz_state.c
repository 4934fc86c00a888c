/* fuzz_state.c - libFuzzer target for the state file reader (state.c):
 * any bytes as state/<id>, read against a fixed two-recipient envelope;
 * nothing may crash or read out of bounds. */
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/stat.h>
#include "qr.h"

struct config qr_cfg;
int qr_once;
void qr_notify(const char *s) { (void)s; }
unsigned long long qr_watchdog_usec(void) { return 0; }

static char dir[] = "/tmp/fuzz-state.XXXXXX";   /* the scratch spool, removed at exit */

/* cleanup - remove the scratch spool (the fuzzer exits through exit()) */
static void cleanup(void)
{
  unlink("state/1700000000.000001.1");
  rmdir("state");
  if (chdir("/") == 0) rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int ready;
  struct work w;
  const char *why;
  unsigned long due;
  int fd;
  if (!ready) {
    if (!mkdtemp(dir) || chdir(dir) == -1 || mkdir("state", 0700) == -1) abort();
    atexit(cleanup);
    ready = 1;
  }
  fd = open("state/1700000000.000001.1", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd == -1) abort();
  if (size && write(fd, data, size) != (ssize_t)size) abort();
  close(fd);
  work_init(&w);
  envelope_set_sender(&w.env, "s@x.test", 8);
  envelope_add_rcpt(&w.env, "a@x.test", 8);
  envelope_add_rcpt(&w.env, "b@y.test", 8);
  if (state_read(&w, "1700000000.000001.1", &why) == 1) {
    (void)work_due(&w);
    if (w.n) { char st[16]; dsn_status(work_s(&w, w.item[0].text), 1, st); }
  }
  (void)state_due("1700000000.000001.1", &due);
  work_free(&w);
  return 0;
}
