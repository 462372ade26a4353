/* Per-client share of a bounded pending-request table; see
 * pending_quota.h. Linear probing with backward-shift deletion (no
 * tombstones), so lookups stay short however many clients come and go. */
#include "bft/pending_quota.h"

#include <stdlib.h>
#include <string.h>

#include "bft/bft.h"

static uint32_t home(const struct bft_quota *q, uint32_t client)
{
    uint64_t x = (uint64_t)client * 0x9e3779b97f4a7c15ull;
    return (uint32_t)(x >> 32) & q->mask;
}

int bft_quota_init(struct bft_quota *q, uint32_t max_entries, uint64_t max_bytes,
                   uint32_t min_entries, uint64_t min_bytes)
{
    memset(q, 0, sizeof(*q));
    uint32_t slots = 2;
    while (slots < 2 * (uint64_t)max_entries)
        slots <<= 1;
    q->t = calloc(slots, sizeof(*q->t));
    if (!q->t) return BFT_E_NOMEM;
    q->mask = slots - 1;
    q->max_entries = max_entries;
    q->min_entries = min_entries;
    q->max_bytes = max_bytes;
    q->min_bytes = min_bytes;
    return BFT_E_OK;
}

void bft_quota_free(struct bft_quota *q)
{
    free(q->t);
    memset(q, 0, sizeof(*q));
}

/* The slot of `client`, or the free slot where it would go. */
static uint32_t find(const struct bft_quota *q, uint32_t client)
{
    uint32_t i = home(q, client);
    while (q->t[i].count != 0 && q->t[i].client != client)
        i = (i + 1) & q->mask;
    return i;
}

uint32_t bft_quota_count(const struct bft_quota *q, uint32_t client)
{
    return q->t[find(q, client)].count;
}

bool bft_quota_admit(const struct bft_quota *q, uint32_t client, uint64_t len)
{
    const struct bft_quota_ent *e = &q->t[find(q, client)];
    uint32_t holders = q->clients + (e->count == 0 ? 1 : 0);
    uint32_t share = q->max_entries / (holders + 1);
    uint64_t share_bytes = q->max_bytes / (holders + 1);
    if (share < q->min_entries) share = q->min_entries;
    if (share_bytes < q->min_bytes) share_bytes = q->min_bytes;
    return e->count < share && e->bytes + len <= share_bytes;
}

void bft_quota_add(struct bft_quota *q, uint32_t client, uint64_t len)
{
    struct bft_quota_ent *e = &q->t[find(q, client)];
    if (e->count == 0) {
        /* Every tracked client holds an entry of a table of max_entries,
         * so at most half the slots are ever used. */
        if (q->clients >= q->max_entries) return;
        e->client = client;
        e->bytes = 0;
        q->clients++;
    }
    e->count++;
    e->bytes += len;
}

void bft_quota_sub(struct bft_quota *q, uint32_t client, uint64_t len)
{
    uint32_t i = find(q, client);
    struct bft_quota_ent *e = &q->t[i];
    if (e->count == 0) return;
    e->bytes = e->bytes > len ? e->bytes - len : 0;
    if (--e->count > 0) return;
    q->clients--;
    /* Backward-shift deletion: pull later entries of the probe run into
     * the hole unless their home lies cyclically in (hole, j]. */
    for (uint32_t j = (i + 1) & q->mask; q->t[j].count != 0; j = (j + 1) & q->mask) {
        uint32_t k = home(q, q->t[j].client);
        bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        q->t[i] = q->t[j];
        q->t[j].count = 0;
        i = j;
    }
    q->t[i].count = 0;
}
