/* faults: Byzantine replicas and broken networks, as data (docs/style.md #4).
 *
 * Four parts, one header (docs/faults.md):
 *   - a fault plan: `--fault ID:BEHAVIOUR[@T0[-T1]]`, `--partition` specs and
 *     network rates parsed into one bounded struct, saved and loaded as JSON
 *     (bftctl hands each bftd its plan as a file), and scenario files;
 *   - a fault actor: sits between one replica node and its transport, turns
 *     each outgoing encoded message into 0..k messages (equivocating,
 *     forging, corrupting, delaying, ...) and adds spontaneous traffic (junk,
 *     flood, replay) on ticks. A Byzantine replica keeps its real key: what
 *     it re-signs is validly signed unless the behaviour says otherwise;
 *   - a network filter: drop / delay / duplicate per (from, to, now) from the
 *     plan's partitions and rates, seeded;
 *   - generators for the simulator: Twins scenarios (Bano et al., OPODIS'21
 *     §4) and ByzzFuzz schedules (Winter et al., OOPSLA'23).
 *
 * Everything is deterministic from the plan's seed, so the simulator replays
 * a run exactly; nothing here reads a clock (the host passes now_ms, the time
 * since the run started) or calls rand().
 *
 * Ownership: pointers passed in are borrowed for the call unless noted.
 * Errors: functions return BFT_E_OK or a bft_err code and write a message
 * naming the offending text into err (errlen bytes).
 */
#ifndef BFT_FAULTS_H
#define BFT_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "wire/wire.h"

/* ------------------------------------------------------------------ */
/* Limits.                                                             */
/* ------------------------------------------------------------------ */
#define FAULT_MAX_FAULTS 32
#define FAULT_MAX_PARTITIONS 16
#define FAULT_MAX_GROUPS 4                        /* groups in one symmetric partition */
#define FAULT_SPEC_MAX 128                        /* longest spec text accepted / formatted */
#define FAULT_FOREVER UINT64_MAX                  /* window end: never */
#define FAULT_TIME_MAX_MS (1000ull * 1000 * 1000) /* ~11.6 days */

/* Endpoint flags, shared with the node's outbox (NODE_DEST_CLIENT): a dest
 * or endpoint with FAULT_CLIENT set is client (id & ~FAULT_CLIENT). */
#define FAULT_CLIENT 0x80000000u
/* Set on a dest given to fault_emit_fn: the bytes are junk meant to go out
 * as one raw transport frame (net_send_raw), not as a message in a frame.
 * A host without raw frames (the simulator) sends them as a message. */
#define FAULT_RAW_FRAME 0x40000000u
#define FAULT_DEST_ID(d) ((d) & ~(FAULT_CLIENT | FAULT_RAW_FRAME))

/* ------------------------------------------------------------------ */
/* Behaviours of a faulty replica (docs/design.md "Behaviours for --fault").  */
/* crash and twin are carried out by the host (stop the node; run two    */
/* nodes with one id); the others by struct fault_actor. byzzfuzz is the */
/* ByzzFuzz mutation mode (fault_actor with a byzzfuzz schedule).        */
/* ------------------------------------------------------------------ */
#define FAULT_BEHAVIOUR_MAP(X)                                                                     \
    X(CRASH, "crash")                                                                              \
    X(SILENT, "silent")                                                                            \
    X(SLOW, "slow")                                                                                \
    X(EQUIVOCATE, "equivocate")                                                                    \
    X(JUNK, "junk")                                                                                \
    X(BADSIG, "badsig")                                                                            \
    X(REPLAY, "replay")                                                                            \
    X(STALE, "stale")                                                                              \
    X(FLOOD, "flood")                                                                              \
    X(WITHHOLD, "withhold")                                                                        \
    X(FORGE, "forge")                                                                              \
    X(TWIN, "twin")                                                                                \
    X(BYZZFUZZ, "byzzfuzz")
#define FAULT_BEHAVIOUR_ENUM(name, str) FAULT_##name,
enum fault_behaviour { FAULT_NONE = 0, FAULT_BEHAVIOUR_MAP(FAULT_BEHAVIOUR_ENUM) FAULT__COUNT };
const char *fault_behaviour_name(int b);  /* NULL if unknown */
int fault_behaviour_parse(const char *s); /* -1 if unknown */

/* ------------------------------------------------------------------ */
/* The plan.                                                           */
/* ------------------------------------------------------------------ */

/* Active iff from_ms <= now_ms < until_ms (ms since the run started). */
struct fault_window {
    uint64_t from_ms, until_ms;
};
bool fault_window_active(const struct fault_window *w, uint64_t now_ms);

struct fault_entry {
    uint32_t replica;
    int behaviour; /* FAULT_* */
    struct fault_window win;
};

/* Symmetric: every link between two different groups is cut both ways;
 * replicas in no group are not affected. Asymmetric: only what group[0]
 * sends to group[1] is dropped. Masks have bit i for replica i. Clients are
 * never partitioned (docs/design.md "Partition specs"). */
struct fault_partition {
    bool asym;
    uint32_t n_groups;
    uint32_t group[FAULT_MAX_GROUPS];
    struct fault_window win;
};

/* Network rates, applied to every link (clients included) inside win.
 * Probabilities in parts per million; delays in ms: each delivered message
 * waits delay_ms + U[0, jitter_ms]; a reordered one waits U[0, reorder_ms]
 * more, so later messages overtake it. */
struct fault_net_rates {
    uint32_t drop_ppm, duplicate_ppm, reorder_ppm;
    uint32_t delay_ms, jitter_ms, reorder_ms;
    struct fault_window win;
};

/* Tuning of the behaviours; 0 picks the default noted. */
struct fault_params {
    uint32_t slow_pct;        /* slow: delay = pct of the base request timeout (60) */
    uint32_t slow_delay_ms;   /* slow: fixed delay instead, if set */
    uint32_t flood_per_tick;  /* flood: messages per tick (64) */
    uint32_t junk_per_tick;   /* junk: messages per tick (4) */
    uint32_t replay_per_tick; /* replay: old messages per tick (4) */
    uint32_t withhold_keep;   /* withhold: peers still served (f) */
};

struct fault_plan {
    uint32_t n;    /* replicas; ids are checked against it */
    uint64_t seed; /* every PRNG of the actors and the filter derives from it */
    uint32_t n_faults;
    struct fault_entry fault[FAULT_MAX_FAULTS];
    uint32_t n_partitions;
    struct fault_partition partition[FAULT_MAX_PARTITIONS];
    struct fault_net_rates net; /* all zero: a perfect network */
    struct fault_params params;
};

void fault_plan_init(struct fault_plan *p, uint32_t n, uint64_t seed);
/* "ID:BEHAVIOUR[@T0[-T1]]". Times are seconds (decimals allowed) or carry
 * a unit: "2", "2.5", "2500ms", "3s". No window: the whole run. */
int fault_plan_add_fault(struct fault_plan *p, const char *spec, char *err, size_t errlen);
/* "A,B|C,D[@T0[-T1]]" (symmetric, 2..FAULT_MAX_GROUPS groups) or
 * "A>B,C[@T0[-T1]]" (asymmetric; both sides may be lists). */
int fault_plan_add_partition(struct fault_plan *p, const char *spec, char *err, size_t errlen);
/* "drop=0.01,delay_ms=5,jitter_ms=2,duplicate=0.01,reorder=0.05,
 *  reorder_ms=20[@T0[-T1]]": any subset; replaces the plan's rates. */
int fault_plan_set_net(struct fault_plan *p, const char *spec, char *err, size_t errlen);
/* Re-check everything (ids against n, windows, masks, rates). */
int fault_plan_validate(const struct fault_plan *p, char *err, size_t errlen);

/* Spec text of one entry / partition / the rates (parses back to the same
 * thing); returns the length, or 0 if cap is too small. */
size_t fault_entry_format(const struct fault_entry *e, char *out, size_t cap);
size_t fault_partition_format(const struct fault_partition *pt, char *out, size_t cap);
size_t fault_net_format(const struct fault_net_rates *r, char *out, size_t cap);

/* Queries for hosts. */
bool fault_plan_has(const struct fault_plan *p, uint32_t replica, int behaviour, uint64_t now_ms);
/* Some entry of this behaviour for the replica, at any time. */
bool fault_plan_has_ever(const struct fault_plan *p, uint32_t replica, int behaviour);
/* Behaviours that only hurt a crash-fault protocol from the leader's seat
 * (equivocate, twin, forge, stale, replay, byzzfuzz): a Raft host makes
 * the liar lead before T=0 (docs/faults.md "Raft: the liar must lead"). */
bool fault_behaviour_needs_leader(int b);
/* Byzantine: has any behaviour other than crash (the checker must not trust
 * what it executes; crash-only replicas stay honest). */
bool fault_plan_byzantine(const struct fault_plan *p, uint32_t replica);
/* Is the replica link from -> to cut by a partition at now_ms? */
bool fault_plan_cut(const struct fault_plan *p, uint32_t from, uint32_t to, uint64_t now_ms);
/* Earliest window start or end strictly after now_ms (FAULT_FOREVER if
 * none): the host re-reads the plan then (crash/restart, partitions). */
uint64_t fault_plan_next_change_ms(const struct fault_plan *p, uint64_t now_ms);

/* JSON form (docs/faults.md "Plan file"): {"nodes","seed","faults":[spec],
 * "partitions":[spec],"network":{...},"params":{...}}. to_json returns a
 * malloc'd string the caller frees (NULL if out of memory). */
char *fault_plan_to_json(const struct fault_plan *p);
int fault_plan_from_json(struct fault_plan *p, const char *text, char *err, size_t errlen);
int fault_plan_save(const struct fault_plan *p, const char *path, char *err, size_t errlen);
int fault_plan_load(struct fault_plan *p, const char *path, char *err, size_t errlen);

/* Twin (host-run): two instances of `twin` with the same id and key. The
 * other replicas are split in two: side 0 (the first ceil((n-1)/2) of them
 * in id order) talks only to instance 0, side 1 only to instance 1, so with
 * n=3 each instance plus its side is a Raft majority. Masks exclude twin. */
void fault_twin_split(uint32_t n, uint32_t twin, uint32_t *side0_mask, uint32_t *side1_mask);
/* Which instance (0 or 1) of the twin replica `peer` talks to. */
uint32_t fault_twin_side_of(uint32_t n, uint32_t twin, uint32_t peer);

/* ------------------------------------------------------------------ */
/* Scenario files (docs/faults.md "Scenario schema").                  */
/* ------------------------------------------------------------------ */
#define FAULT_SCENARIO_NAME_MAX 64
#define FAULT_SCENARIO_DESC_MAX 1024

enum fault_safety { FAULT_SAFETY_OK = 0, FAULT_SAFETY_VIOLATED = 1 };

struct fault_expect {
    int safety;    /* FAULT_SAFETY_* */
    bool progress; /* commits continue after progress_after_ms */
    uint64_t progress_after_ms;
};

struct fault_scenario_protocol {
    int protocol;               /* BFT_PROTO_* */
    uint32_t nodes;             /* this protocol's cluster size */
    struct fault_expect expect; /* defaults, overridden per protocol */
};

struct fault_scenario {
    char name[FAULT_SCENARIO_NAME_MAX];
    char description[FAULT_SCENARIO_DESC_MAX];
    uint32_t nodes; /* default cluster size */
    uint32_t duration_s;
    struct fault_plan plan;     /* validated against the largest nodes */
    struct fault_expect expect; /* default expectation */
    bool seed_set;              /* "seed" was given: plan.seed is the file's */
    uint32_t n_protocols;
    struct fault_scenario_protocol protocols[3];
};
/* The keys an "expect" block may hold, i = 0, 1, ...; NULL past the last.
 * A host maps each to a check of its own and must say which it cannot
 * check (bftsim --scenario, docs/simulator.md "Scenarios"). */
const char *fault_expect_key(size_t i);
int fault_scenario_parse(struct fault_scenario *s, const char *text, char *err, size_t errlen);
int fault_scenario_load(struct fault_scenario *s, const char *path, char *err, size_t errlen);
/* The entry for one protocol, or NULL if the scenario does not list it. */
const struct fault_scenario_protocol *fault_scenario_for(const struct fault_scenario *s,
                                                         int protocol);
/* The plan for one protocol: the scenario's plan with n = that protocol's
 * nodes, re-validated (an id >= nodes is an error naming the protocol). */
int fault_scenario_plan(const struct fault_scenario *s, int protocol, struct fault_plan *out,
                        char *err, size_t errlen);

/* ------------------------------------------------------------------ */
/* ByzzFuzz schedules (Winter et al., OOPSLA'23 §3): one Byzantine       */
/* replica, c process faults (round, recipients, mutation seed) and d     */
/* network faults (round, partition), all drawn from one seed. A round   */
/* is a time slice of round_ms (the paper's protocol rounds, made        */
/* protocol-neutral so one schedule fits PBFT, HotStuff and Raft).       */
/* ------------------------------------------------------------------ */
#define BYZZFUZZ_MAX_FAULTS 16

struct byzzfuzz_config {
    uint32_t n, byz;                  /* cluster size, Byzantine replica */
    uint32_t rounds;                  /* faults land in rounds [0, rounds) */
    uint32_t proc_faults, net_faults; /* c and d, each <= BYZZFUZZ_MAX_FAULTS */
    uint32_t round_ms;
};
struct byzzfuzz_proc_fault {
    uint32_t round;
    uint32_t recipients; /* replica mask (never byz itself) */
    uint64_t seed;       /* picks the small-scope mutations */
};
struct byzzfuzz_net_fault {
    uint32_t round;
    uint32_t n_groups;
    uint32_t group[FAULT_MAX_GROUPS];
};
struct byzzfuzz_schedule {
    uint64_t seed;
    struct byzzfuzz_config cfg;
    struct byzzfuzz_proc_fault proc[BYZZFUZZ_MAX_FAULTS];
    struct byzzfuzz_net_fault net[BYZZFUZZ_MAX_FAULTS];
};
/* Small-scope mutations (paper §3.2), one per message. */
#define BYZZFUZZ_MUTATION_MAP(X)                                                                   \
    X(VIEW_INC, "view+1")                                                                          \
    X(VIEW_DEC, "view-1")                                                                          \
    X(SEQ_INC, "seq+1")                                                                            \
    X(SEQ_DEC, "seq-1")                                                                            \
    X(RESEND, "resend-earlier-proposal")                                                           \
    X(DIGEST, "corrupt-digest")                                                                    \
    X(BODY, "corrupt-body")
#define BYZZFUZZ_MUTATION_ENUM(name, str) BYZZFUZZ_##name,
enum byzzfuzz_mutation { BYZZFUZZ_MUTATION_MAP(BYZZFUZZ_MUTATION_ENUM) BYZZFUZZ__COUNT };
const char *byzzfuzz_mutation_name(int m);

int byzzfuzz_generate(struct byzzfuzz_schedule *s, const struct byzzfuzz_config *c, uint64_t seed,
                      char *err, size_t errlen);
/* The process fault hitting a message from byz to dest at now_ms, or NULL. */
const struct byzzfuzz_proc_fault *byzzfuzz_fault_at(const struct byzzfuzz_schedule *s,
                                                    uint32_t dest, uint64_t now_ms);
/* Write the schedule into a plan: "byz:byzzfuzz" for the whole run, and one
 * symmetric partition per network fault with its round's window. */
int byzzfuzz_to_plan(const struct byzzfuzz_schedule *s, struct fault_plan *p, char *err,
                     size_t errlen);
/* One line that names the schedule (for "replay with ..." messages). */
size_t byzzfuzz_format(const struct byzzfuzz_schedule *s, char *out, size_t cap);

/* ------------------------------------------------------------------ */
/* The fault actor: one per faulty replica, between its node and the    */
/* transport. The host hands it every encoded message the node sends    */
/* (replica and client destinations) and calls tick regularly (every    */
/* 10 ms or so); the actor calls emit for each message that goes out.    */
/* ------------------------------------------------------------------ */
typedef void (*fault_emit_fn)(void *ctx, uint32_t dest, const uint8_t *msg, size_t len,
                              uint64_t delay_ms);
/* Sign `region` as this replica under `domain` (the message type), like
 * bft_env.sign. */
typedef void (*fault_sign_fn)(void *ctx, uint32_t domain, const uint8_t *region, size_t len,
                              uint8_t sig[BFT_SIG_LEN]);
/* Or: sign a whole encoded message in place (set its signature), like the
 * simulator's sim_sign_as(s, r, msg, len). */
typedef void (*fault_sign_encoded_fn)(void *ctx, uint8_t *msg, size_t len);

struct fault_actor_config {
    const struct fault_plan *plan; /* this replica's entries and params are copied */
    int protocol;
    uint32_t n, f, self;
    uint64_t cluster_id;
    uint32_t request_timeout_ms;              /* the cores' base timeout (slow) */
    struct crypto_keypair key;                /* the replica's real key (default signer) */
    fault_sign_fn sign;                       /* NULL: crypto_sign_msg(key, type, cluster) */
    fault_sign_encoded_fn sign_encoded;       /* used instead of sign when set */
    void *sign_ctx;                           /* for sign / sign_encoded */
    const struct byzzfuzz_schedule *byzzfuzz; /* copied; needed for byzzfuzz */
};

struct fault_actor_stats {
    uint64_t seen;        /* messages handed to outgoing */
    uint64_t passed;      /* sent unchanged */
    uint64_t dropped;     /* silent, withhold, ... */
    uint64_t rewritten;   /* mutated, re-signed or not */
    uint64_t equivocated; /* conflicting variants sent */
    uint64_t injected;    /* spontaneous: junk, flood, replay */
};

struct fault_actor;
int fault_actor_create(struct fault_actor **out, const struct fault_actor_config *cfg, char *err,
                       size_t errlen);
void fault_actor_destroy(struct fault_actor *a);
/* One outgoing encoded message to dest (replica id, or FAULT_CLIENT | id)
 * -> 0..k calls of emit, synchronously; the emitted bytes are borrowed for
 * the call. Messages the actor cannot decode pass unchanged. */
void fault_actor_outgoing(struct fault_actor *a, uint64_t now_ms, uint32_t dest, const uint8_t *msg,
                          size_t len, fault_emit_fn emit, void *ctx);
/* Spontaneous traffic (junk, flood, replay), bounded per call. */
void fault_actor_tick(struct fault_actor *a, uint64_t now_ms, fault_emit_fn emit, void *ctx);
bool fault_actor_active(const struct fault_actor *a, uint64_t now_ms, int behaviour);
void fault_actor_stats(const struct fault_actor *a, struct fault_actor_stats *out);

/* ------------------------------------------------------------------ */
/* The network filter: one per process (bftd: applied to its own sends;  */
/* simulator: one for the whole network).                                */
/* ------------------------------------------------------------------ */
enum fault_net_reason {
    FAULT_NET_DELIVER = 0,
    FAULT_NET_DROP_PARTITION = 1,
    FAULT_NET_DROP_LOSS = 2,
    FAULT_NET_DROP_TWIN = 3,
};
struct fault_net_verdict {
    uint32_t copies;      /* 0: dropped, 1, or 2 (duplicated) */
    uint64_t delay_ms[2]; /* per copy */
    int reason;           /* FAULT_NET_* */
};
struct fault_net_stats {
    uint64_t delivered, dropped_partition, dropped_loss, dropped_twin;
    uint64_t duplicated, reordered, delayed;
};
struct fault_net;
int fault_net_create(struct fault_net **out, const struct fault_plan *p);
void fault_net_destroy(struct fault_net *fn);
/* This process runs instance `instance` (0/1) of twin replica `self`: its
 * sends to the other side's peers are dropped while the twin is active. */
void fault_net_set_twin(struct fault_net *fn, uint32_t self, uint32_t instance);
/* from/to: replica ids, or FAULT_CLIENT | client id. */
void fault_net_decide(struct fault_net *fn, uint32_t from, uint32_t to, uint64_t now_ms,
                      struct fault_net_verdict *v);
void fault_net_stats(const struct fault_net *fn, struct fault_net_stats *out);

/* ------------------------------------------------------------------ */
/* Twins scenarios (Bano et al., "Twins: BFT Systems Made Robust",       */
/* OPODIS'21 §4): identities 0..n-1 are the replicas and identity n is   */
/* the second instance of replica `twin`. A scenario gives, for each of  */
/* R rounds, a partition of the n+1 identities (links between different  */
/* groups are cut) and that round's leader. Scenarios are enumerated in  */
/* a fixed order (partitions as restricted-growth strings), so index i   */
/* is the same scenario everywhere.                                      */
/* ------------------------------------------------------------------ */
#define TWINS_MAX_IDS 8 /* n + 1 identities, so n <= 7 */
#define TWINS_MAX_ROUNDS 8
#define TWINS_MAX_PARTITIONS 4140 /* Bell(8) */

struct twins_config {
    uint32_t n, twin;
    uint32_t rounds;     /* 1..TWINS_MAX_ROUNDS */
    uint32_t max_groups; /* groups per partition, 1..n+1 (the paper uses 2) */
    bool fixed_leaders;  /* leader of round r is r mod n (the protocol's own
                          * rotation): only partitions vary */
    uint32_t round_ms;   /* how long a round lasts in the host */
};
struct twins_round {
    uint32_t n_groups;
    uint32_t group[TWINS_MAX_IDS]; /* identity masks */
    uint32_t leader;               /* replica id */
};
struct twins_scenario {
    uint64_t index;
    uint32_t n, twin, rounds, round_ms;
    struct twins_round round[TWINS_MAX_ROUNDS];
};
struct twins_gen {
    struct twins_config cfg;
    uint32_t n_partitions;
    uint64_t count;
    uint8_t rgs[TWINS_MAX_PARTITIONS][TWINS_MAX_IDS];
};
int twins_gen_init(struct twins_gen *g, const struct twins_config *c, char *err, size_t errlen);
uint64_t twins_count(const struct twins_gen *g);
/* Scenario number index (< count). BFT_E_INVALID if out of range. */
int twins_scenario_at(const struct twins_gen *g, uint64_t index, struct twins_scenario *out);
/* Scenario picked from a seed (index = hash(seed) mod count). */
void twins_scenario_sample(const struct twins_gen *g, uint64_t seed, struct twins_scenario *out);
bool twins_scenario_valid(const struct twins_scenario *s);
/* Replica id of an identity (n -> twin). */
uint32_t twins_identity_replica(const struct twins_scenario *s, uint32_t ident);
/* Round in force at now_ms (the last round stays in force after the end). */
uint32_t twins_round_at(const struct twins_scenario *s, uint64_t now_ms);
/* May identity a send to identity b in round r? */
bool twins_can_talk(const struct twins_scenario *s, uint32_t round, uint32_t a, uint32_t b);
/* "r0 L0 {0,1,4}{2,3} | r1 ...": for failure reports. */
size_t twins_scenario_format(const struct twins_scenario *s, char *out, size_t cap);

#endif
