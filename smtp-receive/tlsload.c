/* tlsload.c - OpenSSL only for the sessions that speak TLS.
 *
 * Linked into smtp-receive, libssl and libcrypto cost every connection
 * about 0.8 ms of CPU (the dynamic linker relocating them at each exec)
 * and 1.7 MiB of resident memory, although most sessions never start TLS:
 * -bs submissions, clients that do not ask for STARTTLS, and those
 * refused before they do.  So lib/tls.c (where every OpenSSL call stays)
 * is also built as the shared object libexec_dir/postern-tls.so, which
 * smtp-receive loads with dlopen when a handshake is about to start: at
 * STARTTLS, or at once in smtps mode.  STARTTLS is offered only when that
 * file, the certificate and the key can be read. */
#include <dlfcn.h>
#include <fcntl.h>
#include <unistd.h>
#include "stralloc.h"
#include "str.h"
#include "smtp.h"

#define TLS_OBJECT "postern-tls.so"

static struct tls_api api;        /* the loaded functions */
static int loaded;                /* 1 once api is complete */

/* object_path - libexec_dir/postern-tls.so into sa, NUL-terminated */
static int object_path(stralloc *sa, const char *dir)
{
  return stralloc_copys(sa, dir) && stralloc_cats(sa, "/" TLS_OBJECT) && stralloc_0(sa) ? 0 : -1;
}

/* readable - can the file be opened for reading? */
static int readable(const char *fn)
{
  int fd;
  if (!fn || !*fn || (fd = open(fn, O_RDONLY | O_CLOEXEC)) == -1) return 0;
  close(fd);
  return 1;
}

/* tls_offered - may STARTTLS be offered: a certificate, its key and the
 * TLS object, all readable? (Nothing is loaded.)  Checked once per
 * session: the files are read again by the next connection. */
int tls_offered(const struct config *c)
{
  static int known, offered;
  stralloc fn = { 0 };
  if (known) return offered;
  known = 1;
  offered = readable(c->tls_cert_file) && readable(c->tls_key_file) &&
            object_path(&fn, c->libexec_dir) == 0 && access(fn.s, R_OK) == 0;
  stralloc_free(&fn);
  return offered;
}

/* sym - one function of the object; *bad set if it is missing */
static void *sym(void *h, const char *name, int *bad)
{
  void *p = dlsym(h, name);
  if (!p) *bad = 1;
  return p;
}

/* tls_load - the TLS functions, loaded on first use; 0 with a reason in
 * *why if the object cannot be loaded */
const struct tls_api *tls_load(const char *libexec_dir, const char **why)
{
  static stralloc fn;
  void *h;
  int bad = 0;
  if (loaded) return &api;
  if (object_path(&fn, libexec_dir) == -1) { *why = "out of memory"; return 0; }
  if (!(h = dlopen(fn.s, RTLD_NOW | RTLD_LOCAL))) { *why = "unable to load " TLS_OBJECT; return 0; }
  *(void **)&api.server = sym(h, "tls_server", &bad);
  *(void **)&api.read = sym(h, "tls_read", &bad);
  *(void **)&api.write = sym(h, "tls_write", &bad);
  *(void **)&api.pending = sym(h, "tls_pending", &bad);
  *(void **)&api.describe = sym(h, "tls_describe", &bad);
  if (bad) { *why = TLS_OBJECT " lacks a function"; return 0; }
  loaded = 1;
  return &api;
}
