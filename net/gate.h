/* Private to net/: the gate in front of one PUSH socket (docs/design.md
 * "Transport", "A peer's socket is used for one connection").
 *
 * Why: nng 1.5.2 (Debian's) can leave a dead connection in a PUSH socket's
 * list of connections ready to send. push0_send_cb puts the connection back
 * on that list after a successful send without asking whether it has been
 * closed meanwhile, and push0_pipe_start does the same for a connection
 * that fails while it starts (nanomsg/nng#1653, fixed after 1.5.2). The
 * connection is then freed while still listed, and the socket's next send
 * (or its next connection) touches freed memory. We saw it as SIGSEGVs of
 * `bftctl soak` at the moment a replica was SIGKILLed: in push0_sock_send
 * (nni_list_remove) and in nni_pipe_send, 2 of 20 Raft soaks on a loaded
 * machine.
 *
 * So a PUSH socket carries one connection in its life. Once a connection
 * that got past our admission check goes away, the gate shuts: no frame is
 * handed to the socket again and no new connection is admitted, and the
 * transport replaces the socket with a new one (net/peer.c, net_peer_renew).
 * The shutting hook and every send into the socket take the gate's mutex,
 * so a send either finishes before the hook returns (before nng frees the
 * connection: the hook runs first in its teardown) or sees the gate shut.
 *
 * The gate is shared by nng's threads (the hooks) and the transport's
 * (sends): it lives until its socket's nng_close has returned, which
 * guarantees the hooks are done with it. */
#ifndef BFT_NET_GATE_H
#define BFT_NET_GATE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include <nng/nng.h>

struct net_tls_ctx;

struct net_gate {
    pthread_mutex_t mu; /* held by every send into the socket and by the shutting hook */
    atomic_bool shut;
    /* The pipe our admission hook refused last (TLS, or the gate was shut):
     * its removal says nothing about the socket. One dialer per socket, so
     * one pipe at a time. */
    atomic_uint refused_pipe;
    atomic_uint ups;         /* connections made (net_peers_up) */
    struct net_tls_ctx *tls; /* NULL: plain tcp/ipc */
    /* The socket's dialer (id 0: none yet). Once the gate shuts, it redials
     * only every NET_GATE_SHUT_REDIAL_MS: each refused connection would
     * otherwise reset nng's backoff and redial every 20 ms until the
     * transport replaces the socket, which it does only when it next sends
     * to the peer or asks net_peers_up. */
    nng_dialer dialer;
};

#define NET_GATE_SHUT_REDIAL_MS 1000

/* A new open gate, or NULL (out of memory). */
struct net_gate *net_gate_new(struct net_tls_ctx *tls);
/* Install the gate's hooks on s (before its dialer starts): nng error or 0. */
int net_gate_watch(struct net_gate *g, nng_socket s);
/* Only after the socket's nng_close has returned (or it was never watched). */
void net_gate_free(struct net_gate *g);
/* Enter before handing the socket a frame: true with the gate's mutex held
 * (net_gate_leave after the nng call), false if it is shut (nothing held). */
bool net_gate_enter(struct net_gate *g);
void net_gate_leave(struct net_gate *g);
static inline bool net_gate_is_shut(struct net_gate *g)
{
    return atomic_load_explicit(&g->shut, memory_order_acquire);
}

#endif
