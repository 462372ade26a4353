/* The order router (docs/design.md "Applications"): every accepted order gets the
 * next order_seq, unique and gap-free; a retried (client, client_order_id)
 * gets its original number back with status DUP and consumes nothing.
 *
 * Storage: a dense array of orders in order_seq order (seq = index + 1) and
 * an open-addressing index over it (linear probing, load <= 1/2). Both grow
 * by doubling up to the bound, so there is no allocation per order.
 *
 * Digest: a hash chain over accepted orders,
 *   chain_i = SHA-256(chain_{i-1} || record_i),  chain_0 = 32 zero bytes,
 * where record_i is the full order with its number and the consensus seq
 * that committed it (bft_audit_link, app/audit.c): the chain covers the
 * whole order, not only the ids, so equal digests mean identical order
 * histories (same orders, same numbers, same order). It is also the audit
 * log's chain: its head is in the state digest, so checkpoints certify the
 * audit trail, and the snapshot carries every order, from which a replica
 * that installs it writes the audit lines it missed.
 * digest() = SHA-256(chain || u64 next_seq).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/app_internal.h"
#include "app/app.h"
#include "wire/hash.h"
#include "wire/bytes.h"

#define ORDERS_INITIAL_CAP 1024u
#define SNAP_MAGIC 0x3244524fu /* "ORD2" */
#define SNAP_HDR_LEN (4 + 4 + 32)
#define RECORD_LEN (8 + 8 + 4 + 8 + 8 + 1 + 4 + 8)
#define NONE UINT32_MAX

_Static_assert(BFT_ORDER_OP_LEN == 1 + 8 + 8 + 1 + 4 + 8, "NEW op layout");
_Static_assert(BFT_ORDER_RES_LEN == 1 + 8, "result layout");
_Static_assert(BFT_ORDER_RES_LEN <= BFT_RESULT_MAX, "result fits");
_Static_assert(BFT_ORDERS_MAX <= UINT32_MAX / 4, "index slots fit u32");

struct order {
    uint64_t cseq; /* consensus seq that committed it */
    uint64_t coid;
    int64_t price;
    uint32_t client;
    uint32_t qty;
    char symbol[8];
    uint8_t side;
};

struct orders {
    uint32_t max; /* bound on accepted orders */
    struct order *v;
    uint32_t n, cap;
    uint32_t *slots; /* 0 = empty, else index into v plus one */
    uint32_t mask;   /* slot count - 1, slot count >= 2 * cap */
    uint8_t chain[32];
};

/* ---- Encodings ---- */

size_t bft_order_encode(uint8_t *op, uint64_t client_order_id, const char *symbol, uint8_t side,
                        uint32_t qty, int64_t price)
{
    op[0] = BFT_ORDER_KIND_NEW;
    wire_le_store(op + 1, client_order_id, 8);
    memset(op + 9, 0, 8);
    for (size_t i = 0; i < 8 && symbol && symbol[i]; i++)
        op[9 + i] = (uint8_t)symbol[i];
    op[17] = side;
    wire_le_store(op + 18, qty, 4);
    wire_le_store(op + 22, (uint64_t)price, 8);
    return BFT_ORDER_OP_LEN;
}

int bft_order_result_decode(const uint8_t *res, size_t len, uint8_t *status, uint64_t *order_seq)
{
    if (!res || len != BFT_ORDER_RES_LEN || res[0] > BFT_ORDER_NOT_FOUND) return BFT_E_MALFORMED;
    *status = res[0];
    *order_seq = wire_le_load(res + 1, 8);
    return BFT_E_OK;
}

size_t bft_order_lookup_encode(uint8_t *op, uint32_t client_id, uint64_t client_order_id)
{
    op[0] = BFT_ORDER_KIND_LOOKUP;
    wire_le_store(op + 1, client_id, 4);
    wire_le_store(op + 5, client_order_id, 8);
    return BFT_ORDER_LOOKUP_LEN;
}

static size_t put_result(uint8_t *res, uint8_t status, uint64_t order_seq)
{
    res[0] = status;
    wire_le_store(res + 1, order_seq, 8);
    return BFT_ORDER_RES_LEN;
}

/* A symbol is 1..8 printable ASCII characters, NUL padded: one spelling
 * per symbol, so equal orders encode equally. */
static bool order_valid(const struct order *o)
{
    if (o->side != 1 && o->side != 2) return false;
    if (o->qty == 0 || o->price <= 0) return false;
    size_t len = 0;
    while (len < 8 && o->symbol[len] > ' ' && o->symbol[len] < 0x7f)
        len++;
    if (len == 0) return false;
    for (size_t i = len; i < 8; i++)
        if (o->symbol[i] != 0) return false;
    return true;
}

static bool parse_new(const uint8_t *op, size_t len, uint32_t client, struct order *o)
{
    if (len != BFT_ORDER_OP_LEN || op[0] != BFT_ORDER_KIND_NEW) return false;
    o->cseq = 0; /* set by apply */
    o->client = client;
    o->coid = wire_le_load(op + 1, 8);
    memcpy(o->symbol, op + 9, 8);
    o->side = op[17];
    o->qty = (uint32_t)wire_le_load(op + 18, 4);
    o->price = (int64_t)wire_le_load(op + 22, 8);
    return order_valid(o);
}

int bft_order_decode(const uint8_t *op, size_t len, uint64_t *client_order_id, char symbol[9],
                     uint8_t *side, uint32_t *qty, int64_t *price)
{
    struct order o;
    if (!op || !parse_new(op, len, 0, &o)) return -1;
    *client_order_id = o.coid;
    memcpy(symbol, o.symbol, 8);
    symbol[8] = 0;
    *side = o.side;
    *qty = o.qty;
    *price = o.price;
    return 0;
}

/* The snapshot entry: u64 order_seq | u64 cseq | u32 client | u64 coid |
 * symbol[8] | u8 side | u32 qty | i64 price (the audit record's layout). */
static void record_put(uint8_t *p, uint64_t seq, const struct order *o)
{
    wire_le_store(p, seq, 8);
    wire_le_store(p + 8, o->cseq, 8);
    wire_le_store(p + 16, o->client, 4);
    wire_le_store(p + 20, o->coid, 8);
    memcpy(p + 28, o->symbol, 8);
    p[36] = o->side;
    wire_le_store(p + 37, o->qty, 4);
    wire_le_store(p + 41, (uint64_t)o->price, 8);
}

static uint64_t record_get(const uint8_t *p, struct order *o)
{
    o->cseq = wire_le_load(p + 8, 8);
    o->client = (uint32_t)wire_le_load(p + 16, 4);
    o->coid = wire_le_load(p + 20, 8);
    memcpy(o->symbol, p + 28, 8);
    o->side = p[36];
    o->qty = (uint32_t)wire_le_load(p + 37, 4);
    o->price = (int64_t)wire_le_load(p + 41, 8);
    return wire_le_load(p, 8);
}

static void to_entry(uint64_t seq, const struct order *o, struct bft_audit_entry *e)
{
    memset(e, 0, sizeof *e);
    e->order_seq = seq;
    e->seq = o->cseq;
    e->client = o->client;
    e->client_order_id = o->coid;
    memcpy(e->symbol, o->symbol, 8);
    e->symbol[8] = 0;
    e->side = o->side;
    e->qty = o->qty;
    e->price = o->price;
}

static void chain_link(uint8_t chain[32], uint64_t seq, const struct order *o)
{
    struct bft_audit_entry e;
    to_entry(seq, o, &e);
    uint8_t next[32];
    bft_audit_link(chain, &e, next);
    memcpy(chain, next, 32);
}

/* ---- Table ---- */

/* Clients are authenticated and the table is bounded, so a client
 * crafting collisions can only slow its own cluster down, never change a
 * result. */
static uint32_t home_slot(const struct orders *t, uint32_t client, uint64_t coid)
{
    return (uint32_t)(bft_mix64(coid ^ bft_mix64(client + BFT_GOLDEN64)) & t->mask);
}

static uint32_t find(const struct orders *t, uint32_t client, uint64_t coid)
{
    for (uint32_t i = home_slot(t, client, coid);; i = (i + 1) & t->mask) {
        uint32_t s = t->slots[i];
        if (s == 0) return NONE;
        const struct order *o = &t->v[s - 1];
        if (o->client == client && o->coid == coid) return s - 1;
    }
}

static void index_insert(struct orders *t, uint32_t idx)
{
    const struct order *o = &t->v[idx];
    uint32_t i = home_slot(t, o->client, o->coid);
    while (t->slots[i] != 0)
        i = (i + 1) & t->mask;
    t->slots[i] = idx + 1;
}

static uint32_t slots_for(uint32_t cap)
{
    uint32_t s = 16;
    while (s < 2 * cap)
        s *= 2;
    return s;
}

/* Size arrays for `cap` orders and re-index the first t->n. */
static int resize(struct orders *t, uint32_t cap)
{
    struct order *v = realloc(t->v, (size_t)cap * sizeof(*v));
    if (!v) return BFT_E_NOMEM;
    t->v = v;
    uint32_t nslots = slots_for(cap);
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

static void orders_free(struct orders *t)
{
    if (!t) return;
    free(t->v);
    free(t->slots);
    free(t);
}

void *bft_orders_create_bounded(uint32_t max_orders)
{
    if (max_orders == 0 || max_orders > BFT_ORDERS_MAX) return NULL;
    struct orders *t = calloc(1, sizeof(*t));
    if (!t) return NULL;
    t->max = max_orders;
    uint32_t cap = max_orders < ORDERS_INITIAL_CAP ? max_orders : ORDERS_INITIAL_CAP;
    if (resize(t, cap) != BFT_E_OK) {
        orders_free(t);
        return NULL;
    }
    return t;
}

static void *orders_create(void *user)
{
    (void)user; /* built-in apps take no configuration */
    return bft_orders_create_bounded(BFT_ORDERS_MAX);
}
static void orders_destroy(void *app)
{
    orders_free(app);
}

/* ---- Operations ---- */

static size_t lookup(const struct orders *t, const uint8_t *op, size_t len, uint8_t *res)
{
    if (len != BFT_ORDER_LOOKUP_LEN || op[0] != BFT_ORDER_KIND_LOOKUP)
        return put_result(res, BFT_ORDER_INVALID, 0);
    uint32_t idx = find(t, (uint32_t)wire_le_load(op + 1, 4), wire_le_load(op + 5, 8));
    if (idx == NONE) return put_result(res, BFT_ORDER_NOT_FOUND, 0);
    return put_result(res, BFT_ORDER_OK, (uint64_t)idx + 1);
}

static size_t orders_apply(void *app, uint64_t seq, uint32_t client_id, uint64_t req_no,
                           const uint8_t *op, size_t op_len, uint8_t *result)
{
    struct orders *t = app;
    (void)req_no;
    if (op_len >= 1 && op[0] == BFT_ORDER_KIND_LOOKUP) return lookup(t, op, op_len, result);
    struct order o;
    if (!op || !parse_new(op, op_len, client_id, &o))
        return put_result(result, BFT_ORDER_INVALID, 0);
    o.cseq = seq;
    uint32_t idx = find(t, o.client, o.coid);
    if (idx != NONE) return put_result(result, BFT_ORDER_DUP, (uint64_t)idx + 1);
    if (t->n >= t->max) return put_result(result, BFT_ORDER_FULL, 0);
    if (t->n == t->cap) {
        uint32_t cap = t->cap > t->max / 2 ? t->max : t->cap * 2;
        /* Out of memory here cannot be answered deterministically (other
         * replicas accepted the order), so fail-stop rather than diverge. */
        if (resize(t, cap) != BFT_E_OK) {
            fprintf(stderr, "orders: out of memory growing to %u orders\n", cap);
            abort();
        }
    }
    idx = t->n++;
    t->v[idx] = o;
    index_insert(t, idx);
    chain_link(t->chain, (uint64_t)idx + 1, &o);
    return put_result(result, BFT_ORDER_OK, (uint64_t)idx + 1);
}

static size_t orders_query(void *app, const uint8_t *op, size_t op_len, uint8_t *result)
{
    if (!op || op_len == 0) return put_result(result, BFT_ORDER_INVALID, 0);
    return lookup(app, op, op_len, result);
}

static void orders_digest(void *app, bft_digest *out)
{
    const struct orders *t = app;
    uint8_t next[8];
    wire_le_store(next, (uint64_t)t->n + 1, 8);
    crypto_sha256_2(t->chain, sizeof(t->chain), next, sizeof(next), out->b);
}

uint64_t bft_orders_count(const void *app)
{
    return ((const struct orders *)app)->n;
}

int bft_orders_entry(const void *app, uint64_t order_seq, struct bft_audit_entry *e)
{
    const struct orders *t = app;
    if (order_seq == 0 || order_seq > t->n) return -1;
    to_entry(order_seq, &t->v[order_seq - 1], e);
    return 0;
}

/* ---- Snapshot: "ORD2" | u32 count | chain[32] | count x record ---- */

static int orders_snapshot(void *app, uint8_t **buf, size_t *len)
{
    const struct orders *t = app;
    size_t total = SNAP_HDR_LEN + (size_t)t->n * RECORD_LEN;
    uint8_t *p = malloc(total);
    if (!p) return BFT_E_NOMEM;
    wire_le_store(p, SNAP_MAGIC, 4);
    wire_le_store(p + 4, t->n, 4);
    memcpy(p + 8, t->chain, 32);
    for (uint32_t i = 0; i < t->n; i++)
        record_put(p + SNAP_HDR_LEN + (size_t)i * RECORD_LEN, (uint64_t)i + 1, &t->v[i]);
    *buf = p;
    *len = total;
    return BFT_E_OK;
}

/* Rebuild into a fresh table and swap only if every record is valid, the
 * numbering is gap-free, no order repeats, and the recomputed chain equals
 * the stored one: a bad snapshot leaves the current state untouched. */
static int orders_restore(void *app, const uint8_t *buf, size_t len)
{
    struct orders *t = app;
    if (!buf || len < SNAP_HDR_LEN || wire_le_load(buf, 4) != SNAP_MAGIC) return BFT_E_MALFORMED;
    uint32_t count = (uint32_t)wire_le_load(buf + 4, 4);
    if (count > t->max || len != SNAP_HDR_LEN + (size_t)count * RECORD_LEN) return BFT_E_MALFORMED;
    struct orders nt = {.max = t->max};
    uint32_t cap = count < ORDERS_INITIAL_CAP ? ORDERS_INITIAL_CAP : count;
    int rv = resize(&nt, cap < t->max ? cap : t->max);
    if (rv != BFT_E_OK) goto err;
    rv = BFT_E_MALFORMED;
    for (uint32_t i = 0; i < count; i++) {
        struct order o;
        uint64_t seq = record_get(buf + SNAP_HDR_LEN + (size_t)i * RECORD_LEN, &o);
        if (seq != (uint64_t)i + 1 || !order_valid(&o)) goto err;
        if (find(&nt, o.client, o.coid) != NONE) goto err;
        nt.v[nt.n++] = o;
        index_insert(&nt, i);
        chain_link(nt.chain, seq, &o);
    }
    if (memcmp(nt.chain, buf + 8, 32) != 0) goto err;
    free(t->v);
    free(t->slots);
    *t = nt;
    return BFT_E_OK;
err:
    free(nt.v);
    free(nt.slots);
    return rv;
}

const struct bft_app_ops bft_app_orders = {
    .version = BFT_APP_OPS_VERSION,
    .name = "orders",
    .create = orders_create,
    .destroy = orders_destroy,
    .apply = orders_apply,
    .query = orders_query,
    .digest = orders_digest,
    .snapshot = orders_snapshot,
    .restore = orders_restore,
};
