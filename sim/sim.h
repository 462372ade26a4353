/* sim: deterministic cluster simulator (docs/style.md #3-4).
 *
 * One process runs n replicas (bft_node, null crypto) and a few closed-loop
 * clients (bft_client) over a seeded virtual network and in-memory WALs.
 * Every effect is an event on one heap ordered by (virtual time in us,
 * insertion sequence), so a run is a pure function of its options and seed:
 * after canonical/raft's raft_fixture_step() (fire the single earliest
 * event, fixed tie-breaks, check safety after every step) and TigerBeetle's
 * VOPR (one seed -> options, faults and schedule; a safety phase with
 * faults, then a liveness phase on a healed core; "replay with ..." on
 * failure).
 *
 * Nothing here knows which protocol runs: the node wraps whatever core
 * bft_core_ops_for(protocol) returns. Invariants are checked on every
 * executed batch and every applied request (docs/simulator.md):
 *   agreement     one batch digest and one state digest per seq;
 *   validity      an applied (client, req_no, op) was submitted so;
 *   exactly-once  a (client, req_no) is applied at one seq everywhere and
 *                 at most once per replica incarnation;
 *   order         within one incarnation, executed seqs strictly increase;
 *   reads         a read-only LOOKUP finds every order acknowledged (or
 *                 found by another read) before it was issued, with its
 *                 order_seq, and finds no order not yet committed when it
 *                 returns.
 *
 * Ownership: pointers passed in are borrowed for the call unless noted.
 */
#ifndef BFT_SIM_H
#define BFT_SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "client/client.h"
#include "core/core.h"
#include "wire/wire.h"
#include "faults/faults.h"

#define SIM_MAX_CLIENTS 16
#define SIM_CLIENT_READS_MAX 2     /* read-only requests in flight per client */
#define SIM_TIMERS_MAX 64          /* distinct timer ids per replica */
#define SIM_INFLIGHT_DEFAULT 20000 /* messages on the wire; beyond: dropped, counted */
#define SIM_EVENTS_MAX (1u << 20)  /* heap bound: exceeding it fails the run */
#define SIM_RULES_MAX 32
#define SIM_WAL_BYTES_MAX (256u << 20) /* per replica */
/* WAL size past which a replica's WAL is compacted (small: the restart
 * sweeps then replay compacted WALs, docs/storage.md). */
#define SIM_WAL_COMPACT_BYTES (256u << 10)
/* A durable snapshot is saved once the WAL grew by this and by the last
 * snapshot's size (bft_snapshot_due, as bftd with its default of a quarter
 * of a segment): not at every checkpoint, which cost O(history) each time
 * and was half of a long simulation's time. */
#define SIM_SNAPSHOT_MIN_BYTES (SIM_WAL_COMPACT_BYTES / 4)
/* sim_crash_in_sync: how long it waits for a sync after an ahead send
 * before it takes any sync, and before it crashes plainly. */
#define SIM_TORN_WAIT_US 20000
#define SIM_TORN_GIVE_UP_US 200000
#define SIM_SEQ_MAX (1u << 22) /* highest seq the checker tracks */
#define SIM_REASON_LEN 512

/* Endpoints: replica i is endpoint i, client c is SIM_EP_CLIENT(c). A mask
 * has bit e set for endpoint e. */
#define SIM_EP_CLIENT_BASE BFT_MAX_REPLICAS
#define SIM_EP_CLIENT(c) (SIM_EP_CLIENT_BASE + (c))
#define SIM_MASK(ep) (1ull << (ep))
#define SIM_MASK_REPLICAS ((1ull << BFT_MAX_REPLICAS) - 1)
#define SIM_MASK_CLIENTS (((1ull << SIM_MAX_CLIENTS) - 1) << SIM_EP_CLIENT_BASE)
#define SIM_MASK_ALL (SIM_MASK_REPLICAS | SIM_MASK_CLIENTS)

/* Fault profiles (bftsim --faults). */
#define SIM_PROFILE_MAP(X)                                                                         \
    X(NONE, "none")           /* perfect network, no crashes */                                    \
    X(LOSSY, "lossy")         /* loss, duplication, reordering */                                  \
    X(CRASH, "crash")         /* crash/restart up to f replicas, incl. the primary */              \
    X(PARTITION, "partition") /* symmetric and asymmetric partitions */                            \
    X(DEFAULT, "default")     /* a mix of all of the above */                                      \
    X(BYZANTINE, "byzantine") /* up to f replicas with random Byzantine behaviours */              \
    X(TWINS, "twins")         /* Twins generator scenarios (index = seed) */                       \
    X(BYZZFUZZ, "byzzfuzz")   /* ByzzFuzz mutation schedules (from the seed) */                    \
    X(RESTARTS, "restarts")   /* one replica at a time killed ~2 s, every ~5 s, under load */
#define SIM_PROFILE_ENUM(name, str) SIM_FAULTS_##name,
enum sim_profile { SIM_PROFILE_MAP(SIM_PROFILE_ENUM) SIM_FAULTS__COUNT };
const char *sim_profile_name(int profile);
int sim_profile_parse(const char *s); /* -1 if unknown */

#define SIM_READ_MIX (-1)
struct sim_options {
    int protocol;         /* BFT_PROTO_* */
    uint32_t n;           /* replicas */
    uint32_t clients;     /* closed-loop clients, <= SIM_MAX_CLIENTS */
    uint32_t outstanding; /* requests each client keeps in flight */
    uint32_t retry_pct;   /* % of new orders reusing an earlier client_order_id */
    /* Read-only LOOKUPs (bft_client_read) interleaved with the orders: each
     * time a client refills its window, each free read slot (at most
     * SIM_CLIENT_READS_MAX) issues a read with this probability (%); 0 = no
     * reads. The checker holds each read to linearizability. */
    uint32_t read_pct;
    /* The level of each read (enum bft_read_level, docs/reads.md), or
     * SIM_READ_MIX: each read picks one of the three at random. Local
     * reads carry read_staleness_ms; the checker holds each read to its
     * level's promise (sim/checker.c). */
    int read_level;
    uint32_t read_staleness_ms;
    int faults;                                      /* profile (sim_run_seed) */
    uint64_t fault_phase_min_us, fault_phase_max_us; /* the seed picks within */
    uint64_t liveness_us;                            /* bound on the healed phase */
    uint32_t liveness_ops;                           /* ops each client completes after healing */
    uint64_t latency_min_us, latency_max_us;         /* base one-way latency */
    uint32_t inflight_max;
    /* Core tuning; 0 keeps bft_core_config_defaults(). */
    uint32_t batch_max, window, checkpoint_interval, request_timeout_ms;
    uint32_t client_retransmit_ms;
    bool leader_windows_only; /* HotStuff: windows without leader reputation */
    bool verbose;             /* narrate faults and phases on stderr */
    /* Byzantine faults (sim_run_seed). plan: applied at the start of the
     * fault phase on top of the profile (windows relative to the run start,
     * everything stopped when the fault phase ends); borrowed. */
    const struct fault_plan *plan;
    /* A plan's faulty replica stays honest for the checker until its first
     * non-crash window opens (scenarios: replica 0 "silent@2" leads Raft
     * honestly for 2 s and answers reads); false: dishonest from the start
     * of the plan, as the sweeps have always run. */
    bool honest_until_fault;
    uint32_t twins_rounds;    /* twins profile: rounds per scenario (default 4) */
    uint32_t byzzfuzz_rounds; /* byzzfuzz profile: rounds (default 10) */
};
void sim_options_default(struct sim_options *o, int protocol, uint32_t n);

/* Network behaviour for every message (partitions and rules are separate). */
struct sim_net_params {
    uint64_t latency_min_us, latency_max_us; /* uniform */
    uint32_t loss_ppm;                       /* dropped, per million */
    uint32_t dup_ppm;                        /* delivered twice */
    uint32_t reorder_ppm;                    /* delayed by up to reorder_us extra */
    uint64_t reorder_us;
};

struct sim_stats {
    uint64_t events, msgs_sent, msgs_delivered, duplicated;
    uint64_t dropped_loss, dropped_partition, dropped_rule, dropped_inflight, dropped_down;
    uint64_t crashes, restarts, ops_submitted, ops_completed;
    uint64_t torn_crashes; /* crashes during a sync, its records lost (sim_crash_in_sync) */
    uint64_t torn_ahead;   /* of which the step had sent ahead of the sync */
    /* requests (reads' ordered fallbacks included) the replicas closed
     * without a result they still held (BFT_REPLY_NO_RESULT) */
    uint64_t no_result;
    uint64_t compactions; /* WALs compacted against a snapshot (docs/storage.md) */
    uint64_t reads_submitted, reads_completed, reads_found; /* found: the order existed */
    uint64_t reads_level[BFT_READ_LEVELS];                  /* completed reads by level */
    uint64_t local_answers;  /* local answers whose freshness was checked */
    uint64_t local_refusals; /* local reads refused as stale */
    uint64_t inflight_peak;
};

struct sim;

/* Create a cluster from options; `seed` drives the network and clients.
 * Replicas start up, clients start with their load on. BFT_E_INVALID with
 * a message in err if the protocol is not built or options are bad. */
int sim_create(struct sim **out, const struct sim_options *o, uint64_t seed, char *err,
               size_t errlen);
void sim_destroy(struct sim *s);
uint32_t sim_f(const struct sim *s);

/* ---- Running. A failed invariant stops the run: every step after it is
 * refused and sim_failed() returns the reason. ---- */
uint64_t sim_now_us(const struct sim *s);
/* Fire the single earliest event. 1 if one ran, 0 if the heap is empty,
 * -1 if the run has failed. */
int sim_step(struct sim *s);
/* Step until virtual time `until_us` or until pred returns true (checked
 * after every step; pred may be NULL). Returns true iff pred became true
 * (or, with pred NULL, the time was reached) without a failure. */
typedef bool (*sim_pred_fn)(struct sim *s, void *ctx);
bool sim_run_until(struct sim *s, uint64_t until_us, sim_pred_fn pred, void *ctx);
bool sim_failed(const struct sim *s, const char **reason);
/* Record an external failure (tests, liveness): first reason wins. */
void sim_fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The same for a broken safety invariant (the checker's agreement,
 * validity, exactly-once, order, order-router and read rules): a scenario
 * that expects "safety": "violated" matches only these. */
void sim_violation(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The run failed on a safety invariant (not on liveness or a bound). */
bool sim_violated(const struct sim *s);

/* Run fn(s, ctx) at virtual time at_us (fault schedules, scripted steps). */
typedef void (*sim_action_fn)(struct sim *s, void *ctx);
int sim_at(struct sim *s, uint64_t at_us, sim_action_fn fn, void *ctx);

/* ---- Faults. ---- */
/* Crash: drop the node and every pending event addressed to it. */
int sim_crash(struct sim *s, uint32_t r);
/* Crash r during its next sync of new WAL records, preferably one whose
 * step sent messages ahead of the sync (bft_io.send_ahead and
 * broadcast_ahead): those messages are out, the step's records are lost,
 * nothing else of the step leaves. What kill -9 or a power cut in the
 * middle of fdatasync does; without it the simulator would treat every
 * record as durable the moment it is written. Falls back to a plain crash
 * if no such sync comes within SIM_TORN_WAIT_US. */
int sim_crash_in_sync(struct sim *s, uint32_t r);
/* Restart a crashed replica: with its WAL replayed through
 * bft_node_recover, or with empty state (it catches up by state transfer). */
int sim_restart(struct sim *s, uint32_t r, bool keep_wal);
int sim_schedule_crash(struct sim *s, uint64_t at_us, uint32_t r);
int sim_schedule_restart(struct sim *s, uint64_t at_us, uint32_t r, bool keep_wal);
/* Replica r's newest durable snapshot is damaged (what bftd's loader skips
 * after a checksum mismatch): dropped from its disk. BFT_E_NOTFOUND if it
 * holds none. */
int sim_damage_snapshot(struct sim *s, uint32_t r);

void sim_net_set(struct sim *s, const struct sim_net_params *p);
void sim_net_get(const struct sim *s, struct sim_net_params *p);
/* Directional link cut between replicas: messages from `from` to `to` are
 * dropped. Clients are never partitioned (docs/design.md "Partition specs"). */
void sim_link_cut(struct sim *s, uint32_t from, uint32_t to, bool cut);
/* Symmetric: cut both ways between the replica sets a and b (bit i =
 * replica i). Asymmetric: cut only from -> to. */
void sim_partition(struct sim *s, uint32_t a_mask, uint32_t b_mask);
void sim_partition_asym(struct sim *s, uint32_t from_mask, uint32_t to_mask);
void sim_heal_links(struct sim *s);

/* Message rules: drop or duplicate messages of a type between endpoint
 * sets, within a time window, at most `count` times (0 = no limit). */
enum sim_rule_action { SIM_RULE_DROP = 1, SIM_RULE_DUPLICATE = 2 };
struct sim_rule {
    int action;
    uint8_t type; /* BFT_MSG_* or 0 for any */
    uint64_t from_mask, to_mask;
    uint64_t after_us, until_us; /* active in [after, until); until 0 = forever */
    uint32_t count;
    /* Only messages whose header view (or term) is in [view_lo, view_hi]. */
    bool match_view;
    uint64_t view_lo, view_hi;
};
int sim_rule_add(struct sim *s, const struct sim_rule *r); /* id >= 0, or -1 if full */
void sim_rule_remove(struct sim *s, int id);
void sim_rules_clear(struct sim *s);
uint64_t sim_rule_hits(const struct sim *s, int id);

/* Byzantine hook (behaviours live in faults/): called for each message the
 * replica sends, before the network. It may rewrite the bytes in place (up
 * to cap) or drop the message. A replica with a behaviour is not honest:
 * the checker ignores what it executes. */
enum { SIM_SEND_PASS = 0, SIM_SEND_DROP = 1 };
struct sim_behaviour {
    void *ctx;
    int (*on_send)(void *ctx, struct sim *s, uint32_t from, int to_ep, uint8_t *msg, size_t *len,
                   size_t cap);
};
void sim_set_behaviour(struct sim *s, uint32_t r, const struct sim_behaviour *b);
/* Re-sign an encoded replica message in place as replica r (which must be
 * up): a Byzantine replica keeps its real key, so what it sends verifies
 * (docs/design.md "Behaviours for --fault"). BFT_E_INVALID if r is down or msg too short. */
int sim_sign_as(struct sim *s, uint32_t r, uint8_t *msg, size_t len);
/* Observe every message put on the network (before behaviours, rules and
 * faults): tracing and scripted tests. fn may be NULL to remove it. */
typedef void (*sim_tap_fn)(void *ctx, struct sim *s, int from_ep, int to_ep, const uint8_t *msg,
                           size_t len);
void sim_set_tap(struct sim *s, sim_tap_fn fn, void *ctx);
/* Put raw bytes on the wire from one endpoint to another (copied). */
int sim_inject(struct sim *s, int from_ep, int to_ep, const uint8_t *msg, size_t len,
               uint64_t delay_us);

/* Byzantine replicas through faults/ (emit-based: the fault actor turns one
 * outgoing message into 0..k, with delays, plus tick traffic; everything
 * it emits still meets the rules, partitions, the plan's network filter
 * and the simulator's loss). Windows count from the call. Every replica
 * the plan makes Byzantine (fault_plan_byzantine) stops being honest for
 * the checker; crash entries crash and restart (from the WAL) at their
 * window edges; twin entries start a second node with the same id and key
 * (fresh state), instance 0 talking to side 0 and instance 1 to side 1
 * (fault_twin_split). bz: the ByzzFuzz schedule for a byzzfuzz entry (NULL
 * otherwise). One plan per run. */
int sim_apply_plan(struct sim *s, const struct fault_plan *p, const struct byzzfuzz_schedule *bz,
                   char *err, size_t errlen);
/* A Twins scenario (Bano et al. §4): a second instance of ts->twin as
 * identity n, and every replica-replica message between identities cut
 * unless twins_can_talk in the round in force. */
int sim_apply_twins(struct sim *s, const struct twins_scenario *ts, char *err, size_t errlen);
/* Stop every Byzantine behaviour: actors pass everything through, twin
 * instances stop, the plan's partitions and rates end, Twins rounds end.
 * Faulty replicas stay dishonest for the checker. */
void sim_faults_stop(struct sim *s);
struct sim_fault_stats {
    struct fault_actor_stats actor; /* summed over actors */
    uint64_t twin_cut;              /* messages a twin split or Twins round cut */
};
void sim_fault_stats(const struct sim *s, struct sim_fault_stats *out);

/* ---- Clients. ---- */
/* Load on: each client keeps `outstanding` orders in flight. Off: no new
 * orders; outstanding ones still complete. */
void sim_clients_load(struct sim *s, bool on);
/* Submit one order now from client c (scripted tests). Returns req_no or 0. */
uint64_t sim_client_submit_order(struct sim *s, uint32_t c, uint64_t client_order_id);
/* A read-only LOOKUP now from client c of client `target`'s order
 * client_order_id (bft_client_read; checked for linearizability when it
 * completes). Returns the read id, or 0 if c already has
 * SIM_CLIENT_READS_MAX reads in flight. */
uint64_t sim_client_read(struct sim *s, uint32_t c, uint32_t target, uint64_t client_order_id);
bool sim_client_read_done(const struct sim *s, uint32_t c, uint64_t read_id);
/* The k-th client_order_id of client c in the simulated clients' scheme
 * (the read checker tracks only ids of this form). */
uint64_t sim_client_order_id(uint32_t c, uint64_t k);
/* True when every client has no request outstanding. */
bool sim_clients_idle(const struct sim *s);
/* Completed requests of client c. */
uint64_t sim_client_completed(const struct sim *s, uint32_t c);
bool sim_client_done(const struct sim *s, uint32_t c, uint64_t req_no);

/* ---- Observation. ---- */
struct sim_replica_status {
    bool up, honest;
    uint32_t incarnation;
    uint64_t view, last_executed, view_changes;
    bft_digest state_digest;
    struct bft_node_stats stats; /* valid when up */
};
int sim_replica_status(const struct sim *s, uint32_t r, struct sim_replica_status *out);
/* Seq at which (client, req_no) was applied (0 if never). */
uint64_t sim_applied_seq(const struct sim *s, uint32_t client, uint64_t req_no);
/* Highest seq any honest replica executed, and its digests. */
uint64_t sim_max_executed(const struct sim *s);
bool sim_executed_at(const struct sim *s, uint64_t seq, bft_digest *batch, bft_digest *state);
/* Number of up honest replicas whose last executed seq is the highest. */
uint32_t sim_converged(const struct sim *s);
void sim_stats(const struct sim *s, struct sim_stats *out);
/* Bytes currently allocated by this process (ASan- or glibc-reported). */
size_t sim_heap_bytes(void);

/* ---- Seed sweeps (bftsim, tests). ---- */
struct sim_result {
    bool passed;
    char reason[SIM_REASON_LEN];
    uint64_t seed;
    uint64_t fault_phase_us, virtual_us, max_executed, max_view;
    struct sim_stats stats;
    struct sim_fault_stats faults;
};
/* One whole run from one seed: derive the fault schedule from the profile,
 * run the fault phase (safety), heal, run the liveness phase. Returns
 * BFT_E_OK when the run happened (see res->passed) or an error if the
 * cluster could not be built (res->reason says why). */
int sim_run_seed(const struct sim_options *o, uint64_t seed, struct sim_result *res);

/* ---- Scenario files (bftsim --scenario, docs/simulator.md "Scenarios"). ---- */
struct sim_scenario_result {
    bool passed;                       /* the outcome matched the file's expect block */
    bool failed, violated;             /* the run failed; on a safety invariant */
    char why[SIM_REASON_LEN + 64];     /* the mismatch or setup error, when !passed */
    char reason[SIM_REASON_LEN];       /* the failure, when failed */
    uint64_t seed, t0_us, duration_us; /* T=0 in virtual time, the timeline's length */
    uint64_t ops_total, ops_after;     /* client ops completed from T=0, from progress_after_s */
    uint64_t ops_at_mark;              /* internal: ops when the progress window opened */
    bool marked;                       /* internal: the window opened */
    uint32_t leader_restarts;          /* Raft: deposed leaders before the liar led */
    struct sim_stats stats;
    struct sim_fault_stats faults;
};
/* Options for a scenario run: the defaults for the protocol at the
 * scenario's size for it (nodes != 0 overrides), no profile. Callers may
 * then set verbose and the read options. */
void sim_scenario_options(struct sim_options *o, const struct fault_scenario *sc, int protocol,
                          uint32_t nodes);
/* One seed of a scenario for o->protocol with o->n replicas. BFT_E_OK when
 * the run happened (r->passed says whether it matched, r->why why not), or
 * an error if the scenario cannot run so (r->why says why). */
int sim_run_scenario(const struct fault_scenario *sc, const struct sim_options *o, uint64_t seed,
                     struct sim_scenario_result *r);
/* What the simulator checks for an expect key, or NULL if it cannot. */
const char *sim_scenario_check_of(const char *key);
/* The expect keys (fault_expect_key) the simulator cannot check, comma
 * separated into out; returns how many ("" and 0 today). */
size_t sim_scenario_unchecked(char *out, size_t cap);

#endif
