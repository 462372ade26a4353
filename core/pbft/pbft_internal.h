/* Private to the PBFT core (pbft*.c). Castro & Liskov, "Practical Byzantine
 * Fault Tolerance" (OSDI'99) and "... and Proactive Recovery" (TOCS'02).
 *
 * The core is pure: it acts only through struct bft_io effects and struct
 * bft_env services (bft.h). Everything is bounded: the log is L slots
 * indexed by seq inside the watermark window (h, h+L] (§4.3), checkpoints
 * are kept in a small ring per replica, view-change messages one per
 * replica, pending client requests in a table of at most PBFT_PENDING_MAX.
 * Slots, that table and the scratch buffers are allocated as first needed,
 * up to those bounds (docs/architecture.md "Bounds").
 *
 * Message bodies and their codec: pbft_wire.h. Own messages that must
 * appear in a certificate are re-encoded and signed locally with env->sign
 * (Ed25519 is deterministic, so they equal what the node sent).
 *
 * Liveness rules found with bftsim (docs/pbft.md has the whole protocol):
 * a commit certificate (2f+1 COMMITs of one view) is a fact about a seq:
 * it survives view changes, its messages stay frozen, and no proposal may
 * replace its batch; a replica in an older view joins the view f+1 others
 * send normal-case messages in (seen_view); a replica alone in a higher
 * view never goes back, it fetches committed entries instead; snapshots
 * travel in chunks and a replica serves the snapshot it restored.
 */
#ifndef BFT_PBFT_INTERNAL_H
#define BFT_PBFT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/core.h"
#include "core/pbft/pbft.h"
#include "core/pbft/pbft_rec.h"
#include "core/pbft/pbft_wire.h"
#include "core/client_quota.h"
#include "core/grow.h"
#include "core/pending.h"
#include "core/timeout.h"

/* Build with -DPBFT_TRACE to narrate view changes and state transfer on
 * stderr (for replaying a bftsim seed); compiled out otherwise. */
#ifdef PBFT_TRACE
#include <stdio.h>
#define PTRACE(c, ...)                                                                             \
    do {                                                                                           \
        fprintf(stderr, "  r%u v%llu%s e%llu h%llu: ", (c)->self, (unsigned long long)(c)->view,   \
                (c)->in_vc ? "vc" : "", (unsigned long long)(c)->last_exec,                        \
                (unsigned long long)(c)->h);                                                       \
        fprintf(stderr, __VA_ARGS__);                                                              \
        fputc('\n', stderr);                                                                       \
    } while (0)
#else
#define PTRACE(c, ...) ((void)0)
#include "core/pbft/pbft_kept.h"

#endif

/* Timer ids (bft_io.set_timer). */
#define PBFT_TIMER_VIEW_CHANGE 1 /* request timer / new-view wait (§4.4) */
#define PBFT_TIMER_RETRANSMIT 2  /* resend own messages on lossy links */
#define PBFT_TIMER_STATE 3       /* state-transfer request rate limit */
#define PBFT_TIMER_STATUS 4      /* idle probe: did the others execute past us? */
#define PBFT_TIMER_MONITOR 5     /* primary performance monitor tick (pbft_monitor.c) */

/* Bounds. */
#define PBFT_PENDING_MAX 4096 /* queued client REQUESTs */
#define PBFT_PENDING_FIRST 64 /* entries allocated at first (doubling to MAX) */
#define PBFT_PENDING_BUCKET_BITS 13
#define PBFT_PENDING_BUCKETS (1u << PBFT_PENDING_BUCKET_BITS) /* hash buckets */
/* Bytes held by queued requests (issue 14): 16 MiB is 4096 envelopes of
 * 4 KiB (64 orders each take ~2.6 KB), or 64 of the largest (BFT_BODY_MAX);
 * at saturation the queue holds ~1 MiB (docs/architecture.md "Bounds"). */
#define PBFT_PENDING_BYTES_MAX (16u << 20)
#define PBFT_QUOTA_FLOOR 16 /* requests one client may queue at least */
#define PBFT_QUOTA_FLOOR_BYTES (1u << 20)
#define PBFT_CKPT_RING 4              /* checkpoint seqs kept per replica */
#define PBFT_RETRANSMIT_BURST 16      /* slots resent per firing */
#define PBFT_SLOT_CHUNK 4             /* log slots per allocation (~32 KiB) */
#define PBFT_HELP_BUDGET 256          /* replies to a laggard per tick */
#define PBFT_FETCH_RANGE 64           /* log entries asked for at once */
#define PBFT_VC_SHIFT_MAX 6           /* timeout doubles at most 2^6 */
#define PBFT_PROBES 2                 /* log-fetch probes before suspecting the primary */
#define PBFT_PROBE_RESETS 8           /* probe rounds restarted by catching up */
#define PBFT_STATUS_TICKS 5           /* retransmit intervals per idle probe */
#define PBFT_STATE_CHUNK (256u << 10) /* snapshot bytes per STATE-RESP */
/* Largest snapshot we take or assemble: the applications' largest state
 * (orders: 4M orders x 49 bytes, ~196 MiB) fits, as in HotStuff (HS_SNAP_MAX). */
#define PBFT_SNAP_MAX (256u << 20)
/* The log kept since the served snapshot (pbft_kept.c): seqs and bytes. The
 * snapshot rule (docs/pbft.md "Snapshots") keeps it near one snapshot's
 * size; past these bounds it is dropped and the next checkpoint snapshots. */
#define PBFT_KEPT_SEQS (1u << 20)
#define PBFT_KEPT_BYTES (256u << 20)
/* What the snapshot rule counts per seq of log besides its batch: no more
 * than the WAL writes for it in any role (f = 1: a primary's PRE-PREPARE
 * and COMMIT records take 406 bytes, a backup's ~540), so a snapshot is
 * offered to the host once the WAL grew by at least its size
 * (docs/storage.md "PBFT's snapshot spacing"). */
#define PBFT_LOG_SEQ_BYTES 400u
#define PBFT_STATE_BYTES_TICK (4u << 20) /* snapshot bytes per asker per tick */
/* Primary performance monitor (pbft_monitor.c; Aardvark, NSDI'09 §4.3). */
#define PBFT_MON_TICK_DIV 20   /* a monitor tick is T/20 */
#define PBFT_MON_WINDOW 10     /* ticks per measurement window (T/2) */
#define PBFT_MON_MIN_SAMPLES 2 /* samples a window needs to be judged */
#define PBFT_MON_HIST 64       /* histogram buckets (ticks; the last is "or more") */
#define PBFT_MON_GRACE 1       /* windows of a new view not judged */
#define PBFT_MON_FLOOR 4       /* the bar never tightens below 4 ticks (T/5) */
#define PBFT_MON_STRIKES 2     /* consecutive windows over the bar to complain */
#define PBFT_MON_VIEWS 4       /* views whose best window is remembered */
#define PBFT_MON_RELAY_MIN 8   /* pre-prepares a window needs to judge their delivery */

/* Bodies and records are read and written with wire/bytes.h (wire_rd,
 * wire_wr); the layouts are in pbft_wire.h and pbft_rec.h. */

/* ---- the log ---- */
struct pbft_raw {
    uint16_t len;
    uint8_t b[PBFT_RAW_MAX];
};

/* Prepared certificate (§4.2 prepared(m, v, n, i)): the pre-prepare and 2f
 * matching prepares, kept across views for the VIEW-CHANGE P set. */
struct pbft_cert {
    bool valid;
    uint64_t view;
    bft_digest digest;
    struct pbft_raw pp;                     /* len 0: our own pre-prepare, regenerated */
    uint32_t voters;                        /* prepares in the certificate */
    struct pbft_raw prep[BFT_MAX_REPLICAS]; /* len 0 for self: regenerated */
};

struct pbft_slot {
    uint64_t seq; /* 0: free */
    uint64_t view;
    bool has_pp, sent_prepare, sent_commit, prepared, committed, executed;
    bft_digest digest;
    uint8_t *batch; /* batch for `digest` (kept across views) */
    uint32_t batch_len, batch_cap;
    bool has_batch;
    uint8_t retx_age; /* retransmit ticks seen while outstanding */
    bool mon_ready;   /* the primary could reuse this pipeline slot from mon_tick on */
    uint64_t mon_view, mon_tick;
    /* Missing pre-prepares (pbft_relay.c), for relay_view only: the
     * replicas a backup asked for this slot's pre-prepare, and the backups
     * the primary resent it to early (once: resent1, twice: resent2). */
    uint64_t relay_view;
    uint32_t relay_asked, relay_resent1, relay_resent2;
    struct pbft_raw pp;
    uint32_t prep_mask, commit_mask;
    bft_digest prep_d[BFT_MAX_REPLICAS], commit_d[BFT_MAX_REPLICAS];
    struct pbft_raw prep_raw[BFT_MAX_REPLICAS];
    struct pbft_raw commit_raw[BFT_MAX_REPLICAS]; /* frozen once executed */
    uint32_t proof_mask; /* the 2f+1 COMMITs that committed it (own: regenerated) */
    uint64_t proof_view;
    struct pbft_cert cert;
};

struct pbft_ckpt {
    uint64_t seq; /* 0: empty */
    bft_digest digest;
    struct pbft_raw raw;
};

/* ---- pending client requests (pbft_pending.c over core/pending.h) ----
 * A request's mark is the seq of the batch that proposed it; proposed
 * requests leave the FIFO until they execute or their batch is lost. */
/* n_clients: for the per-client quota (0: unknown, no quota). */
int pbft_pending_init(struct bft_pending *p, uint32_t n_clients);
void pbft_pending_free(struct bft_pending *p);
int32_t pbft_pending_find(const struct bft_pending *p, uint32_t client, uint64_t req_no);
/* BFT_REJECT_NONE if queued, else BFT_REJECT_DUPLICATE or _OVERLOAD. */
int pbft_pending_add(struct bft_pending *p, const struct bft_msg *req);
void pbft_pending_remove(struct bft_pending *p, int32_t i);
void pbft_pending_mark(struct bft_pending *p, int32_t i, uint64_t seq);
void pbft_pending_unmark_all(struct bft_pending *p);
void pbft_pending_requeue(struct bft_pending *p, int32_t i);
int32_t pbft_pending_oldest(const struct bft_pending *p);
void pbft_pending_clear(struct bft_pending *p);
/* Read (client, first req_no) of an encoded REQUEST inside a batch. */
bool pbft_req_key(const uint8_t *raw, size_t len, uint32_t *client, uint64_t *req_no);

/* ---- view-change store (one per replica, the highest view seen) ---- */
struct pbft_vc_cert {
    uint64_t seq, view;
    bft_digest digest;
    const uint8_t *batch; /* into the stored raw; NULL if omitted */
    uint32_t batch_len;
};
struct pbft_vc {
    bool valid;
    uint64_t view;
    uint8_t *raw;
    uint32_t len, cap;
    bft_digest id; /* SHA-256 of the signed region */
    uint64_t h;
    bft_digest h_digest;
    uint32_t nproof;
    const uint8_t *proof[BFT_MAX_REPLICAS];
    uint16_t proof_len[BFT_MAX_REPLICAS];
    uint32_t ncert;
    struct pbft_vc_cert *certs; /* L entries */
};

/* ---- view change state (§4.4; pbft_viewchange.c, pbft_newview.c) ---- */
struct pbft_kept_entry; /* pbft_kept.h */

struct pbft_vchg {
    uint32_t attempts; /* view changes since the last progress */
    /* Both use PBFT_TIMER_VIEW_CHANGE, never at once: the normal-case
     * request timer, and the new-view wait (2f+1 VCs seen). */
    struct bft_timeout request, wait;
    struct pbft_vc vcs[BFT_MAX_REPLICAS];
    uint64_t seen_view[BFT_MAX_REPLICAS];   /* highest view of a replica's
                                                normal-case messages */
    struct pbft_vc nvvcs[BFT_MAX_REPLICAS]; /* VCs carried by a NEW-VIEW whose
                                                sender moved past that view */
    struct bft_buf own_vc;                  /* our VIEW-CHANGE body, grown to BFT_BODY_MAX */
    uint32_t own_vc_len;
    uint64_t nv_view, nv_min, nv_max; /* O of the last NEW-VIEW entered */
    bft_digest *nv_dig;               /* L entries: digest of nv_min+1+i */
    struct bft_buf nv_sent;           /* the NEW-VIEW body we sent as primary (for resends) */
    uint32_t nv_sent_len;
    uint64_t nv_sent_view, nv_sent_seq;
    /* NEW-VIEWs waiting for VIEW-CHANGEs they reference: one per sender
     * (the primary of its view), so a Byzantine future primary can only
     * replace its own, never an honest primary's (issue 12 defect 6a). */
    struct pbft_nv_wait {
        uint8_t *buf;
        uint32_t len, cap;
        uint64_t view;
    } nv_pending[BFT_MAX_REPLICAS];
};

/* ---- state transfer (pbft_state.c): the certified checkpoint we fetch ---- */
struct pbft_transfer {
    bool active;
    struct bft_timeout timer; /* PBFT_TIMER_STATE: request rate limit */
    uint64_t seq;
    bft_digest digest;
    uint32_t mask, peer;
    struct pbft_raw proof[BFT_MAX_REPLICAS];
    uint32_t chunk; /* PBFT_STATE_CHUNK (tests shrink it) */
};

/* The snapshot being assembled chunk by chunk from one peer. */
struct pbft_assembly {
    bool active;
    uint32_t from, mask, stall;
    uint64_t seq;
    bft_digest digest, sha;
    size_t total, off, cap;
    uint8_t *buf;
    struct pbft_raw proof[BFT_MAX_REPLICAS];
};

/* Snapshots: the served one (its checkpoint is stable, proof held) and
 * `next`, taken at one of our checkpoints and waiting for stability. Not
 * every checkpoint takes one (pbft_state.c snapshot_due). */
struct pbft_snaps {
    bool too_big;
    uint64_t seq, next_seq;
    bft_digest digest, next_digest;
    bft_digest sha, next_sha; /* SHA-256 of the snapshot bytes */
    uint32_t mask;
    struct pbft_raw proof[BFT_MAX_REPLICAS];
    uint8_t *buf, *next_buf;
    size_t len, cap, next_len, next_cap;
    uint64_t taken; /* snapshots copied at checkpoints (tests, docs) */
};

struct bft_core {
    struct bft_core_config cfg;
    struct bft_env env;
    struct bft_io io;
    uint32_t n, f, self, L, K;
    uint64_t retransmit_ms;

    uint64_t view;
    bool in_vc;
    uint64_t view_changes;

    /* Watermarks and the stable checkpoint with its proof (§4.3). */
    uint64_t h;
    bft_digest h_digest;
    uint32_t h_proof_mask;
    struct pbft_raw h_proof[BFT_MAX_REPLICAS];

    uint64_t last_exec;
    uint64_t read_floor; /* highest seq we sent (or recovered) a COMMIT for */
    bft_digest last_state;
    uint64_t next_seq; /* primary: next seq to assign */
    /* The log: L slots indexed by seq mod L (§4.3), in chunks of
     * PBFT_SLOT_CHUNK allocated when a seq first maps into one (NULL until
     * then: all its slots are free). A replica that only sees a few seqs
     * does not pay for the whole window (docs/architecture.md "Bounds");
     * chunks never move, so slot pointers stay valid. */
    struct pbft_slot **slot_chunk;

    struct pbft_ckpt ck[BFT_MAX_REPLICAS][PBFT_CKPT_RING];
    struct bft_pending pend;

    struct pbft_vchg vchg;

    /* Retransmission. */
    struct bft_timeout retx;   /* PBFT_TIMER_RETRANSMIT */
    struct bft_timeout status; /* PBFT_TIMER_STATUS: the idle probe */
    bool helped;
    uint64_t status_exec; /* last_exec at the previous status tick */
    uint32_t status_peer; /* whom the next idle probe asks (round robin) */
    uint32_t help_budget[BFT_MAX_REPLICAS];
    uint32_t snap_budget[BFT_MAX_REPLICAS]; /* snapshot bytes per asker per tick */
    uint64_t fetch_hi;                      /* highest log entry asked for */

    struct pbft_transfer st;   /* state transfer */
    struct pbft_assembly xfer; /* the snapshot being assembled */
    struct pbft_snaps snap;    /* snapshots served and waiting */
    /* The committed log since the served snapshot: entries snap_seq + 1 ..
     * snap_seq + kept_n, each with its 2f+1 COMMITs (pbft_kept.c). A
     * laggard restores `snap` and replays these up to the stable
     * checkpoint when no snapshot was taken there. */
    struct pbft_kept_entry **kept;
    uint32_t kept_n, kept_cap;
    size_t kept_bytes;         /* memory held by the entries */
    uint64_t kept_batch_bytes; /* their batches alone (the snapshot rule) */
    bool kept_broken;          /* a gap or a bound hit: nothing kept until the next snapshot */
    /* Fetched entries below h that came before their predecessors. */
    struct pbft_kept_entry *ahead[PBFT_FETCH_RANGE];
    /* Kept entries read back from our own WAL (KEPT records), ascending
     * and contiguous, until the first event after recovery replays them
     * onto our own snapshot below h (pbft_kept_replay_own). */
    struct pbft_kept_entry **own;
    uint32_t own_n, own_cap;
    size_t own_bytes;

    bool post_recover;     /* recovered records: re-arm timers at the first event */
    uint32_t probes;       /* request timer expiries spent asking peers first */
    uint64_t probe_exec;   /* last_exec when we probed */
    uint32_t probe_resets; /* probes restarted because we were catching up */
    /* The request the backup's timer waits for (§4.4): the deadline holds
     * until that request executes, however much else executes meanwhile. */
    bool watching;
    uint32_t watch_client;
    uint64_t watch_req;

    /* Primary performance monitor (pbft_monitor.c). Volatile: a restart
     * begins with a lenient bar and no history. */
    struct bft_timeout mon_timer; /* PBFT_TIMER_MONITOR */
    uint64_t mon_ms;              /* tick period, T / PBFT_MON_TICK_DIV */
    uint64_t mon_tick;            /* ticks since the first event */
    uint64_t mon_view;            /* the view being measured */
    uint32_t mon_win_ticks;       /* ticks in the current window */
    uint32_t mon_nsamples;        /* samples in the current window */
    uint32_t mon_hist[PBFT_MON_HIST];
    uint32_t mon_windows;              /* windows closed in this view */
    uint32_t mon_allowed;              /* the bar: largest acceptable median, ticks */
    uint32_t mon_bad;                  /* consecutive windows over the bar */
    uint32_t mon_view_best;            /* lowest median of this view (UINT32_MAX: none) */
    uint32_t mon_past[PBFT_MON_VIEWS]; /* lowest median of earlier views */
    uint32_t mon_past_next;
    uint64_t mon_complaints; /* view changes started by the monitor */
    /* Delivery (pbft_monitor.c): pre-prepares of the primary accepted in
     * the current window directly and only through a relay (pbft_relay.c),
     * and consecutive windows where relays were the majority. */
    uint32_t mon_pp_direct, mon_pp_relayed, mon_relay_bad, mon_relay_ticks;

    /* Scratch for WAL records, the batch being cut and our encoded
     * VIEW-CHANGE: grown on demand up to PBFT_REC_MAX (docs/architecture.md
     * "Bounds"); from creation it holds the records whose size is fixed for
     * this n and L (pbft_rec_floor), so writing those never fails. */
    struct bft_buf rec;
};

/* ---- helpers (pbft.c) ---- */
/* Stop PBFT_TIMER_VIEW_CHANGE in whichever use it runs. The cancel is
 * unconditional: entering a view change or a new view must leave no
 * deadline of the old one behind. */
static inline void pbft_vc_timers_stop(struct bft_core *c)
{
    c->io.cancel_timer(c->io.ctx, PBFT_TIMER_VIEW_CHANGE);
    bft_timeout_fired(&c->vchg.request);
    bft_timeout_fired(&c->vchg.wait);
}
/* Make c->rec hold `need` bytes (need <= PBFT_REC_MAX) and return a writer
 * over all of it; if memory is short the writer starts in error. */
static inline struct wire_wr pbft_rec_wr(struct bft_core *c, size_t need)
{
    uint8_t *p = bft_buf_reserve(&c->rec, need, PBFT_REC_MAX);
    return (struct wire_wr){.buf = p, .cap = p ? c->rec.cap : 0, .err = p == NULL};
}
/* Length of a PP record (layout above) whose pre-prepare raw is pp_len
 * bytes (0: our own) and whose batch is batch_len bytes. */
static inline size_t pbft_pp_rec_len(size_t pp_len, size_t batch_len)
{
    return 1 + 8 + 8 + CRYPTO_DIGEST_LEN + 2 + pp_len + 4 + batch_len;
}
/* The largest COMMIT, STABLE and NV records for this n and L: c->rec holds
 * that much from creation on. */
size_t pbft_rec_floor(const struct bft_core *c);
static inline uint32_t pbft_primary(const struct bft_core *c, uint64_t view)
{
    return (uint32_t)(view % c->n);
}
static inline bool pbft_is_null(const bft_digest *d)
{
    static const bft_digest zero;
    return memcmp(d->b, zero.b, sizeof zero.b) == 0;
}
static inline bool pbft_deq(const bft_digest *a, const bft_digest *b)
{
    return memcmp(a->b, b->b, sizeof a->b) == 0;
}
static inline uint32_t pbft_popcount(uint32_t m)
{
    return (uint32_t)__builtin_popcount(m);
}
/* The slot holds 2f+1 COMMITs for its digest from one view (committed(m,
 * v, n), §4.2). That is a fact about the seq, not about a view: it survives
 * view changes, and its messages are frozen (a fetch serves them as one
 * certificate, so they must stay from the same view). */
static inline bool pbft_has_proof(const struct bft_core *c, const struct pbft_slot *s)
{
    return (uint32_t)__builtin_popcount(s->proof_mask) >= 2 * c->f + 1;
}
static inline bool pbft_in_window(const struct bft_core *c, uint64_t seq)
{
    return seq > c->h && seq - c->h <= c->L;
}
/* The first seq not yet executed that can have a slot. last_exec may be
 * far below h (a stable checkpoint adopted before its state arrived, or a
 * WAL that says so): scans start at the window, never at last_exec + 1,
 * or a forged or huge h costs billions of empty steps (found by
 * fuzz_node_pbft: a 26 s timeout in pbft_relay_retransmit). */
static inline uint64_t pbft_scan_start(const struct bft_core *c)
{
    return (c->last_exec > c->h ? c->last_exec : c->h) + 1;
}
/* Slot i (0 <= i < L), NULL if its chunk was never used (then it is free). */
static inline struct pbft_slot *pbft_slot_at(const struct bft_core *c, uint32_t i)
{
    struct pbft_slot *k = c->slot_chunk[i / PBFT_SLOT_CHUNK];
    return k ? &k[i % PBFT_SLOT_CHUNK] : NULL;
}
/* NULL if outside the window, or if memory for its chunk is short. */
struct pbft_slot *pbft_slot_get(struct bft_core *c, uint64_t seq);
struct pbft_slot *pbft_slot_peek(struct bft_core *c, uint64_t seq); /* NULL if not in use */
void pbft_slot_reset(struct pbft_slot *s);
bool pbft_slot_set_batch(struct pbft_slot *s, const uint8_t *batch, uint32_t len);
void pbft_send_simple(struct bft_core *c, int to, uint8_t type, uint64_t view, uint64_t seq,
                      const bft_digest *d);
/* Encode and sign one of our own bodiless messages (for certificates). */
void pbft_sign_own(struct bft_core *c, uint8_t type, uint64_t view, uint64_t seq,
                   const bft_digest *d, struct pbft_raw *out);
/* Check an embedded message decoded by pbft_emb_decode: cluster, sender
 * and (verify) signature. BFT_REJECT_NONE if fine. */
enum bft_reject pbft_emb_check(struct bft_core *c, const struct bft_msg *e, bool verify);
/* pbft_emb_decode then pbft_emb_check. */
enum bft_reject pbft_embedded_check(struct bft_core *c, const uint8_t *raw, size_t len,
                                    uint8_t type, struct bft_msg *m, bool verify);
/* The bounds bodies are decoded against (pbft_wire.h). */
static inline struct pbft_limits pbft_limits_of(const struct bft_core *c)
{
    return (struct pbft_limits){.n = c->n, .f = c->f, .K = c->K, .L = c->L};
}
void pbft_persist_view(struct bft_core *c);
void pbft_arm_retransmit(struct bft_core *c);
void pbft_arm_status(struct bft_core *c);
void pbft_on_status_timer(struct bft_core *c);
uint64_t pbft_timeout_ms(const struct bft_core *c);

/* ---- normal case (pbft_normal.c) ---- */
void pbft_on_request(struct bft_core *c, const struct bft_msg *req);
void pbft_on_pre_prepare(struct bft_core *c, const struct bft_msg *m);
/* A pre-prepare relayed by a backup (pbft_relay.c): m carries the
 * primary's header fields and the batch; raw is its signed, stripped form,
 * already verified. */
void pbft_on_relayed_pre_prepare(struct bft_core *c, const struct bft_msg *m, const uint8_t *raw);
void pbft_on_vote(struct bft_core *c, const struct bft_msg *m);
void pbft_try_propose(struct bft_core *c);
void pbft_propose_at(struct bft_core *c, uint64_t seq, const bft_digest *d, const uint8_t *batch,
                     uint32_t len);
void pbft_try_execute(struct bft_core *c);
void pbft_request_timer_update(struct bft_core *c);
void pbft_on_retransmit(struct bft_core *c);
enum { PBFT_BATCH_PROPOSED, PBFT_BATCH_EXECUTED, PBFT_BATCH_LOST };
void pbft_batch_mark(struct bft_core *c, const uint8_t *batch, uint32_t len, uint64_t seq,
                     int what);

/* ---- primary performance monitor (pbft_monitor.c) ---- */
void pbft_monitor_init(struct bft_core *c);
void pbft_monitor_arm(struct bft_core *c);
void pbft_on_monitor_timer(struct bft_core *c);
/* Slot s is done as far as the primary is concerned (2f backups committed,
 * or we executed it): from now on the primary may propose seq + P. */
void pbft_monitor_slot_free(struct bft_core *c, struct pbft_slot *s);
/* We accepted the primary's PRE-PREPARE for seq (not a re-proposal of O). */
void pbft_monitor_on_pp(struct bft_core *c, uint64_t seq, const uint8_t *batch, uint32_t len);
/* We accepted the primary's PRE-PREPARE (not O's) directly or relayed. */
void pbft_monitor_on_delivery(struct bft_core *c, bool relayed);

/* ---- PRE-PREPARE relay (pbft_relay.c) ---- */
/* A vote from `from` for slot s arrived while we lack its pre-prepare:
 * ask the voter for it (once per voter per view). */
void pbft_relay_on_vote(struct bft_core *c, struct pbft_slot *s, uint32_t from,
                        const bft_digest *d);
/* Primary: backup `from` voted for our proposal (seq, d); resend our
 * pre-prepares of lower seqs it has not voted for (at most twice per
 * backup and slot). */
void pbft_relay_on_backup_vote(struct bft_core *c, uint32_t from, uint64_t seq,
                               const bft_digest *d);
void pbft_on_relay_req(struct bft_core *c, const struct bft_msg *m);
void pbft_on_relay_resp(struct bft_core *c, const struct bft_msg *m);
/* Retransmit tick: ask again for pre-prepares still missing. True if some
 * are (keep ticking). */
bool pbft_relay_retransmit(struct bft_core *c);

/* ---- checkpoints (pbft_checkpoint.c) ---- */
void pbft_checkpoint_own(struct bft_core *c, uint64_t seq, const bft_digest *state);
void pbft_on_checkpoint(struct bft_core *c, const struct bft_msg *m);
/* Advance the low watermark to seq with its 2f+1 proof; GC the log. */
void pbft_make_stable(struct bft_core *c, uint64_t seq, const bft_digest *d,
                      const struct pbft_raw *proof, uint32_t mask, bool persist);
void pbft_ckpt_insert(struct bft_core *c, uint32_t from, uint64_t seq, const bft_digest *d,
                      const uint8_t *raw, size_t raw_len);

/* ---- view change (pbft_viewchange.c, pbft_newview.c) ---- */
void pbft_start_view_change(struct bft_core *c, uint64_t view);
void pbft_on_view_change(struct bft_core *c, const struct bft_msg *m);
void pbft_on_new_view(struct bft_core *c, const struct bft_msg *m);
void pbft_on_vc_timer(struct bft_core *c);
void pbft_resend_own_vc(struct bft_core *c);
/* Validate a VIEW-CHANGE (m: decoded, outer signature already checked) and
 * store it as replica m->sender's. BFT_REJECT_NONE if stored; OVERLOAD if
 * memory for the copy is short (never a peer fault). */
enum bft_reject pbft_vc_store(struct bft_core *c, const struct bft_msg *m);
/* Validate m and load it into v (no view ordering checks). */
enum bft_reject pbft_vc_load(struct bft_core *c, const struct bft_msg *m, struct pbft_vc *v);
void pbft_vc_check_progress(struct bft_core *c);
/* A normal-case message of a view above ours: join it once f+1 replicas
 * are seen working there. */
void pbft_note_view(struct bft_core *c, uint32_t from, uint64_t view);
/* Compute O (§4.4) from a set of VIEW-CHANGEs (ascending sender order).
 * dig gets max_s - min_s entries; src_vc[i] is the index in `set` of the
 * VC holding the chosen certificate (-1 for null), src_cert[i] its cert. */
typedef const struct pbft_vc *pbft_vc_set[BFT_MAX_REPLICAS];
void pbft_nv_compute(const struct bft_core *c, const pbft_vc_set set, uint32_t nset,
                     uint64_t *min_s, bft_digest *min_d, int *min_src, uint64_t *max_s,
                     bft_digest *dig, int *src_vc, uint32_t *src_cert);
void pbft_try_new_view(struct bft_core *c);
void pbft_enter_new_view(struct bft_core *c, uint64_t view, const pbft_vc_set set, uint32_t nset);
void pbft_retry_pending_nv(struct bft_core *c);

/* ---- state transfer and recovery (pbft_state.c, pbft_recover.c) ---- */
/* A checkpoint above our execution is certified: fetch state if we do not
 * catch up by ourselves (urgent: it is beyond our window). */
void pbft_state_note(struct bft_core *c, uint64_t seq, const bft_digest *d,
                     const struct pbft_raw *proof, uint32_t mask, bool urgent);
void pbft_on_state_timer(struct bft_core *c);
void pbft_on_state_req(struct bft_core *c, const struct bft_msg *m);
void pbft_on_state_resp(struct bft_core *c, const struct bft_msg *m);
/* Our checkpoint seq executed with this state: take a snapshot if the
 * rule says it is due (force: always, e.g. a restart's loaded state). */
void pbft_state_snapshot_checkpoint(struct bft_core *c, uint64_t seq, const bft_digest *state,
                                    bool force);
/* The checkpoint (seq, d) became stable with this proof. */
void pbft_state_on_stable(struct bft_core *c, uint64_t seq, const bft_digest *d,
                          const struct pbft_raw *proof, uint32_t mask);
void pbft_recover(struct bft_core *c, const uint8_t *rec, size_t len);
size_t pbft_commit_rec(struct bft_core *c, const struct pbft_slot *s); /* COMMIT record in c->rec */
/* Log fetch (pbft_fetch.c): a replica that missed committed seqs pulls them
 * with their COMMIT proof instead of waiting for the next checkpoint. */
void pbft_fetch_request(struct bft_core *c, int to, uint16_t count);
void pbft_on_fetch_req(struct bft_core *c, const struct bft_msg *m);
/* A FETCH-RESP: a committed entry or a checkpoint proof. */
void pbft_on_fetch_resp_msg(struct bft_core *c, const struct bft_msg *m);
void pbft_on_fetch_resp(struct bft_core *c, const struct bft_msg *m);
void pbft_on_fetch_ckpt(struct bft_core *c, const struct bft_msg *m);
/* CHECKPOINTs proving (seq, d) from distinct replicas, copied into proof
 * by sender (pbft_state.c); the caller counts them. */
enum bft_reject pbft_ckpt_proof_check(struct bft_core *c, uint64_t seq, const bft_digest *d,
                                      const struct pbft_emb_list *l, struct pbft_raw *proof,
                                      uint32_t *mask);
/* Send our stable checkpoint with its 2f+1 proof (FETCH-RESP kind 2). */
void pbft_send_checkpoint_proof(struct bft_core *c, uint32_t to);
/* Retransmit tick: resend our latest checkpoint while it is not stable. */
bool pbft_checkpoint_retransmit(struct bft_core *c);
bool pbft_behind(const struct bft_core *c);
void pbft_post_recover(struct bft_core *c);
/* WAL compaction (bft_core_ops.compact, docs/storage.md). */
int pbft_compact(struct bft_core *c, uint64_t base,
                 void (*emit)(void *ctx, const uint8_t *rec, size_t len), void *ctx);

#include "core/pbft/pbft_kept.h"

#endif
