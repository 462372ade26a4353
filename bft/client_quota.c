/* See client_quota.h. */
#include <stdlib.h>
#include <string.h>

#include "bft/client_quota.h"

int bft_quota_init(struct bft_client_quota *q, uint32_t n_clients, uint32_t capacity,
                   uint32_t floor)
{
    memset(q, 0, sizeof *q);
    if (n_clients == 0) return 0;
    q->count = calloc(n_clients, sizeof *q->count);
    if (!q->count) return -1;
    q->n_clients = n_clients;
    uint32_t share = capacity / n_clients;
    q->per_client = share > floor ? share : floor;
    return 0;
}

void bft_quota_free(struct bft_client_quota *q)
{
    free(q->count);
    memset(q, 0, sizeof *q);
}

bool bft_quota_take(struct bft_client_quota *q, uint32_t client)
{
    if (!q->count) return true; /* no quota configured */
    if (client >= q->n_clients || q->count[client] >= q->per_client) return false;
    q->count[client]++;
    return true;
}

void bft_quota_put(struct bft_client_quota *q, uint32_t client)
{
    if (q->count && client < q->n_clients && q->count[client]) q->count[client]--;
}

void bft_quota_reset(struct bft_client_quota *q)
{
    if (q->count) memset(q->count, 0, (size_t)q->n_clients * sizeof *q->count);
}
