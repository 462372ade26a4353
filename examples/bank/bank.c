/* The bank ledger state machine (bank.h). Deterministic: the result of
 * every operation depends only on the state and the operation, never on
 * time, randomness or the replica; garbage operations get BANK_INVALID.
 *
 * State: a flag and a balance per account. Snapshot: the table as bytes
 * (u8 open | u64 balance per account). Digest: SHA-256 of the snapshot,
 * through the library's bft_sha256, so replicas that agree on the digest
 * agree on every balance. */
#include <stdlib.h>
#include <string.h>

#include "bank.h"

struct bank {
    uint8_t open[BANK_ACCOUNTS];
    uint64_t balance[BANK_ACCOUNTS];
};

#define SNAP_LEN (BANK_ACCOUNTS * 9u)

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}
static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

size_t bank_op(uint8_t *op, enum bank_kind kind, uint32_t a, uint32_t b, uint64_t amount)
{
    op[0] = (uint8_t)kind;
    put_u32(op + 1, a);
    switch (kind) {
    case BANK_DEPOSIT:
        put_u64(op + 5, amount);
        return 13;
    case BANK_TRANSFER:
        put_u32(op + 5, b);
        put_u64(op + 9, amount);
        return 17;
    default:
        return 5;
    }
}

int bank_result(const uint8_t *res, size_t len, uint8_t *status, uint64_t *balance)
{
    if (len != 1 && len != 9) return -1;
    *status = res[0];
    *balance = len == 9 ? get_u64(res + 1) : 0;
    return 0;
}

static size_t answer(uint8_t *result, uint8_t status, const uint64_t *balance)
{
    result[0] = status;
    if (!balance) return 1;
    put_u64(result + 1, *balance);
    return 9;
}

static void *bank_create(void *user)
{
    (void)user;
    return calloc(1, sizeof(struct bank));
}

static void bank_destroy(void *app)
{
    free(app);
}

static size_t bank_apply(void *app, uint64_t seq, uint32_t client, uint64_t req_no,
                         const uint8_t *op, size_t len, uint8_t *result)
{
    (void)seq;
    (void)client;
    (void)req_no;
    struct bank *b = app;
    if (len < 5) return answer(result, BANK_INVALID, NULL);
    uint32_t a = get_u32(op + 1);
    if (a >= BANK_ACCOUNTS) return answer(result, BANK_INVALID, NULL);
    switch (op[0]) {
    case BANK_OPEN:
        if (len != 5) break;
        if (b->open[a]) return answer(result, BANK_EXISTS, NULL);
        b->open[a] = 1;
        return answer(result, BANK_OK, NULL);
    case BANK_DEPOSIT: {
        if (len != 13) break;
        uint64_t amount = get_u64(op + 5);
        if (!b->open[a]) return answer(result, BANK_NO_ACCOUNT, NULL);
        if (amount > UINT64_MAX - b->balance[a]) return answer(result, BANK_INVALID, NULL);
        b->balance[a] += amount;
        return answer(result, BANK_OK, &b->balance[a]);
    }
    case BANK_TRANSFER: {
        if (len != 17) break;
        uint32_t to = get_u32(op + 5);
        uint64_t amount = get_u64(op + 9);
        if (to >= BANK_ACCOUNTS || to == a) return answer(result, BANK_INVALID, NULL);
        if (!b->open[a] || !b->open[to]) return answer(result, BANK_NO_ACCOUNT, NULL);
        if (b->balance[a] < amount) return answer(result, BANK_INSUFFICIENT, &b->balance[a]);
        if (amount > UINT64_MAX - b->balance[to]) return answer(result, BANK_INVALID, NULL);
        b->balance[a] -= amount;
        b->balance[to] += amount;
        return answer(result, BANK_OK, &b->balance[a]);
    }
    case BANK_BALANCE:
        if (len != 5) break;
        if (!b->open[a]) return answer(result, BANK_NO_ACCOUNT, NULL);
        return answer(result, BANK_OK, &b->balance[a]);
    }
    return answer(result, BANK_INVALID, NULL);
}

/* Reads: only BALANCE, from the current state. */
static size_t bank_query(void *app, const uint8_t *op, size_t len, uint8_t *result)
{
    if (len != 5 || op[0] != BANK_BALANCE) return answer(result, BANK_INVALID, NULL);
    return bank_apply(app, 0, 0, 0, op, len, result);
}

static void encode(const struct bank *b, uint8_t *buf)
{
    for (uint32_t i = 0; i < BANK_ACCOUNTS; i++) {
        buf[i * 9] = b->open[i];
        put_u64(buf + i * 9 + 1, b->balance[i]);
    }
}

static int bank_snapshot(void *app, uint8_t **buf, size_t *len)
{
    *buf = malloc(SNAP_LEN);
    if (!*buf) return BFT_E_NOMEM;
    encode(app, *buf);
    *len = SNAP_LEN;
    return BFT_E_OK;
}

static int bank_restore(void *app, const uint8_t *buf, size_t len)
{
    struct bank *b = app;
    if (len != SNAP_LEN) return BFT_E_MALFORMED;
    for (uint32_t i = 0; i < BANK_ACCOUNTS; i++)
        if (buf[i * 9] > 1) return BFT_E_MALFORMED;
    for (uint32_t i = 0; i < BANK_ACCOUNTS; i++) {
        b->open[i] = buf[i * 9];
        b->balance[i] = get_u64(buf + i * 9 + 1);
    }
    return BFT_E_OK;
}

static void bank_digest(void *app, bft_digest *out)
{
    /* On the stack, not static: several replicas may share a process. */
    uint8_t buf[SNAP_LEN];
    encode(app, buf);
    bft_sha256(buf, sizeof buf, out);
}

const struct bft_app_ops bank_ops = {
    .version = BFT_APP_OPS_VERSION,
    .name = "bank",
    .create = bank_create,
    .destroy = bank_destroy,
    .apply = bank_apply,
    .query = bank_query,
    .digest = bank_digest,
    .snapshot = bank_snapshot,
    .restore = bank_restore,
};
