/* Private to the Raft core: one struct per message body, a decoder that
 * returns a reject reason (BFT_REJECT_NONE when the body is well formed)
 * and an encoder. raft_wire.c is the single source of the Raft layouts
 * (docs/wire.md "Raft"); the handlers (raft_election.c,
 * raft_replication.c, raft_snapshot.c) only ever see decoded structs, as
 * canonical/raft's recv_append_entries() takes a struct raft_append_entries.
 *
 * A decoder checks what the message alone can tell (lengths, flags, kinds,
 * terms no larger than the sender's term, every entry's framing); what
 * depends on our state (is this index in our log?) is the handler's job.
 * Every struct carries the header fields it needs: `term` is the header
 * view (the sender's current term), the index fields are the header seq. */
#ifndef BFT_RAFT_WIRE_H
#define BFT_RAFT_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "wire/bytes.h"

/* ---- layout constants ---- */
#define RAFT_AE_ANCHOR 0x01  /* AppendEntries carries the disk-loss anchor */
#define RAFT_AR_SUCCESS 0x01 /* AppendEntries reply: success */
#define RAFT_AR_FRESH 0x02   /* AppendEntries reply: replier is un-anchored */
enum { RAFT_VOTE_REAL = 1, RAFT_VOTE_PRE = 2, RAFT_VOTE_PROBE = 3 };
#define RAFT_APPEND_HDR 64 /* room before the entries (raft_append_head_len: at most 45) */
#define RAFT_ENTRY_HDR 12  /* term + len */
#define RAFT_ENTRY_MAX (BFT_BODY_MAX - RAFT_APPEND_HDR - RAFT_ENTRY_HDR)
#define RAFT_APPEND_ENTRIES_MAX 256 /* entries in one AppendEntries */
#define RAFT_APPEND_RESP_MAX 33     /* flags + 4 x u64 */
#define RAFT_VOTE_LEN 17
#define RAFT_VOTE_RESP_LEN 18
#define RAFT_STATE_REQ_LEN 16
#define RAFT_STATE_RESP_LEN 24
#define RAFT_SNAP_MAX (256u << 20) /* largest snapshot accepted */

/* RAFT_APPEND (AppendEntries, Fig. 2), seq = prevLogIndex:
 *   u8 flags (RAFT_AE_ANCHOR) | u64 prevLogTerm | u64 leaderCommit
 *   | u64 round (heartbeat round, for the lease and ReadIndex)
 *   | [ANCHOR: u64 boot_id | u64 anchor_index]
 *   | u32 count | count x (u64 term | u32 len | batch[len])
 * Each batch is a client batch (wire.h): u16 k | k x (u32 len | REQUEST);
 * len 0 is the leader's no-op entry (§5.4.2, diss. §3.6.2). */
struct raft_append {
    uint64_t term;
    uint64_t prev_index, prev_term, commit, round;
    bool anchor;
    uint64_t boot_id, anchor_index; /* anchor only; else 0 */
    uint32_t count;
    /* Decoded: a reader over the `count` entries, all validated (terms
     * non-decreasing from prev_term and <= term, batches framed as client
     * REQUESTs): walk them with raft_entry_next. */
    struct wire_rd entries;
};
struct raft_entry_ref {
    uint64_t term;
    uint32_t len;
    const uint8_t *batch; /* NULL when len is 0 (a no-op) */
};

/* RAFT_APPEND_RESP, seq = match index on success, else 0:
 *   u8 flags (RAFT_AR_SUCCESS | RAFT_AR_FRESH) | u64 round (echo)
 *   | u64 conflict_term | u64 conflict_index (fast back-off, §5.3)
 *   | [FRESH: u64 boot_id] */
struct raft_append_resp {
    uint64_t term;
    bool success, fresh;
    uint64_t match, round, conflict_term, conflict_index;
    uint64_t boot_id; /* fresh only (non-zero); else 0 */
};

/* RAFT_VOTE (RequestVote, Fig. 2; pre-vote diss. §9.6), view = the term the
 * candidate asks for (current term + 1 for a pre-vote), seq = lastLogIndex:
 *   u8 kind (RAFT_VOTE_REAL | RAFT_VOTE_PRE | RAFT_VOTE_PROBE)
 *   | u64 lastLogTerm | u64 nonce (PROBE; 0 otherwise) */
struct raft_vote {
    uint64_t term;
    uint8_t kind;
    uint64_t last_index, last_term, nonce;
};

/* RAFT_VOTE_RESP, view = responder's current term:
 *   u8 kind | u8 granted | u64 asked_term | u64 nonce */
struct raft_vote_resp {
    uint64_t term;
    uint8_t kind;
    bool granted;
    uint64_t asked_term, nonce;
};

/* STATE_REQ (InstallSnapshot pull, diss. §5.3), seq = lowest snapshot index
 * wanted: u64 snap_index (the one being assembled, 0 = none) | u64 offset */
struct raft_state_req {
    uint64_t term;
    uint64_t want, snap_index, offset;
};

/* STATE_RESP (InstallSnapshot chunk), seq = snapshot index, payload =
 * snapshot bytes [offset, offset + payload_len):
 *   u64 snap_term | u64 total_len | u64 offset */
struct raft_state_resp {
    uint64_t term;
    uint64_t snap_index, snap_term, total, offset;
    const uint8_t *chunk; /* borrowed from the message */
    uint32_t chunk_len;
};

/* ---- decoders: BFT_REJECT_NONE, or why the body is refused ---- */
enum bft_reject raft_decode_append(const struct bft_msg *m, struct raft_append *out);
/* The next entry of a decoded append (false after the last one). */
bool raft_entry_next(struct wire_rd *r, struct raft_entry_ref *e);
enum bft_reject raft_decode_append_resp(const struct bft_msg *m, struct raft_append_resp *out);
enum bft_reject raft_decode_vote(const struct bft_msg *m, struct raft_vote *out);
enum bft_reject raft_decode_vote_resp(const struct bft_msg *m, struct raft_vote_resp *out);
enum bft_reject raft_decode_state_req(const struct bft_msg *m, struct raft_state_req *out);
enum bft_reject raft_decode_state_resp(const struct bft_msg *m, struct raft_state_resp *out);

/* ---- encoders: fill *m, whose body points into the caller's buffer ----
 * An encoding that does not fit is our bug, not input: they assert. */
/* Bytes of an append before its entries. */
size_t raft_append_head_len(bool anchor);
/* The head of an append into w; the caller then writes a->count entries
 * with raft_put_entry and finishes with raft_append_msg. */
void raft_put_append_head(struct wire_wr *w, const struct raft_append *a);
void raft_put_entry(struct wire_wr *w, const struct raft_entry_ref *e);
void raft_append_msg(const struct raft_append *a, const struct wire_wr *w, struct bft_msg *m);
void raft_encode_append_resp(const struct raft_append_resp *a, uint8_t buf[RAFT_APPEND_RESP_MAX],
                             struct bft_msg *m);
void raft_encode_vote(const struct raft_vote *v, uint8_t buf[RAFT_VOTE_LEN], struct bft_msg *m);
void raft_encode_vote_resp(const struct raft_vote_resp *v, uint8_t buf[RAFT_VOTE_RESP_LEN],
                           struct bft_msg *m);
void raft_encode_state_req(const struct raft_state_req *s, uint8_t buf[RAFT_STATE_REQ_LEN],
                           struct bft_msg *m);
void raft_encode_state_resp(const struct raft_state_resp *s, uint8_t buf[RAFT_STATE_RESP_LEN],
                            struct bft_msg *m);

#endif
