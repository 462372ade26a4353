/* Transport: one nng PULL socket to receive, one PUSH socket per peer to
 * send, one coalescing buffer per peer (contract in net/net.h).
 *
 * Threading: a transport belongs to one thread. Every net_* call on it must
 * come from that thread (or be serialised by the caller); nng runs its own
 * I/O threads underneath, which never touch this struct.
 *
 * Why this shape (docs/design.md, "Transport"): nng costs ~40 us of CPU per
 * message whatever its size, so everything bound for one peer in one loop
 * iteration goes out as one frame; and every send is non-blocking into a
 * queue bounded in bytes and frames (net/sendq.c), so a slow or dead peer
 * costs us dropped frames, never a stalled replica (bulkhead), and never
 * more memory than its bound.
 */
#include "net/net.h"
#include "net/direct.h"
#include "net/peer.h"
#include "net/sendq.h"
#include "net/tls.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>

#define NET_BUF_INIT 4096 /* first coalescing buffer; doubles up to the cap */
/* A coalescing buffer above this is freed after a flush that used less
 * than a quarter of it: a burst of big frames to a peer (a state transfer,
 * a catch-up) does not pin up to NET_FRAME_MAX per peer afterwards, while
 * a peer that gets big frames every iteration (a backup, from the primary)
 * keeps its buffer. */
#define NET_BUF_KEEP (64u << 10)
#define NET_RECV_SLACK 4096  /* frames a little too big still reach the checker */
#define NET_TIMEO_UNSET (-3) /* below every nng_duration we ever set */

struct net_transport {
    nng_socket pull;
    bool listening;
    nng_duration recv_timeo_ms; /* what NNG_OPT_RECVTIMEO is set to now */
    struct net_peer *peers[NET_MAX_PEERS];
    /* Peers with a non-empty frame, so net_flush is O(pending). Each peer is
     * listed at most once (p->listed), so NET_MAX_PEERS bounds it. */
    uint32_t pending[NET_MAX_PEERS];
    size_t npending;
    struct net_tls_ctx *tls;       /* NULL: plain tcp/ipc */
    struct net_send_pool shared;   /* what peers in the shared pool queue at most */
    struct net_retiring *retiring; /* replaced sockets still closing; NULL until one is */
    /* tcp+direct:// (net/direct.h): set at open for a listener, at the
     * first peer for a send-only transport; then every URL is direct. */
    struct net_direct *direct;
    bool nng_used; /* a listener or peer over nng: no direct URL from then on */
};

/* A received frame is handed out as the nng_msg body itself (no copy of up
 * to NET_FRAME_MAX bytes); the nng_msg handle is stored in front of it so
 * net_frame_free can find it. nng leaves headroom in received messages, so
 * the insert normally moves nothing. */
#define NET_RECV_HDR sizeof(nng_msg *)
_Static_assert(sizeof(nng_msg *) == NET_DIRECT_FRAME_HDR, "net_frame_free reads one pointer");

static void release(struct net_transport *t, bool close_sockets)
{
    if (!t) return;
    /* Messages not yet flushed, and frames still in nng's queues, are
     * discarded: reliability is the protocols' business. */
    for (size_t i = 0; i < NET_MAX_PEERS; i++)
        net_peer_free(t->peers[i], close_sockets);
    if (t->listening && close_sockets) nng_close(t->pull);
    net_direct_close(t->direct); /* plain sockets: closing never waits */
    net_retiring_release(t->retiring, close_sockets);
    /* Abandoned sockets may still run the TLS pipe hook, which points at
     * the context: it lives until the process exits. */
    if (t->tls && close_sockets) {
        net_tls_ctx_fini(t->tls);
        free(t->tls);
    }
    free(t);
}

bool net_url_is_tls(const char *url)
{
    return url && strncmp(url, "tls+tcp://", 10) == 0;
}

/* A TLS transport speaks only tls+tcp://, a plain one never: a mix would
 * silently send some traffic in the clear, or never connect. */
static int check_scheme(const struct net_transport *t, const char *url, char *err, size_t errlen)
{
    bool direct = net_url_is_direct(url);
    if (direct && t->tls) {
        if (err && errlen)
            snprintf(err, errlen, "%s: TLS is on, the URL must be tls+tcp:// (no TLS over %s)", url,
                     NET_DIRECT_SCHEME);
        return -1;
    }
    if ((direct && t->nng_used) || (!direct && t->direct)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: one transport speaks %s to every peer or to none", url,
                     NET_DIRECT_SCHEME);
        return -1;
    }
    if (direct) return 0;
    if (t->tls && !net_url_is_tls(url)) {
        if (err && errlen) snprintf(err, errlen, "%s: TLS is on, the URL must be tls+tcp://", url);
        return -1;
    }
    if (!t->tls && net_url_is_tls(url)) {
        if (err && errlen)
            snprintf(err, errlen, "%s: tls+tcp:// needs TLS certificates (docs/tls.md)", url);
        return -1;
    }
    return 0;
}

static int start_listener(struct net_transport *t, const char *url, char *err, size_t errlen)
{
    int rv;
    if (!t->tls) {
        if ((rv = nng_listen(t->pull, url, NULL, 0)) != 0) {
            net_set_err(err, errlen, "listen on", url, rv);
            return -1;
        }
        return 0;
    }
    nng_listener l;
    if ((rv = nng_listener_create(&l, t->pull, url)) != 0) {
        net_set_err(err, errlen, "create listener on", url, rv);
        return -1;
    }
    if (net_tls_listener(t->tls, l, err, errlen) != 0 ||
        net_tls_guard(t->tls, t->pull, err, errlen) != 0)
        return -1;
    if ((rv = nng_listener_start(l, 0)) != 0) {
        net_set_err(err, errlen, "listen on", url, rv);
        return -1;
    }
    return 0;
}

int net_open(struct net_transport **out, const char *listen_url, char *err, size_t errlen)
{
    return net_open_tls(out, listen_url, NULL, err, errlen);
}

int net_open_tls(struct net_transport **out, const char *listen_url,
                 const struct net_tls_files *tls, char *err, size_t errlen)
{
    int rv;
    *out = NULL;
    struct net_transport *t = calloc(1, sizeof *t);
    if (!t) {
        net_set_err(err, errlen, "open", listen_url ? listen_url : "(send-only)", NNG_ENOMEM);
        return -1;
    }
    t->recv_timeo_ms = NET_TIMEO_UNSET;
    atomic_init(&t->shared.bytes, 0);
    t->shared.max = NET_SHARED_QUEUE_BYTES;
    if (tls) {
        t->tls = malloc(sizeof *t->tls);
        if (!t->tls || net_tls_ctx_init(t->tls, tls, err, errlen) != 0) {
            if (!t->tls) net_set_err(err, errlen, "open", "TLS", NNG_ENOMEM);
            free(t->tls);
            free(t);
            return -1;
        }
    }
    if (listen_url && check_scheme(t, listen_url, err, errlen) != 0) {
        release(t, true);
        return -1;
    }
    if (listen_url && net_url_is_direct(listen_url)) {
        if (net_direct_open(&t->direct, listen_url, err, errlen) != 0) {
            release(t, true);
            return -1;
        }
    } else if (listen_url) {
        t->nng_used = true;
        if ((rv = nng_pull0_open(&t->pull)) != 0) {
            net_set_err(err, errlen, "open PULL socket for", listen_url, rv);
            release(t, true);
            return -1;
        }
        t->listening = true; /* the socket is ours to close from here on */
        /* nng drops (and disconnects) anything larger before we allocate
         * it: a peer cannot make us buffer more than this per frame. */
        rv = nng_socket_set_size(t->pull, NNG_OPT_RECVMAXSZ, NET_FRAME_MAX + NET_RECV_SLACK);
        if (rv != 0) {
            net_set_err(err, errlen, "set receive limit on", listen_url, rv);
            goto err_close;
        }
        if (start_listener(t, listen_url, err, errlen) != 0) goto err_close;
    }
    *out = t;
    return 0;

err_close:
    release(t, true);
    return -1;
}

static void close_all(void *arg)
{
    release(arg, true);
}

void net_close(struct net_transport *t)
{
    if (t) (void)net_run_bounded(close_all, t, NET_CLOSE_WAIT_MS);
}

void net_abandon(struct net_transport *t)
{
    release(t, false);
}

uint64_t net_peers_up(struct net_transport *t)
{
    if (t->direct) {
        net_direct_poll(t->direct);
        return net_direct_peers_up(t->direct);
    }
    uint64_t mask = 0;
    for (uint32_t id = 0; id < NET_MAX_PEERS && id < 64; id++) {
        struct net_peer *p = t->peers[id];
        if (!p) continue;
        /* Also where an idle peer's dead socket is replaced, so that it
         * redials and comes back up without waiting for our next send. */
        net_peer_renew(p, t->tls, &t->retiring);
        if (!p->gate) continue;
        unsigned ups = atomic_load_explicit(&p->gate->ups, memory_order_relaxed);
        if (ups == p->ups_seen) continue;
        p->ups_seen = ups;
        mask |= 1ull << id;
    }
    return mask;
}

int net_add_peer(struct net_transport *t, uint32_t id, const char *url, char *err, size_t errlen)
{
    return net_add_peer_named(t, id, url, NULL, err, errlen);
}

int net_add_peer_named(struct net_transport *t, uint32_t id, const char *url, const char *peer_name,
                       char *err, size_t errlen)
{
    if (check_scheme(t, url, err, errlen) != 0) return -1;
    if (t->tls && (!peer_name || !peer_name[0])) {
        if (err && errlen) snprintf(err, errlen, "%s: TLS needs the peer's certificate name", url);
        return -1;
    }
    if (id >= NET_MAX_PEERS) {
        if (err && errlen) snprintf(err, errlen, "peer id %u >= %u", id, NET_MAX_PEERS);
        return -1;
    }
    if (t->peers[id]) {
        if (err && errlen) snprintf(err, errlen, "peer id %u already added", id);
        return -1;
    }
    bool direct = net_url_is_direct(url);
    if (direct && !t->direct && net_direct_open(&t->direct, NULL, err, errlen) != 0) return -1;
    struct net_peer *p = net_peer_new(url, peer_name, t->tls, !direct, err, errlen);
    if (!p) return -1;
    if (direct && net_direct_add_peer(t->direct, id, url, err, errlen) != 0) {
        net_peer_free(p, true);
        return -1;
    }
    t->nng_used |= !direct;
    t->peers[id] = p;
    return 0;
}

bool net_has_peer(const struct net_transport *t, uint32_t id)
{
    return id < NET_MAX_PEERS && t->peers[id] != NULL;
}

/* Count a frame the queue took (0) or dropped (-1). */
static int count_frame(struct net_peer *p, size_t len, bool taken)
{
    if (!taken) {
        p->st.frames_dropped++;
        p->st.bytes_dropped += len;
        return -1;
    }
    p->st.frames_sent++;
    p->st.bytes_sent += len;
    return 0;
}

/* Queue `len` bytes as one frame without blocking: 0, or -1 with the frame
 * dropped and counted (the queue is at a bound, or memory is short). */
static int queue_frame(struct net_transport *t, uint32_t id, struct net_peer *p,
                       const uint8_t *bytes, size_t len)
{
    if (t->direct) return count_frame(p, len, net_direct_queue(t->direct, id, bytes, len) == 0);
    /* An exact-size copy: the queue counts len bytes per frame, so a frame
     * must not carry the coalescing buffer's spare room. */
    nng_msg *m;
    if (nng_msg_alloc(&m, len) != 0) return count_frame(p, len, false);
    memcpy(nng_msg_body(m), bytes, len);
    if (!p->gate || net_sendq_put(&p->q, m) != 0) {
        nng_msg_free(m);
        return count_frame(p, len, false);
    }
    return count_frame(p, len, true);
}

/* Hand the peer's frame to its queue, then start a new one. */
static void flush_peer(struct net_transport *t, uint32_t id, struct net_peer *p)
{
    if (!p->buf || p->f.count == 0) return;
    if (!t->direct) net_peer_renew(p, t->tls, &t->retiring);
    uint16_t count = p->f.count;
    size_t len = net_frame_finish(&p->f);
    net_frame_init(&p->f, p->buf, p->f.cap);
    if (queue_frame(t, id, p, p->buf, len) == 0) p->st.msgs_sent += count;
    if (p->f.cap > NET_BUF_KEEP && len <= p->f.cap / 4) {
        free(p->buf); /* grown for an earlier burst: regrow on demand */
        p->buf = NULL;
    }
}

/* Make room for `need` more bytes, doubling up to NET_FRAME_MAX. */
static int grow_buf(struct net_peer *p, size_t need)
{
    size_t cap = p->buf ? p->f.cap : 0;
    size_t used = p->buf ? p->f.len : NET_FRAME_HDR_LEN;
    if (p->buf && need <= cap - used) return 0;
    size_t ncap = cap ? cap : NET_BUF_INIT;
    while (ncap - used < need && ncap < NET_FRAME_MAX)
        ncap *= 2;
    if (ncap > NET_FRAME_MAX) ncap = NET_FRAME_MAX;
    assert(need <= ncap - used); /* callers flushed when the cap is reached */
    uint8_t *nb = realloc(p->buf, ncap);
    if (!nb) return -1;
    if (!p->buf) net_frame_init(&p->f, nb, ncap);
    p->buf = nb;
    p->f.buf = nb;
    p->f.cap = ncap;
    return 0;
}

int net_send(struct net_transport *t, uint32_t id, const uint8_t *msg, size_t len)
{
    if (!net_has_peer(t, id)) return -1;
    struct net_peer *p = t->peers[id];
    if (len == 0 || len > NET_MSG_MAX) {
        p->st.frames_dropped++;
        p->st.bytes_dropped += len;
        return -1;
    }
    size_t need = 4 + len; /* u32 length prefix + body */
    if (p->buf && (p->f.count >= NET_FRAME_MAX_MSGS || need > NET_FRAME_MAX - p->f.len))
        flush_peer(t, id, p); /* the frame is full: send it now, start a new one */
    if (grow_buf(p, need) != 0) {
        p->st.frames_dropped++;
        p->st.bytes_dropped += len;
        return -1;
    }
    int rv = net_frame_add(&p->f, msg, len);
    assert(rv == 0); /* room and limits were checked above */
    (void)rv;
    if (!p->listed) {
        assert(t->npending < NET_MAX_PEERS);
        t->pending[t->npending++] = id;
        p->listed = true;
    }
    return 0;
}

void net_flush(struct net_transport *t)
{
    for (size_t i = 0; i < t->npending; i++) {
        struct net_peer *p = t->peers[t->pending[i]];
        assert(p && p->listed);
        flush_peer(t, t->pending[i], p);
        p->listed = false;
    }
    t->npending = 0;
    /* A direct transport moves only inside its owner's calls: flushes
     * finish its connects and blocked writes too (a send-only one has no
     * net_recv to do it). */
    if (t->direct) net_direct_poll(t->direct);
}

int net_recv(struct net_transport *t, int timeout_ms, uint8_t **frame, size_t *len)
{
    *frame = NULL;
    *len = 0;
    if (t->direct) return net_direct_recv(t->direct, timeout_ms, frame, len);
    if (!t->listening) return -1; /* send-only endpoint: nothing will arrive */
    nng_msg *m = NULL;
    int rv;
    if (timeout_ms == 0) {
        rv = nng_recvmsg(t->pull, &m, NNG_FLAG_NONBLOCK);
    } else {
        nng_duration d = timeout_ms < 0 ? NNG_DURATION_INFINITE : timeout_ms;
        if (d != t->recv_timeo_ms) {
            rv = nng_socket_set_ms(t->pull, NNG_OPT_RECVTIMEO, d);
            if (rv != 0) return rv == NNG_ECLOSED ? -1 : 0;
            t->recv_timeo_ms = d;
        }
        rv = nng_recvmsg(t->pull, &m, 0);
    }
    if (rv == NNG_ECLOSED) return -1;
    if (rv != 0) return 0; /* EAGAIN / ETIMEDOUT, or a transient failure */

    size_t n = nng_msg_len(m);
    if (nng_msg_insert(m, &m, NET_RECV_HDR) != 0) {
        nng_msg_free(m); /* out of memory: the frame is lost, like a drop */
        return 0;
    }
    *frame = (uint8_t *)nng_msg_body(m) + NET_RECV_HDR;
    *len = n;
    return 1;
}

void net_frame_free(uint8_t *frame)
{
    if (!frame) return;
    nng_msg *m;
    memcpy(&m, frame - NET_RECV_HDR, sizeof m);
    if (!m) { /* the direct transport's: a plain allocation (net/direct.h) */
        free(frame - NET_DIRECT_FRAME_HDR);
        return;
    }
    nng_msg_free(m);
}

/* The peer's counters with its queue's bytes, read under the queue's lock. */
static void peer_stats(const struct net_transport *t, uint32_t id, struct net_peer *p,
                       struct net_peer_stats *out)
{
    *out = p->st;
    size_t bytes = 0, hwm = 0;
    uint64_t failed = 0;
    if (t->direct)
        net_direct_stats(t->direct, id, &bytes, &hwm, &failed);
    else if (p->gate)
        net_sendq_stats(&p->q, &bytes, &hwm, &failed);
    out->queued_bytes = bytes;
    out->queued_bytes_max = hwm > p->hwm_before ? hwm : p->hwm_before;
    /* queued, then refused by nng or lost with a connection */
    out->frames_dropped += failed + p->failed_before;
}

void net_peer_stats(const struct net_transport *t, uint32_t id, struct net_peer_stats *out)
{
    memset(out, 0, sizeof *out);
    if (net_has_peer(t, id)) peer_stats(t, id, t->peers[id], out);
}

int net_limit_inbound(struct net_transport *t, uint32_t max)
{
    return t->direct ? net_direct_limit_inbound(t->direct, max) : -1;
}

int net_limit_peer(struct net_transport *t, uint32_t id, size_t max_bytes, bool shared)
{
    if (!net_has_peer(t, id) || max_bytes == 0) return -1;
    struct net_peer *p = t->peers[id];
    struct net_send_pool *pool = shared ? &t->shared : NULL;
    if (t->direct) {
        if (net_direct_limit(t->direct, id, max_bytes, pool) != 0) return -1;
    } else if (!p->gate || net_sendq_limit(&p->q, max_bytes, pool) != 0) {
        return -1;
    }
    p->max_bytes = max_bytes; /* for the queues of later sockets too */
    p->pool = pool;
    return 0;
}

void net_total_stats(const struct net_transport *t, struct net_peer_stats *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < NET_MAX_PEERS; i++) {
        struct net_peer *p = t->peers[i];
        if (!p) continue;
        struct net_peer_stats st;
        peer_stats(t, (uint32_t)i, p, &st);
        out->msgs_sent += st.msgs_sent;
        out->bytes_sent += st.bytes_sent;
        out->frames_sent += st.frames_sent;
        out->frames_dropped += st.frames_dropped;
        out->bytes_dropped += st.bytes_dropped;
        out->queued_bytes += st.queued_bytes;
        /* The sum of the peers' high-water marks: an upper bound on the
         * transport's own, which no single moment need have reached. */
        out->queued_bytes_max += st.queued_bytes_max;
    }
    out->tls_refused = net_tls_refused(t);
}

int net_send_raw(struct net_transport *t, uint32_t id, const uint8_t *bytes, size_t len)
{
    if (id >= NET_MAX_PEERS || !t->peers[id] || len == 0 || len > NET_FRAME_MAX) return -1;
    if (!t->direct) net_peer_renew(t->peers[id], t->tls, &t->retiring);
    return queue_frame(t, id, t->peers[id], bytes, len);
}

uint64_t net_tls_refused(const struct net_transport *t)
{
    return t->tls ? t->tls->refused : 0;
}
