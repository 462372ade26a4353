/* The direct transport: tcp+direct:// driven by its owner's thread
 * (contract and bounds in net/direct.h; why in docs/design.md
 * "The direct transport"). */
/* accept4 needs _GNU_SOURCE, which the build defines (CMakeLists.txt). */
#include "net/direct.h"
#include "net/net.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#define RECONN_MIN_MS 20  /* as the nng transport: redial soon after a restart */
#define RECONN_MAX_MS 500 /* and back off for a peer that stays down */
#define RECONN_CALM_MS 1000
/* A connect that has not ended by then is abandoned and redialled: a host
 * that vanished without a reset would otherwise hold it for the kernel's
 * SYN retries (about 2 minutes). */
#define CONNECT_TIMEOUT_MS 2000
/* Data unacknowledged this long (or a peer that stopped reading for this
 * long) closes the connection (TCP_USER_TIMEOUT), so a dead peer is found
 * without waiting for TCP's retransmissions (about 15 minutes). */
#define USER_TIMEOUT_MS 10000
#define MAX_EVENTS 64
#define MAX_IOV 32

enum { TAG_LISTEN = 1, TAG_IN = 2, TAG_OUT = 3 };

struct out_frame {
    struct out_frame *next;
    size_t len; /* 4 + frame; the bounds count the frame alone, as nng's queue */
    size_t off; /* written so far */
    uint8_t bytes[];
};

struct outconn {
    struct sockaddr_storage sa;
    socklen_t salen;
    int fd; /* -1: down */
    bool up;
    uint64_t dial_at_ms, gap_ms, up_at_ms; /* dial_at: when to dial, or when dialled */
    struct out_frame *head, *tail;
    uint32_t nframes;
    size_t bytes, hwm, max_bytes;
    struct net_send_pool *pool;
    uint64_t failed;
};

struct inconn {
    int fd; /* -1: free slot */
    bool hello, active;
    uint64_t last_ms; /* accepted, or its last whole frame: who goes first at the bound */
    uint8_t *rbuf;    /* NET_DIRECT_RBUF while it holds unparsed bytes, else NULL */
    size_t rlen, roff;
    uint8_t *big; /* a frame larger than rbuf, read straight into place */
    size_t big_len, big_got;
};

struct net_direct {
    int ep;
    int lfd;
    struct outconn *out[NET_MAX_PEERS];
    uint32_t ids[NET_MAX_PEERS]; /* the peers added, in order */
    size_t nids;
    struct inconn in[NET_DIRECT_MAX_INBOUND];
    uint32_t free_in[NET_DIRECT_MAX_INBOUND];
    size_t nfree;
    size_t max_in; /* connections at once: NET_DIRECT_MAX_INBOUND or lower */
    /* Inbound connections that may hold a frame: a ring, each at most once. */
    uint32_t ring[NET_DIRECT_MAX_INBOUND];
    size_t ring_head, ring_len;
    size_t assembling; /* bytes of big frames being read */
    uint64_t ups;
    /* accept failed for want of descriptors with nobody to evict: the
     * listener sits out until then (no busy loop on a full table) */
    uint64_t listen_paused_until_ms;
};

#define LISTEN_PAUSE_MS 100

bool net_url_is_direct(const char *url)
{
    return url && strncmp(url, NET_DIRECT_SCHEME, strlen(NET_DIRECT_SCHEME)) == 0;
}

static void set_err(char *err, size_t errlen, const char *url, const char *what)
{
    if (err && errlen) snprintf(err, errlen, "%s: %s", url, what);
}

/* tcp+direct://HOST:PORT or tcp+direct://[V6]:PORT; HOST may be a name
 * (resolved once, here) or empty / "*" for every address. */
static int resolve(const char *url, bool passive, struct sockaddr_storage *sa, socklen_t *salen,
                   char *err, size_t errlen)
{
    const char *s = url + strlen(NET_DIRECT_SCHEME);
    char host[256];
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host) {
            set_err(err, errlen, url, "bad address (want tcp+direct://HOST:PORT)");
            return -1;
        }
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host) {
            set_err(err, errlen, url, "bad address (want tcp+direct://HOST:PORT)");
            return -1;
        }
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
        set_err(err, errlen, url, "bad port");
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (passive) hints.ai_flags = AI_PASSIVE;
    const char *node = (host[0] == '\0' || strcmp(host, "*") == 0) ? NULL : host;
    if (!node && !passive) {
        set_err(err, errlen, url, "a peer needs a host");
        return -1;
    }
    struct addrinfo *ai;
    char ps[8];
    snprintf(ps, sizeof ps, "%ld", port);
    int rv = getaddrinfo(node, ps, &hints, &ai);
    if (rv != 0) {
        set_err(err, errlen, url, gai_strerror(rv));
        return -1;
    }
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    *salen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static uint64_t tag(int kind, uint32_t idx)
{
    return (uint64_t)kind << 32 | idx;
}

int net_direct_open(struct net_direct **out, const char *listen_url, char *err, size_t errlen)
{
    *out = NULL;
    struct net_direct *d = calloc(1, sizeof *d);
    if (!d) {
        set_err(err, errlen, listen_url ? listen_url : "(send-only)", "out of memory");
        return -1;
    }
    d->lfd = -1;
    d->max_in = NET_DIRECT_MAX_INBOUND;
    for (uint32_t i = 0; i < NET_DIRECT_MAX_INBOUND; i++) {
        d->in[i].fd = -1;
        d->free_in[d->nfree++] = NET_DIRECT_MAX_INBOUND - 1 - i;
    }
    d->ep = epoll_create1(EPOLL_CLOEXEC);
    if (d->ep < 0) {
        set_err(err, errlen, listen_url ? listen_url : "(send-only)", strerror(errno));
        free(d);
        return -1;
    }
    if (listen_url) {
        struct sockaddr_storage sa;
        socklen_t salen;
        if (resolve(listen_url, true, &sa, &salen, err, errlen) != 0) goto fail;
        d->lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (d->lfd < 0 || setsockopt(d->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            bind(d->lfd, (struct sockaddr *)&sa, salen) != 0 || listen(d->lfd, 128) != 0) {
            char what[160];
            snprintf(what, sizeof what, "listen: %s",
                     errno == EADDRINUSE ? "Address in use" : strerror(errno));
            set_err(err, errlen, listen_url, what);
            goto fail;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag(TAG_LISTEN, 0)};
        if (epoll_ctl(d->ep, EPOLL_CTL_ADD, d->lfd, &ev) != 0) {
            set_err(err, errlen, listen_url, strerror(errno));
            goto fail;
        }
    }
    *out = d;
    return 0;
fail:
    net_direct_close(d);
    return -1;
}

int net_direct_limit_inbound(struct net_direct *d, uint32_t max)
{
    if (max == 0 || max > NET_DIRECT_MAX_INBOUND) return -1;
    d->max_in = max; /* connections over it go as newcomers arrive */
    return 0;
}

bool net_direct_listening(const struct net_direct *d)
{
    return d->lfd >= 0;
}

static uint64_t now_ms(void)
{
    return net_now_ms();
}

static void handle_events(struct net_direct *d, int wait_ms);

/* ---- sending ---- */

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
    uint64_t now = now_ms();
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
    o->dial_at_ms = now_ms();
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                             .data.u64 = tag(TAG_OUT, id)};
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

static void dial_due(struct net_direct *d, uint64_t now)
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
static int next_dial_in(const struct net_direct *d, uint64_t now, int cap)
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

static void out_event(struct net_direct *d, uint32_t id, uint32_t events)
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
        o->up_at_ms = now_ms();
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
        set_err(err, errlen, url, "bad or duplicate peer id");
        return -1;
    }
    struct outconn *o = calloc(1, sizeof *o);
    if (!o) {
        set_err(err, errlen, url, "out of memory");
        return -1;
    }
    if (resolve(url, false, &o->sa, &o->salen, err, errlen) != 0) {
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
    if (o->fd >= 0 && !o->up) handle_events(d, 0); /* a connect that just ended */
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

static void in_close(struct net_direct *d, uint32_t idx)
{
    struct inconn *c = &d->in[idx];
    epoll_ctl(d->ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    free(c->rbuf);
    if (c->big) {
        d->assembling -= c->big_len;
        free(c->big);
    }
    bool active = c->active;
    *c = (struct inconn){.fd = -1};
    c->active = active; /* the ring drops it when it comes round */
    d->free_in[d->nfree++] = idx;
}

/* The inbound connection that delivered nothing for the longest time: at
 * the bound it makes room for a newcomer, so idle connections cannot keep
 * an honest peer out (it would redial anyway). -1 if none. */
static int in_idlest(const struct net_direct *d)
{
    int best = -1;
    for (uint32_t i = 0; i < NET_DIRECT_MAX_INBOUND; i++)
        if (d->in[i].fd >= 0 && (best < 0 || d->in[i].last_ms < d->in[best].last_ms)) best = (int)i;
    return best;
}

static void listen_pause(struct net_direct *d, bool pause)
{
    struct epoll_event ev = {.events = pause ? 0 : EPOLLIN, .data.u64 = tag(TAG_LISTEN, 0)};
    (void)epoll_ctl(d->ep, EPOLL_CTL_MOD, d->lfd, &ev);
    d->listen_paused_until_ms = pause ? now_ms() + LISTEN_PAUSE_MS : 0;
}

static void in_accept(struct net_direct *d)
{
    for (;;) {
        int fd = accept4(d->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR || errno == ECONNABORTED) continue;
            /* Out of descriptors (or memory): free one by evicting the
             * idlest connection and try again, or sit out a while. */
            int victim = in_idlest(d);
            if (victim < 0) {
                listen_pause(d, true);
                return;
            }
            in_close(d, (uint32_t)victim);
            continue;
        }
        if (NET_DIRECT_MAX_INBOUND - d->nfree >= d->max_in) {
            int victim = in_idlest(d);
            if (victim < 0) {
                close(fd);
                continue;
            }
            in_close(d, (uint32_t)victim);
        }
        uint32_t idx = d->free_in[--d->nfree];
        struct inconn *c = &d->in[idx];
        bool active = c->active;
        *c = (struct inconn){.fd = fd, .active = active, .last_ms = now_ms()};
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
                                 .data.u64 = tag(TAG_IN, idx)};
        if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            *c = (struct inconn){.fd = -1, .active = active};
            d->free_in[d->nfree++] = idx;
        }
    }
}

static void ring_push(struct net_direct *d, uint32_t idx)
{
    if (d->in[idx].active) return;
    d->in[idx].active = true;
    d->ring[(d->ring_head + d->ring_len++) % NET_DIRECT_MAX_INBOUND] = idx;
}

static uint8_t *frame_alloc(size_t len)
{
    uint8_t *b = malloc(NET_DIRECT_FRAME_HDR + len);
    if (b) memset(b, 0, NET_DIRECT_FRAME_HDR);
    return b;
}

/* One frame from c if it has one: 1 (frame out), 0 (nothing more now),
 * -1 (closed: the peer went, or broke the protocol or a bound). */
static int in_take(struct net_direct *d, struct inconn *c, uint8_t **frame, size_t *len)
{
    if (!c->rbuf && !(c->rbuf = malloc(NET_DIRECT_RBUF))) return -1;
    for (;;) {
        if (c->big) {
            ssize_t r = recv(c->fd, c->big + NET_DIRECT_FRAME_HDR + c->big_got,
                             c->big_len - c->big_got, MSG_DONTWAIT);
            if (r == 0) return -1;
            if (r < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
            c->big_got += (size_t)r;
            if (c->big_got < c->big_len) continue;
            *frame = c->big + NET_DIRECT_FRAME_HDR;
            *len = c->big_len;
            d->assembling -= c->big_len;
            c->big = NULL;
            return 1;
        }
        size_t avail = c->rlen - c->roff;
        const uint8_t *p = c->rbuf + c->roff;
        if (!c->hello && avail >= NET_DIRECT_HELLO_LEN) {
            if (memcmp(p, NET_DIRECT_HELLO, NET_DIRECT_HELLO_LEN) != 0) return -1;
            c->hello = true;
            c->roff += NET_DIRECT_HELLO_LEN;
            continue;
        }
        if (c->hello && avail >= 4) {
            size_t flen = (size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3];
            if (flen == 0 || flen > NET_FRAME_MAX + NET_DIRECT_RECV_SLACK) return -1;
            if (avail >= 4 + flen) {
                uint8_t *b = frame_alloc(flen);
                if (!b) return -1;
                memcpy(b + NET_DIRECT_FRAME_HDR, p + 4, flen);
                c->roff += 4 + flen;
                *frame = b + NET_DIRECT_FRAME_HDR;
                *len = flen;
                return 1;
            }
            if (4 + flen > NET_DIRECT_RBUF) {
                if (d->assembling + flen > NET_DIRECT_ASSEMBLY_MAX) return -1;
                if (!(c->big = frame_alloc(flen))) return -1;
                d->assembling += flen;
                c->big_len = flen;
                c->big_got = avail - 4;
                memcpy(c->big + NET_DIRECT_FRAME_HDR, p + 4, c->big_got);
                c->roff = c->rlen = 0;
                continue;
            }
        }
        /* Need more bytes: compact, then read. */
        if (c->roff) {
            memmove(c->rbuf, c->rbuf + c->roff, avail);
            c->rlen = avail;
            c->roff = 0;
        }
        ssize_t r = recv(c->fd, c->rbuf + c->rlen, NET_DIRECT_RBUF - c->rlen, MSG_DONTWAIT);
        if (r == 0) return -1;
        if (r < 0) return (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) ? 0 : -1;
        c->rlen += (size_t)r;
    }
}

/* A frame from the next connection in the ring that has one: 1, or 0. */
static int ring_take(struct net_direct *d, uint8_t **frame, size_t *len)
{
    while (d->ring_len) {
        uint32_t idx = d->ring[d->ring_head];
        d->ring_head = (d->ring_head + 1) % NET_DIRECT_MAX_INBOUND;
        d->ring_len--;
        struct inconn *c = &d->in[idx];
        c->active = false;
        if (c->fd < 0) continue; /* closed while listed */
        int rv = in_take(d, c, frame, len);
        if (rv == 1) {
            c->last_ms = now_ms();
            ring_push(d, idx); /* it may hold more: its turn comes again */
            return 1;
        }
        if (rv < 0) {
            in_close(d, idx);
        } else if (c->rbuf && c->roff == c->rlen) { /* drained: hold no buffer while idle */
            free(c->rbuf);
            c->rbuf = NULL;
            c->roff = c->rlen = 0;
        }
    }
    return 0;
}

static void handle_events(struct net_direct *d, int wait_ms)
{
    struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(d->ep, ev, MAX_EVENTS, wait_ms);
    for (int i = 0; i < n; i++) {
        uint32_t kind = (uint32_t)(ev[i].data.u64 >> 32), idx = (uint32_t)ev[i].data.u64;
        if (kind == TAG_LISTEN)
            in_accept(d);
        else if (kind == TAG_IN && idx < NET_DIRECT_MAX_INBOUND && d->in[idx].fd >= 0)
            ring_push(d, idx); /* read (and closes seen) in turn */
        else if (kind == TAG_OUT)
            out_event(d, idx, ev[i].events);
    }
}

static void listen_resume_due(struct net_direct *d, uint64_t now)
{
    if (d->listen_paused_until_ms && now >= d->listen_paused_until_ms) listen_pause(d, false);
}

void net_direct_poll(struct net_direct *d)
{
    listen_resume_due(d, now_ms());
    dial_due(d, now_ms());
    handle_events(d, 0);
}

int net_direct_recv(struct net_direct *d, int timeout_ms, uint8_t **frame, size_t *len)
{
    *frame = NULL;
    *len = 0;
    if (d->lfd < 0) return -1; /* send-only: nothing will arrive */
    uint64_t start = now_ms();
    for (;;) {
        if (ring_take(d, frame, len)) return 1;
        uint64_t now = now_ms();
        listen_resume_due(d, now);
        dial_due(d, now);
        int left = -1;
        if (timeout_ms >= 0) {
            uint64_t spent = now - start;
            left = spent >= (uint64_t)timeout_ms ? 0 : (int)((uint64_t)timeout_ms - spent);
        }
        int wait = next_dial_in(d, now, left);
        if (d->listen_paused_until_ms) {
            uint64_t in = d->listen_paused_until_ms > now ? d->listen_paused_until_ms - now : 0;
            if (wait < 0 || in < (uint64_t)wait) wait = (int)in;
        }
        handle_events(d, wait);
        if (d->ring_len == 0 && left == 0) return ring_take(d, frame, len);
    }
}

uint64_t net_direct_peers_up(struct net_direct *d)
{
    uint64_t m = d->ups;
    d->ups = 0;
    return m;
}

void net_direct_stats(const struct net_direct *d, uint32_t id, size_t *bytes, size_t *hwm,
                      uint64_t *failed)
{
    const struct outconn *o = id < NET_MAX_PEERS ? d->out[id] : NULL;
    *bytes = o ? o->bytes : 0;
    *hwm = o ? o->hwm : 0;
    *failed = o ? o->failed : 0;
}

void net_direct_close(struct net_direct *d)
{
    if (!d) return;
    for (size_t i = 0; i < d->nids; i++) {
        struct outconn *o = d->out[d->ids[i]];
        if (o->fd >= 0) close(o->fd);
        while (o->head) {
            struct out_frame *f = o->head;
            o->head = f->next;
            if (o->pool) atomic_fetch_sub(&o->pool->bytes, f->len - 4);
            free(f);
        }
        free(o);
    }
    for (uint32_t i = 0; i < NET_DIRECT_MAX_INBOUND; i++) {
        struct inconn *c = &d->in[i];
        if (c->fd < 0) continue;
        close(c->fd);
        free(c->rbuf);
        free(c->big);
    }
    if (d->lfd >= 0) close(d->lfd);
    if (d->ep >= 0) close(d->ep);
    free(d);
}
