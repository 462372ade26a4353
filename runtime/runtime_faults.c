/* bftd: applying a fault plan to this replica's own sends. Time is the
 * plan's: CLOCK_REALTIME minus the run's shared start, so every process
 * (and a restarted one) agrees on T. The delay queue is a binary heap with
 * fixed bounds on entries and bytes; a send that does not fit is dropped
 * and counted (docs/style.md: every queue has a fixed bound). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/runtime_faults.h"

#define RT_DELAY_MAX 16384
#define RT_DELAY_BYTES_MAX (64u << 20)
#define RT_TICK_MS 10

struct delayed {
    uint64_t due_ms;
    uint32_t dest;
    uint32_t len;
    uint8_t *bytes;
};

struct rt_faults {
    struct rt_faults_config cfg;
    struct fault_plan plan;
    struct fault_actor *actor;
    struct fault_net *net;
    struct delayed *q;
    size_t q_len, q_bytes;
    uint64_t q_dropped;
    uint64_t last_tick;
};

static uint64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint64_t plan_now(const struct rt_faults *f)
{
    uint64_t now = realtime_ms();
    return now > f->cfg.start_realtime_ms ? now - f->cfg.start_realtime_ms : 0;
}

int rt_faults_open(struct rt_faults **out, const struct rt_faults_config *c, char *err,
                   size_t errlen)
{
    *out = NULL;
    struct rt_faults *f = calloc(1, sizeof *f);
    if (!f) return BFT_E_NOMEM;
    f->cfg = *c;
    int rv = fault_plan_load(&f->plan, c->plan_path, err, errlen);
    if (rv == BFT_E_OK && f->plan.n != c->n) {
        snprintf(err, errlen, "plan %s is for %u nodes, the cluster has %u", c->plan_path,
                 f->plan.n, c->n);
        rv = BFT_E_INVALID;
    }
    if (rv == BFT_E_OK) rv = fault_net_create(&f->net, &f->plan);
    f->q = calloc(RT_DELAY_MAX, sizeof *f->q);
    if (rv == BFT_E_OK && !f->q) rv = BFT_E_NOMEM;
    if (rv == BFT_E_OK && c->twin_instance >= 0)
        fault_net_set_twin(f->net, c->self, (uint32_t)c->twin_instance);
    /* Only instance 0 of a twin carries the replica's other behaviours. */
    bool actor = false;
    for (uint32_t i = 0; i < f->plan.n_faults; i++) {
        const struct fault_entry *e = &f->plan.fault[i];
        if (e->replica == c->self && e->behaviour != FAULT_CRASH && e->behaviour != FAULT_TWIN)
            actor = true;
    }
    if (rv == BFT_E_OK && actor && c->twin_instance <= 0) {
        struct fault_actor_config ac = {.plan = &f->plan,
                                        .protocol = c->protocol,
                                        .n = c->n,
                                        .f = c->f,
                                        .self = c->self,
                                        .cluster_id = c->cluster_id,
                                        .request_timeout_ms = c->request_timeout_ms,
                                        .key = c->key};
        rv = fault_actor_create(&f->actor, &ac, err, errlen);
    }
    if (rv != BFT_E_OK) {
        if (!err[0]) snprintf(err, errlen, "%s", bft_strerror(rv));
        rt_faults_close(f);
        return rv;
    }
    *out = f;
    return BFT_E_OK;
}

void rt_faults_close(struct rt_faults *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->q_len; i++)
        free(f->q[i].bytes);
    free(f->q);
    if (f->actor) fault_actor_destroy(f->actor);
    if (f->net) fault_net_destroy(f->net);
    free(f);
}

/* ---- delay queue (min-heap on due_ms) ---- */

static void q_swap(struct delayed *a, struct delayed *b)
{
    struct delayed t = *a;
    *a = *b;
    *b = t;
}

static void q_push(struct rt_faults *f, uint64_t due, uint32_t dest, const uint8_t *msg, size_t len)
{
    if (f->q_len == RT_DELAY_MAX || f->q_bytes + len > RT_DELAY_BYTES_MAX) {
        f->q_dropped++;
        return;
    }
    uint8_t *b = malloc(len ? len : 1);
    if (!b) {
        f->q_dropped++;
        return;
    }
    memcpy(b, msg, len);
    size_t i = f->q_len++;
    f->q[i] = (struct delayed){.due_ms = due, .dest = dest, .len = (uint32_t)len, .bytes = b};
    f->q_bytes += len;
    while (i > 0 && f->q[(i - 1) / 2].due_ms > f->q[i].due_ms) {
        q_swap(&f->q[(i - 1) / 2], &f->q[i]);
        i = (i - 1) / 2;
    }
}

static struct delayed q_pop(struct rt_faults *f)
{
    struct delayed top = f->q[0];
    f->q[0] = f->q[--f->q_len];
    f->q_bytes -= top.len;
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < f->q_len && f->q[l].due_ms < f->q[m].due_ms) m = l;
        if (r < f->q_len && f->q[r].due_ms < f->q[m].due_ms) m = r;
        if (m == i) break;
        q_swap(&f->q[i], &f->q[m]);
        i = m;
    }
    return top;
}

/* ---- the send path ---- */

/* Every copy that leaves this process: the network filter, then the
 * transport now or after its delay. */
static void emit(void *ctx, uint32_t dest, const uint8_t *msg, size_t len, uint64_t delay_ms)
{
    struct rt_faults *f = ctx;
    uint32_t id = FAULT_DEST_ID(dest);
    if (!(dest & FAULT_CLIENT) && (id >= f->cfg.n || id == f->cfg.self)) return;
    uint64_t now = plan_now(f);
    struct fault_net_verdict v;
    fault_net_decide(f->net, f->cfg.self, dest & ~FAULT_RAW_FRAME, now, &v);
    for (uint32_t i = 0; i < v.copies; i++) {
        uint64_t d = delay_ms + v.delay_ms[i];
        if (d == 0)
            f->cfg.xmit(f->cfg.ctx, dest, msg, len);
        else
            q_push(f, now + d, dest, msg, len);
    }
}

void rt_faults_send(struct rt_faults *f, uint32_t dest, const uint8_t *msg, size_t len)
{
    if (f->actor)
        fault_actor_outgoing(f->actor, plan_now(f), dest, msg, len, emit, f);
    else
        emit(f, dest, msg, len, 0);
}

void rt_faults_poll(struct rt_faults *f)
{
    uint64_t now = plan_now(f);
    if (f->actor && now >= f->last_tick + RT_TICK_MS) {
        f->last_tick = now;
        fault_actor_tick(f->actor, now, emit, f);
    }
    /* Bounded per call, so a deep queue cannot starve the receive loop. */
    for (int k = 0; k < 4096 && f->q_len && f->q[0].due_ms <= now; k++) {
        struct delayed d = q_pop(f);
        f->cfg.xmit(f->cfg.ctx, d.dest, d.bytes, d.len);
        free(d.bytes);
    }
}

int rt_faults_wait_ms(const struct rt_faults *f)
{
    uint64_t now = plan_now(f), wait = 50;
    if (f->actor) wait = RT_TICK_MS;
    if (f->q_len) {
        uint64_t d = f->q[0].due_ms > now ? f->q[0].due_ms - now : 0;
        if (d < wait) wait = d;
    }
    return (int)wait;
}

bool rt_faults_twin_active(const struct rt_faults *f, uint32_t id)
{
    return fault_plan_has(&f->plan, id, FAULT_TWIN, plan_now(f));
}

void rt_faults_stats_json(const struct rt_faults *f, FILE *out)
{
    struct fault_net_stats n;
    fault_net_stats(f->net, &n);
    fprintf(out, ", \"byzantine\": %s",
            fault_plan_byzantine(&f->plan, f->cfg.self) ? "true" : "false");
    if (f->actor) {
        struct fault_actor_stats a;
        fault_actor_stats(f->actor, &a);
        fprintf(out,
                ", \"fault_actor\": {\"seen\": %llu, \"passed\": %llu, \"dropped\": %llu, "
                "\"rewritten\": %llu, \"equivocated\": %llu, \"injected\": %llu}",
                (unsigned long long)a.seen, (unsigned long long)a.passed,
                (unsigned long long)a.dropped, (unsigned long long)a.rewritten,
                (unsigned long long)a.equivocated, (unsigned long long)a.injected);
    }
    fprintf(out,
            ", \"fault_net\": {\"delivered\": %llu, \"dropped_partition\": %llu, "
            "\"dropped_loss\": %llu, \"dropped_twin\": %llu, \"duplicated\": %llu, "
            "\"reordered\": %llu, \"delayed\": %llu, \"delay_queue_dropped\": %llu}",
            (unsigned long long)n.delivered, (unsigned long long)n.dropped_partition,
            (unsigned long long)n.dropped_loss, (unsigned long long)n.dropped_twin,
            (unsigned long long)n.duplicated, (unsigned long long)n.reordered,
            (unsigned long long)n.delayed, (unsigned long long)f->q_dropped);
}
