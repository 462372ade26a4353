/* The HotStuff scripted tests (test_hotstuff*.c) on the one core fixture
 * (tests/lib/core_fixture.h, issue 13): a thin adapter over struct cf,
 * which owns the cores, their env and io, the FIFO links, the timers, the
 * WAL and the application. What the adapter adds is what these tests
 * read and how they schedule:
 *
 * - the effects of every replica in one list, in order (an observer);
 * - one global delivery order across all links: every send is recorded
 *   (a broadcast as one send per destination in id order, as the
 *   fixture's io pushes them) and delivered with cf_deliver(from, to, 1)
 *   in that order; each link is FIFO, so this is exactly the global FIFO;
 * - drops decided when a message is sent (a cut replica, a one-shot drop
 *   of one type to one replica), carried out by the delivery filter when
 *   the packet comes up;
 * - certificates and messages a Byzantine replica crafts, signed with the
 *   fixture's keys (cf_sign_region, tests/lib/core_fixture_hooks.c).
 *
 * The fixture logs only network events here: a packet that does not
 * decode or verify, or one a bound dropped, fails the test. */
#ifndef BFT_TESTS_HOTSTUFF_FIXTURE_H
#define BFT_TESTS_HOTSTUFF_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/hotstuff/hotstuff_internal.h"
#include "tests/lib/core_fixture.h"

/* A test file may set N (n = N, f = (N - 1) / 3) before including this. */
#ifndef N
#define N 4
#endif
_Static_assert(N <= CF_MAX_NODES, "the core fixture holds CF_MAX_NODES replicas");
#define FX_F ((N - 1) / 3)
#define FX_QUORUM ((N + FX_F) / 2 + 1)
#define CLUSTER (cf_config(H->cf, 0)->cluster_id)
#define OPS (cf_ops(H->cf))
#define MAX_EFFECTS 20000 /* effects recorded per test */
#define MAX_NET 20000     /* sends per test: the global order is never reused */
#define N_CLIENTS 16      /* clients 0..15: each may queue max(64, 4096 / 16) */

enum { E_SEND = 1, E_PERSIST, E_EXECUTE, E_REJECT };

struct effect {
    int kind;
    uint32_t replica, to;
    uint8_t type;
    uint64_t view, seq;
    int reason;
    bft_digest digest;
};

/* One send in the global order. buf is a copy of the bytes on the link,
 * for the tests that look at what is queued (NULL unless P_LIVE). */
enum { P_LIVE, P_DROP, P_GONE }; /* to deliver; cut when sent; lost in a crash */
struct packet {
    uint32_t from, to;
    int fate;
    uint8_t *buf;
    size_t len;
};

struct rep {
    uint64_t executed; /* the last seq executed (checked consecutive) */
    bft_digest state;  /* the fixture application's state after it */
    uint32_t rejected[BFT_REJECT__COUNT];
};

struct h {
    struct cf *cf;
    struct rep rep[N];
    struct effect *fx;
    uint32_t nfx;
    struct packet *net;
    uint32_t net_head, net_tail;
    uint32_t link[N][N]; /* packets the adapter knows queued on each cf link */
    bool dropping;       /* the filter drops the packet being taken off */
    bool drop_from[N], drop_to[N];
    /* One-shot drops: the next `drop_count` messages of `drop_type` to
     * `drop_dest`. */
    uint8_t drop_type;
    uint32_t drop_dest, drop_count;
};

static struct h *H;
/* Set before setup: leader windows and reputation of every replica. */
static uint32_t fixture_leader_views = 1;
static uint32_t fixture_reputation = 0;
/* Called with every record a replica persists (NULL: none). */
static void (*fixture_on_persist)(uint32_t replica, const uint8_t *rec, size_t len);

/* ---- what the tests read, from the fixture's observer ---- */

static inline void log_fx(struct effect e)
{
    assert_true(H->nfx < MAX_EFFECTS);
    H->fx[H->nfx++] = e;
}

/* A send to one destination: its effect and its place in the order. */
static inline void on_send(uint32_t from, uint32_t to, const struct bft_msg *m)
{
    assert_true(to < N && to != from); /* a core bug otherwise */
    log_fx((struct effect){.kind = E_SEND,
                           .replica = from,
                           .to = to,
                           .type = m->type,
                           .view = m->view,
                           .seq = m->seq,
                           .digest = m->digest});
    assert_true(H->net_tail < MAX_NET);
    struct packet *p = &H->net[H->net_tail++];
    *p = (struct packet){.from = from, .to = to, .fate = P_LIVE};
    H->link[from][to]++;
    bool drop = H->drop_from[from] || H->drop_to[to];
    if (!drop && H->drop_count && m->type == H->drop_type && to == H->drop_dest) {
        H->drop_count--;
        drop = true;
    }
    if (drop) {
        p->fate = P_DROP;
        return;
    }
    p->buf = cf_encode_as(H->cf, from, m, &p->len); /* the same bytes the link holds */
    assert_non_null(p->buf);
}

static inline void observe(void *arg, const struct cf_effect *e)
{
    (void)arg;
    assert_true(e->node < N);
    struct rep *r = &H->rep[e->node];
    switch (e->kind) {
    case CF_LOG_SEND:
        for (uint32_t i = 0; i < N; i++)
            if (e->to == CF_BROADCAST ? i != e->node : i == e->to) on_send(e->node, i, e->msg);
        if (e->to != CF_BROADCAST) assert_true(e->to < N);
        break;
    case CF_LOG_PERSIST:
        assert_true(e->len > 0);
        log_fx((struct effect){.kind = E_PERSIST, .replica = e->node, .type = e->data[0]});
        if (fixture_on_persist) fixture_on_persist(e->node, e->data, e->len);
        break;
    case CF_LOG_EXEC:
        assert_int_equal(e->seq, r->executed + 1); /* consecutive, exactly once */
        r->executed = e->seq;
        r->state = *e->state;
        log_fx((struct effect){.kind = E_EXECUTE,
                               .replica = e->node,
                               .view = e->view,
                               .seq = e->seq,
                               .digest = *e->digest});
        break;
    case CF_LOG_REJECT:
        assert_true(e->reason > 0 && e->reason < BFT_REJECT__COUNT);
        r->rejected[e->reason]++;
        log_fx((struct effect){.kind = E_REJECT, .replica = e->node, .reason = e->reason});
        break;
    default: /* timers: cf_timer_armed; reads: HotStuff has none */
        break;
    }
}

static inline bool drop_filter(void *arg, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    (void)arg, (void)from, (void)to, (void)m;
    return H->dropping;
}

/* Nothing went wrong on the network since the last look: every packet
 * decoded, verified and was queued (`dropped`: except the one the
 * adapter's filter dropped, its only line). */
static inline void check_net_log(bool dropped)
{
    char *log = cf_log_take(H->cf);
    assert_non_null(log);
    if (dropped) {
        const char *nl = strchr(log, '\n');
        assert_non_null(strstr(log, "(test filter)"));
        assert_true(nl && nl[1] == '\0');
    } else {
        assert_string_equal(log, "");
    }
    free(log);
}

static inline void tune(void *arg, uint32_t id, struct bft_core_config *c)
{
    (void)arg, (void)id;
    /* The scripted tests name leaders as view mod n (one view each); a
     * test of leader windows sets fixture_leader_views before setup. */
    c->leader_views = fixture_leader_views;
    c->leader_reputation = fixture_reputation; /* tests of reputation set it */
    c->n_clients = N_CLIENTS;
}

static inline int setup(void **state)
{
    (void)state;
    H = calloc(1, sizeof(*H));
    assert_non_null(H);
    H->fx = calloc(MAX_EFFECTS, sizeof(*H->fx));
    H->net = calloc(MAX_NET, sizeof(*H->net));
    assert_true(H->fx && H->net);
    struct cf_options o = {.protocol = BFT_PROTO_HOTSTUFF, .n = N, .tune = tune};
    char err[128];
    assert_int_equal(cf_create(&H->cf, &o, err, sizeof err), BFT_E_OK);
    cf_set_log_mask(H->cf, CF_LOG_NET);
    check_net_log(false);
    cf_set_observer(H->cf, observe, NULL);
    cf_set_filter(H->cf, drop_filter, NULL);
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    check_net_log(false);
    cf_set_observer(H->cf, NULL, NULL);
    cf_destroy(H->cf);
    for (uint32_t k = H->net_head; k < H->net_tail; k++)
        free(H->net[k].buf);
    free(H->fx);
    free(H->net);
    free(H);
    H = NULL;
    fixture_on_persist = NULL;
    return 0;
}

/* ---- driving ---- */

static inline struct bft_core *core(uint32_t i)
{
    struct bft_core *c = cf_core(H->cf, i);
    assert_non_null(c);
    return c;
}

static inline bool armed(uint32_t i, uint32_t timer)
{
    return cf_timer_armed(H->cf, i, timer);
}

/* Take the head of the global order off its link: delivered, or dropped
 * by the filter (a send cut when it was made), or nothing to do (a crash
 * already emptied its link). */
static inline void take_head(bool deliver)
{
    struct packet *p = &H->net[H->net_head++];
    if (p->fate != P_GONE) {
        assert_int_equal(cf_queued(H->cf, p->from, p->to), H->link[p->from][p->to]);
        H->link[p->from][p->to]--;
        H->dropping = !deliver || p->fate == P_DROP;
        assert_int_equal(cf_deliver(H->cf, p->from, p->to, 1), 1);
        check_net_log(H->dropping);
        H->dropping = false;
    }
    free(p->buf);
    p->buf = NULL;
}

/* The next packet to deliver (cut ones are dropped first); NULL if none. */
static inline struct packet *peek(void)
{
    while (H->net_head < H->net_tail && H->net[H->net_head].fate != P_LIVE)
        take_head(false);
    return H->net_head < H->net_tail ? &H->net[H->net_head] : NULL;
}

static inline void deliver_one(void)
{
    assert_non_null(peek());
    take_head(true);
}

/* Lose the next packet on its way (a test's own fault). */
static inline void drop_one(void)
{
    assert_non_null(peek());
    take_head(false);
}

static inline void run(void)
{
    while (peek())
        take_head(true);
}

/* A message as `from` sends it, to `to` at once, checked as any packet. */
static inline void deliver_raw(uint32_t from, uint32_t to, const struct bft_msg *m)
{
    size_t len;
    uint8_t *buf = cf_encode_as(H->cf, from, m, &len);
    assert_non_null(buf);
    cf_receive(H->cf, from, to, buf, len);
    free(buf);
    check_net_log(false); /* it decoded, verified and reached the core */
}

/* Crash replica i and restart it from its WAL: what was in flight to or
 * from it is lost, and its application starts over (recovery executes
 * the committed blocks again). */
static inline void restart(uint32_t i)
{
    assert_int_equal(cf_crash(H->cf, i), BFT_E_OK);
    for (uint32_t k = H->net_head; k < H->net_tail; k++) {
        struct packet *p = &H->net[k];
        if (p->from != i && p->to != i) continue;
        p->fate = P_GONE;
        free(p->buf);
        p->buf = NULL;
    }
    for (uint32_t j = 0; j < N; j++)
        H->link[i][j] = H->link[j][i] = 0;
    H->rep[i].executed = 0;
    memset(&H->rep[i].state, 0, sizeof H->rep[i].state);
    assert_int_equal(cf_restart(H->cf, i), BFT_E_OK);
}

/* A core beside the cluster with config cfg, on replica id's env and io
 * (its effects, if any, are id's): for the pure functions of a config. */
static inline struct bft_core *extra_core(uint32_t id, const struct bft_core_config *cfg)
{
    struct bft_core *c = NULL;
    assert_int_equal(OPS->create(&c, cfg, cf_env(H->cf, id), cf_io(H->cf, id)), BFT_E_OK);
    return c;
}

/* A client REQUEST with one op, signed by the client, to every replica in
 * `mask` (straight to the core: the node's table of executed requests is
 * not consulted). */
static inline void submit_mask(uint32_t client, uint64_t req_no, uint32_t mask)
{
    uint8_t body[64];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u16(&w, 1);
    wire_put_u8(&w, 0);
    wire_put_u8(&w, 0);
    wire_put_u16(&w, 3);
    wire_put_bytes(&w, "op!", 3);
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = client,
                        .cluster_id = CLUSTER,
                        .seq = req_no,
                        .body = body,
                        .body_len = (uint32_t)w.len};
    uint8_t buf[256];
    size_t len = bft_msg_encode(&m, buf, sizeof buf);
    assert_true(cf_sign_request(H->cf, buf, len));
    struct bft_msg d;
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
    for (uint32_t i = 0; i < N; i++)
        if (mask >> i & 1) OPS->on_request(core(i), &d);
}

/* The same to replica `to` only (to = N: every replica not cut off). */
static inline void submit_one(uint32_t to, uint32_t client, uint64_t req_no)
{
    uint32_t mask = 0;
    for (uint32_t i = 0; i < N; i++)
        if ((to == N || to == i) && !H->drop_to[i]) mask |= 1u << i;
    submit_mask(client, req_no, mask);
}

static inline void submit(uint32_t client, uint64_t req_no)
{
    submit_one(N, client, req_no);
}

static inline void fire(uint32_t i, uint32_t timer)
{
    cf_fire(H->cf, i, timer); /* only if armed */
}

/* Run the network; when it is quiet, fire every armed timer; repeat. */
static inline void run_rounds(int rounds)
{
    for (int k = 0; k < rounds; k++) {
        run();
        for (uint32_t i = 0; i < N; i++) {
            fire(i, HS_TIMER_FETCH);
            fire(i, HS_TIMER_VIEW);
        }
    }
    run();
}

static inline uint32_t count_fx(int kind, int replica, uint8_t type)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < H->nfx; i++)
        if (H->fx[i].kind == kind && (replica < 0 || H->fx[i].replica == (uint32_t)replica) &&
            (type == 0 || H->fx[i].type == type))
            k++;
    return k;
}

static inline struct bft_core_status status(uint32_t i)
{
    struct bft_core_status st;
    assert_true(cf_status(H->cf, i, &st));
    return st;
}

#include "tests/core/hotstuff/hotstuff_forge.h"

#endif
