/* The counter of counter_app.h. Deterministic, bounded, and it answers
 * garbage with an error result (the bft/app.h contract). */
#include <stdlib.h>
#include <string.h>

#include "tests/runtime/counter_app.h"

struct counter {
    uint64_t value;
    uint64_t applied;
};

static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static size_t answer(uint8_t *res, uint8_t status, uint64_t value)
{
    res[0] = status;
    put_u64(res + 1, value);
    return COUNTER_RES_LEN;
}

static void *c_create(void *user)
{
    struct counter *c = calloc(1, sizeof *c);
    const struct counter_config *cfg = user;
    if (c && cfg) c->value = cfg->initial;
    return c;
}

static void c_destroy(void *app)
{
    free(app);
}

static size_t c_apply(void *app, uint64_t seq, uint32_t client_id, uint64_t req_no,
                      const uint8_t *op, size_t op_len, uint8_t *res)
{
    (void)seq;
    (void)client_id;
    (void)req_no;
    struct counter *c = app;
    if (op_len == COUNTER_OP_LEN && op[0] == COUNTER_ADD) {
        c->value += get_u64(op + 1);
        c->applied++;
        return answer(res, 0, c->value);
    }
    if (op_len >= 1 && op[0] == COUNTER_GET) return answer(res, 0, c->value);
    return answer(res, 1, 0);
}

static size_t c_query(void *app, const uint8_t *op, size_t op_len, uint8_t *res)
{
    const struct counter *c = app;
    if (op_len >= 1 && op[0] == COUNTER_GET) return answer(res, 0, c->value);
    return answer(res, 1, 0);
}

static void c_digest(void *app, bft_digest *out)
{
    const struct counter *c = app;
    memset(out, 0, sizeof *out);
    put_u64(out->b, c->value);
    put_u64(out->b + 8, c->applied);
}

static int c_snapshot(void *app, uint8_t **buf, size_t *len)
{
    const struct counter *c = app;
    *buf = malloc(16);
    if (!*buf) return BFT_E_NOMEM;
    put_u64(*buf, c->value);
    put_u64(*buf + 8, c->applied);
    *len = 16;
    return BFT_E_OK;
}

static int c_restore(void *app, const uint8_t *buf, size_t len)
{
    struct counter *c = app;
    if (len != 16) return BFT_E_MALFORMED;
    c->value = get_u64(buf);
    c->applied = get_u64(buf + 8);
    return BFT_E_OK;
}

const struct bft_app_ops counter_app = {
    .version = BFT_APP_OPS_VERSION,
    .name = "counter",
    .create = c_create,
    .destroy = c_destroy,
    .apply = c_apply,
    .query = c_query,
    .digest = c_digest,
    .snapshot = c_snapshot,
    .restore = c_restore,
};

size_t counter_op(uint8_t *op, int kind, uint64_t amount)
{
    op[0] = (uint8_t)kind;
    put_u64(op + 1, amount);
    return COUNTER_OP_LEN;
}

int counter_result(const uint8_t *res, size_t len, uint64_t *value)
{
    if (len != COUNTER_RES_LEN || res[0] != 0) return -1;
    *value = get_u64(res + 1);
    return 0;
}
