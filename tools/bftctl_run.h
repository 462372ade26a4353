/* Private to bftctl cluster: the state of one run. */
#ifndef BFT_TOOLS_BFTCTL_RUN_H
#define BFT_TOOLS_BFTCTL_RUN_H

#include <limits.h>

#include "config/cluster.h"
#include "faults/faults.h"
#include "tools/bftctl_check.h"

struct ctl_run {
    int protocol;
    uint32_t nodes, clients, batch, envelope, outstanding, payload;
    /* --reads PCT --read-level L (docs/reads.md) */
    uint32_t read_pct, read_staleness_ms;
    int read_level;
    const char *read_level_arg;
    double duration_s;
    bool sign, quiet, inject_junk, inject_badsig, injected;
    bool tls;      /* --tls: keygen --tls, everything over tls+tcp:// (docs/tls.md) */
    int transport; /* --transport: CTL_TRANSPORT_* (keygen's; net/direct.h) */
    pid_t inject_pid;
    uint16_t base_port;
    char app[16];
    const char *dir_arg, *json_path;
    const char *fault_args[CTL_MAX_FAULTS];
    struct ctl_fault faults[CTL_MAX_FAULTS];
    uint32_t n_faults;
    char dir[600];
    char bftd[PATH_MAX];
    struct bft_cluster cl;
    struct ctl_replica *reps;
    struct load_result *load;
    /* Fault plan handed to every bftd (bftctl_scenario.c). */
    struct fault_plan plan;
    bool have_plan;
    uint64_t plan_start_ms; /* CLOCK_REALTIME ms of T=0, shared by every bftd */
    const char *plan_fault_args[CTL_MAX_FAULTS]; /* --fault specs bftd carries out */
    uint32_t n_fault_args_plan;
    const char *partition_args[FAULT_MAX_PARTITIONS];
    uint32_t n_partitions;
    const char *net_arg;
    double drop, duplicate, reorder, delay_ms; /* --drop etc.; <0 unset */
    /* Twins: a second bftd per twin replica (on twin_port[id]). */
    bool twin[BFT_MAX_REPLICAS];
    pid_t twin_pid[BFT_MAX_REPLICAS];
    uint16_t twin_port[BFT_MAX_REPLICAS];
    /* Raft: the replica given a head start so that it leads (-1: none). */
    int head_start;
    uint32_t leader_bounces;
    uint32_t setup_attempts; /* Raft liar runs: clusters set up until the liar led */
    bool liar_leads;
    /* --scenario */
    const char *scenario_path;
    bool have_expect;
    char scenario_name[FAULT_SCENARIO_NAME_MAX];
    struct fault_expect expect;
    bool nodes_set, duration_set;
    double asked_duration_s; /* before extending the load past the last heal */
    /* Acknowledgement ledger vs the audit logs (orders app). */
    bool have_ledger;
    struct ledger_result ledger;
    char ledger_err[256];
};

/* bftctl_cluster.c: one run, reusable by `bftctl soak` (the same code as
 * `bftctl cluster`: the soak only writes the fault schedule). */
struct ctl_run *ctl_run_new(void); /* defaults; NULL if out of memory */
void ctl_run_free(struct ctl_run *run);
/* Parse `bftctl cluster` arguments (argv[0] is skipped); 0, 1 after
 * printing --help, or -1 (message printed). */
int ctl_cluster_args(struct ctl_run *run, int argc, char **argv);
/* Start the replicas, run the load and the faults, stop, report; returns
 * the exit code. The run's results stay in run until ctl_run_free. */
int ctl_cluster_exec(struct ctl_run *run);

/* bftctl_verdict.c: "progressed" means commits after the last fault healed. */
#define CTL_HEALTHY_MIN_S 3.0 /* least load after the last heal */
struct ctl_schedule {
    bool any;        /* some fault is applied during the load */
    double first_s;  /* the first fault starts */
    double settle_s; /* the last fault heals (a fault that never ends: when it starts) */
};
/* The fault schedule of the run over [0, duration_s): faults starting at or
 * after duration_s are never applied and are left out. */
void ctl_schedule(const struct ctl_run *run, double duration_s, struct ctl_schedule *s);
struct ctl_phase {
    double from_s, to_s;
    uint64_t ops;
    double ops_s;
};
struct ctl_phases {
    struct ctl_schedule sched;
    struct ctl_phase before, during, after; /* after: from the last heal to the end */
    uint32_t honest_up, quorum;             /* honest replicas up and connected at the end */
    bool core_up;                           /* honest_up >= quorum: progress is required */
    bool progressed;                        /* commits after the last heal */
};
void ctl_phases(const struct ctl_run *run, struct ctl_phases *ph);

/* bftctl_timeline.c */
void ctl_on_tick(void *ctx, double t); /* load generator tick: timed faults */
void ctl_quiesce(struct ctl_run *run);
void ctl_stop_all(struct ctl_run *run);

/* bftctl_scenario.c */
#define CTL_PLAN_ARGS 24 /* strings */
#define CTL_PLAN_ARGV 48 /* argv entries */
/* Fold --fault/--partition/--net/--scenario into run->plan and the
 * expectation; 0 or -1 (message printed). */
int ctl_build_plan(struct ctl_run *run);
/* Write DIR/plan.json; 0 or -1. */
int ctl_write_plan(struct ctl_run *run);
/* Extra bftd arguments for replica id (instance 0/1), NULL-terminated into
 * argv (at most CTL_PLAN_ARGV entries, strings in buf). */
void ctl_plan_args(const struct ctl_run *run, uint32_t id, int instance, const char **argv,
                   char buf[CTL_PLAN_ARGS][700]);
/* With --scenario: compare the outcome with the expectation, print both,
 * return the exit code (0 matched, 3 safety, 4 progress). */
int ctl_scenario_verdict(const struct ctl_run *run, bool safe, int rc);
/* Raft with a liar that must lead: before T=0, bounce (kill and restart
 * from its WAL) whichever other replica leads until the liar does, within
 * the time left before T=0. */
void ctl_settle_leader(struct ctl_run *run);
/* Spawn / stop a twin's second instance. */
pid_t ctl_spawn_twin(const struct ctl_run *run, uint32_t id);

/* In a child of bftctl, before exec: die (SIGTERM, a clean stop) when
 * bftctl dies, so an interrupted run (Ctrl-C, kill) leaves no replica
 * behind. `parent` is bftctl's pid, read before fork. */
void ctl_child_dies_with(pid_t parent);

/* The live replica that reports it leads (its stats.json), or -1. */
int ctl_current_leader(const struct ctl_run *run);
pid_t ctl_spawn_replica(const struct ctl_run *run, uint32_t id, bool fresh);
/* bftctl_spawn.c: a base port with n replica ports and base+99 free below
 * the ephemeral range (0: none found); the directory bftctl runs from. */
uint16_t ctl_pick_ports(uint32_t n);
void ctl_self_dir(char *out, size_t cap);
/* bftctl_report.c: print the summary, write --json, return the exit code. */
int ctl_report(struct ctl_run *run);
void ctl_ledger_print(const struct ctl_run *run);
const char *ctl_reads_level_arg(const struct ctl_run *run);
/* bftctl_report_json.c: write --json; 0 or -1 (message printed). */
struct ctl_totals { /* summed over the replicas (view changes: the highest) */
    uint64_t msgs, bytes, view_changes;
    double cpu_s;
};
int ctl_report_json(const struct ctl_run *run, const struct ctl_verdict *v,
                    const struct ctl_totals *t, double per_op_div, const struct ctl_phases *ph);

/* bftctl_soak_report.c: the checks of `bftctl soak` over a finished run. */
#define SOAK_CHECKS 5 /* safety, progress, ledger, digests, audit */
struct soak_row {
    const char *name;
    bool ok;
    char detail[400];
};
void ctl_soak_checks(struct ctl_run *run, struct soak_row *rows); /* SOAK_CHECKS rows */
/* Print the table; the exit code (3 safety/ledger/audit, 4 progress/digests). */
int ctl_soak_verdict(const struct soak_row *rows);
/* Add the "soak" section to the cluster JSON at path. */
void ctl_soak_json(const char *path, uint64_t seed, double wipe_prob, char (*spec)[48], uint32_t n,
                   const struct soak_row *rows, int rc);

#endif
