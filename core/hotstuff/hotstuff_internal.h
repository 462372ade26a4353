/* Private to the chained HotStuff core (hotstuff*.c). Yin, Malkhi, Reiter,
 * Gueta, Abraham, "HotStuff: BFT Consensus with Linearity and
 * Responsiveness", PODC'19: §5 chained HotStuff, Algorithm 3; the pacemaker
 * (left abstract in §4.4/§5) follows the timeout-certificate design of
 * LibraBFT/DiemBFT. docs/hotstuff.md explains the rules.
 *
 * The core is pure: it acts only through struct bft_io effects and struct
 * bft_env services (core/core.h). Everything is bounded: a block store of
 * HS_BLOCKS_MAX blocks, HS_VOTE_VIEWS votes per replica, one timeout per
 * replica, HS_FETCH_MAX outstanding block fetches, HS_PENDING_MAX queued
 * client requests.
 *
 * Blocks. The leader of view v is hs_leader (hotstuff_leader.c). A block
 * is (view, height, parent, batch digest, justify QC); parent is always justify's block (Algorithm
 * 3 createLeaf(qc_high.node, ...)), so height = justify.height + 1. Genesis is height 0, view 0,
 * digest all-zero, certified by the genesis QC (view 0, no signatures). Block digest = SHA-256(view
 * | height | parent | batch digest | justify.view | justify.height | justify.block), u64 LE. Every
 * committed block gets execution seq = its height.
 *
 * Wire layouts: hotstuff_wire.h, the typed codec (hotstuff_wire.c).
 */
#ifndef BFT_HOTSTUFF_INTERNAL_H
#define BFT_HOTSTUFF_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "core/hotstuff/hotstuff.h"
#include "core/grow.h"
#include "core/pending.h"
#include "core/hotstuff/hotstuff_wire.h"
#include "core/timeout.h"
#include "wire/bytes.h"

/* Timer ids. */
#define HS_TIMER_VIEW 1    /* pacemaker: view timeout, then timeout resends */
#define HS_TIMER_FETCH 2   /* block fetch retries */
#define HS_TIMER_STATE 3   /* state transfer retries */
#define HS_TIMER_RESEND 4  /* leader: retransmit the proposal once */
#define HS_TIMER_REQUEST 5 /* the oldest pending request is not committing */
#define HS_TIMER_MONITOR 6 /* leader performance monitor tick (hotstuff_monitor.c) */

/* Bounds. */
#define HS_BLOCKS_MAX 1024
/* The store's slots come in chunks allocated as slots are first used:
 * blocks never move (they are held by pointer), and a replica that holds
 * a few blocks does not allocate the whole table. */
#define HS_BLOCK_CHUNK 64
_Static_assert(HS_BLOCKS_MAX % HS_BLOCK_CHUNK == 0, "whole chunks");
#define HS_BUCKETS 2048    /* power of two */
#define HS_HISTORY_MIN 256 /* committed blocks kept for laggards */
/* Votes kept per replica: one per view, for the 5 views (ours +- 2) votes
 * are accepted for; a power of two above 5, indexed by view. */
#define HS_VOTE_VIEWS 8
/* Votes kept per replica and view: its first and one other (an
 * equivocating voter's; hotstuff_qc.c). */
#define HS_VOTE_ALTS 2
#define HS_SEEN_MAX 8 /* proposals remembered per view for equivocation */
#define HS_QC_CACHE 8 /* recently verified QCs */
#define HS_TC_CACHE 4 /* recently verified TCs */
#define HS_FETCH_MAX 16
#define HS_SYNC_BATCH 32   /* blocks answered per HS_BLOCK_REQ */
#define HS_RESEND_MAX 3    /* retransmissions of a proposal without its QC */
#define HS_SYNC_BUDGET 512 /* blocks sent to one peer between refills */
#define HS_PENDING_MAX 4096
/* The pending table starts at this many entries, allocated with the first
 * request, and doubles up to HS_PENDING_MAX as the queue fills. */
#define HS_PENDING_FIRST 64
#define HS_PENDING_BUCKET_BITS 13
#define HS_PENDING_BUCKETS (1u << HS_PENDING_BUCKET_BITS) /* hash buckets */
/* Bytes held by queued requests: as PBFT_PENDING_BYTES_MAX (issue 14). */
#define HS_PENDING_BYTES_MAX (16u << 20)
/* Per-client share of the pending table (core/client_quota.h): at least
 * this many requests and bytes, whatever the number of clients. */
#define HS_PENDING_CLIENT_MIN 64
#define HS_PENDING_CLIENT_MIN_BYTES (1u << 20)
#define HS_BACKOFF_MAX 3 /* a view waits at most 8x the base timeout */
#define HS_LEADER_VIEWS_MAX 4096
/* Leader reputation: views per epoch (a multiple of every W) and the most
 * replicas an epoch skips. */
#define HS_EPOCH_VIEWS 65536ull
#define HS_EXCLUDE_MAX 3u
#define HS_STUCK_VIEWS 2 /* others' timeouts this many views back still count */
/* Leader performance monitor (hotstuff_monitor.c, docs/hotstuff.md). */
#define HS_MON_TICK_DIV 20     /* a monitor tick is T/20 */
#define HS_MON_WINDOW 2        /* ticks per measurement window (T/10) */
#define HS_MON_MIN_SAMPLES 1   /* samples a window needs to be judged */
#define HS_MON_FP 256          /* window means are kept in 1/256 ticks */
#define HS_MON_GRACE 1         /* windows of a new leader term not judged */
#define HS_MON_FLOOR 64        /* the bar never tightens below 1/4 tick (T/80), in 1/256 */
#define HS_MON_FLOOR_FRESH 256 /* nor below 1 tick (T/20) without a history */
#define HS_MON_STRIKES 2       /* consecutive windows over the bar to give up */
#define HS_MON_TERMS 4         /* leader terms whose mean wait is remembered */
/* WAL records (first byte):
 * VOTE:   u64 view | u64 height | block  (last voted view; a zero block
 *         marks a view we proposed in without voting)
 * LOCK:   QC (the locked QC)
 * COMMIT: u64 view | u64 height | parent | batch digest | QC justify
 *         | u32 batch_len | batch   (a committed block, in commit order)
 * SNAP:   u64 seq | block | state | u32 len | snapshot  (state restored
 *         by state transfer; older WALs)
 * SNAP_PART: u64 seq | u32 offset | bytes   (a piece of a snapshot)
 * SNAP_END:  u64 seq | block | state | u32 len  (restore the snapshot the
 *         preceding SNAP_PARTs of that seq assembled) */
enum {
    HS_REC_VOTE = 1,
    HS_REC_LOCK = 2,
    HS_REC_COMMIT = 3,
    HS_REC_SNAP = 4,
    HS_REC_BLOCK = 5,
    HS_REC_SNAP_PART = 6,
    HS_REC_SNAP_END = 7,
    HS_REC_BASE = 8 /* u64 height | block: the durable snapshot (docs/storage.md) */
};
/* A VOTE or LOCK record, at most (a LOCK is the tag and a QC). */
#define HS_REC_MAX (1 + HS_QC_WIRE_MAX + 64)
/* The bound of the record scratch (c->rec): a COMMIT or BLOCK record with
 * a full batch, or a SNAP_PART of HS_STATE_CHUNK bytes. */
#define HS_REC_BIG ((size_t)BFT_PAYLOAD_MAX + 4096)
/* A COMMIT / BLOCK record without its batch, at most. */
#define HS_BLOCK_REC_FIXED (1 + 8 + 8 + 2 * CRYPTO_DIGEST_LEN + HS_QC_WIRE_MAX + 4)
#define HS_SNAP_PART_REC_MAX (1 + 8 + 4 + HS_STATE_CHUNK)
_Static_assert(HS_BLOCK_REC_FIXED + BFT_PAYLOAD_MAX <= HS_REC_BIG, "a full block fits a record");
_Static_assert(HS_SNAP_PART_REC_MAX <= HS_REC_BIG, "a snapshot part fits a record");

struct hs_block {
    bool used, connected, committed;
    bool proposal; /* arrived as its view's proposal: eligible for a vote */
    bool spec;     /* an ancestor sent unasked: trusted once a trusted child
                      names it as parent */
    uint64_t view, height;
    bft_digest digest, parent, batch_digest;
    struct hs_qc justify;
    uint8_t *batch; /* kept across reuse of the slot */
    uint32_t batch_len, batch_cap;
    uint32_t from; /* who sent it: first peer to ask for its ancestors */
    int32_t hnext;
    int32_t idx; /* its slot (hs_blk) */
};

/* One replica's vote in one view (hotstuff_qc.c). */
struct hs_vote_rec {
    bool used;
    uint64_t view, height;
    bft_digest block;
    uint8_t sig[BFT_SIG_LEN];
};

struct hs_timeout_rec {
    bool valid;
    uint64_t view, hqc_view;
    uint8_t sig[BFT_SIG_LEN];
};

struct hs_fetch {
    bool used;
    bft_digest digest;
    uint32_t peer; /* next peer to ask */
    uint32_t tries;
};

/* State transfer: what one peer offered (its snapshot's first chunk). */
struct hs_offer {
    uint32_t nclaims;
    struct hs_claim claims[HS_CLAIMS];
    struct hs_claim snap; /* seq 0: none */
    uint32_t snap_total;  /* whole snapshot length */
    uint8_t *snap_buf;
    uint32_t snap_len, snap_cap;
};

/* A snapshot being assembled chunk by chunk from one replica (or from
 * SNAP_PART records on recovery). */
struct hs_assembly {
    bool on, progress;
    uint32_t src;
    struct hs_claim claim;
    uint32_t total, len, cap;
    uint8_t *buf;
};

/* Leader performance monitor state (hotstuff_monitor.c). */
struct hs_monitor {
    struct bft_timeout timer; /* HS_TIMER_MONITOR, the tick */
    bool complain;            /* giving up on every view of the current leader term */
    bool started;             /* the clock runs for `view`: entered it with work */
    bool after_tc;            /* term entered by a TC, no proposal of it yet */
    uint64_t ms;              /* tick period, T / HS_MON_TICK_DIV */
    uint64_t tick;
    uint64_t view, start_tick; /* when we entered `view` (with work) */
    uint64_t term;             /* view / W of the term measured */
    uint32_t leader;           /* its leader */
    uint32_t win_ticks, nsamples;
    uint64_t lag_sum; /* ticks waited for the window's proposals */
    uint32_t windows, bad, allowed;
    uint64_t term_lag, term_n;   /* this term's judged windows: ticks waited, samples */
    uint32_t past[HS_MON_TERMS]; /* mean wait per view of earlier terms (1/HS_MON_FP ticks) */
    uint32_t past_next;
    uint64_t complaints;
};

/* Pacemaker (hotstuff_pacemaker.c; §4.4 leaves it abstract, the design
 * follows LibraBFT/DiemBFT's timeout certificates). */
struct hs_pacemaker {
    bool timed_out;                /* sent HS_TIMEOUT for `view` */
    struct bft_timeout view_timer; /* HS_TIMER_VIEW */
    uint32_t backoff;              /* views given up since the last commit */
    uint64_t view_changes;         /* views entered through timeouts */
};

/* Per-request timer (hotstuff_pacemaker.c): the oldest pending request we
 * watch, whether we forwarded it, and whether we refuse the current
 * leader's window until it commits or a TC ends the window. */
struct hs_req_timer {
    struct bft_timeout timer; /* HS_TIMER_REQUEST */
    bool forwarded, complain;
    uint32_t client;
    uint64_t req_no;
};

/* Recently verified certificates, whole (signatures included): a QC or
 * TC matches only if it is the same copy, so an unverified copy with the
 * same (view, height, block) is never taken for a verified one. */
struct hs_cert_cache {
    struct hs_qc qc[HS_QC_CACHE];
    uint32_t qc_next;
    struct hs_tc tc[HS_TC_CACHE];
    uint32_t tc_next;
};

/* Block sync (hotstuff_sync.c). */
struct hs_sync {
    struct hs_fetch fetch[HS_FETCH_MAX];
    struct bft_timeout timer;          /* HS_TIMER_FETCH */
    uint32_t budget[BFT_MAX_REPLICAS]; /* blocks we still send each peer */
    uint32_t resume_peer;              /* hs_sync_resume asks peers in turn */
};

/* State transfer (hotstuff_state.c). */
struct hs_state_xfer {
    bool active;
    struct bft_timeout timer; /* HS_TIMER_STATE */
    bool exec_blocked;
    struct hs_offer offers[BFT_MAX_REPLICAS];
    struct hs_claim claims[HS_CLAIMS]; /* own recent checkpoint claims */
    uint32_t claims_next;
    struct hs_assembly assembly;
    bool snap_wanted;
    uint64_t snap_wanted_at;
    uint32_t snap_askers; /* replicas to send the wished snapshot to */
    uint64_t snap_ask_seq[BFT_MAX_REPLICAS];
    struct hs_claim snap; /* our snapshot */
    uint8_t *snap_buf;
    size_t snap_len, snap_cap;
};

struct bft_core {
    struct bft_core_config cfg;
    struct bft_env env;
    struct bft_io io;
    uint32_t n, f, quorum, self;
    uint32_t leader_views; /* W: consecutive views per leader (>= 1) */
    uint64_t history;      /* committed blocks kept below the root */

    /* Voting state (Algorithm 3 vheight/b_lock/qc_high). */
    uint64_t view;
    uint64_t last_voted_view; /* persisted */
    uint64_t read_floor;      /* height two below the highest block we voted for */
    struct hs_qc high_qc;
    struct hs_qc locked_qc; /* persisted */
    struct hs_tc high_tc;
    uint64_t proposed_view;
    struct {
        bool valid;
        uint64_t view, height;
        bft_digest block;
    } my_vote;
    struct hs_pacemaker pm;
    struct hs_req_timer req_timer;
    struct {
        uint64_t view; /* our last proposal, retransmitted until its QC */
        bft_digest block;
        uint32_t sent; /* copies sent again (at most HS_RESEND_MAX) */
    } resend;

    /* The last committed (and executed) block: the root of the tree. */
    uint64_t root_height, root_view;
    bft_digest root;
    bft_digest last_state; /* the state digest after the root */

    struct {
        uint64_t view;
        bft_digest digest;
    } seen[HS_SEEN_MAX];
    struct hs_cert_cache cache;

    struct hs_block *block_chunk[HS_BLOCKS_MAX / HS_BLOCK_CHUNK]; /* NULL until used */
    int32_t *bucket;
    uint32_t n_blocks, n_unconnected;
    uint32_t blocks_hwm; /* slots [0, blocks_hwm) have been used; all above are free */
    uint32_t gc_tick;

    /* Votes collected, per voter, slot view % HS_VOTE_VIEWS: a replica
     * only ever occupies its own (issue 12). */
    struct hs_vote_rec votes[BFT_MAX_REPLICAS][HS_VOTE_VIEWS][HS_VOTE_ALTS];
    /* Timeouts collected, per sender, slot view % 2: a replica's timeouts
     * for two consecutive views coexist, because a replica that voted in v
     * (and so entered v + 1) joins the others' timeouts for v
     * (hotstuff_pacemaker.c, "Split views"). */
    struct hs_timeout_rec to[BFT_MAX_REPLICAS][2];

    struct hs_sync sync;
    struct bft_pending pend;
    struct hs_state_xfer st;
    struct hs_monitor mon;

    bool post_recover;
    /* Scratch buffers. They start empty and grow on demand up to the
     * bounds of what is written into them (docs/architecture.md
     * "Bounds"), so a replica holds only what its messages needed: */
    struct bft_buf body;  /* bodies we send, up to the type's bound (HS_*_BODY_MAX) */
    struct bft_buf batch; /* the batch we propose, up to BFT_PAYLOAD_MAX */
    struct bft_buf rec;   /* COMMIT / BLOCK / SNAP_* records, up to HS_REC_BIG */
};

/* ---- helpers (hotstuff.c) ---- */
/* Leaders (hotstuff_leader.c). Without reputation, leader windows: views
 * [kW, (k+1)W) belong to replica k mod n, W = leader_views, and a TC for
 * view v moves everyone to the first view of the next window. With
 * reputation, the view number also names up to min(f, HS_EXCLUDE_MAX)
 * replicas that are skipped (leaders whose turn ended in a TC), and a TC
 * moves everyone to a later epoch that skips its view's leader too. Both
 * are functions of the view alone, so every replica agrees on them. */
uint32_t hs_leader(const struct bft_core *c, uint64_t view);
uint64_t hs_view_after_tc(const struct bft_core *c, uint64_t tc_view);
/* TC(a) leads to a later view than TC(b) (ties: the later TC). */
bool hs_tc_leads_further(const struct bft_core *c, uint64_t a_view, uint64_t b_view);
/* Slot i of the block store; its chunk must exist (i < blocks_hwm). */
static inline struct hs_block *hs_blk(const struct bft_core *c, int32_t i)
{
    return &c->block_chunk[i / HS_BLOCK_CHUNK][i % HS_BLOCK_CHUNK];
}
static inline bool hs_deq(const bft_digest *a, const bft_digest *b)
{
    return memcmp(a->b, b->b, sizeof a->b) == 0;
}
static inline bool hs_is_zero(const bft_digest *d)
{
    static const bft_digest zero;
    return hs_deq(d, &zero);
}
/* Replica i's timeout for the highest view it timed out (NULL: none). */
static inline const struct hs_timeout_rec *hs_to_high(const struct bft_core *c, uint32_t i)
{
    const struct hs_timeout_rec *a = &c->to[i][0], *b = &c->to[i][1];
    if (!a->valid) return b->valid ? b : NULL;
    return b->valid && b->view > a->view ? b : a;
}
static inline void hs_reject(struct bft_core *c, int reason)
{
    c->io.reject(c->io.ctx, reason);
}
/* The body scratch with room for `need` bytes (a HS_*_BODY_MAX bound);
 * NULL if out of memory: the caller skips the send, as a lossy network
 * would drop it. */
static inline uint8_t *hs_body(struct bft_core *c, size_t need)
{
    return bft_buf_reserve(&c->body, need, BFT_BODY_MAX);
}
bool hs_has_work(struct bft_core *c);

/* ---- block store (hotstuff_block.c) ---- */
int hs_store_init(struct bft_core *c);
void hs_store_free(struct bft_core *c);
struct hs_block *hs_block_get(struct bft_core *c, const bft_digest *d);
/* Insert a parsed block (copies the batch); NULL if the store is full of
 * blocks it must keep. */
struct hs_block *hs_block_insert(struct bft_core *c, const struct hs_wire_block *w, uint32_t from);
/* A stored block as the codec sends it (no TC; the batch is borrowed). */
void hs_wire_block_of(const struct hs_block *b, struct hs_wire_block *w);
/* A block is connected when its parent chain reaches the root. Marks b and
 * every stored descendant that now connects, and processes them in height
 * order (hs_on_connected). */
void hs_block_try_connect(struct bft_core *c, struct hs_block *b);
void hs_store_reconnect(struct bft_core *c);
/* Drop dead forks and committed blocks older than the kept history. */
void hs_store_gc(struct bft_core *c);
/* Is `b` a descendant of (or equal to) the block `anc` at height h? */
bool hs_extends(struct bft_core *c, const struct hs_block *b, const bft_digest *anc, uint64_t h);

/* ---- QCs, TCs, votes (hotstuff_qc.c) ---- */
void hs_qc_genesis(struct hs_qc *q);
/* BFT_REJECT_NONE if valid (every signature checked, or the very copy
 * verified before), else the reason. */
int hs_qc_verify(struct bft_core *c, const struct hs_qc *q);
/* Same QC, signatures and all. */
bool hs_qc_same(const struct hs_qc *a, const struct hs_qc *b);
/* BFT_REJECT_NONE if valid, else the reason (as hs_qc_verify). */
int hs_tc_verify(struct bft_core *c, const struct hs_tc *t);
uint64_t hs_tc_max_hqc(const struct hs_tc *t);
/* Region a voter signs: its HS_VOTE header from version on (68 bytes). */
void hs_vote_region(const struct bft_core *c, uint32_t signer, uint64_t view, uint64_t height,
                    const bft_digest *block, uint8_t region[HS_VOTE_REGION_LEN]);
/* Count a verified vote; forms a QC at 2f+1 (then hs_on_qc). */
void hs_vote_add(struct bft_core *c, uint32_t from, uint64_t view, uint64_t height,
                 const bft_digest *block, const uint8_t sig[BFT_SIG_LEN]);
void hs_on_vote(struct bft_core *c, uint32_t from, const struct hs_vote_msg *v);

/* ---- safety and commit (hotstuff_safety.c) ---- */
/* A verified QC: raise qc_high and enter view qc.view + 1. */
void hs_on_qc(struct bft_core *c, const struct hs_qc *q);
void hs_on_proposal(struct bft_core *c, uint32_t from, const struct hs_wire_block *w);
/* The batch of a decoded block binds its digest and holds only
 * client-signed requests (bft_batch_verify): BFT_REJECT_NONE or why not.
 * The node checks this for proposals; block responses need it here. */
int hs_block_check_batch(const struct bft_core *c, const struct hs_wire_block *w);
/* b just became connected: Algorithm 3 update(b), then vote if it is the
 * current view's proposal. */
void hs_on_connected(struct bft_core *c, struct hs_block *b);
void hs_try_propose(struct bft_core *c);
void hs_on_resend_timer(struct bft_core *c);
/* A block entered the store: connect it, or fetch its missing ancestors. */
void hs_block_arrived(struct bft_core *c, struct hs_block *b, uint32_t from, bool send_now);
/* Commit b and its uncommitted ancestors in height order. */
void hs_commit(struct bft_core *c, struct hs_block *b);
/* Execute one block whose parent is the root; it becomes the root. */
void hs_execute_block(struct bft_core *c, struct hs_block *b);

/* ---- pacemaker (hotstuff_pacemaker.c) ---- */
void hs_advance_view(struct bft_core *c, uint64_t view, bool by_timeout);
void hs_timer_update(struct bft_core *c);
uint64_t hs_timeout_ms(const struct bft_core *c);
void hs_on_view_timer(struct bft_core *c);
void hs_on_timeout_msg(struct bft_core *c, uint32_t from, const struct hs_timeout_msg *t);
void hs_on_tc(struct bft_core *c, const struct hs_tc *t);
void hs_request_timer_update(struct bft_core *c);
void hs_on_request_timer(struct bft_core *c);

/* Give up on the current view as if its view timer fired: HS_TIMEOUT(view),
 * no more votes in it (the leader performance monitor). */
void hs_give_up_view(struct bft_core *c);

/* ---- leader performance monitor (hotstuff_monitor.c) ---- */
void hs_monitor_init(struct bft_core *c);
/* Run the tick timer while there is work. */
void hs_monitor_arm(struct bft_core *c);
void hs_monitor_on_timer(struct bft_core *c);
/* We entered c->view; true if we keep giving up on this leader's views. */
bool hs_monitor_enter_view(struct bft_core *c, uint32_t old_leader, bool by_timeout);
/* The current view's leader proposed w (verified, first copy). */
void hs_monitor_on_proposal(struct bft_core *c, const struct hs_wire_block *w);
/* Another replica's timeout for `view` was recorded: line up with the
 * replicas giving up on the same leader's term. */
void hs_monitor_on_timeout(struct bft_core *c, uint64_t view);

/* ---- block sync (hotstuff_sync.c) ---- */
void hs_fetch_want(struct bft_core *c, const bft_digest *d, uint64_t height, uint32_t from,
                   bool send_now);
bool hs_fetch_wanted(const struct bft_core *c, const bft_digest *d);
void hs_fetch_done(struct bft_core *c, const bft_digest *d);
void hs_on_fetch_timer(struct bft_core *c);
void hs_on_block_req(struct bft_core *c, uint32_t from, const struct hs_block_req *q);
void hs_on_block_resp(struct bft_core *c, uint32_t from, const struct hs_wire_block *w);
/* A certified height we are far below: fetch state instead of blocks. */
void hs_note_height(struct bft_core *c, uint64_t height);
void hs_sync_resume(struct bft_core *c);

/* ---- state transfer (hotstuff_state.c) ---- */
void hs_state_start(struct bft_core *c);
void hs_on_state_timer(struct bft_core *c);
void hs_on_state_req(struct bft_core *c, uint32_t from, const struct hs_state_req *q);
void hs_on_state_resp(struct bft_core *c, uint32_t from, const struct hs_state_resp *r);
void hs_state_executed(struct bft_core *c, uint64_t seq, const bft_digest *block,
                       const bft_digest *state);
void hs_state_free(struct bft_core *c);

/* ---- pending client requests (hotstuff_pending.c over core/pending.h) ----
 * Every request stays in the FIFO until its block commits; while a
 * proposal is built, those inside an uncommitted ancestor are marked with
 * the queue's current gen and skipped. */
int hs_pending_init(struct bft_pending *p, uint32_t n_clients);
void hs_pending_free(struct bft_pending *p);
/* BFT_REJECT_NONE if queued or already queued, else BFT_REJECT_OVERLOAD. */
int hs_pending_add(struct bft_pending *p, const struct bft_msg *req);
void hs_pending_clear(struct bft_pending *p);
/* Remove every request of a committed batch. */
void hs_pending_remove_batch(struct bft_pending *p, const uint8_t *batch, uint32_t len);
/* Mark the requests of an uncommitted ancestor batch as in flight for the
 * proposal being built (generation `p->gen`). */
void hs_pending_mark_batch(struct bft_pending *p, const uint8_t *batch, uint32_t len);
/* Build into `out` (grown as needed, up to BFT_PAYLOAD_MAX) a batch of up
 * to max requests not marked in flight; *len gets its length (0: nothing
 * to propose). BFT_E_NOMEM if `out` cannot grow (*len 0). */
int hs_pending_build(struct bft_pending *p, uint32_t max, struct bft_buf *out, uint32_t *len);
uint32_t hs_pending_unmarked(const struct bft_pending *p);
/* The oldest queued request; false if none. */
bool hs_pending_oldest(const struct bft_pending *p, uint32_t *client, uint64_t *req_no);
/* The encoded request, or NULL if it is not queued. */
const uint8_t *hs_pending_get(const struct bft_pending *p, uint32_t client, uint64_t req_no,
                              uint32_t *len);

/* ---- WAL (hotstuff_wal.c) ---- */
void hs_persist_vote(struct bft_core *c, uint64_t view, uint64_t height, const bft_digest *block);
void hs_persist_lock(struct bft_core *c);
/* COMMIT / BLOCK records of b. False if the record scratch cannot grow
 * to hold it (out of memory): nothing was persisted, and the caller must
 * not act on it. */
bool hs_persist_commit(struct bft_core *c, const struct hs_block *b);
bool hs_persist_block(struct bft_core *c, const struct hs_block *b);
/* Make room in the record scratch for the records of a snapshot of len
 * bytes; false if out of memory. hs_persist_snapshot needs it first. */
bool hs_snapshot_rec_room(struct bft_core *c, uint32_t len);
void hs_persist_snapshot(struct bft_core *c, const struct hs_claim *k, const uint8_t *snap,
                         uint32_t len);
void hs_recover(struct bft_core *c, const uint8_t *rec, size_t len);
void hs_post_recover(struct bft_core *c);
/* WAL compaction (bft_core_ops.compact, docs/storage.md). */
int hs_compact(struct bft_core *c, uint64_t base,
               void (*emit)(void *ctx, const uint8_t *rec, size_t len), void *ctx);

/* Reads (node_answer_read) wait until we executed height h - 2 after we
 * voted for a block at height h: a block is committed, and a write in it
 * acknowledged, only once 2f+1 replicas voted for the block two below
 * (the 3-chain, PODC'19 §5), so every read quorum of 2f+1 holds an honest
 * replica that waits for it. */
static inline void hs_note_vote_height(struct bft_core *c, uint64_t height)
{
    uint64_t floor = height > 2 ? height - 2 : 0;
    if (floor > c->read_floor) c->read_floor = floor;
}

#endif
