/* Seed generator for the fuzz corpora (tests/fuzz/README.md).
 *
 *   gen_seeds OUTDIR     writes OUTDIR/<target>/<name> for the node, WAL,
 *                        restore, client and wire targets
 *
 * It runs the shared cluster (fuzz_common.h: same cluster id, keys and
 * null crypto as the harnesses) in process for each protocol: clients
 * submit orders through the client library, every message is delivered in
 * FIFO order, and now and then a replica's armed timers fire (elections,
 * view changes, retransmissions). What replica t receives (messages,
 * client requests, timer firings) is written in fuzz_node's record format,
 * so replaying a seed drives a fresh replica through the same run; its WAL
 * records become fuzz_wal seeds, its snapshot fuzz_restore seeds, the
 * replies to client 0 fuzz_client seeds, and one message of each type
 * fuzz_wire seeds. Deterministic: the same tree gives the same seeds.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/node.h"
#include "client/client.h"
#include "store/store.h"
#include "app/app.h"
#include "node/node_internal.h"
#include "net/net.h"
#include "tests/fuzz/fuzz_common.h"

#define QMAX 200000
#define SEED_MAX (12u << 10) /* keeps the committed corpora small */

struct buf {
    uint8_t *p;
    size_t len, cap;
};
static void buf_put(struct buf *b, const void *p, size_t len)
{
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + len)
            cap *= 2;
        b->p = realloc(b->p, cap);
        if (!b->p) abort();
        b->cap = cap;
    }
    memcpy(b->p + b->len, p, len);
    b->len += len;
}
static void buf_u8(struct buf *b, uint8_t v)
{
    buf_put(b, &v, 1);
}
static void buf_u16(struct buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    buf_put(b, x, 2);
}

struct qmsg {
    int from; /* replica id, or -1 - client id */
    uint32_t to;
    uint8_t *p;
    size_t len;
};
static struct qmsg *q;
static size_t q_head, q_tail;

struct rep {
    uint32_t id;
    struct bft_node *node;
    bool armed[256];
    struct buf rec;     /* fuzz_node records for this replica */
    struct buf walrecs; /* fuzz_wal record-mode body */
    uint8_t **wal;
    size_t *wal_len, wal_n;
};
static struct rep reps[BFT_MAX_REPLICAS];
static struct buf client_rec; /* fuzz_client records (client 0) */
static char outdir[512];
static int wire_seen[256];
static int proto_idx;
/* Variant "vc": replica 0 (the first leader) is down from the start (Raft:
 * from round 3, once elected) and the others' timers fire: view change /
 * election under load. */
static bool variant_vc;
static int dead = -1;

static void enqueue(int from, uint32_t to, const uint8_t *msg, size_t len)
{
    if (q_tail == QMAX) return;
    uint8_t *c = malloc(len);
    if (!c) abort();
    memcpy(c, msg, len);
    q[q_tail++] = (struct qmsg){.from = from, .to = to, .p = c, .len = len};
}

static void write_file(const char *target, const char *name, const uint8_t *p, size_t len)
{
    char dir[700], path[900];
    snprintf(dir, sizeof dir, "%s/%s", outdir, target);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) abort();
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, len, f) != len || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

static void wire_sample(const uint8_t *p, size_t len)
{
    struct bft_msg m;
    if (bft_msg_decode(p, len, &m) != BFT_E_OK || wire_seen[m.type] >= 2) return;
    char name[64];
    snprintf(name, sizeof name, "%s-%d", bft_msg_type_name(m.type), wire_seen[m.type]++);
    write_file("fuzz_wire", name, p, len);
}

static void r_send(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    struct rep *r = ctx;
    wire_sample(msg, len);
    enqueue((int)r->id, to, msg, len);
}
static void r_send_client(void *ctx, uint32_t client, const uint8_t *msg, size_t len)
{
    (void)ctx;
    wire_sample(msg, len);
    if (client == 0 && len <= 0xffff && client_rec.len < SEED_MAX) {
        buf_u8(&client_rec, 0);
        buf_u16(&client_rec, (uint16_t)len);
        buf_put(&client_rec, msg, len);
    }
}
static void r_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct rep *r = ctx;
    r->wal = realloc(r->wal, (r->wal_n + 1) * sizeof *r->wal);
    r->wal_len = realloc(r->wal_len, (r->wal_n + 1) * sizeof *r->wal_len);
    if (!r->wal || !r->wal_len) abort();
    r->wal[r->wal_n] = malloc(len ? len : 1);
    memcpy(r->wal[r->wal_n], rec, len);
    r->wal_len[r->wal_n++] = len;
}
static void r_set(void *ctx, uint32_t t, uint64_t ms)
{
    struct rep *r = ctx;
    (void)ms;
    if (t < 256) r->armed[t] = true;
}
static void r_cancel(void *ctx, uint32_t t)
{
    struct rep *r = ctx;
    if (t < 256) r->armed[t] = false;
}

struct cli {
    uint32_t id;
    struct bft_client *c;
};
static struct cli clis[2];
static void c_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct cli *c = ctx;
    wire_sample(msg, len);
    enqueue(-1 - (int)c->id, replica, msg, len);
}
static void c_done(void *ctx, uint64_t req_no, const uint8_t *res, size_t len)
{
    (void)ctx, (void)req_no, (void)res, (void)len;
}

static void deliver_all(uint32_t n)
{
    size_t steps = 0;
    while (q_head < q_tail && steps++ < 50000) {
        struct qmsg m = q[q_head++];
        if (m.to < n && (int)m.to != dead && !(dead >= 0 && m.from == dead)) {
            struct rep *r = &reps[m.to];
            if (m.len <= 0xffff && r->rec.len < SEED_MAX) {
                buf_u8(&r->rec, 0);
                buf_u8(&r->rec, m.from >= 0 ? (uint8_t)m.from : 0);
                /* Client requests: keep the header, no replica signature. */
                buf_u8(&r->rec, m.from >= 0 ? 0 : 5);
                buf_u16(&r->rec, (uint16_t)m.len);
                buf_put(&r->rec, m.p, m.len);
            }
            bft_node_receive(r->node, m.p, m.len);
            bft_node_flush(r->node);
        }
        free(m.p);
    }
}

static void fire_timers(struct rep *r)
{
    uint32_t k = 0;
    for (uint32_t t = 0; t < 256; t++)
        if (r->armed[t]) k++;
    /* The harness picks the pick-th armed timer: always the first here,
     * re-listed after each firing. */
    for (uint32_t i = 0; i < k; i++) {
        uint32_t first = 256;
        for (uint32_t t = 0; t < 256; t++)
            if (r->armed[t]) {
                first = t;
                break;
            }
        if (first == 256) break;
        if (r->rec.len < SEED_MAX) {
            buf_u8(&r->rec, 1);
            buf_u8(&r->rec, 0);
        }
        r->armed[first] = false;
        bft_node_timer(r->node, first);
        bft_node_flush(r->node);
    }
}

static void submit(struct cli *c, int k, uint64_t now)
{
    static uint64_t coid = 1;
    for (int i = 0; i < k; i++) {
        uint8_t op[BFT_ORDER_OP_LEN];
        size_t ol = fz_order(op, coid, (uint8_t)(1 + (coid & 1)), 10);
        coid++;
        (void)bft_client_submit(c->c, op, ol, now);
    }
    if (c->id == 0 && k && client_rec.len < SEED_MAX) {
        buf_u8(&client_rec, 2);
        buf_u8(&client_rec, (uint8_t)k);
        buf_u8(&client_rec, 4); /* flush */
    }
    bft_client_flush(c->c, now);
}

static void run(int proto, const char *pname)
{
    uint32_t n = fz_nodes(proto);
    memset(reps, 0, sizeof reps);
    memset(&client_rec, 0, sizeof client_rec);
    q_head = q_tail = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct rep *r = &reps[i];
        r->id = i;
        buf_u8(&r->rec, (uint8_t)i);
        struct bft_node_config cfg;
        fz_node_config(&cfg, proto, i);
        struct bft_host host = {.ctx = r,
                                .send = r_send,
                                .send_client = r_send_client,
                                .persist = r_persist,
                                .set_timer = r_set,
                                .cancel_timer = r_cancel};
        char err[256];
        if (bft_node_create(&r->node, &cfg, &host, err, sizeof err) != BFT_E_OK) abort();
        bft_node_flush(r->node);
    }
    struct bft_node_config nc;
    fz_node_config(&nc, proto, 0);
    for (uint32_t c = 0; c < 2; c++) {
        struct bft_client_config cfg;
        memset(&cfg, 0, sizeof cfg);
        cfg.protocol = proto;
        cfg.n = n;
        cfg.f = nc.core.f;
        cfg.id = c;
        cfg.cluster_id = FZ_CLUSTER_ID;
        memcpy(cfg.replica_pk, nc.replica_pk, sizeof cfg.replica_pk);
        fz_key(&cfg.key, 2, c);
        cfg.retransmit_ms = 100;
        cfg.envelope = 1;
        cfg.max_outstanding = 64;
        cfg.null_crypto = true;
        clis[c].id = c;
        struct bft_client_host host = {.ctx = &clis[c], .send = c_send, .done = c_done};
        if (bft_client_create(&clis[c].c, &cfg, &host) != BFT_E_OK) abort();
    }
    buf_u8(&client_rec, (uint8_t)proto_idx);
    buf_u8(&client_rec, 0); /* envelope 1 */
    uint64_t now = 1000;
    if (variant_vc && proto != BFT_PROTO_RAFT) dead = 0;
    submit(&clis[0], 6, now);
    if (proto == BFT_PROTO_RAFT) fire_timers(&reps[0]); /* replica 0 stands first */
    for (int round = 0; round < 24; round++) {
        deliver_all(n);
        submit(&clis[0], 2, now);
        submit(&clis[1], 3, now);
        deliver_all(n);
        now += 50;
        /* Now and then one replica's timers fire: retransmissions, and
         * for the leader's peers view changes / elections. */
        if (variant_vc && round == 3) dead = 0; /* Raft: the elected leader */
        if (variant_vc && round >= 1 && round <= 6) {
            /* Raft: one replica at a time, or candidates split votes. */
            for (uint32_t i = 1; i < n; i++)
                if (proto != BFT_PROTO_RAFT || i == 1 + (uint32_t)round % (n - 1))
                    fire_timers(&reps[i]);
            deliver_all(n);
        } else if (!variant_vc && round % 6 == 5) {
            fire_timers(&reps[(uint32_t)(round / 6) % n]);
            deliver_all(n);
        }
        for (int c = 0; c < 2; c++)
            (void)bft_client_tick(clis[c].c, now);
        if (client_rec.len < SEED_MAX) {
            buf_u8(&client_rec, 1);
            buf_u16(&client_rec, 50);
        }
    }
    deliver_all(n);

    char name[128];
    for (uint32_t i = 0; i < n; i++) {
        struct rep *r = &reps[i];
        struct bft_node_stats st;
        bft_node_stats(r->node, &st);
        fprintf(stderr, "%s replica %u: executed %llu batches, view %llu, %zu WAL records\n", pname,
                i, (unsigned long long)st.batches_executed, (unsigned long long)st.view, r->wal_n);
        char target[64];
        snprintf(target, sizeof target, "fuzz_node_%s", pname);
        if (variant_vc) {
            if (i == 0 || i > 2) continue;
            snprintf(name, sizeof name, "vc-replica-%u", i);
            write_file(target, name, r->rec.p, r->rec.len);
            continue;
        }
        if (i > 1) continue; /* a follower and the first leader are enough */
        snprintf(target, sizeof target, "fuzz_node_%s", pname);
        snprintf(name, sizeof name, "run-replica-%u", i);
        write_file(target, name, r->rec.p, r->rec.len);
        /* The same run with a crash and restart in the middle. */
        if (i == 1) {
            struct buf b = {0};
            buf_put(&b, r->rec.p, r->rec.len / 2);
            /* cut at a record boundary is not needed: the reader is
             * total; restart, then the rest */
            buf_u8(&b, 3);
            buf_put(&b, r->rec.p + r->rec.len / 2, r->rec.len - r->rec.len / 2);
            snprintf(name, sizeof name, "run-replica-%u-restart", i);
            write_file(target, name, b.p, b.len);
            free(b.p);
        }

        /* WAL: record mode (header proto, mode 1, self), then raw file. */
        struct buf w = {0};
        buf_u8(&w, (uint8_t)proto_idx);
        buf_u8(&w, 1);
        buf_u8(&w, (uint8_t)i);
        for (size_t k = 0; k < r->wal_n && w.len < SEED_MAX; k++) {
            if (r->wal_len[k] > 0xffff) continue;
            buf_u16(&w, (uint16_t)r->wal_len[k]);
            buf_put(&w, r->wal[k], r->wal_len[k]);
        }
        snprintf(name, sizeof name, "%s-replica-%u-records", pname, i);
        write_file("fuzz_wal", name, w.p, w.len);
        if (i == 0) {
            char path[64];
            snprintf(path, sizeof path, "/tmp/bft-gen-wal.%d", (int)getpid());
            unlink(path);
            struct bft_wal *wal;
            char err[256];
            if (bft_wal_open(&wal, path, err, sizeof err) != BFT_E_OK) abort();
            size_t bytes = 0;
            for (size_t k = 0; k < r->wal_n && bytes < SEED_MAX; k++) {
                bft_wal_append(wal, r->wal[k], r->wal_len[k]);
                bytes += r->wal_len[k] + 8;
            }
            bft_wal_sync(wal);
            bft_wal_close(wal);
            FILE *f = fopen(path, "rb");
            struct buf raw = {0};
            buf_u8(&raw, (uint8_t)proto_idx);
            buf_u8(&raw, 0);
            buf_u8(&raw, 0);
            uint8_t chunk[4096];
            size_t got;
            while (f && (got = fread(chunk, 1, sizeof chunk, f)) > 0)
                buf_put(&raw, chunk, got);
            if (f) fclose(f);
            unlink(path);
            snprintf(name, sizeof name, "%s-replica-0-file", pname);
            write_file("fuzz_wal", name, raw.p, raw.len);
            free(raw.p);

            /* Snapshots: the node's (state transfer) and the app's. */
            uint8_t *snap;
            size_t slen;
            if (node_snapshot(r->node, &snap, &slen) == BFT_E_OK) {
                struct buf s = {0};
                buf_u8(&s, 2);
                buf_put(&s, snap, slen);
                snprintf(name, sizeof name, "node-%s", pname);
                write_file("fuzz_restore", name, s.p, s.len);
                free(s.p);
                free(snap);
            }
            if (bft_app_orders.snapshot((void *)bft_node_app(r->node), &snap, &slen) == BFT_E_OK) {
                struct buf s = {0};
                buf_u8(&s, 0);
                buf_put(&s, snap, slen);
                snprintf(name, sizeof name, "orders-%s", pname);
                write_file("fuzz_restore", name, s.p, s.len);
                free(s.p);
                free(snap);
            }
        }
        free(w.p);
    }
    if (!variant_vc) {
        snprintf(name, sizeof name, "replies-%s", pname);
        write_file("fuzz_client", name, client_rec.p, client_rec.len);
    }

    for (uint32_t i = 0; i < n; i++) {
        bft_node_destroy(reps[i].node);
        free(reps[i].rec.p);
        for (size_t k = 0; k < reps[i].wal_n; k++)
            free(reps[i].wal[k]);
        free(reps[i].wal);
        free(reps[i].wal_len);
    }
    for (int c = 0; c < 2; c++)
        bft_client_destroy(clis[c].c);
    free(client_rec.p);
    for (size_t k = q_head; k < q_tail; k++)
        free(q[k].p);
}

static void kv_seed(void)
{
    void *kv = bft_app_kv.create(NULL);
    uint8_t op[64], res[BFT_RESULT_MAX];
    for (int i = 0; i < 5; i++) {
        struct wire_wr w;
        wire_wr_init(&w, op, sizeof op);
        wire_put_u8(&w, 1);
        wire_put_u16(&w, 4);
        wire_put_bytes(&w, "key", 3);
        wire_put_u8(&w, (uint8_t)('0' + i));
        wire_put_u16(&w, 5);
        wire_put_bytes(&w, "value", 5);
        (void)bft_app_kv.apply(kv, (uint64_t)i + 1, 0, (uint64_t)i + 1, op, w.len, res);
    }
    uint8_t *snap;
    size_t slen;
    if (bft_app_kv.snapshot(kv, &snap, &slen) == BFT_E_OK) {
        struct buf s = {0};
        buf_u8(&s, 1);
        buf_put(&s, snap, slen);
        write_file("fuzz_restore", "kv", s.p, s.len);
        free(s.p);
        free(snap);
    }
    bft_app_kv.destroy(kv);
}

/* A frame of a few captured messages for fuzz_wire. */
static void frame_seed(void)
{
    char dir[700];
    snprintf(dir, sizeof dir, "%s/fuzz_wire", outdir);
    static const char *names[] = {"prepare-0", "commit-0", "request-0"};
    static uint8_t fbuf[1 << 16];
    struct net_frame fr;
    net_frame_init(&fr, fbuf, sizeof fbuf);
    for (int i = 0; i < 3; i++) {
        char path[900];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "rb");
        if (!f) continue;
        uint8_t m[8192];
        size_t len = fread(m, 1, sizeof m, f);
        fclose(f);
        net_frame_add(&fr, m, len);
    }
    size_t flen = net_frame_finish(&fr);
    write_file("fuzz_wire", "frame-3", fbuf, flen);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds OUTDIR\n");
        return 2;
    }
    snprintf(outdir, sizeof outdir, "%s", argv[1]);
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) return 1;
    q = calloc(QMAX, sizeof *q);
    static const struct {
        int proto;
        const char *name;
    } ps[3] = {
        {BFT_PROTO_PBFT, "pbft"}, {BFT_PROTO_HOTSTUFF, "hotstuff"}, {BFT_PROTO_RAFT, "raft"}};
    for (int i = 0; i < 3; i++) {
        proto_idx = i;
        run(ps[i].proto, ps[i].name);
    }
    variant_vc = true;
    for (int i = 0; i < 3; i++) {
        proto_idx = i;
        dead = -1;
        run(ps[i].proto, ps[i].name);
    }
    kv_seed();
    frame_seed();
    free(q);
    return 0;
}
