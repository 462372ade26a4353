/* Private to net/: one peer of a transport, its PUSH socket and how the
 * socket is replaced when its connection goes (net/gate.h says why). The
 * transport (net/transport.c) owns the peers; this file owns their
 * sockets. Everything here runs on the transport's thread, except the
 * closing of replaced sockets, on threads of their own. */
#ifndef BFT_NET_PEER_H
#define BFT_NET_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "net/gate.h"
#include "net/net.h"
#include "net/sendq.h"

struct net_tls_ctx;

#define NET_RECONN_MIN_MS 20  /* redial quickly after a peer restarts */
#define NET_RECONN_MAX_MS 500 /* but back off for a peer that stays down */

struct net_peer {
    /* PUSH, dialled to the peer, unbuffered: frames wait in q. One
     * connection per socket: when it goes, its gate shuts and
     * net_peer_renew puts a new socket, gate and queue in its place. */
    nng_socket sock;
    struct net_gate *gate; /* NULL: no socket now (a renewal failed) */
    struct net_sendq q;    /* initialised iff gate */
    uint8_t *buf;          /* coalescing buffer, NULL until the first send */
    struct net_frame f;
    bool listed; /* on the transport's pending list */
    struct net_peer_stats st;
    unsigned ups_seen; /* gate->ups when net_peers_up last looked */
    /* What a renewal needs: the address, the TLS name, the queue's bounds. */
    char *url;
    char *peer_name;
    size_t max_bytes;
    struct net_send_pool *pool;
    /* Renewals back off like nng's redials when they come in a row (a peer
     * that accepts and drops at once must not cost a thread every 20 ms). */
    uint64_t renew_at_ms, renew_gap_ms;
    /* Folded in from replaced queues, so the counters never go back. */
    uint64_t failed_before;
    size_t hwm_before;
};

/* Replaced sockets still closing on their own threads: shared with those
 * threads, created at the first replacement (*set NULL until then). */
struct net_retiring;

/* "WHAT URL: nng's message" into err. */
void net_set_err(char *err, size_t errlen, const char *what, const char *url, int rv);
/* A peer dialling url (peer_name: the TLS name, or NULL), its queue
 * bounded by NET_PEER_QUEUE_BYTES: the peer, or NULL with err. */
/* dial false: no socket (a direct transport's peer: net/direct.h sends). */
struct net_peer *net_peer_new(const char *url, const char *peer_name, struct net_tls_ctx *tls,
                              bool dial, char *err, size_t errlen);
/* Free p. close_socket: close its socket and gate now; else leave them to
 * the process's exit (their hooks may still run: net_abandon). */
void net_peer_free(struct net_peer *p, bool close_socket);
/* If p's connection went away (its gate shut), put a new socket in place,
 * closing the old one through *set. */
void net_peer_renew(struct net_peer *p, struct net_tls_ctx *tls, struct net_retiring **set);
/* The transport is going: wait for the closing threads (wait) or leave
 * them to free the set when the last one ends. NULL is fine. */
void net_retiring_release(struct net_retiring *set, bool wait);

#endif
