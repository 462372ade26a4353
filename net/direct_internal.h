/* The direct transport's insides, shared by its three files (contract
 * in net/direct.h): direct.c opens, waits and closes; direct_out.c dials
 * and writes a peer's frames; direct_in.c accepts and reads frames. */
#ifndef BFT_NET_DIRECT_INTERNAL_H
#define BFT_NET_DIRECT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "net/direct.h"
#include "net/net.h"

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

static inline uint64_t direct_tag(int kind, uint32_t idx)
{
    return (uint64_t)kind << 32 | idx;
}

static inline uint64_t direct_now_ms(void)
{
    return net_now_ms();
}

/* direct.c */
void direct_set_err(char *err, size_t errlen, const char *url, const char *what);
int direct_resolve(const char *url, bool passive, struct sockaddr_storage *sa, socklen_t *salen,
                   char *err, size_t errlen);
/* Wait at most wait_ms for events and act on them. */
void direct_handle_events(struct net_direct *d, int wait_ms);
/* direct_out.c */
void direct_out_event(struct net_direct *d, uint32_t id, uint32_t events);
void direct_dial_due(struct net_direct *d, uint64_t now);
int direct_next_dial_in(const struct net_direct *d, uint64_t now, int cap);
/* direct_in.c */
void direct_in_accept(struct net_direct *d);
void direct_ring_push(struct net_direct *d, uint32_t idx);
int direct_ring_take(struct net_direct *d, uint8_t **frame, size_t *len);
void direct_listen_resume_due(struct net_direct *d, uint64_t now);

#endif
