/* The acknowledgement ledger: every order a client saw acknowledged (the
 * client rule accepted its result), checked after the run against each
 * honest replica's own record of accepted orders (its audit.log). Pure:
 * tests/tools/test_loadgen.c drives it with arrays. */
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
    const struct ledger *log; /* sorted (ledger_sort) */
};

struct ledger_result {
    uint64_t acks, checked; /* acks; (ack, replica) pairs checked */
    uint64_t ok;            /* present exactly once with the same order number */
    /* Violations, on any honest replica: an audit log is complete up to
     * its last line, kill -9 and state transfer included (orders a replica
     * installed by snapshot are written from the certified state). */
    uint64_t mismatch; /* the replica holds the order under another order number */
    uint64_t missing_live, repeated_live;     /* on a replica never killed */
    uint64_t missing_killed, repeated_killed; /* on one killed with SIGKILL */
    /* Past the last line of the replica's log: it is down at the end or
     * behind (the digest check says which). */
    uint64_t not_reached;
    /* The first problem seen, for the message. */
    bool have_example, ex_violation;
    uint32_t ex_replica, ex_client;
    uint64_t ex_coid, ex_ack_seq, ex_log_seq;
    char ex_what[24];
};
void ledger_check(const struct ledger *acks, const struct ledger_replica *reps, uint32_t n,
                  struct ledger_result *out);
/* Violations: an acknowledged order held under another number, missing
 * below the end of a replica's log, or held twice. */
bool ledger_violated(const struct ledger_result *r);
/* Nothing wrong at all, killed replicas included. */
bool ledger_clean(const struct ledger_result *r);

#endif
