/* The direct transport's sending side: one outbound connection per peer,
 * dialled and redialled, and its bounded queue of frames written as the
 * socket takes them (net/direct.h). */
#include "net/direct_internal.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

static void out_release(struct outconn *o, struct out_frame *f)
{
    o->bytes -= f->len - 4;
    o->nframes--;
    if (o->pool) atomic_fetch_sub(&o->pool->bytes, f->len - 4);
    free(f);
}

/* The connection went: the frame half written is lost (counted); the
 * others wait for the next connection. */
static void out_down(struct net_direct *d, struct outconn *o)
{
    if (o->fd >= 0) {
        epoll_ctl(d->ep, EPOLL_CTL_DEL, o->fd, NULL);
        close(o->fd);
    }
    o->fd = -1;
    uint64_t now = direct_now_ms();
    if (o->up && now - o->up_at_ms > RECONN_CALM_MS) o->gap_ms = 0;
    o->up = false;
    o->gap_ms =
        o->gap_ms ? (o->gap_ms * 2 > RECONN_MAX_MS ? RECONN_MAX_MS : o->gap_ms * 2) : RECONN_MIN_MS;
    o->dial_at_ms = now + o->gap_ms;
    struct out_frame *f = o->head;
    if (f && f->off > 0) {
        o->head = f->next;
        if (!o->head) o->tail = NULL;
        out_release(o, f);
        o->failed++;
    }
}

/* Write what the socket takes: 0, or -1 if the connection went. */
static int out_write(struct net_direct *d, struct outconn *o)
{
    while (o->head) {
        struct iovec iov[MAX_IOV];
        int n = 0;
        for (struct out_frame *f = o->head; f && n < MAX_IOV; f = f->next, n++) {
            iov[n].iov_base = f->bytes + f->off;
            iov[n].iov_len = f->len - f->off;
        }
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(o->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return 0; /* EPOLLOUT resumes */
            if (errno == EINTR) continue;
            out_down(d, o);
            return -1;
        }
        size_t left = (size_t)w;
        while (left && o->head) {
            struct out_frame *f = o->head;
            size_t rest = f->len - f->off;
            if (left < rest) {
                f->off += left;
                left = 0;
                break;
            }
            left -= rest;
            o->head = f->next;
            if (!o->head) o->tail = NULL;
            out_release(o, f);
        }
    }
    return 0;
}

static void out_dial(struct net_direct *d, uint32_t id, struct outconn *o)
{
    o->fd = socket(o->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (o->fd < 0) {
        out_down(d, o);
        return;
    }
    int one = 1, user_timeout = USER_TIMEOUT_MS;
    (void)setsockopt(o->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    (void)setsockopt(o->fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, sizeof user_timeout);
    o->dial_at_ms = direct_now_ms();
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = direct_tag(TAG_OUT, id)};
    if (epoll_ctl(d->ep, EPOLL_CTL_ADD, o->fd, &ev) != 0) {
        out_down(d, o);
        return;
    }
    if (connect(o->fd, (struct sockaddr *)&o->sa, o->salen) != 0 && errno != EINPROGRESS)
        out_down(d, o);
    /* else EPOLLOUT says how it ended */
}

/* When o next needs us: its redial, or the end of its connect's time;
 * UINT64_MAX if it is up. */
static uint64_t dial_deadline(const struct outconn *o)
{
    if (o->fd < 0) return o->dial_at_ms;
    return o->up ? UINT64_MAX : o->dial_at_ms + CONNECT_TIMEOUT_MS;
}

void direct_dial_due(struct net_direct *d, uint64_t now)
{
    for (size_t i = 0; i < d->nids; i++) {
        struct outconn *o = d->out[d->ids[i]];
        if (now < dial_deadline(o)) continue;
        if (o->fd >= 0) out_down(d, o); /* the connect took too long */
        if (o->fd < 0 && now >= o->dial_at_ms) out_dial(d, d->ids[i], o);
    }
}

/* Milliseconds until the next redial or connect timeout, capped at `cap`
 * (-1: none). */
int direct_next_dial_in(const struct net_direct *d, uint64_t now, int cap)
{
    int wait = cap;
    for (size_t i = 0; i < d->nids; i++) {
        uint64_t at = dial_deadline(d->out[d->ids[i]]);
        if (at == UINT64_MAX) continue;
        uint64_t in = at > now ? at - now : 0;
        if (wait < 0 || in < (uint64_t)wait) wait = (int)in;
    }
    return wait;
}

void direct_out_event(struct net_direct *d, uint32_t id, uint32_t events)
{
    struct outconn *o = id < NET_MAX_PEERS ? d->out[id] : NULL;
    if (!o || o->fd < 0) return;
    if (!o->up) {
        int soerr = 0;
        socklen_t sl = sizeof soerr;
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        if (getsockopt(o->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0 ||
            (events & (EPOLLERR | EPOLLHUP))) {
            out_down(d, o);
            return;
        }
        /* Connected: the hello always fits a fresh socket's buffer. */
        if (send(o->fd, NET_DIRECT_HELLO, NET_DIRECT_HELLO_LEN, MSG_NOSIGNAL) !=
            NET_DIRECT_HELLO_LEN) {
            out_down(d, o);
            return;
        }
        o->up = true;
        o->up_at_ms = direct_now_ms();
        if (id < 64) d->ups |= 1ull << id;
    }
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
        /* A listener never writes to us: data is junk, 0 is its close. */
        uint8_t sink[256];
        ssize_t r;
        while ((r = recv(o->fd, sink, sizeof sink, MSG_DONTWAIT)) > 0) {
        }
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
            out_down(d, o);
            return;
        }
    }
    (void)out_write(d, o);
}

int net_direct_add_peer(struct net_direct *d, uint32_t id, const char *url, char *err,
                        size_t errlen)
{
    if (id >= NET_MAX_PEERS || d->out[id]) {
        direct_set_err(err, errlen, url, "bad or duplicate peer id");
        return -1;
    }
    struct outconn *o = calloc(1, sizeof *o);
    if (!o) {
        direct_set_err(err, errlen, url, "out of memory");
        return -1;
    }
    if (direct_resolve(url, false, &o->sa, &o->salen, err, errlen) != 0) {
        free(o);
        return -1;
    }
    o->fd = -1;
    o->max_bytes = NET_PEER_QUEUE_BYTES;
    d->out[id] = o;
    d->ids[d->nids++] = id;
    out_dial(d, id, o);
    return 0;
}

int net_direct_limit(struct net_direct *d, uint32_t id, size_t max_bytes,
                     struct net_send_pool *pool)
{
    struct outconn *o = id < NET_MAX_PEERS ? d->out[id] : NULL;
    if (!o || max_bytes == 0 || o->head) return -1;
    o->max_bytes = max_bytes;
    o->pool = pool;
    return 0;
}

int net_direct_queue(struct net_direct *d, uint32_t id, const uint8_t *bytes, size_t len)
{
    struct outconn *o = id < NET_MAX_PEERS ? d->out[id] : NULL;
    if (!o) return -1;
    if (o->fd >= 0 && !o->up) direct_handle_events(d, 0); /* a connect that just ended */
    if (o->nframes >= NET_PEER_QUEUE || o->bytes + len > o->max_bytes) return -1;
    if (o->pool) {
        size_t now = atomic_fetch_add(&o->pool->bytes, len);
        if (now + len > o->pool->max) {
            atomic_fetch_sub(&o->pool->bytes, len);
            return -1;
        }
    }
    struct out_frame *f = malloc(sizeof *f + 4 + len);
    if (!f) {
        if (o->pool) atomic_fetch_sub(&o->pool->bytes, len);
        return -1;
    }
    f->next = NULL;
    f->len = 4 + len;
    f->off = 0;
    f->bytes[0] = (uint8_t)(len >> 24);
    f->bytes[1] = (uint8_t)(len >> 16);
    f->bytes[2] = (uint8_t)(len >> 8);
    f->bytes[3] = (uint8_t)len;
    memcpy(f->bytes + 4, bytes, len);
    if (o->tail)
        o->tail->next = f;
    else
        o->head = f;
    o->tail = f;
    o->nframes++;
    o->bytes += len;
    if (o->bytes > o->hwm) o->hwm = o->bytes;
    if (o->up && o->head == f) (void)out_write(d, o); /* nothing ahead of it: now */
    return 0;
}

/* ---- receiving ---- */
