/* net: versioned frames and the nng transport (the byte reader and writer
 * are wire/bytes.h).
 *
 * A frame is what one nng message carries: every protocol message bound for
 * the same peer during one loop iteration is coalesced into one frame,
 * because nng costs ~40 us of CPU per message on these machines (docs/design.md).
 *
 * Frame layout (explicit little-endian, docs/wire.md):
 *   u32 magic "BFTF" (0x46544642)  u8 version (1)  u8 flags (0)
 *   u16 count  u32 body_len  | count x ( u32 len | len bytes )
 * The decoder rejects, never trusts: wrong magic/version/flags, a count or a
 * length that does not add up exactly, an empty or oversized message.
 */
#ifndef BFT_NET_H
#define BFT_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wire/bytes.h"

/* ---- Frames ---- */

#define NET_FRAME_MAGIC 0x46544642u /* "BFTF" little-endian */
#define NET_FRAME_VERSION 1
#define NET_FRAME_HDR_LEN 12
#define NET_FRAME_MAX (4u << 20) /* largest frame accepted or built */
#define NET_FRAME_MAX_MSGS 4096  /* most messages in one frame */
#define NET_MSG_MAX (1u << 20)   /* largest single message (> largest bft message) */

/* Frame builder over a caller-owned buffer of NET_FRAME_MAX bytes. */
struct net_frame {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint16_t count;
};
void net_frame_init(struct net_frame *f, uint8_t *buf, size_t cap);
/* Append one message; returns 0, or -1 if it would exceed cap/limits (the
 * frame is unchanged then). */
int net_frame_add(struct net_frame *f, const uint8_t *msg, size_t len);
/* Finish the header; returns the total frame length. */
size_t net_frame_finish(struct net_frame *f);

/* Frame parser. net_frame_check validates the whole frame up front (so a
 * bad frame is dropped whole, never half-processed); then net_frame_next
 * yields each message. */
enum net_frame_err {
    NET_FRAME_OK = 0,
    NET_FRAME_SHORT,
    NET_FRAME_BAD_MAGIC,
    NET_FRAME_BAD_VERSION,
    NET_FRAME_BAD_FLAGS,
    NET_FRAME_TOO_BIG,
    NET_FRAME_BAD_COUNT,
    NET_FRAME_BAD_LENGTH,
};
struct net_frame_iter {
    const uint8_t *p;
    size_t len;
    size_t off;
    uint16_t left;
};
enum net_frame_err net_frame_check(const uint8_t *frame, size_t len, struct net_frame_iter *it);
bool net_frame_next(struct net_frame_iter *it, const uint8_t **msg, size_t *len);
const char *net_frame_strerror(enum net_frame_err e);

/* ---- Transport: tcp+direct:// (net/direct.h), or nng PUSH/PULL over
 * tcp://, ipc://, inproc:// and tls+tcp:// ----
 *
 * The URL's scheme picks the transport, and one transport speaks one of
 * them to every peer (mixing is an error at net_add_peer). The direct
 * transport has no I/O thread: it moves only inside the owner's net_*
 * calls (net_recv waits for frames and writes; net_flush and
 * net_peers_up finish connects and blocked writes), so an owner that only
 * sends must flush now and then. Over nng:
 *
 * Each endpoint listens on one PULL socket. For each peer it knows it keeps
 * one PUSH socket dialled to the peer's address (dialled in the background;
 * when its connection goes, replaced by a new socket that dials again:
 * net/gate.h) and one coalescing buffer. net_send appends to the peer's
 * buffer; net_flush turns every non-empty buffer into one frame and queues
 * it without blocking. Each peer's send queue is bounded in frames
 * (NET_PEER_QUEUE) and in bytes (NET_PEER_QUEUE_BYTES, or what
 * net_limit_peer sets), and peers put in the shared pool also by
 * NET_SHARED_QUEUE_BYTES together (net/sendq.h); a frame that does not fit
 * is dropped and counted, so a slow or dead peer never stalls the caller
 * (bulkhead) nor holds more than its bytes. Reliability above that is the
 * protocols' business (retransmission, state transfer).
 */
#define NET_MAX_PEERS 2048
#define NET_PEER_QUEUE 64 /* frames queued per peer */
/* Bytes queued per peer: a replica peer's default. 4 MiB is 8 of the
 * largest PRE-PREPAREs or proposals (BFT_PAYLOAD_MAX) or 16 state chunks,
 * on top of what the kernel's socket buffers already hold for a slow peer
 * (several MiB on loopback); f dead peers pin f x 4 MiB (docs/design.md
 * "Transport"). */
#define NET_PEER_QUEUE_BYTES (4u << 20)
/* All peers in the shared pool together (a replica's clients: up to
 * BFT_MAX_CLIENTS of them, who each get net_limit_peer's smaller bound). */
#define NET_SHARED_QUEUE_BYTES (16u << 20)

struct net_transport;

struct net_peer_stats {
    uint64_t msgs_sent;
    uint64_t bytes_sent;
    uint64_t frames_sent;
    uint64_t frames_dropped;   /* send queue at a bound, memory short, nng refused */
    uint64_t bytes_dropped;    /* their bytes (not those nng refused) */
    uint64_t queued_bytes;     /* in the send queue now */
    uint64_t queued_bytes_max; /* its high-water mark (totals: the sum over peers) */
    /* net_total_stats only: peers refused by TLS (net_tls_refused). */
    uint64_t tls_refused;
};

/* listen_url may be NULL for a send-only endpoint. Returns 0 or -1 with err. */
int net_open(struct net_transport **out, const char *listen_url, char *err, size_t errlen);

/* ---- TLS (nng tls+tcp://, docs/tls.md) ----
 * Mutual TLS: every endpoint presents its own certificate, and accepts only
 * peers whose certificate the cluster CA signed. A dialer also checks that
 * the listener's certificate carries the name it expects (net_add_peer_named).
 * A peer that fails either check is disconnected before it carries a
 * message, and counted (net_tls_refused). The files are PEM; they are read
 * once, at open. */
struct net_tls_files {
    const char *ca_file;   /* the cluster CA certificate */
    const char *cert_file; /* this endpoint's certificate, signed by the CA */
    const char *key_file;  /* its private key */
};
/* As net_open, but with TLS: every URL (listen and peers) must then be
 * tls+tcp://, and a tls+tcp:// URL without TLS files is an error. tls NULL
 * is net_open. */
int net_open_tls(struct net_transport **out, const char *listen_url,
                 const struct net_tls_files *tls, char *err, size_t errlen);
/* net_add_peer, and on a TLS transport the name the peer's certificate
 * must carry (required there; ignored on a plain one). */
int net_add_peer_named(struct net_transport *t, uint32_t id, const char *url, const char *peer_name,
                       char *err, size_t errlen);
/* Peers disconnected because their certificate did not verify (another CA,
 * none, expired, or not the expected name). 0 without TLS. */
uint64_t net_tls_refused(const struct net_transport *t);
bool net_url_is_tls(const char *url);
/* Close the sockets and free the transport. Returns within about
 * NET_CLOSE_WAIT_MS whatever nng does: nng 1.5.2's nng_close can wait
 * forever while frames are in flight (nanomsg/nng#1219, #1543, fixed after
 * 1.5.2; seen on a client's PULL socket). Past the bound the close goes on
 * on a thread of its own, which frees the transport if nng ever returns;
 * the listen address may stay taken until then (net/close.c). */
#define NET_CLOSE_WAIT_MS 2000
void net_close(struct net_transport *t);
/* For a process about to exit: free our memory but leave the nng sockets to
 * the kernel, without waiting even NET_CLOSE_WAIT_MS. */
void net_abandon(struct net_transport *t);
/* Run fn(arg) on a thread of its own and wait at most wait_ms for it: true
 * if it returned in time, false if the caller stopped waiting (fn still
 * runs to its end; it owns arg from then on). Without a thread to spare,
 * fn runs on the caller's (true). net_close's mechanism. */
bool net_run_bounded(void (*fn)(void *), void *arg, unsigned wait_ms);
/* How many net_run_bounded calls stopped waiting, in this process. */
uint64_t net_closes_overran(void);
/* Run fn(arg) on a detached thread of its own, not waiting at all (on the
 * caller's thread if none can be made). A replaced peer socket is closed
 * this way (net/gate.h). */
void net_run_detached(void (*fn)(void *), void *arg);
/* CLOCK_MONOTONIC in milliseconds. */
uint64_t net_now_ms(void);
/* Register peer `id` (any small integer chosen by the caller, < NET_MAX_PEERS)
 * at `url`. Dialling is asynchronous; sends before the connection is up are
 * queued (bounded). Returns 0 or -1 with err. */
int net_add_peer(struct net_transport *t, uint32_t id, const char *url, char *err, size_t errlen);
bool net_has_peer(const struct net_transport *t, uint32_t id);
/* Peers (ids below 64) a connection was made to since the last call, as
 * a mask: a peer that came back (restarted) deserves our retransmissions
 * now, not at the end of their backoff (bft_client_peers_up). The first
 * connection counts too. One caller thread. */
uint64_t net_peers_up(struct net_transport *t);
/* Bound the bytes queued toward peer `id` by max_bytes (> 0), and with
 * `shared` also by the shared pool (NET_SHARED_QUEUE_BYTES over all the
 * peers in it). Call before the first send to the peer: 0, or -1 for an
 * unknown peer, a zero bound, or a queue that already holds frames. */
int net_limit_peer(struct net_transport *t, uint32_t id, size_t max_bytes, bool shared);
/* A listening direct transport accepts at most `max` connections at once
 * (default and most: NET_DIRECT_MAX_INBOUND, net/direct.h); past it a
 * newcomer evicts the connection idle longest. 0, or -1 on an nng
 * transport (it has no such bound) or a bad max. */
int net_limit_inbound(struct net_transport *t, uint32_t max);
/* Queue one message for peer `id`; coalesced until net_flush. If the peer's
 * buffer is full it is flushed first. Returns 0, or -1 if unknown peer or the
 * message is too large (dropped, counted). Never blocks. */
int net_send(struct net_transport *t, uint32_t id, const uint8_t *msg, size_t len);
/* Send `bytes` as one nng message, as they are, bypassing framing (fault
 * injection and tests: junk frames). Never blocks. 0 or -1. */
int net_send_raw(struct net_transport *t, uint32_t id, const uint8_t *bytes, size_t len);
/* Send one frame per peer with pending messages. Never blocks. */
void net_flush(struct net_transport *t);
/* Wait up to timeout_ms (0 = poll, -1 = forever) for one frame. On success
 * returns 1 and a malloc'd buffer the caller frees with net_frame_free;
 * 0 on timeout; -1 on a closed transport. The frame is NOT validated: use
 * net_frame_check. */
int net_recv(struct net_transport *t, int timeout_ms, uint8_t **frame, size_t *len);
void net_frame_free(uint8_t *frame);
void net_peer_stats(const struct net_transport *t, uint32_t id, struct net_peer_stats *out);
/* Totals over all peers. */
void net_total_stats(const struct net_transport *t, struct net_peer_stats *out);

#endif
