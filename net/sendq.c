/* A peer's byte-bounded send queue (contract in net/sendq.h). */
#include "net/sendq.h"

#include <assert.h>

static void pool_sub(struct net_send_pool *p, size_t n)
{
    if (p) atomic_fetch_sub(&p->bytes, n);
}

/* Under q->mu: the frame in the aio is done with; take the next one (the
 * caller hands it to nng after unlocking), or NULL. */
static nng_msg *next_locked(struct net_sendq *q, bool go_on)
{
    q->bytes -= q->inflight;
    pool_sub(q->pool, q->inflight);
    q->inflight = 0;
    if (!go_on || q->stopping || q->count == 0) return NULL;
    nng_msg *m = q->ring[q->head];
    q->ring[q->head] = NULL;
    q->head = (q->head + 1) % NET_PEER_QUEUE;
    q->count--;
    q->inflight = nng_msg_len(m);
    return m;
}

/* nng's thread: the frame in the aio reached the peer's connection, or
 * failed (then it is still ours to free). */
static void sent(void *arg)
{
    struct net_sendq *q = arg;
    int rv = nng_aio_result(q->aio);
    if (rv != 0) {
        nng_msg_free(nng_aio_get_msg(q->aio));
        nng_aio_set_msg(q->aio, NULL);
    }
    pthread_mutex_lock(&q->mu);
    if (rv != 0) q->failed++;
    /* A closed socket fails every later frame too: leave them to fini. */
    nng_msg *m = next_locked(q, rv != NNG_ECLOSED && rv != NNG_ECANCELED);
    pthread_mutex_unlock(&q->mu);
    if (!m) return;
    if (!net_gate_enter(q->gate)) {
        /* The socket's connection is gone (net/gate.h): drop the frame
         * as a failed send; the owner replaces the socket and this queue. */
        pthread_mutex_lock(&q->mu);
        q->failed++;
        q->bytes -= q->inflight;
        pool_sub(q->pool, q->inflight);
        q->inflight = 0;
        pthread_mutex_unlock(&q->mu);
        nng_msg_free(m);
        return;
    }
    nng_aio_set_msg(q->aio, m);
    nng_send_aio(q->sock, q->aio);
    net_gate_leave(q->gate);
}

int net_sendq_init(struct net_sendq *q, nng_socket sock, struct net_gate *gate, size_t max_bytes)
{
    memset(q, 0, sizeof *q);
    q->sock = sock;
    q->gate = gate;
    q->max_bytes = max_bytes;
    int rv = nng_aio_alloc(&q->aio, sent, q);
    if (rv != 0) return rv;
    if (pthread_mutex_init(&q->mu, NULL) != 0) {
        nng_aio_free(q->aio);
        q->aio = NULL;
        return NNG_ENOMEM;
    }
    return 0;
}

void net_sendq_fini(struct net_sendq *q)
{
    if (!q->aio) return;
    pthread_mutex_lock(&q->mu);
    q->stopping = true;
    pthread_mutex_unlock(&q->mu);
    /* Cancels a frame still waiting for the connection and waits for its
     * completion, which frees it; a completion that was resubmitting when
     * we stopped leaves its frame in the aio (nng refuses to start a
     * stopped aio without calling us back in some versions): ours too. */
    nng_aio_stop(q->aio);
    nng_msg *left = nng_aio_get_msg(q->aio);
    if (left) nng_msg_free(left);
    nng_aio_free(q->aio);
    q->aio = NULL;
    q->bytes -= q->inflight;
    pool_sub(q->pool, q->inflight);
    q->inflight = 0;
    while (q->count) {
        nng_msg *m = q->ring[q->head];
        size_t len = nng_msg_len(m);
        q->bytes -= len;
        pool_sub(q->pool, len);
        nng_msg_free(m);
        q->head = (q->head + 1) % NET_PEER_QUEUE;
        q->count--;
    }
    pthread_mutex_destroy(&q->mu);
}

int net_sendq_put(struct net_sendq *q, nng_msg *m)
{
    size_t len = nng_msg_len(m);
    pthread_mutex_lock(&q->mu);
    bool idle = q->inflight == 0 && !q->stopping;
    pthread_mutex_unlock(&q->mu);
    /* Nothing queued and the connection free: hand the frame straight to
     * it. The socket is unbuffered, so this succeeds only when the
     * connection takes it now (it is then the one frame nng writes, outside
     * our count); it saves the completion's hop through nng's task threads,
     * which every queued frame costs. Only this thread submits, so the
     * queue is still idle if this fails. */
    if (!net_gate_enter(q->gate)) return -1; /* connection gone: see net/gate.h */
    int rv = idle ? nng_sendmsg(q->sock, m, NNG_FLAG_NONBLOCK) : -1;
    net_gate_leave(q->gate);
    if (rv == 0) return 0;
    pthread_mutex_lock(&q->mu);
    bool busy = q->inflight != 0;
    /* NET_PEER_QUEUE frames at most, the one in the aio included. */
    bool fits = len <= q->max_bytes && q->bytes <= q->max_bytes - len &&
                (!busy || q->count + 1 < NET_PEER_QUEUE) && !q->stopping;
    if (fits && q->pool) {
        /* Only this thread adds to a pool, so what we read cannot grow
         * before we add; completions only make room. */
        size_t now = atomic_load(&q->pool->bytes);
        fits = len <= q->pool->max && now <= q->pool->max - len;
        if (fits) atomic_fetch_add(&q->pool->bytes, len);
    }
    if (!fits) {
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    q->bytes += len;
    if (q->bytes > q->bytes_hwm) q->bytes_hwm = q->bytes;
    if (busy) {
        q->ring[(q->head + q->count) % NET_PEER_QUEUE] = m;
        q->count++;
        pthread_mutex_unlock(&q->mu);
        return 0;
    }
    q->inflight = len;
    pthread_mutex_unlock(&q->mu);
    if (!net_gate_enter(q->gate)) {
        /* Shut since we looked: undo, the caller drops the frame. */
        pthread_mutex_lock(&q->mu);
        q->bytes -= len;
        pool_sub(q->pool, len);
        q->inflight = 0;
        pthread_mutex_unlock(&q->mu);
        return -1;
    }
    nng_aio_set_msg(q->aio, m);
    nng_send_aio(q->sock, q->aio);
    net_gate_leave(q->gate);
    return 0;
}

int net_sendq_limit(struct net_sendq *q, size_t max_bytes, struct net_send_pool *pool)
{
    pthread_mutex_lock(&q->mu);
    /* Queued bytes were counted against the old pool: moving them would
     * unbalance both. Peers are limited when added, before any send. */
    int rv = q->bytes == 0 ? 0 : -1;
    if (rv == 0) {
        q->max_bytes = max_bytes;
        q->pool = pool;
    }
    pthread_mutex_unlock(&q->mu);
    return rv;
}

void net_sendq_stats(struct net_sendq *q, size_t *bytes, size_t *hwm, uint64_t *failed)
{
    pthread_mutex_lock(&q->mu);
    *bytes = q->bytes;
    *hwm = q->bytes_hwm;
    *failed = q->failed;
    pthread_mutex_unlock(&q->mu);
}

uint32_t net_sendq_held(struct net_sendq *q)
{
    pthread_mutex_lock(&q->mu);
    uint32_t n = q->count + (q->inflight ? 1u : 0u);
    pthread_mutex_unlock(&q->mu);
    return n;
}
