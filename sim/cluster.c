/* sim: building a cluster and stepping it. sim_step() fires the single
 * earliest event (canonical/raft raft_fixture_step); invariants run inside
 * the execute/apply hooks, so they are checked at every step that executes
 * anything, and the first violation stops the run. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "client/client.h"
#include "app/app.h"
#include "core/core.h"
#include "sim/sim_internal.h"

void sim_options_default(struct sim_options *o, int protocol, uint32_t n)
{
    *o = (struct sim_options){
        .protocol = protocol,
        .n = n,
        .clients = 3,
        .outstanding = 2,
        .retry_pct = 5,
        .read_pct = 50,
        .read_level = BFT_READ_LINEARIZABLE,
        .read_staleness_ms = BFT_READ_STALENESS_DEFAULT_MS,
        .faults = SIM_FAULTS_DEFAULT,
        .fault_phase_min_us = 5000000,
        .fault_phase_max_us = 20000000,
        .liveness_us = 30000000,
        .liveness_ops = 20,
        .latency_min_us = 200,
        .latency_max_us = 2000,
        .inflight_max = SIM_INFLIGHT_DEFAULT,
        .client_retransmit_ms = 250,
    };
}

void sim_log(const struct sim *s, const char *fmt, ...)
{
    if (!s->o.verbose) return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "[sim %llu.%06llu] ", (unsigned long long)(s->now_us / 1000000),
            (unsigned long long)(s->now_us % 1000000));
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void vfail(struct sim *s, bool safety, const char *fmt, va_list ap)
{
    if (s->failed) return;
    s->failed = true;
    s->violated = safety;
    vsnprintf(s->reason, sizeof(s->reason), fmt, ap);
    /* One line: bftsim prints the reason inside its FAIL line. */
    for (char *p = s->reason; *p; p++)
        if (*p == '\n') *p = ' ';
    sim_log(s, "FAILED: %s", s->reason);
}

void sim_fail(struct sim *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(s, false, fmt, ap);
    va_end(ap);
}

void sim_violation(struct sim *s, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(s, true, fmt, ap);
    va_end(ap);
}

bool sim_failed(const struct sim *s, const char **reason)
{
    if (reason) *reason = s->failed ? s->reason : NULL;
    return s->failed;
}

bool sim_violated(const struct sim *s)
{
    return s->violated;
}

static int check_options(const struct sim_options *o, char *err, size_t errlen)
{
    if (!bft_core_ops_for(o->protocol)) {
        snprintf(err, errlen, "protocol %s is not built into this binary",
                 bft_protocol_name(o->protocol));
        return BFT_E_INVALID;
    }
    if (o->n < 1 || o->n > BFT_MAX_REPLICAS) {
        snprintf(err, errlen, "nodes must be 1..%d", BFT_MAX_REPLICAS);
        return BFT_E_INVALID;
    }
    if (o->clients > SIM_MAX_CLIENTS || o->outstanding > SIM_CLIENT_PENDING_MAX / 2) {
        snprintf(err, errlen, "at most %d clients with %d outstanding requests each",
                 SIM_MAX_CLIENTS, SIM_CLIENT_PENDING_MAX / 2);
        return BFT_E_INVALID;
    }
    if (o->latency_max_us < o->latency_min_us || o->inflight_max == 0) {
        snprintf(err, errlen, "bad latency range or inflight_max");
        return BFT_E_INVALID;
    }
    return BFT_E_OK;
}

/* Keys only need to be distinct per identity: derive them from the id. */
static void key_for(struct crypto_keypair *kp, uint32_t kind, uint32_t id)
{
    uint8_t seed[CRYPTO_SEED_LEN] = {0};
    memcpy(seed, "bftsim-key", 10);
    seed[16] = (uint8_t)kind;
    seed[20] = (uint8_t)id;
    seed[21] = (uint8_t)(id >> 8);
    crypto_keypair_from_seed(kp, seed);
}

int sim_create(struct sim **out, const struct sim_options *o, uint64_t seed, char *err,
               size_t errlen)
{
    *out = NULL;
    int rv = check_options(o, err, errlen);
    if (rv != BFT_E_OK) return rv;
    static bool crypto_ready;
    if (!crypto_ready) {
        if (crypto_init() != 0) {
            snprintf(err, errlen, "crypto_init failed");
            return BFT_E_INVALID;
        }
        crypto_ready = true;
    }
    struct sim *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return BFT_E_NOMEM;
    }
    s->o = *o;
    s->seed = seed;
    sim_rng_seed(&s->net_rng, seed, 1);
    sim_rng_seed(&s->client_rng, seed, 2);
    s->net = (struct sim_net_params){.latency_min_us = o->latency_min_us,
                                     .latency_max_us = o->latency_max_us};
    s->load_on = true;
    for (uint32_t i = 0; i < BFT_MAX_REPLICAS; i++)
        s->twin_ep[i] = -1;

    struct bft_node_config *nc = &s->node_cfg;
    bft_core_config_defaults(&nc->core, o->protocol, o->n, 0);
    nc->core.cluster_id = 0x51b5u;
    if (o->batch_max) nc->core.batch_max = o->batch_max;
    if (o->window) nc->core.window = o->window;
    if (o->checkpoint_interval) nc->core.checkpoint_interval = o->checkpoint_interval;
    if (o->request_timeout_ms) nc->core.request_timeout_ms = o->request_timeout_ms;
    if (o->leader_windows_only) nc->core.leader_reputation = 0;
    s->f = nc->core.f;
    nc->app = &bft_app_orders;
    nc->null_crypto = true;
    for (uint32_t i = 0; i < o->n; i++) {
        key_for(&s->rep_key[i], 1, i);
        memcpy(nc->replica_pk[i], s->rep_key[i].pk, CRYPTO_PK_LEN);
    }
    for (uint32_t c = 0; c < o->clients; c++) {
        key_for(&s->cli[c].key, 2, c);
        memcpy(s->client_pk[c], s->cli[c].key.pk, CRYPTO_PK_LEN);
    }
    nc->n_clients = o->clients;
    nc->client_pk = (const uint8_t(*)[CRYPTO_PK_LEN])s->client_pk;

    for (uint32_t i = 0; i < o->n; i++) {
        s->rep[i].sim = s;
        s->rep[i].id = i;
        s->rep[i].ep = i;
        s->rep[i].honest = true;
        if (sim_replica_start(s, i, false) != BFT_E_OK) goto fail;
    }
    if (sim_clients_create(s) != BFT_E_OK) goto fail;
    *out = s;
    return BFT_E_OK;
fail:
    snprintf(err, errlen, "%s", s->reason);
    sim_destroy(s);
    return BFT_E_INVALID;
}

void sim_destroy(struct sim *s)
{
    if (!s) return;
    sim_clients_destroy(s);
    sim_byz_free(s);
    for (uint32_t i = 0; i < BFT_MAX_REPLICAS; i++) {
        if (s->rep[i].node) bft_node_destroy(s->rep[i].node);
        sim_wal_free(&s->rep[i]);
    }
    sim_heap_free(&s->heap);
    sim_checker_free(&s->chk);
    free(s->order_seen);
    free(s);
}

uint32_t sim_f(const struct sim *s)
{
    return s->f;
}
uint64_t sim_now_us(const struct sim *s)
{
    return s->now_us;
}

int sim_at(struct sim *s, uint64_t at_us, sim_action_fn fn, void *ctx)
{
    if (!fn) return BFT_E_INVALID;
    struct sim_event e = {.at_us = at_us < s->now_us ? s->now_us : at_us,
                          .kind = SIM_EV_ACTION,
                          .fn = fn,
                          .ctx = ctx};
    return sim_heap_push(&s->heap, &e);
}

int sim_step(struct sim *s)
{
    if (s->failed) return -1;
    struct sim_event e;
    if (!sim_heap_pop(&s->heap, &e)) return 0;
    /* Own invariant: the clock never runs backwards. */
    if (e.at_us < s->now_us) abort();
    s->now_us = e.at_us;
    s->st.events++;
    switch (e.kind) {
    case SIM_EV_DELIVER:
        sim_net_deliver(s, &e);
        free(e.data);
        break;
    case SIM_EV_TIMER:
        sim_replica_timer(s, &e);
        break;
    case SIM_EV_CLIENT_TICK:
    case SIM_EV_CLIENT_LOAD:
        sim_client_event(s, &e);
        break;
    case SIM_EV_ACTION:
        e.fn(s, e.ctx);
        break;
    default:
        abort();
    }
    return s->failed ? -1 : 1;
}

bool sim_run_until(struct sim *s, uint64_t until_us, sim_pred_fn pred, void *ctx)
{
    if (s->failed) return false;
    if (pred && pred(s, ctx)) return true;
    while (!s->failed) {
        if (s->heap.len == 0 || s->heap.ev[0].at_us > until_us) {
            if (until_us > s->now_us) s->now_us = until_us;
            return pred == NULL;
        }
        if (sim_step(s) < 0) return false;
        if (pred && pred(s, ctx)) return true;
    }
    return false;
}

int sim_replica_status(const struct sim *s, uint32_t r, struct sim_replica_status *out)
{
    memset(out, 0, sizeof(*out));
    if (r >= s->o.n) return BFT_E_INVALID;
    const struct sim_replica *rp = &s->rep[r];
    out->up = rp->node != NULL;
    out->honest = rp->honest;
    out->incarnation = rp->incarnation;
    if (out->up) {
        bft_node_stats(rp->node, &out->stats);
        out->view = out->stats.view;
        out->last_executed = out->stats.last_executed;
        out->view_changes = out->stats.view_changes;
        out->state_digest = out->stats.state_digest;
    }
    return BFT_E_OK;
}

uint32_t sim_converged(const struct sim *s)
{
    uint64_t top = sim_max_executed(s);
    uint32_t count = 0;
    for (uint32_t i = 0; i < s->o.n; i++) {
        struct sim_replica_status st;
        sim_replica_status(s, i, &st);
        if (st.up && st.honest && st.last_executed == top) count++;
    }
    return count;
}

void sim_stats(const struct sim *s, struct sim_stats *out)
{
    *out = s->st;
}
