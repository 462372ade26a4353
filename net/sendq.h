/* A peer's send queue, bounded in bytes (issue 14: "bound memory by bytes,
 * not counts"; docs/design.md "Transport", docs/architecture.md "Bounds").
 *
 * nng's own PUSH queue (NNG_OPT_SENDBUF) counts messages, so 64 frames of
 * up to NET_FRAME_MAX bytes each let one slow peer pin 256 MiB. Instead the
 * socket is left unbuffered and the frames wait here, where their bytes are
 * counted: one frame at a time is handed to nng through an nng_aio, and its
 * completion (the frame went to the peer's connection) hands over the next.
 * When nothing waits and the connection is free, a frame goes straight to
 * it instead (nng_sendmsg without blocking: it succeeds only then). So nng
 * holds at most the frame in our aio and the one its connection is
 * writing; everything else is in this queue, whose bytes are bounded per
 * peer and, optionally, by a pool shared with other peers (the clients of a
 * replica, who may be many).
 *
 * Threads: put, bytes and stats come from the transport's thread; the
 * completion runs on an nng thread. A mutex per queue orders them; the
 * pool's counter is atomic because queues of different peers share it. */
#ifndef BFT_NET_SENDQ_H
#define BFT_NET_SENDQ_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>

#include "net/gate.h"
#include "net/net.h"

/* A byte budget several queues draw from. */
struct net_send_pool {
    atomic_size_t bytes; /* queued now by the queues that use it */
    size_t max;
};

struct net_sendq {
    pthread_mutex_t mu;
    nng_socket sock;
    struct net_gate *gate; /* every frame goes to sock through it (net/gate.h) */
    nng_aio *aio;
    nng_msg *ring[NET_PEER_QUEUE]; /* frames waiting behind the one in the aio (< NET_PEER_QUEUE) */
    uint32_t head, count;
    size_t inflight;  /* bytes of the frame in the aio, 0 when it is idle */
    size_t bytes;     /* inflight + the waiting frames */
    size_t bytes_hwm; /* the most `bytes` has been */
    size_t max_bytes;
    struct net_send_pool *pool; /* NULL: only max_bytes */
    bool stopping;
    uint64_t failed; /* frames nng refused after we queued them */
};

/* 0, or an nng error (the queue is then not initialised). Frames are
 * handed to sock only through its gate: once the gate shuts, put refuses
 * frames and the completion frees the ones left (the owner replaces the
 * socket, its gate and this queue). */
int net_sendq_init(struct net_sendq *q, nng_socket sock, struct net_gate *gate, size_t max_bytes);
/* Cancel the frame in the aio, wait for its completion, free every frame
 * still queued. The socket stays open (the caller closes it or not). */
void net_sendq_fini(struct net_sendq *q);
/* Take m (0) unless its bytes would put the queue over max_bytes, its pool
 * over the pool's max, or the ring over NET_PEER_QUEUE frames: then -1 and
 * m is still the caller's. Never blocks on the peer. */
int net_sendq_put(struct net_sendq *q, nng_msg *m);
/* Change the bound and the pool (NULL: none). Only while nothing is
 * queued: 0, else -1 and nothing changes. */
int net_sendq_limit(struct net_sendq *q, size_t max_bytes, struct net_send_pool *pool);
/* Bytes queued now and the high-water mark; frames nng failed. */
void net_sendq_stats(struct net_sendq *q, size_t *bytes, size_t *hwm, uint64_t *failed);
/* Frames the queue holds now (waiting, and the one in the aio). */
uint32_t net_sendq_held(struct net_sendq *q);

#endif
