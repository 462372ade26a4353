/* The direct transport's receiving side: accepting within the inbound
 * bound, and reading one frame per connection in turn (net/direct.h). */
/* accept4 needs _GNU_SOURCE, which the build defines (CMakeLists.txt). */
#include "net/direct_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

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
    struct epoll_event ev = {.events = pause ? 0 : EPOLLIN, .data.u64 = direct_tag(TAG_LISTEN, 0)};
    (void)epoll_ctl(d->ep, EPOLL_CTL_MOD, d->lfd, &ev);
    d->listen_paused_until_ms = pause ? direct_now_ms() + LISTEN_PAUSE_MS : 0;
}

void direct_in_accept(struct net_direct *d)
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
        *c = (struct inconn){.fd = fd, .active = active, .last_ms = direct_now_ms()};
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET,
                                 .data.u64 = direct_tag(TAG_IN, idx)};
        if (epoll_ctl(d->ep, EPOLL_CTL_ADD, fd, &ev) != 0) {
            close(fd);
            *c = (struct inconn){.fd = -1, .active = active};
            d->free_in[d->nfree++] = idx;
        }
    }
}

void direct_ring_push(struct net_direct *d, uint32_t idx)
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
int direct_ring_take(struct net_direct *d, uint8_t **frame, size_t *len)
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
            c->last_ms = direct_now_ms();
            direct_ring_push(d, idx); /* it may hold more: its turn comes again */
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

void direct_listen_resume_due(struct net_direct *d, uint64_t now)
{
    if (d->listen_paused_until_ms && now >= d->listen_paused_until_ms) listen_pause(d, false);
}
