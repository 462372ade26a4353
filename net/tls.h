/* Private to net/: TLS material of one transport and the checks applied to
 * every TLS pipe (docs/tls.md). net/net.h holds the public side. */
#ifndef BFT_NET_TLS_H
#define BFT_NET_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>

#include "net/net.h"

struct net_tls_ctx {
    /* PEM text as read from the files; dialers build one nng client
     * config per peer from it because the expected peer name differs. */
    char *ca_pem;
    char *cert_pem;
    char *key_pem;
    nng_tls_config *server; /* for the listener; NULL until needed */
    /* Pipes closed because the peer's certificate did not verify. Bumped
     * on nng's threads, read on the owner's: atomic. */
    _Atomic uint64_t refused;
};

/* Read and check the three files; 0 or -1 with a message naming the file. */
int net_tls_ctx_init(struct net_tls_ctx *x, const struct net_tls_files *f, char *err,
                     size_t errlen);
void net_tls_ctx_fini(struct net_tls_ctx *x);
/* Configure a listener (before it starts): our certificate, the cluster CA,
 * and a client certificate verified by the CA. */
int net_tls_listener(struct net_tls_ctx *x, nng_listener l, char *err, size_t errlen);
/* Configure a dialer (before it starts): our certificate, the CA, and the
 * name the server's certificate must carry. */
int net_tls_dialer(struct net_tls_ctx *x, nng_dialer d, const char *peer_name, char *err,
                   size_t errlen);
/* Close (and count) every pipe of `s` whose peer certificate did not
 * verify, before the pipe carries a message. */
int net_tls_guard(struct net_tls_ctx *x, nng_socket s, char *err, size_t errlen);
/* The same check for one pipe, from a pipe hook of the caller's (a PUSH
 * socket's gate, net/gate.h): true if the peer verified; false if not (the
 * caller closes the pipe; a judged certificate is counted). */
bool net_tls_admit(struct net_tls_ctx *x, nng_pipe p);

#endif
