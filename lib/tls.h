/* tls.h - TLS over a connected socket, the only place postern calls
 * OpenSSL.  TLS 1.2 is the minimum; the certificate chain and key are read
 * from their files each time a context is made, so a renewed certificate
 * is used by the next connection without a restart. */
#ifndef TLS_H
#define TLS_H
#include <stddef.h>
#include <sys/types.h>

struct tls;

/* tls_server - the server side handshake on fd with the PEM chain in cert
 * and the key in key.  The handshake, or 0 with a short reason in *why. */
struct tls *tls_server(int fd, const char *cert, const char *key, const char **why);

/* tls_client_check - the client side for remote-send: SNI servername (may
 * be 0); the peer's chain is checked against cafile (0 or "": the system
 * store) and, when match is not 0, its names against match (RFC 6125, no
 * partial wildcards).  With require set, a peer that fails the check ends
 * the handshake (0, *why names the reason); otherwise the handshake
 * completes and tls_peer_verified reports the outcome. */
struct tls *tls_client_check(int fd, const char *servername, const char *cafile,
                             const char *match, int require, const char **why);

/* tls_peer_verified - 1 if the peer's certificate was checked and passed
 * (chain and, if asked, name); 0 if not, with the reason in *why */
int tls_peer_verified(const struct tls *t, const char **why);

/* tls_read, tls_write - as read(2) and write(2): -1 with errno on error
 * (EPROTO for a TLS failure), tls_read 0 at a clean end */
ssize_t tls_read(struct tls *t, char *buf, size_t len);
ssize_t tls_write(struct tls *t, const char *buf, size_t len);

/* tls_pending - bytes already decrypted and waiting */
int tls_pending(const struct tls *t);

/* tls_describe - "TLSv1.3 with cipher TLS_AES_256_GCM_SHA384 (256 bits)"
 * into out[len], NUL-terminated */
void tls_describe(const struct tls *t, char *out, size_t len);

/* tls_close - send close_notify (best effort) and free t */
void tls_close(struct tls *t);
#endif
