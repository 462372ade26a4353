/* The direct transport: tcp+direct:// driven by its owner's thread
 * (contract and bounds in net/direct.h; why in docs/design.md
 * "The direct transport"). This file: addresses, open, the wait for
 * events, close. Dialling and writing: direct_out.c; accepting and
 * reading: direct_in.c. */
#include "net/direct_internal.h"

#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

bool net_url_is_direct(const char *url)
{
    return url && strncmp(url, NET_DIRECT_SCHEME, strlen(NET_DIRECT_SCHEME)) == 0;
}

void direct_set_err(char *err, size_t errlen, const char *url, const char *what)
{
    if (err && errlen) snprintf(err, errlen, "%s: %s", url, what);
}

/* tcp+direct://HOST:PORT or tcp+direct://[V6]:PORT; HOST may be a name
 * (resolved once, here) or empty / "*" for every address. */
int direct_resolve(const char *url, bool passive, struct sockaddr_storage *sa, socklen_t *salen,
                   char *err, size_t errlen)
{
    const char *s = url + strlen(NET_DIRECT_SCHEME);
    char host[256];
    const char *colon;
    if (s[0] == '[') {
        const char *end = strchr(s, ']');
        if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host) {
            direct_set_err(err, errlen, url, "bad address (want tcp+direct://HOST:PORT)");
            return -1;
        }
        memcpy(host, s + 1, (size_t)(end - s - 1));
        host[end - s - 1] = '\0';
        colon = end + 1;
    } else {
        colon = strrchr(s, ':');
        if (!colon || (size_t)(colon - s) >= sizeof host) {
            direct_set_err(err, errlen, url, "bad address (want tcp+direct://HOST:PORT)");
            return -1;
        }
        memcpy(host, s, (size_t)(colon - s));
        host[colon - s] = '\0';
    }
    char *end;
    long port = strtol(colon + 1, &end, 10);
    if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535) {
        direct_set_err(err, errlen, url, "bad port");
        return -1;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
    if (passive) hints.ai_flags = AI_PASSIVE;
    const char *node = (host[0] == '\0' || strcmp(host, "*") == 0) ? NULL : host;
    if (!node && !passive) {
        direct_set_err(err, errlen, url, "a peer needs a host");
        return -1;
    }
    struct addrinfo *ai;
    char ps[8];
    snprintf(ps, sizeof ps, "%ld", port);
    int rv = getaddrinfo(node, ps, &hints, &ai);
    if (rv != 0) {
        direct_set_err(err, errlen, url, gai_strerror(rv));
        return -1;
    }
    memcpy(sa, ai->ai_addr, ai->ai_addrlen);
    *salen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

int net_direct_open(struct net_direct **out, const char *listen_url, char *err, size_t errlen)
{
    *out = NULL;
    struct net_direct *d = calloc(1, sizeof *d);
    if (!d) {
        direct_set_err(err, errlen, listen_url ? listen_url : "(send-only)", "out of memory");
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
        direct_set_err(err, errlen, listen_url ? listen_url : "(send-only)", strerror(errno));
        free(d);
        return -1;
    }
    if (listen_url) {
        struct sockaddr_storage sa;
        socklen_t salen;
        if (direct_resolve(listen_url, true, &sa, &salen, err, errlen) != 0) goto fail;
        d->lfd = socket(sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        int one = 1;
        if (d->lfd < 0 || setsockopt(d->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            bind(d->lfd, (struct sockaddr *)&sa, salen) != 0 || listen(d->lfd, 128) != 0) {
            char what[160];
            snprintf(what, sizeof what, "listen: %s",
                     errno == EADDRINUSE ? "Address in use" : strerror(errno));
            direct_set_err(err, errlen, listen_url, what);
            goto fail;
        }
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = direct_tag(TAG_LISTEN, 0)};
        if (epoll_ctl(d->ep, EPOLL_CTL_ADD, d->lfd, &ev) != 0) {
            direct_set_err(err, errlen, listen_url, strerror(errno));
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

void direct_handle_events(struct net_direct *d, int wait_ms)
{
    struct epoll_event ev[MAX_EVENTS];
    int n = epoll_wait(d->ep, ev, MAX_EVENTS, wait_ms);
    for (int i = 0; i < n; i++) {
        uint32_t kind = (uint32_t)(ev[i].data.u64 >> 32), idx = (uint32_t)ev[i].data.u64;
        if (kind == TAG_LISTEN)
            direct_in_accept(d);
        else if (kind == TAG_IN && idx < NET_DIRECT_MAX_INBOUND && d->in[idx].fd >= 0)
            direct_ring_push(d, idx); /* read (and closes seen) in turn */
        else if (kind == TAG_OUT)
            direct_out_event(d, idx, ev[i].events);
    }
}

void net_direct_poll(struct net_direct *d)
{
    direct_listen_resume_due(d, direct_now_ms());
    direct_dial_due(d, direct_now_ms());
    direct_handle_events(d, 0);
}

int net_direct_recv(struct net_direct *d, int timeout_ms, uint8_t **frame, size_t *len)
{
    *frame = NULL;
    *len = 0;
    if (d->lfd < 0) return -1; /* send-only: nothing will arrive */
    uint64_t start = direct_now_ms();
    for (;;) {
        if (direct_ring_take(d, frame, len)) return 1;
        uint64_t now = direct_now_ms();
        direct_listen_resume_due(d, now);
        direct_dial_due(d, now);
        int left = -1;
        if (timeout_ms >= 0) {
            uint64_t spent = now - start;
            left = spent >= (uint64_t)timeout_ms ? 0 : (int)((uint64_t)timeout_ms - spent);
        }
        int wait = direct_next_dial_in(d, now, left);
        if (d->listen_paused_until_ms) {
            uint64_t in = d->listen_paused_until_ms > now ? d->listen_paused_until_ms - now : 0;
            if (wait < 0 || in < (uint64_t)wait) wait = (int)in;
        }
        direct_handle_events(d, wait);
        if (d->ring_len == 0 && left == 0) return direct_ring_take(d, frame, len);
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
