/* Log compaction and state transfer (§7; diss. §5.1 "snapshotting").
 *
 * Every replica compacts on its own: once the log holds compact_every
 * executed entries beyond a tail of compact_every (kept so a briefly slow
 * follower still gets entries, not a snapshot), it takes a snapshot of the
 * replicated state at `applied` (io->snapshot: application plus the
 * exactly-once table) and drops the executed prefix from memory.
 *
 * InstallSnapshot is split into STATE_RESP chunks (payload = snapshot
 * bytes, at most RAFT_CHUNK_MAX each, diss. Fig. 5.3 offset/done). The
 * leader pushes the first chunk to a follower whose nextIndex fell below
 * its log; the receiver pulls the rest with STATE_REQ. A replica whose own
 * state is missing (restarted after installing a snapshot) pulls from the
 * leader or, failing that, from each peer in turn. A snapshot only ever
 * holds committed state, so any replica's is as good as the leader's. */
#include <stdlib.h>
#include <string.h>

#include "core/raft/raft_internal.h"

static bool take_snapshot(struct bft_core *c)
{
    if (raft_need_state(c) || c->applied == 0) return false;
    if (c->snap_index == c->applied && c->snap_len) return true;
    const uint8_t *buf;
    size_t len;
    if (c->io.snapshot(c->io.ctx, &buf, &len) != BFT_E_OK || len > RAFT_SNAP_MAX) return false;
    if (len > c->snap_len || !c->snap) {
        uint8_t *p = realloc(c->snap, len ? len : 1);
        if (!p) return false;
        c->snap = p;
    }
    memcpy(c->snap, buf, len);
    c->snap_len = len;
    c->snap_index = c->applied;
    uint64_t t = 0;
    raft_log_term(&c->log, c->applied, &t);
    c->snap_term = t;
    /* The application is at snap_index: the host may keep it on disk. */
    if (c->io.checkpoint) c->io.checkpoint(c->io.ctx, c->snap_index, NULL, c->snap, c->snap_len);
    return true;
}

void raft_maybe_compact(struct bft_core *c, bool force)
{
    if (raft_need_state(c) || c->applied < c->log.start) return;
    uint64_t held = c->applied - c->log.start + 1; /* executed entries in memory */
    uint64_t upto;
    if (force) {
        upto = c->applied - (held < 2 * c->compact_every ? held / 2 : c->compact_every);
    } else {
        if (held < 2 * c->compact_every) return;
        upto = c->applied - c->compact_every;
    }
    if (upto < c->log.start) return;
    if (!take_snapshot(c)) return;
    raft_log_compact(&c->log, upto);
}

void raft_send_snapshot(struct bft_core *c, uint32_t to, uint64_t offset)
{
    if (!c->snap_len && !take_snapshot(c)) return;
    if (offset > c->snap_len) return;
    size_t chunk = c->snap_len - offset;
    if (chunk > RAFT_CHUNK_MAX) chunk = RAFT_CHUNK_MAX;
    struct raft_state_resp s = {.term = c->term,
                                .snap_index = c->snap_index,
                                .snap_term = c->snap_term,
                                .total = c->snap_len,
                                .offset = offset,
                                .chunk = c->snap + offset,
                                .chunk_len = (uint32_t)chunk};
    uint8_t body[RAFT_STATE_RESP_LEN];
    struct bft_msg m;
    raft_encode_state_resp(&s, body, &m);
    c->io.send(c->io.ctx, to, &m);
}

static void send_state_req(struct bft_core *c, uint32_t to, uint64_t want)
{
    struct raft_state_req s = {
        .term = c->term, .want = want, .snap_index = c->in_index, .offset = c->in_len};
    uint8_t body[RAFT_STATE_REQ_LEN];
    struct bft_msg m;
    raft_encode_state_req(&s, body, &m);
    c->io.send(c->io.ctx, to, &m);
}

void raft_request_state(struct bft_core *c)
{
    c->io.set_timer(c->io.ctx, RAFT_TIMER_STATE, c->elect_ms / 2 ? c->elect_ms / 2 : 1);
    if (c->n == 1) return;
    /* Every other attempt goes to the leader; the rest rotate over the
     * peers (the leader itself may be the one without state). */
    uint32_t to = c->leader;
    if (to == RAFT_NONE || to == c->self || (c->state_tries++ & 1)) {
        c->state_peer = (c->state_peer + 1) % c->n;
        if (c->state_peer == c->self) c->state_peer = (c->state_peer + 1) % c->n;
        to = c->state_peer;
    }
    send_state_req(c, to, c->log.start - 1);
}

void raft_on_state_timer(struct bft_core *c)
{
    if (raft_need_state(c)) raft_request_state(c);
}

void raft_on_state_req(struct bft_core *c, uint32_t from, const struct raft_state_req *s)
{
    if (raft_need_state(c) || c->applied == 0 || c->applied < s->want) return; /* cannot help */
    if (c->snap_index < s->want || !c->snap_len) {
        if (!take_snapshot(c)) return;
    }
    /* Resume the transfer it is assembling, or start ours from 0. */
    uint64_t offset = s->snap_index == c->snap_index ? s->offset : 0;
    raft_send_snapshot(c, from, offset);
}

static void install(struct bft_core *c, uint32_t from, uint64_t from_term)
{
    uint64_t idx = c->in_index, term = c->in_term;
    bft_digest st;
    /* Crash-fault: the leader's snapshot is trusted as it is (no digest). */
    int rv = c->io.restore(c->io.ctx, idx, c->in_snap, c->in_total, NULL, &st);
    if (rv != BFT_E_OK) {
        /* Memory short is our overload, not a bad snapshot from the peer. */
        c->io.reject(c->io.ctx, rv == BFT_E_NOMEM ? BFT_REJECT_OVERLOAD : BFT_REJECT_MALFORMED);
        c->in_index = 0;
        c->in_len = 0;
        return;
    }
    /* diss. §5.1: keep the entries after the snapshot if our log has its
     * last entry; otherwise the whole log is superseded. */
    raft_log_install(&c->log, idx, term);
    c->applied = idx;
    if (c->commit < idx) c->commit = idx;
    if (c->commit > c->log.last) c->commit = c->log.last;
    /* The received buffer becomes the snapshot we serve. */
    uint8_t *old = c->snap;
    c->snap = c->in_snap;
    c->snap_len = c->in_total;
    c->snap_index = idx;
    c->snap_term = term;
    c->in_snap = old;
    c->in_index = 0;
    c->in_len = 0;
    c->in_total = 0;
    raft_persist_snap(c, idx, term);
    if (c->io.checkpoint) c->io.checkpoint(c->io.ctx, idx, NULL, c->snap, c->snap_len);
    c->io.cancel_timer(c->io.ctx, RAFT_TIMER_STATE);
    raft_apply(c);
    /* Tell the sender where our log now matches (an AppendEntries ack; a
     * sender that is not the leader of our term ignores it). We may not
     * know the leader yet: it only pushed snapshots. */
    if (from_term == c->term && !raft_is_leader(c))
        raft_send_append_resp(c, from, true, idx, 0, 0, 0);
}

/* A push we do not need (say our ack was lost): tell the leader how far
 * our committed prefix, identical to its own, goes. */
static void ack_unneeded(struct bft_core *c, uint32_t from, const struct raft_state_resp *s)
{
    if (s->offset == 0 && s->term == c->term && !raft_is_leader(c) && c->applied &&
        !raft_need_state(c))
        raft_send_append_resp(c, from, true, c->applied, 0, 0, 0);
}

void raft_on_state_resp(struct bft_core *c, uint32_t from, const struct raft_state_resp *s)
{
    /* Useless unless it moves our state forward and joins our log (a
     * leader holds every committed entry, §5.4.3: never past its log). */
    if (s->snap_index <= c->applied || s->snap_index + 1 < c->log.start) {
        ack_unneeded(c, from, s);
        return;
    }
    if (raft_is_leader(c) && s->snap_index > c->log.last) return;
    if (s->snap_index != c->in_index) {
        if (s->offset != 0) return;
        c->in_index = s->snap_index;
        c->in_term = s->snap_term;
        c->in_total = s->total;
        c->in_len = 0;
    }
    if (s->total != c->in_total || s->snap_term != c->in_term) return;
    if (s->offset != c->in_len) {
        /* A chunk was lost (or this is a repeated push): ask the sender
         * for the one we need. */
        send_state_req(c, from, s->snap_index);
        return;
    }
    if (!c->in_snap || s->offset == 0) {
        /* Out of memory: drop the transfer (our overload, not the
         * sender's fault); the state timer asks again. */
        uint8_t *p = realloc(c->in_snap, s->total ? s->total : 1);
        if (!p) {
            c->in_index = 0;
            return;
        }
        c->in_snap = p;
    }
    if (s->chunk_len) memcpy(c->in_snap + s->offset, s->chunk, s->chunk_len);
    c->in_len += s->chunk_len;
    if (c->in_len < c->in_total) {
        send_state_req(c, from, s->snap_index);
        return;
    }
    install(c, from, s->term);
}
