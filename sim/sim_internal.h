/* sim: private structures shared by the simulator's files. */
#ifndef BFT_SIM_INTERNAL_H
#define BFT_SIM_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "node/node.h"
#include "client/client.h"
#include "sim/sim.h"
#include "store/store.h"

/* ---- PRNG: xoshiro256** seeded through splitmix64 (never rand()). ---- */
struct sim_rng {
    uint64_t s[4];
};
void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream);
uint64_t sim_rng_next(struct sim_rng *r);
uint64_t sim_rng_below(struct sim_rng *r, uint64_t bound);           /* [0, bound), bound > 0 */
uint64_t sim_rng_range(struct sim_rng *r, uint64_t lo, uint64_t hi); /* [lo, hi] */
bool sim_rng_ppm(struct sim_rng *r, uint32_t ppm);                   /* true with ppm/1e6 */

/* ---- Event heap: earliest (at_us, order) first. ---- */
enum sim_ev_kind {
    SIM_EV_DELIVER = 1, /* message bytes to an endpoint */
    SIM_EV_TIMER,       /* replica timer */
    SIM_EV_CLIENT_TICK, /* client retransmission deadline */
    SIM_EV_CLIENT_LOAD, /* client submits up to its outstanding limit */
    SIM_EV_ACTION,      /* scripted or profile action */
};

struct sim_event {
    uint64_t at_us;
    uint64_t order; /* insertion sequence: the fixed tie-break */
    uint8_t kind;
    uint8_t from_ep, to_ep;
    uint32_t incarnation; /* of the target replica when queued */
    uint32_t arg;         /* timer id */
    uint32_t len;
    uint8_t *data; /* owned message bytes */
    sim_action_fn fn;
    void *ctx;
};

struct sim_heap {
    struct sim_event *ev;
    size_t len, cap;
    uint64_t next_order;
};
void sim_heap_free(struct sim_heap *h);
int sim_heap_push(struct sim_heap *h, struct sim_event *e); /* sets e->order */
bool sim_heap_pop(struct sim_heap *h, struct sim_event *out);

/* ---- Replicas. ---- */
struct sim_timer {
    bool armed;
    uint64_t deadline_us;
    bool queued; /* a heap event for it is pending at queued_us */
    uint64_t queued_us;
};

struct sim_wal_rec {
    uint8_t *p;
    uint32_t len;
};

struct sim_replica {
    struct sim *sim;
    uint32_t id;           /* replica id (a twin instance shares its twin's id) */
    uint32_t ep;           /* endpoint: index in sim.rep (id, or n + k for twin instance k) */
    struct bft_node *node; /* NULL while crashed */
    uint32_t incarnation;
    bool honest;
    bool amnesiac; /* restarted with empty state during the fault phase */
    struct sim_behaviour behaviour;
    struct bft_host host;
    struct sim_timer timers[SIM_TIMERS_MAX];
    struct sim_wal_rec *wal;
    size_t wal_len, wal_cap, wal_bytes;
    size_t synced_len;   /* WAL records covered by the last sync */
    bool pushed;         /* this step sent ahead of its sync (host push) */
    uint64_t torn_armed; /* sim_crash_in_sync: when it was asked (0: not) */
    bool doomed;         /* crashed in a sync; the crash event is queued */
    /* Durable snapshots (docs/storage.md), kept like bftd keeps its files;
     * the WAL is compacted against them once it passes
     * SIM_WAL_COMPACT_BYTES, so restarts recover from compacted WALs. */
    struct bft_snapfile snaps[BFT_SNAPFILE_KEEP];
    uint32_t n_snaps;
    uint64_t compact_base;
    /* The snapshot policy's inputs (bft_snapshot_due): WAL bytes since the
     * last saved snapshot, its size, and how many this incarnation saved;
     * none is saved while the WAL replays (as in bftd). */
    uint64_t since_snap, last_snap_len, snaps_taken;
    bool replaying;
    uint64_t exec_min;    /* checker: lowest seq this incarnation may execute next */
    uint64_t apply_min;   /* checker: lowest seq this incarnation may apply next */
    uint64_t sent_window; /* messages sent since the last profile tick */
    uint64_t exec_us;     /* checker: when this incarnation last executed a batch */
    bool exec_ever;
};

#define SIM_CLIENT_PENDING_MAX 64
struct sim_client {
    struct sim *sim;
    uint32_t id;
    struct bft_client *cl;
    struct crypto_keypair key;
    uint64_t next_order_id;
    struct {
        uint64_t order_id, order_seq; /* order_seq 0 = no result yet */
    } recent[8];                      /* earlier orders: deliberate retries reuse their ids */
    uint32_t n_recent, recent_next;
    struct {
        uint64_t req_no, order_id;
    } pending[SIM_CLIENT_PENDING_MAX];
    uint32_t n_pending;
    uint64_t last_req_no;
    uint64_t completed;
    /* Read-only LOOKUPs in flight (bft_client_read): the order looked up
     * and when the read was issued; `ordered` is the request number of its
     * ordered fallback once registered with the checker (0 before). */
    struct {
        uint64_t id, issued_us, issued_ev, ordered;
        int level;         /* enum bft_read_level */
        uint32_t client;   /* whose order */
        uint64_t order_id; /* client_order_id looked up */
    } reads[SIM_CLIENT_READS_MAX];
    uint32_t n_reads;
    uint64_t reads_completed;
    uint64_t tick_at_us; /* queued tick, 0 = none */
    bool load_queued;
};

/* ---- Checker state. ---- */
struct sim_seq_rec {
    bool set;
    bft_digest batch, state;
};
struct sim_req_rec {
    uint32_t client; /* UINT32_MAX = empty slot */
    uint64_t req_no;
    uint64_t seq;     /* applied at (0 = not yet) */
    uint64_t op_hash; /* FNV-1a over the op bytes */
    uint32_t op_len;
    uint32_t applied_mask; /* replicas that applied it in this incarnation */
};
/* One order (client, client_order_id) for the read checker, indexed by the
 * low 40 bits of the client_order_id the simulated client gave it. Times
 * are virtual us, UINT64_MAX = never. */
struct sim_order_rec {
    uint64_t commit_us;             /* first applied (status OK) by an honest replica */
    uint64_t visible_us;            /* acknowledged to a client, or found by a completed read */
    uint64_t commit_ev, visible_ev; /* the same on the checker's logical clock */
    uint64_t order_seq;             /* the number the order router gave it */
};
struct sim_checker {
    uint64_t lclock; /* ticks at each commit, ack, read issue and read return */
    struct sim_order_rec *orders[SIM_MAX_CLIENTS];
    size_t orders_cap[SIM_MAX_CLIENTS];
    struct sim_seq_rec *seqs;
    size_t seq_cap;
    uint64_t max_seq;
    struct sim_req_rec *reqs;
    size_t req_cap, req_len;
};

struct sim_rule_slot {
    bool used;
    struct sim_rule r;
    uint64_t hits;
};

struct sim {
    struct sim_options o;
    uint32_t f;
    uint64_t seed;
    uint64_t now_us;
    struct sim_heap heap;
    struct sim_rng net_rng, client_rng;
    struct sim_net_params net;
    uint32_t cut[BFT_MAX_REPLICAS]; /* cut[from] bit to: link from -> to dropped */
    struct sim_rule_slot rules[SIM_RULES_MAX];
    sim_tap_fn tap;
    void *tap_ctx;
    uint64_t inflight;
    struct sim_replica rep[BFT_MAX_REPLICAS];
    struct sim_client cli[SIM_MAX_CLIENTS];
    bool load_on;
    struct bft_node_config node_cfg; /* template; self fields set per replica */
    struct crypto_keypair rep_key[BFT_MAX_REPLICAS];
    uint8_t client_pk[SIM_MAX_CLIENTS][CRYPTO_PK_LEN];
    struct sim_checker chk;
    uint8_t *order_seen; /* bitmap of order_seqs returned with status OK */
    size_t order_seen_bits;
    struct sim_stats st;
    /* Byzantine faults (byzantine.c). */
    bool faults_on;
    uint64_t plan_t0_us;
    bool have_plan;
    struct fault_plan plan;
    struct fault_net *fnet;
    struct fault_actor *actor[BFT_MAX_REPLICAS]; /* by replica id */
    int twin_ep[BFT_MAX_REPLICAS];               /* second instance's endpoint, or -1 */
    uint32_t n_twin_slots;                       /* slots n .. n + n_twin_slots - 1 used */
    bool twins_mode;                             /* Twins generator scenario */
    struct twins_scenario twins;
    uint64_t twin_cut;
    bool failed;
    bool violated; /* the failure is a safety invariant (sim_violation) */
    char reason[SIM_REASON_LEN];
};

void sim_log(const struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* network.c */
void sim_net_send(struct sim *s, int from_ep, int to_ep, const uint8_t *msg, size_t len);
void sim_net_deliver(struct sim *s, struct sim_event *e);
uint8_t sim_msg_type(const uint8_t *msg, size_t len); /* 0 if too short */

/* byzantine.c */
/* A message from endpoint from_ep to a replica id or client endpoint:
 * through the sender's fault actor, then routed to every instance. */
void sim_byz_send(struct sim *s, int from_ep, int to, const uint8_t *msg, size_t len);
void sim_byz_free(struct sim *s);
/* profile_byz.c: the plan / Twins / ByzzFuzz schedule of a seed. */
int sim_byz_profile_setup(struct sim *s, const struct sim_options *o, uint64_t seed,
                          uint64_t phase_us, char *err, size_t errlen);
uint32_t sim_ep_replica(const struct sim *s, int ep);
/* Twin/Twins filter: may endpoint a send to endpoint b now? */
bool sim_byz_can_talk(struct sim *s, int from_ep, int to_ep);
/* network.c: one copy onto the wire after every filter, extra delay added. */
void sim_net_wire(struct sim *s, int from_ep, int to_ep, const uint8_t *msg, size_t len,
                  uint64_t extra_us);

/* replica.c */
int sim_replica_start(struct sim *s, uint32_t r, bool replay_wal);
void sim_replica_timer(struct sim *s, struct sim_event *e);
void sim_wal_free(struct sim_replica *rp);
/* Between steps: compact rp's WAL against its newest snapshot once it
 * passed SIM_WAL_COMPACT_BYTES (docs/storage.md). */
void sim_replica_compact(struct sim_replica *rp);
/* A copy of src's durable snapshots into dst (a Twin's cloned disk). */
int sim_snaps_copy(struct sim_replica *dst, const struct sim_replica *src);

/* clients.c */
int sim_clients_create(struct sim *s);
void sim_clients_destroy(struct sim *s);
void sim_client_event(struct sim *s, struct sim_event *e);
void sim_client_receive(struct sim *s, uint32_t c, const uint8_t *msg, size_t len);
int sim_client_register(struct sim *s, uint32_t c, uint64_t req_no, const uint8_t *op, size_t len);

/* checker.c */
void sim_checker_free(struct sim_checker *c);
int sim_check_submitted(struct sim *s, uint32_t client, uint64_t req_no, const uint8_t *op,
                        size_t len);
void sim_check_execute(struct sim *s, uint32_t r, uint64_t seq, const bft_digest *batch,
                       const bft_digest *state);
void sim_check_apply(struct sim *s, uint32_t r, uint32_t client, uint64_t req_no, uint64_t seq,
                     const uint8_t *op, size_t len);
void sim_check_new_incarnation(struct sim *s, uint32_t r);
/* Orders and reads (linearizability of LOOKUPs against NEW orders). */
void sim_check_result(struct sim *s, uint32_t r, uint32_t client, const uint8_t *op, size_t op_len,
                      const uint8_t *res, size_t res_len);
void sim_check_order_acked(struct sim *s, uint32_t client, uint64_t order_id, uint64_t order_seq);
/* Replica r sends client c a REPLY (encoded): a local read's answer must
 * come from a replica that executed within the read's bound. */
void sim_check_local_answer(struct sim *s, uint32_t r, uint32_t c, const uint8_t *msg, size_t len);
void sim_check_read(struct sim *s, uint32_t reader, int level, uint32_t client, uint64_t order_id,
                    uint64_t issued_us, uint64_t issued_ev, const uint8_t *res, size_t res_len);

#endif
