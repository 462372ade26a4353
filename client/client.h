/* client: the client library. Pure: the caller supplies time and the
 * transport; see tools/loadgen*.c for a caller. */
#ifndef BFT_CLIENT_H
#define BFT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bft/client.h" /* the read levels */
#include "wire/wire.h"

/* ------------------------------------------------------------------ */
/* Client library (pure: the caller supplies time and transport).      */
/* ------------------------------------------------------------------ */
struct bft_client_host {
    void *ctx;
    void (*send)(void *ctx, uint32_t replica, const uint8_t *msg, size_t len);
    /* A request completed with an accepted result (f+1 matching signed
     * replies for BFT, the leader's reply for Raft). */
    void (*done)(void *ctx, uint64_t req_no, const uint8_t *result, size_t len);
    /* A request whose number the replicas closed without a result they
     * still hold (f+1 matching BFT_REPLY_NO_RESULT replies for BFT, the
     * leader's for Raft): it executed, or was abandoned, and will never
     * execute again; its result is gone (docs/wire.md "REPLY"). It is no
     * longer pending. NULL: done is called with an empty result (len 0). */
    void (*no_result)(void *ctx, uint64_t req_no);
};

struct bft_client_config {
    int protocol;
    uint32_t n, f, id;
    uint64_t cluster_id;
    uint8_t replica_pk[BFT_MAX_REPLICAS][CRYPTO_PK_LEN];
    struct crypto_keypair key;
    uint32_t retransmit_ms;   /* first retransmission; doubles, capped */
    uint32_t envelope;        /* requests per signature (1..BFT_ENVELOPE_MAX_OPS) */
    uint32_t max_outstanding; /* bounded: submit fails with BFT_E_FULL beyond */
    bool null_crypto;
    /* The first request number (0 means 1). A session seeds it so that
     * numbers never repeat across processes (client/session_reqno.c);
     * below 2^62, where read ids start. */
    uint64_t first_req_no;
};

struct bft_client_stats {
    uint64_t submitted, completed, retransmits, replies, bad_replies, read_fallbacks;
    uint64_t read_refusals; /* local reads a replica refused as stale */
    uint64_t abandoned;     /* requests and reads the caller gave up on */
};

struct bft_client;
int bft_client_create(struct bft_client **out, const struct bft_client_config *cfg,
                      const struct bft_client_host *host);
void bft_client_destroy(struct bft_client *c);
/* Queue one operation; returns its request number (>0), or 0 with BFT_E_FULL
 * when max_outstanding requests are pending. Requests are sent when an
 * envelope fills or on bft_client_flush. */
uint64_t bft_client_submit(struct bft_client *c, const uint8_t *op, size_t len, uint64_t now_ms);
void bft_client_flush(struct bft_client *c, uint64_t now_ms);
/* The replicas in `mask` (bit r) were just (re)connected: every envelope
 * waiting out a retransmission backoff is due now, with its backoff reset,
 * so a cluster back from an outage gets the requests at once instead of
 * up to 8 x retransmit_ms later. The next bft_client_tick sends them. */
void bft_client_peers_up(struct bft_client *c, uint64_t mask, uint64_t now_ms);
/* How many bft_client_submit calls would succeed now (free request slots:
 * slots are freed only when the oldest envelope completes, so completions
 * out of order free nothing until it does). Read-only. */
uint32_t bft_client_room(const struct bft_client *c);
/* A read-only request (not ordered): sent to every replica, accepted on
 * 2f+1 matching replies for BFT (the leader's for Raft); if that cannot
 * happen, re-issued as an ordered request. Completes through host->done
 * with the returned id (never equal to an ordered request number); 0 if
 * the op is invalid or 16 reads are already outstanding. */
uint64_t bft_client_read(struct bft_client *c, const uint8_t *op, size_t len, uint64_t now_ms);
/* The same at a chosen level (docs/reads.md): LINEARIZABLE is
 * bft_client_read; QUORUM is a Raft ReadIndex round every time (no lease),
 * and for BFT an ordered request from the start; LOCAL asks one replica,
 * which answers from its own state only if it executed a commit within
 * staleness_ms (>= 1) and otherwise refuses (BFT_REPLY_STALE): the client
 * then asks the next replica, and after all n refused or timed out, orders
 * the read. 0 if the op or the level is invalid, or reads are full. */
uint64_t bft_client_read_at(struct bft_client *c, const uint8_t *op, size_t len, int level,
                            uint32_t staleness_ms, uint64_t now_ms);
/* The ordered request number a read fell back to, 0 while it has not (or
 * if `read_id` is not an outstanding read). Read-only: lets a caller that
 * tracks request numbers (the simulator's checker) know the fallback. */
uint64_t bft_client_read_fallback(const struct bft_client *c, uint64_t read_id);
/* Give up on a pending ordered request: it is no longer retransmitted,
 * its slot is freed, and a late reply is ignored (host->done is never
 * called for it). The replicas may still execute it: its outcome is
 * unknown to this client. 0, or -1 if req_no is not pending. */
int bft_client_abandon(struct bft_client *c, uint64_t req_no);
/* The same for a read (and the ordered request it fell back to). */
int bft_client_read_abandon(struct bft_client *c, uint64_t read_id);
/* The number the next bft_client_submit (or a read's fallback) will take. */
uint64_t bft_client_next_req_no(const struct bft_client *c);
void bft_client_on_reply(struct bft_client *c, const uint8_t *msg, size_t len, uint64_t now_ms);
/* Retransmit overdue requests to all replicas. Returns the ms until the
 * next deadline (or UINT32_MAX if idle). */
uint32_t bft_client_tick(struct bft_client *c, uint64_t now_ms);
void bft_client_stats(const struct bft_client *c, struct bft_client_stats *out);

#endif
