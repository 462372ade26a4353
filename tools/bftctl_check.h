/* Private to bftctl: what a run collected from each replica, and the
 * safety verdict computed from it. */
#ifndef BFT_TOOLS_BFTCTL_CHECK_H
#define BFT_TOOLS_BFTCTL_CHECK_H

#include <sys/types.h>

#include "node/node.h"
#include "tools/bftctl.h"

struct ctl_entry {
    uint64_t seq;
    uint64_t view;
    uint8_t batch[32];
    uint8_t state[32];
};

struct ctl_replica {
    uint32_t id;
    pid_t pid;
    bool honest; /* false for Byzantine behaviours (crash is honest) */
    bool killed; /* a crash fault killed it (and it is down now) */
    bool restarted;
    bool ever_killed; /* killed with SIGKILL at some point */
    bool wiped;       /* restarted with empty state at some point */
    int exit_status;
    /* stats.json */
    bool have_stats;
    uint64_t committed_seq, view, view_changes, msgs_sent, bytes_sent, requests_executed;
    uint64_t verifies, signs;
    double cpu_s;
    long rss_kib;
    char state_digest[65];
    uint64_t rejected[BFT_REJECT__COUNT];
    /* The latency budget (docs/design.md "Latency budget"): stage_us
     * totals, and the sampled phases' means from arrival (phase_n[p] 0:
     * none reached phase p here). */
    bool is_leader;
    double stage_us[BFT_STAGE__COUNT];
    uint64_t stage_calls[BFT_STAGE__COUNT];
    double phase_us[BFT_PHASE__COUNT];
    uint64_t phase_n[BFT_PHASE__COUNT];
    /* commits.log */
    struct ctl_entry *log;
    size_t n_log;
};

struct ctl_verdict {
    bool safe;
    uint64_t common_seqs; /* seq comparisons made */
    /* first divergence, if any */
    uint64_t bad_seq;
    uint32_t bad_a, bad_b;
    char bad_what[16]; /* "batch" or "state" */
    char val_a[65], val_b[65];
    bool digests_equal; /* honest replicas at the top seq agree */
    uint32_t at_top;    /* how many honest replicas reached the top seq */
};

/* The acknowledgement ledger (bftctl_ledger.c): write DIR/ledger.csv and
 * check every acknowledged order against each honest replica's audit.log.
 * 0, or -1 if an audit log could not be read (message in err). */
int ctl_ledger_csv(const char *dir, const struct ledger *acks);
/* The same file at any path, and read back (bftctl load / bftctl check). */
int ctl_ledger_csv_write(const char *path, const struct ledger *acks);
int ctl_ledger_csv_read(const char *path, struct ledger *acks, char *err, size_t errlen);
int ctl_ledger_run(const char *dir, const struct ctl_replica *reps, uint32_t n,
                   const struct ledger *acks, struct ledger_result *out, char *err, size_t errlen);

int ctl_read_stats(const char *dir, struct ctl_replica *r);
int ctl_read_commits(const char *dir, struct ctl_replica *r);
void ctl_check_safety(struct ctl_replica *reps, uint32_t n, struct ctl_verdict *v);

#endif
