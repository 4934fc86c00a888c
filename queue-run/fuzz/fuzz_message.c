/* fuzz_message.c - libFuzzer target for the message file reader
 * (state.c): any bytes as queue/<id>, a one-file message (head line,
 * envelope, body at the head's offset) or one of the older layout with a
 * fixed mess/<id>; the envelope, the body through the deliverer's fd, its
 * size.  Nothing may crash, read out of bounds, or give a body fd whose
 * offset is outside the file. */
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

static char dir[] = "/tmp/fuzz-message.XXXXXX";   /* the scratch spool, removed at exit */
static const char id[] = "1700000000.000001.1";

/* cleanup - remove the scratch spool (the fuzzer exits through exit()) */
static void cleanup(void)
{
  unlink("queue/1700000000.000001.1");
  unlink("mess/1700000000.000001.1");
  rmdir("queue");
  rmdir("mess");
  if (chdir("/") == 0) rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int ready;
  struct envelope e;
  struct state_layout l;
  struct stat st;
  const char *why;
  char buf[4096];
  int fd;
  if (!ready) {
    if (!mkdtemp(dir) || chdir(dir) == -1 || mkdir("queue", 0700) == -1 || mkdir("mess", 0700) == -1) abort();
    fd = open("mess/1700000000.000001.1", O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd == -1 || write(fd, "Subject: x\n\nbody\n", 17) != 17) abort();
    close(fd);
    atexit(cleanup);
    ready = 1;
  }
  fd = open("queue/1700000000.000001.1", O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd == -1) abort();
  if (size && write(fd, data, size) != (ssize_t)size) abort();
  close(fd);
  envelope_init(&e);
  if (state_envelope_load(&e, SPOOL_QUEUE, id, &l, &why) == 1 && l.body && l.body + l.size != size) abort();
  envelope_free(&e);
  if ((fd = state_body_open(id)) != -1) {
    off_t at = lseek(fd, 0, SEEK_CUR);
    if (fstat(fd, &st) == -1 || at < 0 || at > st.st_size) abort();
    while (read(fd, buf, sizeof buf) > 0) {}
    close(fd);
  }
  (void)state_body_size(SPOOL_QUEUE, id);
  (void)state_one_file(SPOOL_QUEUE, id);
  return 0;
}
