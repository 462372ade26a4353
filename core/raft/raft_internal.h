/* Private to the Raft core (raft*.c). Ongaro & Ousterhout, "In Search of an
 * Understandable Consensus Algorithm" (ATC'14), and Ongaro's dissertation
 * "Consensus: Bridging Theory and Practice" (2014), cited as "diss. §x".
 *
 * Crash-fault model: replicas may stop and restart, messages may be lost,
 * duplicated, delayed and reordered, but no replica lies. Messages are not
 * signed by default, so every body is still validated with the bounded
 * reader (a corrupt or hostile body is counted and dropped, never trusted).
 *
 * Wire bodies: raft_wire.h (one struct per message, decoded and encoded
 * by raft_wire.c; the header carries type, sender, view = the sender's
 * current term, and seq as noted there).
 *
 * WAL records (first byte = type):
 *   HARD:   u64 term | u32 voted_for | u64 vote_floor | u8 anchored
 *   ENTRY:  u64 index | u64 term | u32 len | batch   (replaces any entry at
 *           index and everything after it: that is how a truncation replays)
 *   COMMIT: u64 commit index (a hint; lets a restart re-execute at once)
 *   SNAP:   u64 index | u64 term  (state installed by transfer; the log
 *           below it is gone and must come back by state transfer)
 */
#ifndef BFT_RAFT_INTERNAL_H
#define BFT_RAFT_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "core/client_quota.h"
#include "core/core.h"
#include "core/grow.h"
#include "core/raft/raft.h"
#include "core/raft/raft_wire.h"
#include "core/timeout.h"

/* ---- timers (ids < 64) ---- */
#define RAFT_TIMER_START 1     /* first event after recovery */
#define RAFT_TIMER_ELECTION 2  /* follower/candidate: randomised [T, 2T) */
#define RAFT_TIMER_HEARTBEAT 3 /* leader: one round every T/10 */
#define RAFT_TIMER_STICKY 4    /* follower: heard from the leader < T ago */
#define RAFT_TIMER_QUORUM 5    /* leader: check-quorum every T */
#define RAFT_TIMER_STATE 6     /* state transfer retry */
#define RAFT_TIMER_LEASE_BASE 16
#define RAFT_LEASE_RING 32 /* one lease timer per heartbeat round in flight */

/* ---- bounds ---- */
#define RAFT_LOG_CAP 65536u               /* entries in memory (power of two) */
#define RAFT_LOG_CAP_INIT 64u             /* ring slots at first; doubles to RAFT_LOG_CAP */
#define RAFT_LOG_BYTES_MAX (256ull << 20) /* batch bytes in memory */
#define RAFT_INFLIGHT_MAX 512             /* entries sent, unacked, per follower */
#define RAFT_PENDING_MAX 4096             /* client requests queued at the leader */
#define RAFT_PENDING_CAP_INIT 16u         /* queue slots at first; doubles to RAFT_PENDING_MAX */
#define RAFT_PENDING_BYTES_MAX (64u << 20)
#define RAFT_QUOTA_FLOOR 16 /* envelopes one client may queue at least (client_quota.h) */
#define RAFT_QUOTA_FLOOR_BYTES (1u << 20)
#define RAFT_SEEN_SLOTS 8192   /* dedup cache (power of two) */
#define RAFT_SEEN_PAGE 256     /* slots per lazily allocated page of the cache */
#define RAFT_READS_MAX 1024    /* pending ReadIndex reads */
#define RAFT_READS_CAP_INIT 4u /* read slots at first; doubles to RAFT_READS_MAX */
#define RAFT_READS_BYTES_MAX (16u << 20)
#define RAFT_CHUNK_MAX (512u << 10) /* snapshot bytes per STATE_RESP */
#define RAFT_REC_MAX (RAFT_ENTRY_MAX + 64)
#define RAFT_REC_ENTRY_HDR 21 /* type + index + term + len before an ENTRY record's batch */

/* ---- WAL record types ---- */
enum { RAFT_REC_HARD = 1, RAFT_REC_ENTRY = 2, RAFT_REC_COMMIT = 3, RAFT_REC_SNAP = 4 };

#define RAFT_NONE UINT32_MAX
#define RAFT_TERM_MAX (1ull << 62) /* larger terms in messages are malformed */
enum raft_role { RAFT_FOLLOWER = 0, RAFT_PRECANDIDATE, RAFT_CANDIDATE, RAFT_LEADER };
/* Per-follower replication state (etcd's Progress): PROBE sends one
 * append at a time until the follower's log matches; REPLICATE pipelines. */
enum raft_pstate { RAFT_PROBE = 0, RAFT_REPLICATE };

/* What the leader knows of one follower, after etcd-io/raft's
 * tracker.Progress: Fig. 2's nextIndex/matchIndex plus the state that
 * paces sends to it. The snapshot state of etcd is implicit: next below
 * our log's start means the follower needs InstallSnapshot (§7). Reset
 * whole when we become leader (raft_progress_reset). */
struct raft_progress {
    uint64_t match;         /* highest index known stored there (matchIndex) */
    uint64_t next;          /* next index to send (nextIndex) */
    uint8_t state;          /* enum raft_pstate */
    bool paused;            /* PROBE: one append in flight, wait for its answer */
    bool snap_pushed;       /* InstallSnapshot's first chunk sent this round */
    bool recent_active;     /* answered since the last check-quorum (diss. §6.2) */
    uint64_t match_at_tick; /* match at the last heartbeat: unchanged = resend */
    uint64_t acked_round;   /* highest heartbeat round it acked (raft_read.c) */
    /* Disk-loss guard (raft_election.c): the follower restarted as boot id
     * anchor_boot (0: it did not) and must reach anchor_index. */
    uint64_t anchor_boot, anchor_index;
};
/* Entries sent but not acked: REPLICATE keeps it <= RAFT_INFLIGHT_MAX. */
static inline uint64_t raft_inflight(const struct raft_progress *pr, uint64_t upto)
{
    return upto - pr->match;
}

/* ---- the log (raft_log.c): a ring of entries [start, last] ---- */
struct raft_entry {
    uint64_t term;
    uint8_t *batch; /* kept across reuse of the slot: no malloc per entry */
    uint32_t len, cap;
};
struct raft_log {
    struct raft_entry *e; /* cap slots */
    uint32_t cap;         /* power of two, RAFT_LOG_CAP_INIT..RAFT_LOG_CAP */
    uint64_t start;       /* first index held; start - 1 is compacted */
    uint64_t last;        /* last index (start - 1 when empty) */
    uint64_t base_term;   /* term of entry start - 1 (0 if start == 1) */
    uint64_t bytes;
};

/* ---- leader's queue of client requests (raft_pending.c) ---- */
struct raft_req {
    uint8_t *raw;
    uint32_t len, cap;
    uint32_t client;
};
struct raft_seen {
    uint32_t client;
    uint64_t req_no;
    uint64_t term; /* leader term it was accepted in; 0 = empty */
};
struct raft_read {
    uint8_t *raw;
    uint32_t len, cap;
    uint64_t index; /* serve once applied >= index ... */
    uint64_t round; /* ... and this heartbeat round is confirmed */
};

struct bft_core {
    struct bft_core_config cfg;
    struct bft_env env;
    struct bft_io io;
    uint32_t n, self, maj;
    uint64_t elect_ms; /* T: minimum election timeout */
    uint64_t hb_ms;    /* heartbeat interval T/10 */
    uint64_t lease_ms; /* T - drift bound */
    uint64_t compact_every;

    /* Persistent state (Fig. 2) plus the disk-loss guard. */
    uint64_t term;
    uint32_t voted_for;
    uint64_t vote_floor; /* never grant a vote in a term <= this */
    bool anchored;       /* false: started without a disk, see raft_election.c */
    struct raft_log log;

    /* Volatile state. */
    enum raft_role role;
    uint32_t leader;
    uint64_t leader_term; /* term whose leader was last counted */
    uint64_t commit, applied;
    uint64_t commit_hint; /* last COMMIT record */
    uint64_t view_changes;
    bool started;
    /* Running while we heard from a current leader within T (diss.
     * §4.2.3): we refuse votes until it fires. */
    struct bft_timeout sticky;

    /* Elections. */
    uint32_t votes; /* bitmask of granted votes / pre-votes */
    uint64_t pre_term;

    /* Disk-loss guard (raft_election.c). */
    uint64_t boot_id, probe_nonce, probe_max;
    uint32_t probe_mask, probe_round;
    bool probe_done, leader_anchor_ok;

    /* Leader. */
    struct raft_progress prog[BFT_MAX_REPLICAS]; /* one per replica; ours unused */
    uint64_t term_first;                         /* index of this term's no-op */
    uint64_t round;                              /* heartbeat rounds started (monotonic) */
    uint64_t term_round;                         /* first round of this leadership */
    uint64_t confirmed_round;                    /* highest round acked by a majority */
    uint64_t lease_slot[RAFT_LEASE_RING];        /* round whose lease timer is armed */
    uint64_t lease_expired;                      /* highest round whose lease timer fired */

    /* Pending client requests (leader). The queues are rings that start
     * small and double when full up to their MAX; the dedup cache is
     * RAFT_SEEN_SLOTS slots in pages allocated on first write: an idle
     * replica or a follower does not hold the bounds (docs/architecture.md
     * "Bounds"). */
    struct raft_req *pend; /* pend_cap slots */
    uint32_t pend_cap, pend_head, pend_count;
    uint64_t pend_bytes;
    struct bft_client_quota quota;                            /* per-client share of pend */
    struct raft_seen *seen[RAFT_SEEN_SLOTS / RAFT_SEEN_PAGE]; /* NULL page: all empty */
    struct raft_read *reads;                                  /* reads_cap slots */
    uint32_t reads_cap, reads_head, reads_count;
    uint64_t reads_bytes;

    /* Snapshot held (taken at compaction) and one being received. */
    uint8_t *snap;
    size_t snap_len;
    uint64_t snap_index, snap_term;
    uint8_t *in_snap;
    size_t in_len, in_total;
    uint64_t in_index, in_term;
    uint32_t state_peer; /* last replica asked for state */
    uint32_t state_tries;

    /* Scratch that grows to what is written (docs/architecture.md
     * "Bounds"): a body up to BFT_BODY_MAX, a WAL record up to
     * RAFT_REC_MAX. */
    struct bft_buf buf;
    struct bft_buf rec;
};

/* ---- raft.c ---- */
/* Our own invariants (docs/style.md #6, asserted): the current term only
 * grows (Fig. 2), the commit index only grows (§5.4.3: a committed entry
 * stays committed). */
void raft_set_term(struct bft_core *c, uint64_t term);
void raft_commit_to(struct bft_core *c, uint64_t index);
void raft_become_follower(struct bft_core *c, uint64_t term, uint32_t leader);
void raft_reset_election_timer(struct bft_core *c);
void raft_note_leader(struct bft_core *c, uint32_t leader);
bool raft_need_state(const struct bft_core *c);
static inline bool raft_is_leader(const struct bft_core *c)
{
    return c->role == RAFT_LEADER;
}

/* ---- raft_log.c ---- */
int raft_log_init(struct raft_log *l);
void raft_log_free(struct raft_log *l);
/* Term of entry i, if known (i in [start - 1, last]). */
bool raft_log_term(const struct raft_log *l, uint64_t i, uint64_t *term);
struct raft_entry *raft_log_at(const struct raft_log *l, uint64_t i); /* NULL outside */
bool raft_log_full(const struct raft_log *l);
/* Append at last + 1; false if out of memory or full. */
bool raft_log_append(struct raft_log *l, uint64_t term, const uint8_t *batch, uint32_t len);
/* Drop entries >= i (i > start - 1). */
void raft_log_truncate(struct raft_log *l, uint64_t i);
/* Drop entries <= i (i <= last): they are covered by a snapshot. */
void raft_log_compact(struct raft_log *l, uint64_t i);
/* Empty the log and restart it after index i of term t. */
void raft_log_reset(struct raft_log *l, uint64_t i, uint64_t t);
/* A snapshot at index i of term t now covers the log (diss. §5.1): keep
 * the entries after it if entry i matches, else drop the whole log. */
void raft_log_install(struct raft_log *l, uint64_t i, uint64_t t);
/* First index of the run of entries with the term of entry i (back-off). */
uint64_t raft_log_term_start(const struct raft_log *l, uint64_t i);
/* Last index holding `term`, 0 if none. */
uint64_t raft_log_last_of_term(const struct raft_log *l, uint64_t term);
static inline uint64_t raft_last_term(const struct raft_log *l)
{
    uint64_t t = 0;
    raft_log_term(l, l->last, &t);
    return t;
}

/* ---- raft_wal.c ---- */
void raft_persist_hard(struct bft_core *c);
/* False (nothing written) if memory for the record is short. */
bool raft_persist_entry(struct bft_core *c, uint64_t index);
void raft_persist_commit(struct bft_core *c);
void raft_persist_snap(struct bft_core *c, uint64_t index, uint64_t term);
void raft_recover(struct bft_core *c, const uint8_t *rec, size_t len);
/* WAL compaction (bft_core_ops.compact, docs/storage.md). */
int raft_compact(struct bft_core *c, uint64_t base,
                 void (*emit)(void *ctx, const uint8_t *rec, size_t len), void *ctx);

/* ---- raft_election.c ---- */
void raft_start(struct bft_core *c);
void raft_on_election_timer(struct bft_core *c);
/* Handlers take decoded bodies (raft_wire.h) and the sender, which the
 * dispatcher (raft.c) checked is another replica of this cluster. */
void raft_on_vote(struct bft_core *c, uint32_t from, const struct raft_vote *v);
void raft_on_vote_resp(struct bft_core *c, uint32_t from, const struct raft_vote_resp *v);
/* A leader's anchor covers our log: maybe leave the disk-loss guard. */
void raft_anchor_check(struct bft_core *c);

/* ---- raft_replication.c ---- */
void raft_become_leader(struct bft_core *c);
/* Leader's view of follower p reset at the start of a term (Fig. 2:
 * nextIndex = last log index + 1, matchIndex = 0). */
void raft_progress_reset(struct raft_progress *pr, uint64_t next);
void raft_send_append(struct bft_core *c, uint32_t p, bool tick);
void raft_broadcast_append(struct bft_core *c);
void raft_on_append(struct bft_core *c, uint32_t from, const struct raft_append *a);
/* AppendEntries reply (also after InstallSnapshot): match index on success,
 * else the conflict hint; carries FRESH while the disk-loss guard holds. */
void raft_send_append_resp(struct bft_core *c, uint32_t to, bool ok, uint64_t match, uint64_t round,
                           uint64_t cterm, uint64_t cindex);
void raft_on_append_resp(struct bft_core *c, uint32_t from, const struct raft_append_resp *a);
void raft_on_heartbeat_timer(struct bft_core *c);
void raft_on_quorum_timer(struct bft_core *c);
void raft_advance_commit(struct bft_core *c);
void raft_apply(struct bft_core *c);

/* ---- raft_pending.c ---- */
int raft_pending_init(struct bft_core *c);
void raft_pending_free(struct bft_core *c);
void raft_pending_clear(struct bft_core *c);
/* Make a full ring of *cap slots of `size` bytes, whose live slots start at
 * `head`, one slot bigger (doubled, at most max): the slots that wrapped
 * to the front move behind the old end, so [head, head + count) stays
 * contiguous modulo the new capacity. Slots keep their contents (buffers
 * kept for reuse). False if out of memory or at max (ring unchanged). */
bool raft_ring_grow(void **ring, uint32_t *cap, uint32_t head, size_t size, uint32_t max);
void raft_on_request(struct bft_core *c, const struct bft_msg *req);
/* Leader: cut entries from queued requests while the pipeline has room. */
void raft_propose(struct bft_core *c);
/* A leader other than us is known: send it the requests we held while
 * none was (raft_on_request), then drop them from our queue. */
void raft_forward_pending(struct bft_core *c);
/* Append one batch as a new entry of the current term (and persist it). */
bool raft_leader_append(struct bft_core *c, const uint8_t *batch, uint32_t len);

/* ---- raft_read.c ---- */
void raft_on_read(struct bft_core *c, const struct bft_msg *req);
void raft_round_start(struct bft_core *c);
void raft_round_acked(struct bft_core *c);
void raft_on_lease_timer(struct bft_core *c, uint32_t slot);
bool raft_lease_valid(const struct bft_core *c);
void raft_reads_serve(struct bft_core *c);
void raft_reads_clear(struct bft_core *c);

/* ---- raft_snapshot.c ---- */
/* After applying: compact the log when it holds compact_every applied
 * entries beyond the tail (takes a snapshot at `applied`). */
void raft_maybe_compact(struct bft_core *c, bool force);
void raft_send_snapshot(struct bft_core *c, uint32_t to, uint64_t offset);
void raft_request_state(struct bft_core *c);
void raft_on_state_req(struct bft_core *c, uint32_t from, const struct raft_state_req *s);
void raft_on_state_resp(struct bft_core *c, uint32_t from, const struct raft_state_resp *s);
void raft_on_state_timer(struct bft_core *c);

#endif
