/* The acknowledgement ledger: every order a client saw acknowledged (the
 * client rule accepted its result), checked after the run against each
 * honest replica's own record of accepted orders (its audit.log). Pure:
 * tests/unit/test_loadgen.c drives it with arrays. */
#ifndef BFT_TOOLS_LOADGEN_LEDGER_H
#define BFT_TOOLS_LOADGEN_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LEDGER_MAX_ACKS (4u << 20) /* bounded (128 MiB): acks beyond are counted, not kept */

/* One acknowledged order, or one line of a replica's audit log. */
struct ledger_row {
    uint64_t client_order_id;
    uint64_t order_seq;
    uint64_t seq; /* audit rows: the consensus seq that committed it; 0 in acks */
    uint32_t client;
    uint32_t req_no; /* the client's request number (low 32 bits); 0 in audit rows */
};

struct ledger {
    struct ledger_row *rows;
    uint64_t n, cap;
    uint64_t dropped; /* acks past LEDGER_MAX_ACKS */
};
/* Append (bounded, grows by doubling); false if not kept. */
bool ledger_add(struct ledger *l, uint32_t client, uint64_t req_no, uint64_t client_order_id,
                uint64_t order_seq, uint64_t seq);
void ledger_free(struct ledger *l);
/* Sort rows by (client, client_order_id, order_seq). */
void ledger_sort(struct ledger *l);

/* How one replica's log relates to the acks. */
struct ledger_replica {
    uint32_t id;
    bool killed;              /* killed with SIGKILL at some point (crash or wipe) */
    bool wiped;               /* restarted at least once with empty state */
    bool down;                /* down at the end */
    const struct ledger *log; /* sorted (ledger_sort) */
    /* Consensus seqs it executed (commits.log), ascending; NULL: unknown. A
     * replica that caught up by state transfer never executed the seqs it
     * skipped, so it has no audit line for their orders. */
    const uint64_t *executed;
    uint64_t n_executed;
};

struct ledger_result {
    uint64_t acks, checked; /* acks; (ack, replica) pairs checked */
    uint64_t ok;            /* present exactly once with the same order number */
    /* Violations on any honest replica: */
    uint64_t mismatch; /* the replica holds the order under another order number */
    /* On a replica never killed (violations too): */
    uint64_t missing_live, repeated_live;
    /* On a replica killed with SIGKILL: its audit log lost or repeated lines
     * across the kill (reported separately). */
    uint64_t missing_killed, repeated_killed;
    /* Not expected to be there: the replica never executed the consensus seq
     * that committed the order (another replica's audit line says which):
     * it caught up past it by state transfer, or stopped before it. Without
     * commits.log: past the last line of a replica down at the end, or
     * before the first line of a wiped one. */
    uint64_t not_expected;
    /* The first problem seen, for the message. */
    bool have_example, ex_violation;
    uint32_t ex_replica, ex_client;
    uint64_t ex_coid, ex_ack_seq, ex_log_seq;
    char ex_what[24];
};
void ledger_check(const struct ledger *acks, const struct ledger_replica *reps, uint32_t n,
                  struct ledger_result *out);
/* Violations: a mismatch anywhere; on a replica never killed, an order it
 * executed (or no replica logged) that is missing, or a repeated one. */
bool ledger_violated(const struct ledger_result *r);
/* Nothing wrong at all, killed replicas included. */
bool ledger_clean(const struct ledger_result *r);

#endif
