/* The direct transport: tcp+direct:// (docs/design.md "Transport",
 * "The direct transport").
 *
 * The same contract as the nng transport (net/net.h) over plain TCP
 * sockets that the owner's thread drives itself: sends are written from
 * net_send/net_flush, receives are read in net_recv, both through one
 * epoll set. No I/O thread sits between a frame and the replica's loop, so
 * a frame costs no thread hand-off: an unloaded PBFT request made about 66
 * context switches at the primary over nng (docs/benchmarks.md "Where an
 * unloaded request's CPU goes").
 *
 * Wire: a dialer sends NET_DIRECT_HELLO once, then each frame as a u32
 * big-endian length and the frame's bytes. A connection carries frames one
 * way only (dialer to listener), as nng's PUSH/PULL does.
 *
 * Bounds: per peer the send queue holds at most NET_PEER_QUEUE frames and
 * its byte bound (and the shared pool's); at most NET_DIRECT_MAX_INBOUND
 * connections at once (a newcomer past it evicts the connection idle
 * longest, so idle ones cannot lock an honest peer out); a frame's
 * length above NET_FRAME_MAX + NET_DIRECT_RECV_SLACK closes its connection;
 * frames being assembled hold at most NET_DIRECT_ASSEMBLY_MAX bytes
 * together, past which the connection that asks for more is closed.
 * Receives take one frame per connection in turn, so one busy sender does
 * not crowd out the others.
 *
 * Threading: one thread, the transport owner's (net/transport.c). */
#ifndef BFT_NET_DIRECT_H
#define BFT_NET_DIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/sendq.h"

#define NET_DIRECT_SCHEME "tcp+direct://"
#define NET_DIRECT_HELLO "BFTDIR01" /* 8 bytes, no NUL on the wire */
#define NET_DIRECT_HELLO_LEN 8
/* A load generator's clients share one address, and every replica dials
 * it once per client: bftctl cluster's largest run (256 clients, 16
 * replicas) makes 4096 connections into it. */
#define NET_DIRECT_MAX_INBOUND 4096
#define NET_DIRECT_RECV_SLACK 4096 /* as the nng transport's receive limit */
#define NET_DIRECT_ASSEMBLY_MAX (64u << 20)
/* Read buffer of an inbound connection, held only while it has bytes of
 * an unfinished frame: at most NET_DIRECT_MAX_INBOUND x this (64 MiB) for
 * a table full of half-sent frames. */
#define NET_DIRECT_RBUF (16u << 10)
/* A frame handed out by net_direct_recv has this many bytes in front of
 * it, all zero: net_frame_free tells it from an nng message that way. */
#define NET_DIRECT_FRAME_HDR sizeof(void *)

struct net_direct;

bool net_url_is_direct(const char *url);
/* listen_url NULL: send-only. 0, or -1 with err. */
int net_direct_open(struct net_direct **out, const char *listen_url, char *err, size_t errlen);
void net_direct_close(struct net_direct *d);
/* At most `max` (1..NET_DIRECT_MAX_INBOUND) inbound connections at once. */
int net_direct_limit_inbound(struct net_direct *d, uint32_t max);
/* Peer `id` (< NET_MAX_PEERS) at tcp+direct://HOST:PORT, dialled now in
 * the background. 0, or -1 with err (bad URL, unknown host). */
int net_direct_add_peer(struct net_direct *d, uint32_t id, const char *url, char *err,
                        size_t errlen);
/* net_limit_peer's bound for peer id; only while its queue is empty. */
int net_direct_limit(struct net_direct *d, uint32_t id, size_t max_bytes,
                     struct net_send_pool *pool);
/* Queue a copy of one frame for peer id and write what the socket takes
 * now. 0, or -1: dropped (a bound, or memory short; the caller counts). */
int net_direct_queue(struct net_direct *d, uint32_t id, const uint8_t *bytes, size_t len);
/* Move connects and writes on without waiting (a send-only transport has
 * no net_recv to do it). */
void net_direct_poll(struct net_direct *d);
/* net_recv's contract (net/net.h). */
int net_direct_recv(struct net_direct *d, int timeout_ms, uint8_t **frame, size_t *len);
/* Peers (ids < 64) connected since the last call. */
uint64_t net_direct_peers_up(struct net_direct *d);
/* Queued bytes now, their high-water mark, and frames queued then lost
 * (with a connection, or at close). */
void net_direct_stats(const struct net_direct *d, uint32_t id, size_t *bytes, size_t *hwm,
                      uint64_t *failed);

#endif
