/* Private to bftctl (tools/bftctl*.c, tools/loadgen*.c). */
#ifndef BFT_TOOLS_BFTCTL_H
#define BFT_TOOLS_BFTCTL_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "client/client.h"
#include "config/cluster.h"
#include "wire/wire.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "tools/loadgen_ledger.h"

#define CTL_MAX_FAULTS 256 /* --fault flags (a soak schedule has many) */

struct keygen_opts {
    const char *out_dir;
    int protocol;
    uint32_t nodes, clients, f;
    const char *app;
    uint32_t batch_max;
    bool sign;
    uint16_t base_port;   /* replicas at base_port + i */
    uint16_t client_port; /* every client at this port (one load generator) */
    /* Multi-host (docs/deploy.md): replica i on hosts[i] (NULL: 127.0.0.1),
     * the clients on client_host (NULL: 127.0.0.1); replica i serves its
     * status page at http://HOST:status_port+i (0: no status address). */
    const char *hosts[BFT_MAX_REPLICAS];
    const char *client_host;
    uint16_t status_port;
    bool tls;      /* tls+tcp:// addresses, a CA and certificates (docs/tls.md) */
    int transport; /* CTL_TRANSPORT_*: which plain TCP transport (without tls) */
};
/* The plain TCP transports: tcp+direct:// (net/direct.h), the default, or
 * nng's tcp://. Unset means the default (direct, or nng under TLS). */
enum { CTL_TRANSPORT_DEFAULT = 0, CTL_TRANSPORT_DIRECT = 1, CTL_TRANSPORT_NNG = 2 };
/* The address scheme keygen writes: "tls+tcp", "tcp" (nng) or "tcp+direct". */
const char *ctl_url_scheme(bool tls, int transport);
/* "PORT+70": where status ports start above a base port, clear of the
 * replicas (PORT+i), twins (PORT+50+i) and the client port (PORT+99) for
 * n <= BFT_MAX_REPLICAS. */
#define CTL_STATUS_PORT_OFFSET 70
int ctl_keygen(const struct keygen_opts *o, char *err, size_t errlen);
uint32_t ctl_default_f(int protocol, uint32_t nodes);

struct ctl_fault {
    uint32_t replica;
    char behaviour[16];
    double t0, t1; /* t1 < 0: until the end */
    double applied_at;
    bool applied;
    bool ended;     /* T1 reached: restarted / behaviour stopped */
    bool by_leader; /* replica resolved at T0: the one that leads then */
};

struct load_opts {
    const struct bft_cluster *cl;
    uint32_t clients;
    uint32_t envelope;
    uint32_t outstanding; /* envelopes in flight per client */
    uint32_t payload;     /* kv value bytes */
    double duration_s;
    bool quiet;
    /* called about every 10 ms with seconds since start; lets the caller
     * apply timed faults */
    void (*on_tick)(void *ctx, double t);
    void *tick_ctx;
    /* Reads (docs/reads.md): each client keeps up to LOAD_READS_MAX reads
     * in flight besides its writes; once one of its writes is acknowledged,
     * every time a slot is free it issues a read with this probability (%,
     * 0: no reads), a LOOKUP of its latest acknowledged order (kv: a get of
     * its latest put key). read_level: enum bft_read_level, or
     * LOAD_READ_MIX (the levels in turn). */
    uint32_t read_pct;
    int read_level;
    uint32_t read_staleness_ms;
    /* 0: request numbers and client order ids start at 1 (a fresh cluster,
     * bftctl cluster). Else both start here: bftctl load against a running
     * cluster passes the wall clock in us, so a second run, or a run after
     * `bftctl submit` with the same client ids, numbers above everything
     * before it (the replicas execute a request number at most once, and
     * the orders app answers a repeated client order id with DUP). */
    uint64_t first_id;
};
#define LOAD_READS_MAX 2
#define LOAD_READ_MIX (-1)

/* Read latency at one level (completed reads, including those that fell
 * back to an ordered request). */
struct load_reads {
    uint64_t issued, completed, found;
    double lat_ms_p50, lat_ms_p90, lat_ms_p99, lat_ms_max;
};

/* The load generator's share of the latency budget (docs/design.md
 * "Latency budget"): its loop's time by stage (node/budget.h's
 * accumulator with these stages), and per completed write the wait from
 * sending it to the first reply and to the reply that completed it under
 * the client rule (f+1 matching, Raft: the leader's). */
#define LOAD_STAGE_MAP(X)                                                                          \
    X(WAIT, "client_wait")     /* waiting for replies in the poll */                               \
    X(SIGN, "client_sign")     /* encoding and signing envelopes */                                \
    X(SEND, "client_send")     /* handing frames to the transport */                               \
    X(VERIFY, "client_verify") /* decoding, verifying and matching replies */                      \
    X(OTHER, "client_other")   /* bookkeeping, ticks, retransmissions */
#define LOAD_STAGE_ENUM(name, str) LOAD_STAGE_##name,
enum load_stage { LOAD_STAGE_MAP(LOAD_STAGE_ENUM) LOAD_STAGE__COUNT };
const char *load_stage_name(int stage);
struct load_budget {
    uint64_t stage_ns[LOAD_STAGE__COUNT];
    uint64_t first_reply_ns, accept_reply_ns; /* summed over `timed` writes */
    uint64_t timed;
};

#define LOAD_MAX_SECONDS 3600
struct load_result {
    uint64_t completed; /* operations accepted by the client rule */
    uint64_t submitted;
    uint64_t retransmits;
    uint64_t bad_replies;
    double elapsed_s;
    double lat_ms_p50, lat_ms_p90, lat_ms_p99, lat_ms_max;
    uint64_t per_second[LOAD_MAX_SECONDS]; /* completions in each second */
    uint32_t seconds;
    uint32_t per_tenth[LOAD_MAX_SECONDS * 10]; /* completions in each 100 ms */
    double max_stall_ms; /* longest gap without any completion after the first */
    /* Longest window without any completion, counting the start of the run
     * (before the first) and its end (after the last): seconds, and when it
     * began (seconds since the start). */
    double longest_gap_s, longest_gap_from_s;
    uint64_t max_order_seq; /* orders app: highest order number seen */
    uint64_t dup_order_seq; /* orders app: order numbers seen twice (must be 0) */
    /* orders app: every acknowledged order (client, request number, client
     * order id, order number); the caller frees it (ledger_free). */
    struct ledger acks;
    uint64_t acks_not_ok; /* acknowledged with a status other than OK */
    /* closed by the replicas without a result they still hold
     * (BFT_REPLY_NO_RESULT): executed, but no order number to check */
    uint64_t acks_no_result;
    struct load_reads reads[BFT_READ_LEVELS];
    uint64_t read_refusals, read_fallbacks; /* client stats, summed */
    struct load_budget budget;
};
int ctl_load_run(const struct load_opts *o, struct load_result *r, char *err, size_t errlen);

/* Outsider injection: frames of junk, and well-formed messages with bad
 * signatures, sent to every replica. */
int ctl_inject(const struct bft_cluster *cl, bool junk, bool badsig, char *err, size_t errlen);

/* bftctl_opts.c: option parsers shared by the commands. An int protocol
 * at o->off; "junk,badsig" into two flags. */
int ctl_opt_protocol(const char *prog, const struct cli_opt *o, void *ctx, const char *arg);
/* --transport direct|nng into an int at o->off (CTL_TRANSPORT_*). */
int ctl_opt_transport(const char *prog, const struct cli_opt *o, void *ctx, const char *arg);
/* What the cluster's addresses run over: "direct", "nng" or "nng-tls". */
const char *ctl_transport_name(const struct bft_cluster *cl);
/* -1 (printed) for --tls with --transport direct given. */
int ctl_check_transport(const char *prog, bool tls, int transport);
int ctl_parse_inject(const char *prog, const char *flag, const char *arg, bool *junk, bool *badsig);

int cmd_keygen(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_inject(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_soak(int argc, char **argv);
int cmd_read(int argc, char **argv);
int cmd_submit(int argc, char **argv);
/* Against a running cluster (docs/deploy.md). */
int cmd_load(int argc, char **argv);
int cmd_check(int argc, char **argv);

#endif
