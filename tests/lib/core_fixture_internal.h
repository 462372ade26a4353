/* tests/lib/core_fixture_internal.h: the fixture's state, shared by
 * core_fixture.c (cluster, network, timers, crash/restart),
 * core_fixture_io.c (the fake env and io) and core_fixture_log.c (the
 * effect log and the protocol names). Not for tests: they use
 * core_fixture.h. */
#ifndef BFT_TESTS_CORE_FIXTURE_INTERNAL_H
#define BFT_TESTS_CORE_FIXTURE_INTERNAL_H

#include "tests/lib/core_fixture.h"

#define CF_CLUSTER 0xfeedull
#define CF_WAL_BYTES_MAX (64u << 20) /* bytes in one node's WAL */
#define CF_DONE_BYTES (CF_MAX_CLIENTS * CF_REQS_MAX / 8)
#define CF_SNAP_LEN (CRYPTO_DIGEST_LEN + 8 + CF_DONE_BYTES)

struct cf_pkt {
    uint8_t *buf;
    uint32_t len;
};

/* One FIFO link, a ring of CF_LINK_MAX packets allocated on first use. */
struct cf_link {
    struct cf_pkt *ring;
    uint32_t head, count;
};

struct cf_rec {
    uint8_t *p;
    size_t len;
};

/* A durable snapshot, as the node's snapshot files (docs/storage.md). */
struct cf_snapfile {
    bool used;
    uint64_t seq;
    bft_digest state;
    uint8_t buf[CF_SNAP_LEN];
};

/* The fake application: a hash chain over executed batch digests, and
 * the exactly-once table of request numbers (part of the replicated
 * state, so it travels in snapshots). */
struct cf_app {
    bft_digest state;
    uint64_t last_seq;
    uint8_t done[CF_DONE_BYTES];
};

struct cf_node {
    struct cf *cf;
    uint32_t id;
    struct bft_core *core; /* NULL while down */
    struct bft_core_config cfg;
    struct bft_env env;
    struct bft_io io;
    uint64_t rng;
    bool armed[CF_TIMERS];
    uint64_t deadline_ms[CF_TIMERS];
    struct cf_rec wal[CF_WAL_MAX];
    uint32_t n_wal;
    size_t wal_bytes;
    bool wal_full_logged;
    struct cf_snapfile disk[CF_DISK_SNAPS];
    struct cf_app app;
    uint8_t snapbuf[CF_SNAP_LEN]; /* io->snapshot's buffer, until the next call */
};

struct cf_last_req {
    uint64_t first; /* 0: none yet */
    uint32_t ops;
    bool readonly;
};

struct cf {
    struct cf_options opt;
    const struct bft_core_ops *ops;
    struct cf_node node[CF_MAX_NODES];
    struct cf_link link[CF_MAX_NODES][CF_MAX_NODES];
    uint8_t group[CF_MAX_NODES];
    bool partitioned;
    uint64_t now_ms;
    uint64_t next_req[CF_MAX_CLIENTS]; /* next request number per client */
    struct cf_last_req last[CF_MAX_CLIENTS];
    /* effect log */
    char *log;
    size_t log_len, log_cap;
    uint32_t log_lines, log_lost;
    unsigned mask;
    bool hide_type[256]; /* message types not shown in send/recv lines */
    cf_observer observer;
    void *observer_arg;
    cf_filter filter;
    void *filter_arg;
};

/* Pass an effect to the test's observer, if any. */
static inline void cf_observe(struct cf *cf, const struct cf_effect *e)
{
    if (cf->observer) cf->observer(cf->observer_arg, e);
}
/* Signature check of a delivered message or a request, in either mode. */
bool cf_sig_ok(const struct cf *cf, uint32_t key_id, uint32_t domain, const uint8_t *region,
               size_t len, const uint8_t sig[BFT_SIG_LEN]);

/* core_fixture.c: a fresh core for node id (its WAL and snapshots are
 * kept); the core's create error if it fails. */
int cf_node_start(struct cf *cf, uint32_t id);

/* A client REQUEST reaching node nd, filtered as the node does. */
void cf_node_request(struct cf *cf, struct cf_node *nd, const struct bft_msg *m);

/* core_fixture_io.c */
void cf_node_bind(struct cf_node *nd);
/* Sign / verify with the keyed hash of `key_id` (replicas 0..n-1, clients
 * at CF_CLIENT_KEY + client). */
void cf_sig(uint32_t key_id, uint32_t domain, const uint8_t *region, size_t len,
            uint8_t sig[BFT_SIG_LEN]);
bool cf_app_done(const struct cf_app *a, uint32_t client, uint64_t req_no);
/* Queue an encoded packet on from->to, or drop it (partition, down,
 * full link: logged). */
void cf_net_push(struct cf *cf, uint32_t from, uint32_t to, const uint8_t *buf, size_t len);

/* core_fixture_names_<p>.c: what the log calls each protocol's WAL
 * records and timers, and a one-line detail of its message bodies. */
struct cf_rec_name {
    uint8_t type;
    const char *name;
    const char *f1, *f2; /* u64 fields after the type byte; NULL: not shown */
    uint8_t w2;          /* width of f2 in bytes (8, or 4 for Raft's vote) */
};
struct cf_timer_name {
    uint32_t id;
    const char *name;
};
struct cf_names {
    const struct cf_rec_name *recs;
    size_t n_recs;
    const struct cf_timer_name *timers;
    size_t n_timers;
    uint32_t lease_base, lease_ring; /* Raft: lease timers "lease<k>"; 0: none */
    void (*detail)(const struct bft_msg *m, char *out, size_t cap); /* NULL: none */
};
extern const struct cf_names cf_names_pbft, cf_names_hotstuff, cf_names_raft;
const struct cf_names *cf_names_for(int protocol);

/* core_fixture_log.c */
void cf_log_line(struct cf *cf, unsigned kind, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void cf_short_digest(const bft_digest *d, char out[9]);
const char *cf_record_name(int protocol, uint8_t type);
/* "name f1=.. f2=.." of a WAL record, from its first fields. */
void cf_record_text(int protocol, const uint8_t *rec, size_t len, char *out, size_t cap);
void cf_log_msg(struct cf *cf, unsigned kind, const char *prefix, const struct bft_msg *m);

#endif
