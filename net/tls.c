/* TLS for the transport: nng's tls+tcp:// with mutual authentication
 * (docs/tls.md).
 *
 * Both ends present a certificate signed by the cluster CA. The dialer also
 * checks the name in the listener's certificate (the peer it meant to reach,
 * e.g. "replica-3"). nng 1.5.2 does not expose the peer's name to the
 * listener, so the listener checks membership (signed by the cluster CA);
 * the Ed25519 signature on every message still binds it to its sender.
 *
 * Refusals are counted: the handshake runs with verification "optional", so
 * a peer with a bad certificate completes it, and the pipe-add hook below
 * closes that pipe before it carries a message and counts it. With
 * "required", mbedTLS would abort the handshake inside nng, where we could
 * not count it. */
#include "net/tls.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define NET_TLS_FILE_MAX (64u << 10) /* a PEM certificate or key is ~1 KiB */

/* The whole file as a NUL-terminated string, bounded. */
static char *read_pem(const char *what, const char *path, char *err, size_t errlen)
{
    if (!path || !path[0]) {
        snprintf(err, errlen, "TLS %s: no file given", what);
        return NULL;
    }
    FILE *fp = fopen(path, "re");
    if (!fp) {
        snprintf(err, errlen, "TLS %s %s: %s", what, path, strerror(errno));
        return NULL;
    }
    char *buf = NULL;
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode))
        snprintf(err, errlen, "TLS %s %s: not a regular file", what, path);
    else if (st.st_size == 0 || (uint64_t)st.st_size > NET_TLS_FILE_MAX)
        snprintf(err, errlen, "TLS %s %s: %s", what, path,
                 st.st_size == 0 ? "empty" : "larger than 64 KiB");
    else if (!(buf = malloc((size_t)st.st_size + 1)))
        snprintf(err, errlen, "TLS %s %s: out of memory", what, path);
    else if (fread(buf, 1, (size_t)st.st_size, fp) != (size_t)st.st_size) {
        snprintf(err, errlen, "TLS %s %s: read error", what, path);
        free(buf);
        buf = NULL;
    } else {
        buf[st.st_size] = '\0';
    }
    fclose(fp);
    return buf;
}

void net_tls_ctx_fini(struct net_tls_ctx *x)
{
    if (x->server) nng_tls_config_free(x->server);
    free(x->ca_pem);
    if (x->key_pem) {
        explicit_bzero(x->key_pem, strlen(x->key_pem));
        free(x->key_pem);
    }
    free(x->cert_pem);
    memset(x, 0, sizeof *x);
}

/* A config with our certificate and the CA; `name` non-NULL for a dialer.
 * Parse errors are reported against the file that holds the bad PEM. */
static int make_config(struct net_tls_ctx *x, const struct net_tls_files *f, nng_tls_mode mode,
                       const char *name, nng_tls_config **out, char *err, size_t errlen)
{
    nng_tls_config *c;
    int rv = nng_tls_config_alloc(&c, mode);
    if (rv != 0) {
        snprintf(err, errlen, "TLS: %s (is nng built with TLS?)", nng_strerror(rv));
        return -1;
    }
    const char *bad = NULL;
    if ((rv = nng_tls_config_ca_chain(c, x->ca_pem, NULL)) != 0)
        bad = f ? f->ca_file : "CA certificate";
    else if ((rv = nng_tls_config_own_cert(c, x->cert_pem, x->key_pem, NULL)) != 0)
        bad = f ? f->cert_file : "own certificate or key";
    else if ((rv = nng_tls_config_auth_mode(c, NNG_TLS_AUTH_MODE_OPTIONAL)) != 0)
        bad = "auth mode";
    else if (name && (rv = nng_tls_config_server_name(c, name)) != 0)
        bad = name;
    if (bad) {
        snprintf(err, errlen, "TLS %s: %s", bad, nng_strerror(rv));
        nng_tls_config_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

int net_tls_ctx_init(struct net_tls_ctx *x, const struct net_tls_files *f, char *err, size_t errlen)
{
    memset(x, 0, sizeof *x);
    if (!(x->ca_pem = read_pem("CA certificate", f->ca_file, err, errlen)) ||
        !(x->cert_pem = read_pem("certificate", f->cert_file, err, errlen)) ||
        !(x->key_pem = read_pem("private key", f->key_file, err, errlen))) {
        net_tls_ctx_fini(x);
        return -1;
    }
    /* Build the server config now even for a send-only endpoint: a bad
     * certificate or key shows up at start-up, not at the first dial. */
    if (make_config(x, f, NNG_TLS_MODE_SERVER, NULL, &x->server, err, errlen) != 0) {
        net_tls_ctx_fini(x);
        return -1;
    }
    return 0;
}

int net_tls_listener(struct net_tls_ctx *x, nng_listener l, char *err, size_t errlen)
{
    int rv = nng_listener_set_ptr(l, NNG_OPT_TLS_CONFIG, x->server);
    if (rv != 0) {
        snprintf(err, errlen, "TLS listener: %s", nng_strerror(rv));
        return -1;
    }
    return 0;
}

int net_tls_dialer(struct net_tls_ctx *x, nng_dialer d, const char *peer_name, char *err,
                   size_t errlen)
{
    nng_tls_config *c;
    if (make_config(x, NULL, NNG_TLS_MODE_CLIENT, peer_name, &c, err, errlen) != 0) return -1;
    int rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c);
    nng_tls_config_free(c); /* the dialer holds its own reference */
    if (rv != 0) {
        snprintf(err, errlen, "TLS dialer for %s: %s", peer_name, nng_strerror(rv));
        return -1;
    }
    return 0;
}

/* Runs on an nng thread before the pipe joins the socket, so nothing the
 * peer sends can reach net_recv first. */
bool net_tls_admit(struct net_tls_ctx *x, nng_pipe p)
{
    bool verified = false;
    int rv = nng_pipe_get_bool(p, NNG_OPT_TLS_VERIFIED, &verified);
    if (rv == 0 && verified) return true;
    /* Unverifiable is refused too, but counted only when the certificate
     * was judged: a pipe the peer closed meanwhile is not a refusal. */
    if (rv == 0) x->refused++;
    return false;
}

static void on_pipe_add(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)ev;
    if (!net_tls_admit(arg, p)) nng_pipe_close(p);
}

int net_tls_guard(struct net_tls_ctx *x, nng_socket s, char *err, size_t errlen)
{
    int rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_PRE, on_pipe_add, x);
    if (rv != 0) {
        snprintf(err, errlen, "TLS pipe hook: %s", nng_strerror(rv));
        return -1;
    }
    return 0;
}
