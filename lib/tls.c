/* tls.c - TLS with OpenSSL (see tls.h).  Every OpenSSL call in postern is
 * in this file.  Settings: TLS 1.2 or later, no compression, no
 * renegotiation, server cipher preference with OpenSSL's default list
 * minus the weak classes, session tickets off (no key to rotate: each
 * connection is a process of its own). */
#include <errno.h>
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include "num.h"
#include "tls.h"

#define TLS_CIPHERS "HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES:!DES:!SHA1:!kRSA:!PSK:!SRP:!CAMELLIA:!ARIA"

struct tls {
  SSL_CTX *ctx;
  SSL *ssl;
};

/* context - a fresh context with postern's settings */
static SSL_CTX *context(const SSL_METHOD *method)
{
  SSL_CTX *ctx = SSL_CTX_new(method);
  if (!ctx) return 0;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                      SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_TICKET);
  if (SSL_CTX_set_cipher_list(ctx, TLS_CIPHERS) != 1) { SSL_CTX_free(ctx); return 0; }
  SSL_CTX_set_mode(ctx, SSL_MODE_AUTO_RETRY);
  return ctx;
}

/* fail - free what exists, give the reason */
static struct tls *fail(struct tls *t, const char **why, const char *reason)
{
  *why = reason;
  if (t) {
    if (t->ssl) SSL_free(t->ssl);
    if (t->ctx) SSL_CTX_free(t->ctx);
    free(t);
  }
  ERR_clear_error();
  return 0;
}

struct tls *tls_server(int fd, const char *cert, const char *key, const char **why)
{
  struct tls *t = calloc(1, sizeof *t);
  if (!t) return fail(0, why, "out of memory");
  if (!(t->ctx = context(TLS_server_method()))) return fail(t, why, "unable to set up TLS");
  if (SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1) return fail(t, why, "unable to load the certificate");
  if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1) return fail(t, why, "unable to load the key");
  if (SSL_CTX_check_private_key(t->ctx) != 1) return fail(t, why, "the key does not match the certificate");
  if (!(t->ssl = SSL_new(t->ctx)) || SSL_set_fd(t->ssl, fd) != 1) return fail(t, why, "unable to set up TLS");
  if (SSL_accept(t->ssl) != 1) return fail(t, why, "TLS handshake failed");
  return t;
}

/* trust - where the client looks for CA certificates */
static int trust(SSL_CTX *ctx, const char *cafile)
{
  if (cafile && *cafile) return SSL_CTX_load_verify_locations(ctx, cafile, 0) == 1;
  return SSL_CTX_set_default_verify_paths(ctx) == 1;
}

/* set_match - the name (or IP address) the peer's certificate must carry */
static int set_match(SSL *ssl, const char *match)
{
  unsigned char a[16];
  if (inet_pton(AF_INET, match, a) == 1 || inet_pton(AF_INET6, match, a) == 1)
    return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), match);
  return SSL_set1_host(ssl, match);
}

struct tls *tls_client_check(int fd, const char *servername, const char *cafile,
                             const char *match, int require, const char **why)
{
  struct tls *t = calloc(1, sizeof *t);
  long v;
  if (!t) return fail(0, why, "out of memory");
  if (!(t->ctx = context(TLS_client_method()))) return fail(t, why, "unable to set up TLS");
  if (!trust(t->ctx, cafile)) return fail(t, why, "unable to load the CA certificates");
  SSL_CTX_set_verify(t->ctx, require ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, 0);
  if (!(t->ssl = SSL_new(t->ctx)) || SSL_set_fd(t->ssl, fd) != 1) return fail(t, why, "unable to set up TLS");
  if (servername && SSL_set_tlsext_host_name(t->ssl, servername) != 1) return fail(t, why, "bad server name");
  SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (match && set_match(t->ssl, match) != 1) return fail(t, why, "bad certificate name to match");
  if (SSL_connect(t->ssl) == 1) return t;
  v = SSL_get_verify_result(t->ssl);
  if (require && v != X509_V_OK) return fail(t, why, X509_verify_cert_error_string(v));
  return fail(t, why, "TLS handshake failed");
}

int tls_peer_verified(const struct tls *t, const char **why)
{
  X509 *peer = SSL_get0_peer_certificate(t->ssl);
  long v = SSL_get_verify_result(t->ssl);
  if (!peer) { *why = "no peer certificate"; return 0; }
  if (v != X509_V_OK) { *why = X509_verify_cert_error_string(v); return 0; }
  *why = "ok";
  return 1;
}

/* io_result - errno for a failed SSL_read or SSL_write */
static ssize_t io_result(struct tls *t, int r)
{
  int e = SSL_get_error(t->ssl, r);
  ERR_clear_error();
  if (e == SSL_ERROR_ZERO_RETURN) return 0;
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) { errno = EAGAIN; return -1; }
  if (e != SSL_ERROR_SYSCALL || errno == 0) errno = EPROTO;
  return -1;
}

ssize_t tls_read(struct tls *t, char *buf, size_t len)
{
  int r = SSL_read(t->ssl, buf, len > 0x7fffffff ? 0x7fffffff : (int)len);
  if (r > 0) return r;
  ssize_t x = io_result(t, r);
  /* a peer that closes without close_notify: treat as the end of input */
  if (x == -1 && errno == EPROTO && r == 0) return 0;
  return x;
}

ssize_t tls_write(struct tls *t, const char *buf, size_t len)
{
  int r = SSL_write(t->ssl, buf, len > 0x7fffffff ? 0x7fffffff : (int)len);
  if (r > 0) return r;
  return io_result(t, r);
}

int tls_pending(const struct tls *t)
{
  return SSL_pending(t->ssl);
}

/* cat - append s to out[len] at *n, NUL-terminated */
static void cat(char *out, size_t len, size_t *n, const char *s)
{
  while (*s && *n + 1 < len) out[(*n)++] = *s++;
  out[*n] = 0;
}

void tls_describe(const struct tls *t, char *out, size_t len)
{
  const SSL_CIPHER *c = SSL_get_current_cipher(t->ssl);
  size_t n = 0;
  int alg = 0, bits;
  if (!len) return;
  out[0] = 0;
  cat(out, len, &n, SSL_get_version(t->ssl));
  if (!c) return;
  cat(out, len, &n, " with cipher ");
  cat(out, len, &n, SSL_CIPHER_get_name(c));
  bits = SSL_CIPHER_get_bits(c, &alg);
  if (bits > 0) {
    char num[NUM_ULONG];
    num[num_fmt(num, (unsigned long)bits)] = 0;
    cat(out, len, &n, " (");
    cat(out, len, &n, num);
    cat(out, len, &n, " bits)");
  }
}

void tls_close(struct tls *t)
{
  if (!t) return;
  SSL_shutdown(t->ssl);
  SSL_free(t->ssl);
  SSL_CTX_free(t->ctx);
  free(t);
  ERR_clear_error();
}
