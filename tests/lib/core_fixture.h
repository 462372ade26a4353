/* tests/lib/core_fixture.h: one deterministic cluster fixture for every
 * protocol core, driven only through `struct bft_core_ops` (core/core.h).
 * The real node is not used: the fixture is the host.
 *
 * It holds n cores, each behind a fake bft_env (keyed-hash signatures, so
 * a message can be neither forged nor altered unnoticed, and client
 * requests built here verify) and a fake bft_io that appends every effect
 * to a text effect log. Messages travel through the real wire codec over
 * one FIFO per (from, to) pair; nothing moves until the test says so
 * (docs/style.md #3, canonical/raft's raft_fixture and etcd-io/raft's
 * interaction tests). Timers are remembered per node and fire only when
 * the test fires them or advances the virtual clock. Each node keeps its
 * WAL (every persisted record) and its durable snapshots: a crash
 * destroys the core and the application, a restart creates a new core and
 * replays the WAL through ops->recover.
 *
 * Everything is bounded (docs/style.md #7): packets per link, bytes in
 * the WAL, lines in the effect log, executed requests remembered. A bound
 * that is hit is reported in the log, never silently ignored. */
#ifndef BFT_TESTS_CORE_FIXTURE_H
#define BFT_TESTS_CORE_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

#define CF_MAX_NODES 7     /* enough for f = 2 BFT clusters */
#define CF_MAX_CLIENTS 8   /* client ids 0..7 */
#define CF_REQS_MAX 1024   /* request numbers remembered per client */
#define CF_TIMERS 64       /* timer ids per node (Raft's are < 64) */
#define CF_LINK_MAX 4096   /* packets queued on one (from, to) link */
#define CF_WAL_MAX 4096    /* records in one node's WAL */
#define CF_DISK_SNAPS 2    /* durable snapshots kept per node */
#define CF_OPS_MAX 16      /* operations in one request envelope */
#define CF_LOG_MAX 4000    /* lines in the effect log between two reads */
#define CF_LINE_MAX 160    /* characters in one effect line */
#define CF_STEPS_MAX 20000 /* packets delivered by one stabilize */

/* Kinds of effect; the log shows those in the mask (cf_set_log_mask). */
enum cf_kind {
    CF_LOG_SEND = 1u << 0,    /* send and broadcast */
    CF_LOG_PERSIST = 1u << 1, /* WAL records */
    CF_LOG_EXEC = 1u << 2,    /* executed batches */
    CF_LOG_TIMER = 1u << 3,   /* set_timer / cancel_timer / fired */
    CF_LOG_REJECT = 1u << 4,  /* rejects, with the reason's name */
    CF_LOG_CKPT = 1u << 5,    /* checkpoint, snapshot, restore, load */
    CF_LOG_READ = 1u << 6,    /* read_ready */
    CF_LOG_RECV = 1u << 7,    /* every delivered packet (off by default) */
    CF_LOG_NET = 1u << 8,     /* packets dropped by the network */
};
#define CF_LOG_DEFAULT (0xffffu & ~(unsigned)CF_LOG_RECV)

struct cf_options {
    int protocol; /* BFT_PROTO_* */
    uint32_t n;
    /* Overrides of bft_core_config_defaults; 0 keeps the default. */
    uint32_t batch_max, pipeline_max, window, checkpoint_interval, request_timeout_ms, leader_views;
    bool no_reputation; /* HotStuff: leader_reputation = 0 */
    /* Null signatures (the programmatic tests' forged messages): sign
     * writes zeros and verify accepts any signature whose first byte is
     * not CF_BAD_SIG. Default: keyed-hash signatures. */
    bool null_sigs;
    /* Called for each node's config after the defaults and the overrides
     * above, at create and at every restart (NULL: none). */
    void (*tune)(void *arg, uint32_t id, struct bft_core_config *c);
    void *tune_arg;
};
#define CF_BAD_SIG 0xBA

struct cf;

/* Create a cluster. BFT_E_OK, BFT_E_INVALID (bad shape or protocol; err
 * says why) or BFT_E_NOMEM. */
int cf_create(struct cf **out, const struct cf_options *opt, char *err, size_t errlen);
void cf_destroy(struct cf *cf);
uint32_t cf_n(const struct cf *cf);
const struct bft_core_ops *cf_ops(const struct cf *cf);

/* The effect log: lines appended since the last cf_log_take, each ending
 * in '\n'. The caller owns the returned string (free); never NULL unless
 * out of memory. */
char *cf_log_take(struct cf *cf);
void cf_set_log_mask(struct cf *cf, unsigned mask);
/* Show send/recv lines only for these message types (NULL or count 0:
 * every type). Unknown names are refused (false). */
bool cf_set_log_types(struct cf *cf, const char *const *types, size_t count);
/* Append a line of the test's own (status output, errors). */
void cf_logf(struct cf *cf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A client REQUEST with `ops` operations (request numbers continue the
 * client's sequence), signed by the client, given through on_request to
 * every live node in `to_mask` that has not executed it (as the node would
 * filter). readonly: a linearizable read, given through on_read where the
 * core has one. Returns the first request number, or 0 on bad input
 * (logged). */
uint64_t cf_request(struct cf *cf, uint32_t client, uint32_t ops, uint32_t to_mask, bool readonly);

/* The client's last request again, byte for byte (a client retry). */
uint64_t cf_resend(struct cf *cf, uint32_t client, uint32_t to_mask);

/* Network. Deliver up to max packets queued on from->to (only those
 * queued before the call); returns how many. */
uint32_t cf_deliver(struct cf *cf, uint32_t from, uint32_t to, uint32_t max);
/* One round: every packet queued now, link by link in (from, to) order. */
uint32_t cf_deliver_round(struct cf *cf);
/* Rounds until no packet is queued, at most CF_STEPS_MAX packets; false
 * if the bound stopped it (logged). */
bool cf_stabilize(struct cf *cf);
/* Drop what is queued on from->to; returns how many. */
uint32_t cf_drop(struct cf *cf, uint32_t from, uint32_t to);
uint32_t cf_queued(const struct cf *cf, uint32_t from, uint32_t to);
/* Partition: group[i] is node i's side; packets between sides are dropped
 * when sent (and those queued now are dropped). cf_heal joins them. */
void cf_partition(struct cf *cf, const uint8_t group[CF_MAX_NODES]);
void cf_heal(struct cf *cf);

/* Timers. Fire `timer` on node id if it is armed (false if not). */
bool cf_fire(struct cf *cf, uint32_t id, uint32_t timer);
/* Advance the virtual clock by ms, firing due timers of live nodes in
 * deadline order (ties: node id, then timer id). Packets are not moved. */
void cf_advance(struct cf *cf, uint64_t ms);
/* The same, but the network is stabilized first and after every timer
 * fired: a network faster than any timer. */
void cf_run(struct cf *cf, uint64_t ms);
bool cf_timer_armed(const struct cf *cf, uint32_t id, uint32_t timer);
/* Protocol timer names (as the log prints them) and back; -1 if unknown. */
int cf_timer_parse(const struct cf *cf, const char *name);
const char *cf_timer_name(const struct cf *cf, uint32_t timer, char *buf, size_t cap);

/* Crash: destroy node id's core and application, drop its packets in
 * flight (both ways) and its timers; its WAL and snapshots stay. Restart:
 * a new core replays the WAL through ops->recover. Return BFT_E_OK or
 * BFT_E_INVALID (already down / up) or the core's create error. */
int cf_crash(struct cf *cf, uint32_t id);
int cf_restart(struct cf *cf, uint32_t id);
bool cf_is_down(const struct cf *cf, uint32_t id);
/* Lose node id's durable snapshot at seq (a deleted or unreadable file):
 * BFT_E_OK, or BFT_E_NOTFOUND if it holds none there. */
int cf_lose_snapshot(struct cf *cf, uint32_t id, uint64_t seq);

/* ---- Hooks for the programmatic tests (tests/core/<protocol>/<protocol>_fixture.h
 * build their helpers on these, so every core test runs on this one
 * fixture) ---- */

/* One effect as the io carried it out; pointers live during the call. */
#define CF_BROADCAST 0xffffffffu
struct cf_effect {
    unsigned kind;             /* one CF_LOG_* bit (SEND, PERSIST, EXEC, TIMER, REJECT, READ) */
    uint32_t node;             /* the node whose io it is */
    uint32_t to;               /* SEND: destination, or CF_BROADCAST */
    const struct bft_msg *msg; /* SEND; READ: the read request */
    const uint8_t *data;       /* PERSIST: the record; EXEC: the batch */
    size_t len;                /* its length */
    uint64_t seq, view;        /* EXEC */
    const bft_digest *digest;  /* EXEC: the batch digest */
    const bft_digest *state;   /* EXEC: the state after it */
    uint32_t timer;            /* TIMER */
    uint64_t ms;               /* TIMER: the delay set */
    bool cancel;               /* TIMER: a cancel, not a set */
    int reason;                /* REJECT */
};
typedef void (*cf_observer)(void *arg, const struct cf_effect *e);
/* Every effect of every node is passed to fn (NULL: none), besides the log. */
void cf_set_observer(struct cf *cf, cf_observer fn, void *arg);
/* Every packet about to be delivered is passed to fn first (NULL: none);
 * true drops it (logged as dropped by the network). */
typedef bool (*cf_filter)(void *arg, uint32_t from, uint32_t to, const struct bft_msg *m);
void cf_set_filter(struct cf *cf, cf_filter fn, void *arg);
/* Node id's live core (NULL while down) and its config. */
struct bft_core *cf_core(const struct cf *cf, uint32_t id);
const struct bft_core_config *cf_config(const struct cf *cf, uint32_t id);
/* Encode m as replica `from` sends it (sender, cluster id, signature);
 * the caller frees the result. NULL if it does not encode. */
uint8_t *cf_encode_as(const struct cf *cf, uint32_t from, const struct bft_msg *m, size_t *len);
/* Sign encoded bytes as replica `from` (its sender field is left as is). */
void cf_sign_as(const struct cf *cf, uint32_t from, uint8_t *buf, size_t len);
/* Queue encoded bytes on from->to as if `from` had sent them (partitions
 * and down nodes apply). */
void cf_push(struct cf *cf, uint32_t from, uint32_t to, const uint8_t *buf, size_t len);
/* Deliver encoded bytes to node `to` now, checked as any packet from
 * `from` is (decode, signature, filter). */
void cf_receive(struct cf *cf, uint32_t from, uint32_t to, const uint8_t *buf, size_t len);
/* The virtual clock, in ms. */
uint64_t cf_now(const struct cf *cf);
/* Sign a region as `signer` (a replica id, or CF_CLIENT_KEY + client) in
 * the fixture's mode: a vote or timeout inside a certificate a test
 * crafts. Sign an encoded REQUEST as its client (false if it is none). */
#define CF_CLIENT_KEY 1000u
void cf_sign_region(const struct cf *cf, uint32_t signer, uint32_t domain, const uint8_t *region,
                    size_t len, uint8_t sig[BFT_SIG_LEN]);
bool cf_sign_request(const struct cf *cf, uint8_t *buf, size_t len);
/* Node id's env and io: a test may create one more core beside the
 * cluster on them (a pure function of its config is what it checks). */
const struct bft_env *cf_env(const struct cf *cf, uint32_t id);
const struct bft_io *cf_io(const struct cf *cf, uint32_t id);
/* The fake application of node id: its whole state digest, whether it
 * executed (client, req_no) (its exactly-once table, restored with a
 * snapshot too), and the size of one of its snapshots. */
void cf_app_state(const struct cf *cf, uint32_t id, bft_digest *out);
bool cf_executed(const struct cf *cf, uint32_t id, uint32_t client, uint64_t req_no);
size_t cf_snap_len(void);
/* Disk surgery on a down node: lose its snapshot files, and with `wal`
 * its WAL too (a replaced drive): BFT_E_OK, or BFT_E_INVALID if it is up.
 * Append a record to node id's WAL as if its core had persisted it (the
 * core is not told; a restart replays it): BFT_E_OK, BFT_E_FULL at the
 * WAL's bounds, BFT_E_NOMEM or BFT_E_INVALID. */
int cf_lose_disk(struct cf *cf, uint32_t id, bool wal);
int cf_wal_append(struct cf *cf, uint32_t id, const uint8_t *rec, size_t len);

/* Status of a live node; false if it is down. */
bool cf_status(const struct cf *cf, uint32_t id, struct bft_core_status *st);
/* The application's state digest on node id (a hash chain over executed
 * batch digests), first 8 hex digits, for agreement checks. */
void cf_state_hex(const struct cf *cf, uint32_t id, char out[9]);

#endif
