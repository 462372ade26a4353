/* See client_quota.h. */
#include <stdlib.h>
#include <string.h>

#include "core/client_quota.h"

int bft_quota_init(struct bft_client_quota *q, uint32_t n_clients, uint32_t capacity,
                   uint32_t floor, uint64_t max_bytes, uint64_t floor_bytes)
{
    memset(q, 0, sizeof *q);
    if (n_clients == 0) return 0;
    q->count = calloc(n_clients, sizeof *q->count);
    q->bytes = calloc(n_clients, sizeof *q->bytes);
    if (!q->count || !q->bytes) {
        bft_quota_free(q);
        return -1;
    }
    q->n_clients = n_clients;
    uint32_t share = capacity / n_clients;
    q->per_client = share > floor ? share : floor;
    uint64_t bshare = max_bytes / n_clients;
    q->per_client_bytes = bshare > floor_bytes ? bshare : floor_bytes;
    return 0;
}

void bft_quota_free(struct bft_client_quota *q)
{
    free(q->count);
    free(q->bytes);
    memset(q, 0, sizeof *q);
}

bool bft_quota_take(struct bft_client_quota *q, uint32_t client, uint64_t len)
{
    if (!q->count) return true; /* no quota configured */
    if (client >= q->n_clients || q->count[client] >= q->per_client ||
        q->bytes[client] + len > q->per_client_bytes)
        return false;
    q->count[client]++;
    q->bytes[client] += len;
    return true;
}

void bft_quota_put(struct bft_client_quota *q, uint32_t client, uint64_t len)
{
    if (!q->count || client >= q->n_clients || !q->count[client]) return;
    q->count[client]--;
    q->bytes[client] = q->bytes[client] > len ? q->bytes[client] - len : 0;
}

uint32_t bft_quota_count(const struct bft_client_quota *q, uint32_t client)
{
    return q->count && client < q->n_clients ? q->count[client] : 0;
}

void bft_quota_reset(struct bft_client_quota *q)
{
    if (!q->count) return;
    memset(q->count, 0, (size_t)q->n_clients * sizeof *q->count);
    memset(q->bytes, 0, (size_t)q->n_clients * sizeof *q->bytes);
}
