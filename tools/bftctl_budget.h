/* Private to bftctl cluster: the latency budget of a run (docs/design.md
 * "Latency budget"), from the replicas' stats.json and the load
 * generator's own figures. */
#ifndef BFT_TOOLS_BFTCTL_BUDGET_H
#define BFT_TOOLS_BFTCTL_BUDGET_H

#include <cjson/cJSON.h>
#include <stdio.h>

#include "tools/bftctl_check.h"

/* One row per replica stage; the client's stages go with the replica
 * stage that does the same work (sign, send, verify, other, idle). */
struct ctl_budget_row {
    int stage;                              /* BFT_STAGE_* */
    int client_stage;                       /* LOAD_STAGE_*, or -1: the client has none */
    double client_us, leader_us, backup_us; /* per completed / executed op */
    double leader_calls;                    /* times the leader entered it, per op */
    double share_p50;                       /* (client + leader) / p50; < 0: not a cost (idle) */
    double share_mean;                      /* (client + leader) / the mean latency; < 0 likewise */
};

struct ctl_budget {
    bool have;  /* some replica reported stages and some op completed */
    int leader; /* the replica whose stages are shown (-1: none) */
    uint32_t backups;
    double p50_us;
    struct ctl_budget_row row[BFT_STAGE__COUNT];
    /* Sampled phases, means from arrival at the proposing replica, over
     * every replica weighted by its samples (HotStuff's leaders rotate). */
    double phase_us[BFT_PHASE__COUNT];
    uint64_t phase_n[BFT_PHASE__COUNT];
    /* Client: send to first reply, send to the reply that completed it. */
    double first_reply_us, accept_reply_us;
    uint64_t client_timed;
};

/* The leader is the replica whose samples were proposed there most often
 * (the PBFT primary, the Raft leader), else the one stats.json says leads. */
void ctl_budget_compute(const struct ctl_replica *reps, uint32_t n, const struct load_result *L,
                        struct ctl_budget *b);
void ctl_budget_print(FILE *out, const struct ctl_budget *b);
/* "latency_budget" in the run's JSON. */
void ctl_budget_json(cJSON *o, const struct ctl_budget *b);

#endif
