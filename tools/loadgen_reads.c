/* See loadgen_reads.h. */
#include "client/client.h"
#include "app/app.h"
#include "tools/loadgen_reads.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_internal.h"

int lg_reads_init(struct lg_reads *r, int level, uint32_t cap)
{
    memset(r, 0, sizeof *r);
    if (level != LOAD_READ_MIX && !bft_read_level_name(level)) return -1;
    r->level = level;
    r->cap = cap;
    for (int l = 0; l < BFT_READ_LEVELS; l++) {
        r->lat_us[l] = malloc((size_t)cap * sizeof *r->lat_us[l]);
        if (!r->lat_us[l]) {
            lg_reads_free(r);
            return -1;
        }
    }
    return 0;
}

void lg_reads_free(struct lg_reads *r)
{
    for (int l = 0; l < BFT_READ_LEVELS; l++) {
        free(r->lat_us[l]);
        r->lat_us[l] = NULL;
    }
}

int lg_reads_next_level(struct lg_reads *r)
{
    if (r->level != LOAD_READ_MIX) return r->level;
    int l = (int)(r->next_mix % BFT_READ_LEVELS);
    r->next_mix++;
    return l;
}

size_t lg_read_op(bool orders, uint32_t client, uint64_t client_order_id, uint8_t *op)
{
    if (orders) return bft_order_lookup_encode(op, client, client_order_id);
    /* The keys loadgen's kv puts write: "c<id>-<n % 1000>". */
    char key[32];
    int kl =
        snprintf(key, sizeof key, "c%u-%llu", client, (unsigned long long)(client_order_id % 1000));
    return bft_kv_encode(op, BFT_KV_GET, key, (size_t)kl, NULL, 0);
}

void lg_reads_issued(struct lg_reads *r, int level)
{
    r->st[level].issued++;
}

void lg_reads_done(struct lg_reads *r, int level, uint64_t lat_us, bool found)
{
    struct load_reads *s = &r->st[level];
    s->completed++;
    s->found += found;
    if (r->kept[level] < r->cap)
        r->lat_us[level][r->kept[level]++] = (uint32_t)(lat_us > UINT32_MAX ? UINT32_MAX : lat_us);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct_ms(const uint32_t *v, uint64_t n, double p)
{
    if (!n) return 0;
    uint64_t i = (uint64_t)(p * (double)(n - 1) + 0.5);
    return v[i] / 1000.0;
}

void lg_reads_summary(struct lg_reads *r, struct load_reads out[BFT_READ_LEVELS])
{
    for (int l = 0; l < BFT_READ_LEVELS; l++) {
        uint64_t n = r->kept[l];
        qsort(r->lat_us[l], n, sizeof *r->lat_us[l], cmp_u32);
        out[l] = r->st[l];
        out[l].lat_ms_p50 = pct_ms(r->lat_us[l], n, 0.50);
        out[l].lat_ms_p90 = pct_ms(r->lat_us[l], n, 0.90);
        out[l].lat_ms_p99 = pct_ms(r->lat_us[l], n, 0.99);
        out[l].lat_ms_max = n ? r->lat_us[l][n - 1] / 1000.0 : 0;
    }
}
