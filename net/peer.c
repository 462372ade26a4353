/* A transport's peer and its PUSH socket, replaced when its connection
 * goes (contract in net/peer.h; why in net/gate.h). */
#include "net/peer.h"
#include "net/tls.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/protocol/pipeline0/push.h>

void net_set_err(char *err, size_t errlen, const char *what, const char *url, int rv)
{
    if (err && errlen) snprintf(err, errlen, "%s %s: %s", what, url, nng_strerror(rv));
}

/* Replaced peer sockets are closed on threads of their own (net_peer_renew).
 * net_close waits for them (within its bound), so that nothing of the
 * transport outlives it; net_abandon does not, and the last of them frees
 * this. Shared with those threads, hence on the heap. */
struct net_retiring {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned closing; /* threads still closing a socket */
    bool orphaned;    /* the transport is gone without waiting */
};

void net_retiring_release(struct net_retiring *r, bool wait)
{
    if (!r) return;
    pthread_mutex_lock(&r->mu);
    while (wait && r->closing)
        pthread_cond_wait(&r->cv, &r->mu);
    r->orphaned = true;
    bool last = r->closing == 0;
    pthread_mutex_unlock(&r->mu);
    if (!last) return; /* the last closing thread frees it */
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

static int dial_peer(struct net_tls_ctx *tls, struct net_gate *g, nng_socket sock, const char *url,
                     const char *peer_name, char *err, size_t errlen)
{
    nng_dialer d;
    int rv;
    /* Admission (TLS), connection counting and the shutting hook. */
    if ((rv = net_gate_watch(g, sock)) != 0) {
        net_set_err(err, errlen, "watch connections to", url, rv);
        return -1;
    }
    /* Unbuffered: nng's queue counts messages, not bytes; ours (sendq.h)
     * holds the frames instead. */
    if ((rv = nng_socket_set_int(sock, NNG_OPT_SENDBUF, 0)) != 0) {
        net_set_err(err, errlen, "set send queue for", url, rv);
        return -1;
    }
    if ((rv = nng_dialer_create(&d, sock, url)) != 0) {
        net_set_err(err, errlen, "create dialer for", url, rv);
        return -1;
    }
    g->dialer = d; /* before it starts: the gate's hook may slow it down */
    if ((rv = nng_dialer_set_ms(d, NNG_OPT_RECONNMINT, NET_RECONN_MIN_MS)) != 0 ||
        (rv = nng_dialer_set_ms(d, NNG_OPT_RECONNMAXT, NET_RECONN_MAX_MS)) != 0) {
        net_set_err(err, errlen, "set reconnect times for", url, rv);
        return -1;
    }
    if (tls && net_tls_dialer(tls, d, peer_name, err, errlen) != 0) return -1;
    /* NONBLOCK: connect in the background and keep redialling; a peer that
     * is down now is not an error. */
    if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
        net_set_err(err, errlen, "dial", url, rv);
        return -1;
    }
    return 0;
}

/* A new PUSH socket for p, its gate and its queue, dialling p->url. */
static int peer_connect(struct net_peer *p, struct net_tls_ctx *tls, char *err, size_t errlen)
{
    nng_socket sock;
    int rv = nng_push0_open(&sock);
    if (rv != 0) {
        net_set_err(err, errlen, "open PUSH socket for", p->url, rv);
        return -1;
    }
    struct net_gate *g = net_gate_new(tls);
    if (!g) {
        net_set_err(err, errlen, "add peer", p->url, NNG_ENOMEM);
        nng_close(sock);
        return -1;
    }
    if ((rv = net_sendq_init(&p->q, sock, g, p->max_bytes)) != 0) {
        net_set_err(err, errlen, "send queue for", p->url, rv);
        nng_close(sock);
        net_gate_free(g);
        return -1;
    }
    (void)net_sendq_limit(&p->q, p->max_bytes, p->pool); /* empty: cannot fail */
    if (dial_peer(tls, g, sock, p->url, p->peer_name, err, errlen) != 0) {
        net_sendq_fini(&p->q);
        nng_close(sock);
        net_gate_free(g);
        return -1;
    }
    p->sock = sock;
    p->gate = g;
    p->ups_seen = 0;
    return 0;
}

struct retired {
    nng_socket sock;
    struct net_gate *gate;
    struct net_retiring *set;
};

static void close_retired(void *arg)
{
    struct retired *r = arg;
    nng_close(r->sock); /* after this, no hook of the socket runs */
    net_gate_free(r->gate);
    struct net_retiring *set = r->set;
    free(r);
    pthread_mutex_lock(&set->mu);
    set->closing--;
    bool last = set->orphaned && set->closing == 0;
    pthread_cond_broadcast(&set->cv);
    pthread_mutex_unlock(&set->mu);
    if (!last) return;
    pthread_cond_destroy(&set->cv);
    pthread_mutex_destroy(&set->mu);
    free(set);
}

/* Close a replaced socket on a thread of its own; false if out of memory
 * (the socket then stays open, unused, until the process exits). */
static bool retire(struct net_retiring **setp, nng_socket sock, struct net_gate *gate)
{
    if (!*setp) {
        struct net_retiring *set = calloc(1, sizeof *set);
        if (!set) return false;
        if (pthread_mutex_init(&set->mu, NULL) != 0) {
            free(set);
            return false;
        }
        if (pthread_cond_init(&set->cv, NULL) != 0) {
            pthread_mutex_destroy(&set->mu);
            free(set);
            return false;
        }
        *setp = set;
    }
    struct retired *r = malloc(sizeof *r);
    if (!r) return false;
    *r = (struct retired){.sock = sock, .gate = gate, .set = *setp};
    pthread_mutex_lock(&(*setp)->mu);
    (*setp)->closing++;
    pthread_mutex_unlock(&(*setp)->mu);
    net_run_detached(close_retired, r);
    return true;
}

#define NET_RENEW_GAP_MIN_MS NET_RECONN_MIN_MS
#define NET_RENEW_GAP_MAX_MS NET_RECONN_MAX_MS
#define NET_RENEW_CALM_MS 1000 /* renewals further apart than this start over */

/* If p's connection went away (its gate shut), put a new socket in place.
 * Frames still queued for the old one are dropped (counted as nng refusing
 * them), as a lost connection loses them anyway. The old socket is closed
 * on a thread of its own: nng_close may wait (net_close's reason) and the
 * owner's loop must not. */
void net_peer_renew(struct net_peer *p, struct net_tls_ctx *tls, struct net_retiring **set)
{
    if (p->gate && !net_gate_is_shut(p->gate)) return;
    uint64_t now = net_now_ms();
    if (now < p->renew_at_ms) return;
    if (now - p->renew_at_ms > NET_RENEW_CALM_MS)
        p->renew_gap_ms = NET_RENEW_GAP_MIN_MS;
    else if (p->renew_gap_ms * 2 < NET_RENEW_GAP_MAX_MS)
        p->renew_gap_ms *= 2;
    else
        p->renew_gap_ms = NET_RENEW_GAP_MAX_MS;
    p->renew_at_ms = now + p->renew_gap_ms;
    if (p->gate) {
        size_t bytes, hwm;
        uint64_t failed;
        net_sendq_stats(&p->q, &bytes, &hwm, &failed);
        p->failed_before += failed + net_sendq_held(&p->q);
        if (hwm > p->hwm_before) p->hwm_before = hwm;
        net_sendq_fini(&p->q);
        (void)retire(set, p->sock, p->gate);
        p->gate = NULL;
    }
    char err[256];
    if (peer_connect(p, tls, err, sizeof err) != 0) p->gate = NULL; /* again after the gap */
}

struct net_peer *net_peer_new(const char *url, const char *peer_name, struct net_tls_ctx *tls,
                              bool dial, char *err, size_t errlen)
{
    struct net_peer *p = calloc(1, sizeof *p);
    if (p) {
        p->url = strdup(url);
        p->peer_name = peer_name ? strdup(peer_name) : NULL;
        p->max_bytes = NET_PEER_QUEUE_BYTES;
    }
    if (!p || !p->url || (peer_name && !p->peer_name)) {
        net_set_err(err, errlen, "add peer", url, NNG_ENOMEM);
        net_peer_free(p, true);
        return NULL;
    }
    if (dial && peer_connect(p, tls, err, errlen) != 0) {
        net_peer_free(p, true);
        return NULL;
    }
    return p;
}

void net_peer_free(struct net_peer *p, bool close_socket)
{
    if (!p) return;
    if (p->gate) {
        /* Before the socket closes: the completion must not run after the
         * queue is gone. */
        net_sendq_fini(&p->q);
        if (close_socket) {
            nng_close(p->sock);
            net_gate_free(p->gate);
        }
        /* else the socket outlives p and its hooks still use the gate: it
         * stays, for a process about to exit. */
    }
    free(p->buf);
    free(p->url);
    free(p->peer_name);
    free(p);
}
