/* client: the client library. Pure: the caller supplies time and the
 * transport; see tools/loadgen*.c for a caller. */
#ifndef BFT_CLIENT_H
#define BFT_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
};

struct bft_client_stats {
    uint64_t submitted, completed, retransmits, replies, bad_replies, read_fallbacks;
    uint64_t read_refusals; /* local reads a replica refused as stale */
};

/* Read consistency levels (docs/reads.md). */
enum bft_read_level {
    BFT_READ_LINEARIZABLE = 0, /* the default */
    BFT_READ_QUORUM = 1,
    BFT_READ_LOCAL = 2, /* with a staleness bound in ms */
};
#define BFT_READ_LEVELS 3
#define BFT_READ_STALENESS_DEFAULT_MS 100u
const char *bft_read_level_name(int level); /* NULL if unknown */
/* Parse "linearizable", "quorum", "local" or "local:MS" (MS >= 1; "local"
 * alone: BFT_READ_STALENESS_DEFAULT_MS). 0, or -1 if malformed. */
int bft_read_level_parse(const char *s, int *level, uint32_t *staleness_ms);

struct bft_client;
int bft_client_create(struct bft_client **out, const struct bft_client_config *cfg,
                      const struct bft_client_host *host);
void bft_client_destroy(struct bft_client *c);
/* Queue one operation; returns its request number (>0), or 0 with BFT_E_FULL
 * when max_outstanding requests are pending. Requests are sent when an
 * envelope fills or on bft_client_flush. */
uint64_t bft_client_submit(struct bft_client *c, const uint8_t *op, size_t len, uint64_t now_ms);
void bft_client_flush(struct bft_client *c, uint64_t now_ms);
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
void bft_client_on_reply(struct bft_client *c, const uint8_t *msg, size_t len, uint64_t now_ms);
/* Retransmit overdue requests to all replicas. Returns the ms until the
 * next deadline (or UINT32_MAX if idle). */
uint32_t bft_client_tick(struct bft_client *c, uint64_t now_ms);
void bft_client_stats(const struct bft_client *c, struct bft_client_stats *out);

#endif
