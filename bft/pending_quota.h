/* Per-client share of a bounded pending-request table (issue 12).
 *
 * A table of requests waiting for consensus is bounded (entries and bytes).
 * Without a per-client limit one authenticated client can fill it and push
 * every other client into OVERLOAD. This helper counts what each client
 * holds and admits a request only while the client stays within its share:
 *
 *     share = max(min, capacity / (clients holding entries + 1))
 *
 * for entries and for bytes alike, where the requester counts among the
 * clients holding entries. The "+ 1" keeps room for a client that holds
 * nothing yet; as more clients queue, each one's share shrinks (to `min`
 * at least), and a client over its share gets OVERLOAD for new requests
 * only: what it already queued stays. PBFT's per-client request handling
 * (Castro-Liskov TOCS'02 §4.2: one request per client in progress) is the
 * strict form of the same idea.
 *
 * Used by the HotStuff pending table (bft/hotstuff_pending.c); written to
 * be reusable by the other cores' tables. Bounded: an open-addressing table
 * of 2 x max_entries client slots (every tracked client holds an entry), no
 * allocation after init. */
#ifndef BFT_PENDING_QUOTA_H
#define BFT_PENDING_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

struct bft_quota_ent {
    uint32_t client;
    uint32_t count; /* 0: free slot */
    uint64_t bytes;
};

struct bft_quota {
    struct bft_quota_ent *t;
    uint32_t mask;    /* slots - 1 (a power of two) */
    uint32_t clients; /* clients holding at least one entry */
    uint32_t max_entries, min_entries;
    uint64_t max_bytes, min_bytes;
};

/* BFT_E_OK, or BFT_E_NOMEM. */
int bft_quota_init(struct bft_quota *q, uint32_t max_entries, uint64_t max_bytes,
                   uint32_t min_entries, uint64_t min_bytes);
void bft_quota_free(struct bft_quota *q);
/* May `client` queue one more request of `len` bytes? */
bool bft_quota_admit(const struct bft_quota *q, uint32_t client, uint64_t len);
/* A request of `len` bytes was queued / left the table. */
void bft_quota_add(struct bft_quota *q, uint32_t client, uint64_t len);
void bft_quota_sub(struct bft_quota *q, uint32_t client, uint64_t len);
/* Entries `client` holds. */
uint32_t bft_quota_count(const struct bft_quota *q, uint32_t client);

#endif
