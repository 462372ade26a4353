/* Key-value store for tests and benchmarks: put/get/delete per bft.h.
 * Keys 1..255 bytes, values 0..255 bytes (status byte + value fit one
 * result), at most BFT_KV_MAX_KEYS live keys (FULL beyond).
 *
 * Storage: a dense array of fixed-size entries (key and value inline, so no
 * allocation per put) and an open-addressing index over it (linear probing,
 * backward-shift deletion, load <= 1/2); deletion moves the last entry into
 * the hole. Both grow by doubling up to the bound.
 *
 * Digest: an additive multiset hash (Bellare-Micciancio AdHash):
 *   sum = SUM over live entries of SHA-256(u8 klen || key || value) mod 2^256
 * updated on every insert, overwrite and delete, so it depends only on the
 * final contents, not on the order they were written in. The key length
 * prefix keeps (key, value) splits apart. digest() = SHA-256(sum || u64 n).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_internal.h"
#include "app/app.h"
#include "wire/bytes.h"

#define KV_INITIAL_CAP 256u
#define SNAP_MAGIC 0x3153564bu /* "KVS1" */
#define SNAP_HDR_LEN (4 + 4 + 32)
#define NONE UINT32_MAX

_Static_assert(BFT_KV_KEY_MAX <= UINT8_MAX && BFT_KV_VALUE_MAX <= UINT8_MAX,
               "lengths fit a byte in entries and snapshots");
_Static_assert(BFT_KV_MAX_KEYS <= UINT32_MAX / 4, "index slots fit u32");

struct kv_entry {
    uint64_t hash;
    uint8_t klen, vlen;
    uint8_t key[BFT_KV_KEY_MAX];
    uint8_t val[BFT_KV_VALUE_MAX];
};

struct kv {
    uint32_t max;
    struct kv_entry *v;
    uint32_t n, cap;
    uint32_t *slots; /* 0 = empty, else index into v plus one */
    uint32_t mask;
    uint8_t sum[32]; /* little-endian 256-bit integer */
};

size_t bft_kv_encode(uint8_t *op, uint8_t kind, const void *key, size_t klen, const void *value,
                     size_t vlen)
{
    op[0] = kind;
    wire_le_store(op + 1, klen, 2);
    if (klen) memcpy(op + 3, key, klen);
    wire_le_store(op + 3 + klen, vlen, 2);
    if (vlen) memcpy(op + 5 + klen, value, vlen);
    return 5 + klen + vlen;
}

/* ---- Multiset digest ---- */

static void elem_hash(const struct kv_entry *e, uint8_t out[32])
{
    uint8_t buf[1 + BFT_KV_KEY_MAX + BFT_KV_VALUE_MAX];
    buf[0] = e->klen;
    memcpy(buf + 1, e->key, e->klen);
    memcpy(buf + 1 + e->klen, e->val, e->vlen);
    crypto_sha256(buf, 1 + (size_t)e->klen + e->vlen, out);
}

static void sum_add(uint8_t sum[32], const struct kv_entry *e)
{
    uint8_t h[32];
    elem_hash(e, h);
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned s = (unsigned)sum[i] + h[i] + carry;
        sum[i] = (uint8_t)s;
        carry = s >> 8;
    }
}

static void sum_sub(uint8_t sum[32], const struct kv_entry *e)
{
    uint8_t h[32];
    elem_hash(e, h);
    int borrow = 0;
    for (int i = 0; i < 32; i++) {
        int d = (int)sum[i] - h[i] - borrow;
        borrow = d < 0;
        sum[i] = (uint8_t)(d + (borrow ? 256 : 0));
    }
}

/* ---- Table ---- */

static uint64_t key_hash(const uint8_t *key, size_t klen)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then a splitmix64 finaliser */
    for (size_t i = 0; i < klen; i++)
        h = (h ^ key[i]) * 0x100000001b3ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

/* Slot position holding key, or NONE. */
static uint32_t find_slot(const struct kv *t, const uint8_t *key, size_t klen, uint64_t h)
{
    for (uint32_t i = (uint32_t)(h & t->mask);; i = (i + 1) & t->mask) {
        uint32_t s = t->slots[i];
        if (s == 0) return NONE;
        const struct kv_entry *e = &t->v[s - 1];
        if (e->hash == h && e->klen == klen && memcmp(e->key, key, klen) == 0) return i;
    }
}

static void index_insert(struct kv *t, uint32_t idx)
{
    uint32_t i = (uint32_t)(t->v[idx].hash & t->mask);
    while (t->slots[i] != 0)
        i = (i + 1) & t->mask;
    t->slots[i] = idx + 1;
}

/* Backward-shift deletion: pull later members of the probe run into the
 * hole unless their home slot lies cyclically in (hole, j]. */
static void index_remove(struct kv *t, uint32_t hole)
{
    t->slots[hole] = 0;
    for (uint32_t j = (hole + 1) & t->mask; t->slots[j] != 0; j = (j + 1) & t->mask) {
        uint32_t home = (uint32_t)(t->v[t->slots[j] - 1].hash & t->mask);
        bool stays = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        t->slots[hole] = t->slots[j];
        t->slots[j] = 0;
        hole = j;
    }
}

static int resize(struct kv *t, uint32_t cap)
{
    struct kv_entry *v = realloc(t->v, (size_t)cap * sizeof(*v));
    if (!v) return BFT_E_NOMEM;
    t->v = v;
    uint32_t nslots = 16;
    while (nslots < 2 * cap)
        nslots *= 2;
    if (!t->slots || nslots != t->mask + 1) {
        uint32_t *slots = calloc(nslots, sizeof(*slots));
        if (!slots) return BFT_E_NOMEM; /* cap unchanged: the old index still fits */
        free(t->slots);
        t->slots = slots;
        t->mask = nslots - 1;
        for (uint32_t i = 0; i < t->n; i++)
            index_insert(t, i);
    }
    t->cap = cap;
    return BFT_E_OK;
}

static void kv_free(struct kv *t)
{
    if (!t) return;
    free(t->v);
    free(t->slots);
    free(t);
}

void *bft_kv_create_bounded(uint32_t max_keys)
{
    if (max_keys == 0 || max_keys > BFT_KV_MAX_KEYS) return NULL;
    struct kv *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->max = max_keys;
    if (resize(t, max_keys < KV_INITIAL_CAP ? max_keys : KV_INITIAL_CAP) != BFT_E_OK) {
        kv_free(t);
        return NULL;
    }
    return t;
}

static void *kv_create(void *user)
{
    (void)user; /* built-in apps take no configuration */
    return bft_kv_create_bounded(BFT_KV_MAX_KEYS);
}
static void kv_destroy(void *app)
{
    kv_free(app);
}

/* ---- Operations ---- */

struct kv_op {
    uint8_t kind;
    const uint8_t *key, *val;
    size_t klen, vlen;
};

/* kind | u16 klen | key | u16 vlen | value. GET and DELETE carry no value:
 * the vlen field may be absent or zero. */
static bool parse_op(const uint8_t *op, size_t len, struct kv_op *o)
{
    struct wire_rd r;
    if (!op) return false;
    wire_rd_init(&r, op, len);
    o->kind = wire_get_u8(&r);
    o->klen = wire_get_u16(&r);
    o->key = wire_get_ptr(&r, o->klen);
    if (r.err || o->klen == 0 || o->klen > BFT_KV_KEY_MAX) return false;
    if (o->kind != BFT_KV_PUT && wire_rd_left(&r) == 0) {
        o->vlen = 0;
        o->val = NULL;
    } else {
        o->vlen = wire_get_u16(&r);
        o->val = wire_get_ptr(&r, o->vlen);
    }
    if (r.err || wire_rd_left(&r) != 0 || o->vlen > BFT_KV_VALUE_MAX) return false;
    switch (o->kind) {
    case BFT_KV_PUT:
        return true;
    case BFT_KV_GET:
    case BFT_KV_DELETE:
        return o->vlen == 0;
    default:
        return false;
    }
}

static size_t status_only(uint8_t *res, uint8_t status)
{
    res[0] = status;
    return 1;
}

static size_t kv_get(const struct kv *t, const struct kv_op *o, uint64_t h, uint8_t *res)
{
    uint32_t pos = find_slot(t, o->key, o->klen, h);
    if (pos == NONE) return status_only(res, BFT_KV_NOT_FOUND);
    const struct kv_entry *e = &t->v[t->slots[pos] - 1];
    res[0] = BFT_KV_OK;
    memcpy(res + 1, e->val, e->vlen);
    return 1 + (size_t)e->vlen;
}

static size_t kv_put(struct kv *t, const struct kv_op *o, uint64_t h, uint8_t *res)
{
    uint32_t pos = find_slot(t, o->key, o->klen, h);
    struct kv_entry *e;
    if (pos != NONE) {
        e = &t->v[t->slots[pos] - 1];
        sum_sub(t->sum, e);
    } else {
        if (t->n >= t->max) return status_only(res, BFT_KV_FULL);
        if (t->n == t->cap) {
            uint32_t cap = t->cap > t->max / 2 ? t->max : t->cap * 2;
            /* Replicas must not diverge on local memory: fail-stop. */
            if (resize(t, cap) != BFT_E_OK) {
                fprintf(stderr, "kv: out of memory growing to %u keys\n", cap);
                abort();
            }
        }
        e = &t->v[t->n];
        e->hash = h;
        e->klen = (uint8_t)o->klen;
        memcpy(e->key, o->key, o->klen);
        index_insert(t, t->n++);
    }
    e->vlen = (uint8_t)o->vlen;
    if (o->vlen) memcpy(e->val, o->val, o->vlen);
    sum_add(t->sum, e);
    return status_only(res, BFT_KV_OK);
}

static size_t kv_delete(struct kv *t, const struct kv_op *o, uint64_t h, uint8_t *res)
{
    uint32_t pos = find_slot(t, o->key, o->klen, h);
    if (pos == NONE) return status_only(res, BFT_KV_NOT_FOUND);
    uint32_t idx = t->slots[pos] - 1, last = t->n - 1;
    sum_sub(t->sum, &t->v[idx]);
    index_remove(t, pos);
    if (idx != last) {
        /* Move the last entry into the hole and repoint its slot. */
        uint32_t i = (uint32_t)(t->v[last].hash & t->mask);
        while (t->slots[i] != last + 1)
            i = (i + 1) & t->mask;
        t->v[idx] = t->v[last];
        t->slots[i] = idx + 1;
    }
    t->n--;
    return status_only(res, BFT_KV_OK);
}

static size_t kv_apply(void *app, uint64_t seq, uint32_t client_id, uint64_t req_no,
                       const uint8_t *op, size_t op_len, uint8_t *result)
{
    struct kv *t = app;
    (void)seq, (void)client_id, (void)req_no;
    struct kv_op o;
    if (!parse_op(op, op_len, &o)) return status_only(result, BFT_KV_INVALID);
    uint64_t h = key_hash(o.key, o.klen);
    switch (o.kind) {
    case BFT_KV_PUT:
        return kv_put(t, &o, h, result);
    case BFT_KV_GET:
        return kv_get(t, &o, h, result);
    default:
        return kv_delete(t, &o, h, result);
    }
}

static size_t kv_query(void *app, const uint8_t *op, size_t op_len, uint8_t *result)
{
    struct kv_op o;
    if (!parse_op(op, op_len, &o) || o.kind != BFT_KV_GET)
        return status_only(result, BFT_KV_INVALID);
    return kv_get(app, &o, key_hash(o.key, o.klen), result);
}

static void kv_digest(void *app, bft_digest *out)
{
    const struct kv *t = app;
    uint8_t n[8];
    wire_le_store(n, t->n, 8);
    crypto_sha256_2(t->sum, sizeof(t->sum), n, sizeof(n), out->b);
}

/* ---- Snapshot: "KVS1" | u32 count | sum[32] | count x (u8 klen | key |
 * u8 vlen | value), keys in ascending order so every replica with the same
 * contents produces the same bytes. ---- */

static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c != 0) return c;
    return (alen > blen) - (alen < blen);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct kv_entry *x = *(const struct kv_entry *const *)a;
    const struct kv_entry *y = *(const struct kv_entry *const *)b;
    return key_cmp(x->key, x->klen, y->key, y->klen);
}

static int kv_snapshot(void *app, uint8_t **buf, size_t *len)
{
    const struct kv *t = app;
    const struct kv_entry **order = malloc(((size_t)t->n + 1) * sizeof(*order));
    if (!order) return BFT_E_NOMEM;
    size_t total = SNAP_HDR_LEN;
    for (uint32_t i = 0; i < t->n; i++) {
        order[i] = &t->v[i];
        total += 2 + (size_t)t->v[i].klen + t->v[i].vlen;
    }
    qsort(order, t->n, sizeof(*order), entry_cmp);
    uint8_t *p = malloc(total);
    if (!p) {
        free(order);
        return BFT_E_NOMEM;
    }
    wire_le_store(p, SNAP_MAGIC, 4);
    wire_le_store(p + 4, t->n, 4);
    memcpy(p + 8, t->sum, 32);
    size_t off = SNAP_HDR_LEN;
    for (uint32_t i = 0; i < t->n; i++) {
        const struct kv_entry *e = order[i];
        p[off++] = e->klen;
        memcpy(p + off, e->key, e->klen);
        off += e->klen;
        p[off++] = e->vlen;
        memcpy(p + off, e->val, e->vlen);
        off += e->vlen;
    }
    free(order);
    *buf = p;
    *len = total;
    return BFT_E_OK;
}

/* Rebuild into a fresh table; swap only if every entry is in bounds, keys
 * strictly ascend (so none repeats), the bytes end exactly and the
 * recomputed sum matches: a bad snapshot leaves the state untouched. */
static int kv_restore(void *app, const uint8_t *buf, size_t len)
{
    struct kv *t = app;
    if (!buf || len < SNAP_HDR_LEN || wire_le_load(buf, 4) != SNAP_MAGIC) return BFT_E_MALFORMED;
    uint32_t count = (uint32_t)wire_le_load(buf + 4, 4);
    /* Each entry takes at least 3 bytes: bound count before allocating. */
    if (count > t->max || count > (len - SNAP_HDR_LEN) / 3) return BFT_E_MALFORMED;
    struct kv nt = {.max = t->max};
    uint32_t cap = count < KV_INITIAL_CAP ? KV_INITIAL_CAP : count;
    int rv = resize(&nt, cap < t->max ? cap : t->max);
    if (rv != BFT_E_OK) goto err;
    rv = BFT_E_MALFORMED;
    struct wire_rd r;
    wire_rd_init(&r, buf + SNAP_HDR_LEN, len - SNAP_HDR_LEN);
    for (uint32_t i = 0; i < count; i++) {
        struct kv_entry *e = &nt.v[i];
        e->klen = wire_get_u8(&r);
        wire_get_bytes(&r, e->key, e->klen);
        e->vlen = wire_get_u8(&r);
        wire_get_bytes(&r, e->val, e->vlen);
        if (r.err || e->klen == 0) goto err;
        if (i > 0 && key_cmp(nt.v[i - 1].key, nt.v[i - 1].klen, e->key, e->klen) >= 0) goto err;
        e->hash = key_hash(e->key, e->klen);
        index_insert(&nt, nt.n++);
        sum_add(nt.sum, e);
    }
    if (wire_rd_left(&r) != 0 || memcmp(nt.sum, buf + 8, 32) != 0) goto err;
    free(t->v);
    free(t->slots);
    *t = nt;
    return BFT_E_OK;
err:
    free(nt.v);
    free(nt.slots);
    return rv;
}

const struct bft_app_ops bft_app_kv = {
    .version = BFT_APP_OPS_VERSION,
    .name = "kv",
    .create = kv_create,
    .destroy = kv_destroy,
    .apply = kv_apply,
    .query = kv_query,
    .digest = kv_digest,
    .snapshot = kv_snapshot,
    .restore = kv_restore,
};
