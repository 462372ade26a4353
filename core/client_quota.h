/* Per-client share of a core's pending-request queue (issue 12 defect 7):
 * one authenticated client, however fast it signs, must not fill the
 * queue and push every other client into OVERLOAD ("a limit on
 * everything": no Byzantine client may crowd out honest ones).
 *
 * Each client may hold at most
 *     max(floor, capacity / n_clients) requests, and
 *     max(floor_bytes, max_bytes / n_clients) bytes,
 * so every client always has its fair share of the queue, even when all
 * the others flood (while floor * n_clients <= capacity; past that the
 * floor lets the queue fill, and the queue's own bound still holds).
 * Client ids are dense (0..n_clients-1: the node refuses any other
 * sender), so the counters are one fixed array. n_clients == 0 (unknown)
 * disables the quota. Pure: used inside the cores, no allocation after
 * init. */
#ifndef BFT_CLIENT_QUOTA_H
#define BFT_CLIENT_QUOTA_H

#include <stdbool.h>
#include <stdint.h>

struct bft_client_quota {
    uint32_t n_clients;
    uint32_t per_client; /* requests one client may have queued */
    uint64_t per_client_bytes;
    uint32_t *count; /* n_clients entries */
    uint64_t *bytes; /* n_clients entries */
};

/* 0, or -1 when out of memory. */
int bft_quota_init(struct bft_client_quota *q, uint32_t n_clients, uint32_t capacity,
                   uint32_t floor, uint64_t max_bytes, uint64_t floor_bytes);
void bft_quota_free(struct bft_client_quota *q);
/* Count one more queued request of `len` bytes for client; false (nothing
 * counted) if that would put the client over its share. */
bool bft_quota_take(struct bft_client_quota *q, uint32_t client, uint64_t len);
/* A request of `len` bytes left the queue (proposed, executed, dropped). */
void bft_quota_put(struct bft_client_quota *q, uint32_t client, uint64_t len);
/* Requests `client` holds. */
uint32_t bft_quota_count(const struct bft_client_quota *q, uint32_t client);
/* The queue was emptied. */
void bft_quota_reset(struct bft_client_quota *q);

#endif
