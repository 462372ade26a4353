/* bftctl cluster: a local cluster, one bftd process per replica on
 * 127.0.0.1, a closed-loop order load, timed faults, a clean stop, and a
 * safety verdict from the replicas' own commit logs. */
#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "node/node.h"
#include "client/client.h"
#include "config/cluster.h"
#include "app/app.h"
#include "core/core.h"
#include "tools/bftctl_check.h"
#include "tools/bftctl_run.h"

static uint64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct ctl_run *ctl_run_new(void)
{
    struct ctl_run *run = calloc(1, sizeof *run);
    if (!run) return NULL;
    run->clients = 4;
    run->batch = 64;
    run->envelope = 1;
    run->outstanding = 1;
    run->payload = 16;
    run->read_level = BFT_READ_LINEARIZABLE;
    run->read_staleness_ms = BFT_READ_STALENESS_DEFAULT_MS;
    run->drop = run->duplicate = run->reorder = run->delay_ms = -1;
    snprintf(run->app, sizeof run->app, "orders");
    return run;
}

void ctl_run_free(struct ctl_run *run)
{
    if (!run) return;
    if (run->reps)
        for (uint32_t i = 0; i < run->nodes; i++)
            free(run->reps[i].log);
    free(run->reps);
    if (run->load) ledger_free(&run->load->acks);
    free(run->load);
    bft_cluster_free(&run->cl);
    free(run);
}

int cmd_cluster(int argc, char **argv)
{
    struct ctl_run *run = ctl_run_new();
    if (!run) return BFT_EXIT_USAGE;
    int rc = BFT_EXIT_USAGE;
    int r = ctl_cluster_args(run, argc, argv);
    if (r == 0)
        rc = ctl_cluster_exec(run);
    else if (r > 0)
        rc = BFT_EXIT_OK; /* --help */
    ctl_run_free(run);
    return rc;
}

/* Progress is judged after the last heal: make sure the load runs on for a
 * while after it (a scenario has its own progress_after_s). */
static void extend_load(struct ctl_run *run)
{
    run->asked_duration_s = run->duration_s;
    if (run->have_expect) return;
    struct ctl_schedule s;
    ctl_schedule(run, run->duration_s, &s);
    if (s.any && run->duration_s - s.settle_s < CTL_HEALTHY_MIN_S) {
        run->duration_s = s.settle_s + CTL_HEALTHY_MIN_S;
        if (!run->quiet)
            printf("bftctl cluster: load extended from %.1f s to %.1f s so that %.0f s of "
                   "load follow the last heal at t=%.1f s\n",
                   run->asked_duration_s, run->duration_s, CTL_HEALTHY_MIN_S, s.settle_s);
    }
}

/* --dir (created one level deep) or a fresh temporary directory. */
static int make_dir(struct ctl_run *run)
{
    if (run->dir_arg) {
        snprintf(run->dir, sizeof run->dir, "%s", run->dir_arg);
        if (mkdir(run->dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "bftctl cluster: cannot create %s: %s\n", run->dir, strerror(errno));
            return -1;
        }
        return 0;
    }
    snprintf(run->dir, sizeof run->dir, "/tmp/bft-cluster-XXXXXX");
    if (!mkdtemp(run->dir)) {
        fprintf(stderr, "bftctl cluster: mkdtemp: %s\n", strerror(errno));
        return -1;
    }
    return 0;
}

/* Ports, keys, cluster.json, and the bftd binary; returns the base port
 * (0 on error, message printed). */
static uint16_t make_cluster(struct ctl_run *run)
{
    char err[512], cfg[700], sd[PATH_MAX];
    uint16_t base = run->base_port ? run->base_port : ctl_pick_ports(run->nodes);
    if (!base) {
        fprintf(stderr, "bftctl cluster: no free port range on 127.0.0.1\n");
        return 0;
    }
    struct keygen_opts ko = {.out_dir = run->dir,
                             .protocol = run->protocol,
                             .nodes = run->nodes,
                             .clients = run->clients,
                             .f = ctl_default_f(run->protocol, run->nodes),
                             .app = run->app,
                             .batch_max = run->batch,
                             .sign = run->sign,
                             .tls = run->tls,
                             .transport = run->transport,
                             .base_port = base,
                             .client_port = (uint16_t)(base + 99),
                             .status_port = (uint16_t)(base + CTL_STATUS_PORT_OFFSET)};
    if (ctl_keygen(&ko, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl cluster: keygen: %s\n", err);
        return 0;
    }
    snprintf(cfg, sizeof cfg, "%s/cluster.json", run->dir);
    if (bft_cluster_load(&run->cl, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl cluster: %s\n", err);
        return 0;
    }
    ctl_self_dir(sd, sizeof sd);
    const char *env_bftd = getenv("BFTD");
    snprintf(run->bftd, sizeof run->bftd, "%s", env_bftd ? env_bftd : sd);
    if (!env_bftd) strncat(run->bftd, "/bftd", sizeof run->bftd - strlen(run->bftd) - 1);
    if (access(run->bftd, X_OK) != 0) {
        fprintf(stderr, "bftctl cluster: cannot run %s (set BFTD=path/to/bftd)\n", run->bftd);
        return 0;
    }
    return base;
}

/* One bftd per replica. Raft: a crash-fault protocol is only broken from
 * the leader's seat. The liar starts first and the others ~0.9 s later, so
 * its election timer (randomised in [T, 2T)) tends to fire first; then,
 * before T=0, any other leader is restarted until the liar leads
 * (ctl_settle_leader). */
static int start_replicas(struct ctl_run *run, uint16_t base)
{
    run->reps = calloc(run->nodes, sizeof *run->reps);
    if (!run->reps) return -1;
    for (uint32_t i = 0; i < run->nodes; i++)
        run->twin_port[i] = (uint16_t)(base + 50 + i);
    uint64_t head_ms = run->head_start >= 0 ? 900 : 0;
    uint64_t settle_ms = run->head_start >= 0 ? 9000 : 0;
    run->plan_start_ms = realtime_ms() + head_ms + settle_ms + 300;
    if (ctl_write_plan(run) != 0) return -1;
    for (uint32_t k = 0; k < run->nodes; k++) {
        uint32_t i = run->head_start >= 0 ? (k + (uint32_t)run->head_start) % run->nodes : k;
        run->reps[i].id = i;
        /* crash faults are honest; a Byzantine replica may lie in its logs */
        run->reps[i].honest = !run->have_plan || !fault_plan_byzantine(&run->plan, i);
        if (k == 1 && head_ms) usleep((useconds_t)head_ms * 1000);
        run->reps[i].pid = ctl_spawn_replica(run, i, false);
        if (run->reps[i].pid < 0) {
            fprintf(stderr, "bftctl cluster: fork: %s\n", strerror(errno));
            ctl_stop_all(run);
            return -1;
        }
    }
    return 0;
}

static void print_banner(const struct ctl_run *run)
{
    if (run->quiet) return;
    printf("bft cluster: %s n=%u f=%u, %u clients, batch %u, envelope %u, %.1f s, transport %s, "
           "dir %s\n",
           bft_protocol_name(run->protocol), run->nodes, run->cl.f, run->clients, run->batch,
           run->envelope, run->duration_s, ctl_transport_name(&run->cl), run->dir);
    for (uint32_t i = 0; i < run->plan.n_partitions && run->have_plan; i++) {
        char spec[FAULT_SPEC_MAX];
        fault_partition_format(&run->plan.partition[i], spec, sizeof spec);
        printf("  partition %s\n", spec);
    }
    if (run->head_start >= 0)
        printf("  raft: replica %d started 0.9 s ahead so that it leads\n", run->head_start);
    for (uint32_t i = 0; i < run->nodes; i++)
        if (run->twin[i])
            printf("  twin: a second bftd runs replica %u (same id and key) on port %u\n", i,
                   (unsigned)run->twin_port[i]);
}

/* Wait for T=0 (Raft: after making the liar lead); fail if a replica
 * exited at start. */
static int await_start(struct ctl_run *run)
{
    if (run->head_start >= 0) {
        ctl_settle_leader(run);
        if (!run->quiet)
            printf("  raft: liar %d %s before T=0 (%u leader restarts)\n", run->head_start,
                   run->liar_leads ? "leads" : "does NOT lead", run->leader_bounces);
        uint64_t now = realtime_ms();
        if (now + 300 < run->plan_start_ms)
            usleep((useconds_t)(run->plan_start_ms - now - 300) * 1000);
    }
    usleep(300000); /* let listeners come up; clients retransmit anyway */
    for (uint32_t i = 0; i < run->nodes; i++) {
        int st;
        if (waitpid(run->reps[i].pid, &st, WNOHANG) == run->reps[i].pid) {
            fprintf(stderr, "bftctl cluster: replica %u exited at start (see %s/replica-%u.log)\n",
                    i, run->dir, i);
            run->reps[i].pid = 0;
            ctl_stop_all(run);
            return -1;
        }
    }
    return 0;
}

/* The load with the timed faults, then a clean stop and what the replicas
 * left on disk. */
static int run_load(struct ctl_run *run)
{
    char err[512];
    struct load_opts lo = {.cl = &run->cl,
                           .clients = run->clients,
                           .envelope = run->envelope,
                           .outstanding = run->outstanding,
                           .payload = run->payload,
                           .duration_s = run->duration_s,
                           .quiet = run->quiet,
                           .on_tick = ctl_on_tick,
                           .tick_ctx = run,
                           .read_pct = run->read_pct,
                           .read_level = run->read_level,
                           .read_staleness_ms = run->read_staleness_ms};
    run->load = calloc(1, sizeof *run->load);
    if (!run->load || ctl_load_run(&lo, run->load, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl cluster: load: %s\n", run->load ? err : "out of memory");
        ctl_stop_all(run);
        return -1;
    }
    if (run->inject_pid > 0) waitpid(run->inject_pid, NULL, 0);
    ctl_quiesce(run);
    ctl_stop_all(run);
    for (uint32_t i = 0; i < run->nodes; i++) {
        ctl_read_stats(run->dir, &run->reps[i]);
        ctl_read_commits(run->dir, &run->reps[i]);
    }
    if (!strcmp(run->app, "orders")) {
        if (ctl_ledger_csv(run->dir, &run->load->acks) != 0)
            fprintf(stderr, "bftctl cluster: cannot write %s/ledger.csv\n", run->dir);
        run->have_ledger =
            ctl_ledger_run(run->dir, run->reps, run->nodes, &run->load->acks, &run->ledger,
                           run->ledger_err, sizeof run->ledger_err) == 0;
    }
    return 0;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Undo start_replicas before T=0: stop every bftd and delete what it
 * wrote (its data dir, its log), so the next attempt starts as the first
 * did. Keys and cluster.json stay. */
static void discard_replicas(struct ctl_run *run)
{
    ctl_stop_all(run);
    for (uint32_t i = 0; i < run->nodes; i++) {
        char p[PATH_MAX];
        snprintf(p, sizeof p, "%s/replica-%u", run->dir, i);
        nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        snprintf(p, sizeof p, "%s/replica-%u-twin", run->dir, i);
        nftw(p, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        snprintf(p, sizeof p, "%s/replica-%u.log", run->dir, i);
        unlink(p);
        free(run->reps[i].log);
    }
    free(run->reps);
    run->reps = NULL;
    run->liar_leads = false;
    run->leader_bounces = 0;
}

/* A Raft liar scenario is only about Raft if the liar leads at T=0
 * (docs/faults.md "Raft: the liar must lead"). Which replica wins an
 * election is a race of timers: each leader restart before T=0 gives the
 * liar about one chance in two, and a loaded machine can spend the whole
 * settling time losing it. Nothing has run yet, so the cluster is set up
 * again from nothing, up to CTL_LIAR_ATTEMPTS times; a run whose liar
 * still does not lead goes on and its report says so. */
#define CTL_LIAR_ATTEMPTS 3

int ctl_cluster_exec(struct ctl_run *run)
{
    extend_load(run);
    if (make_dir(run) != 0) return BFT_EXIT_USAGE;
    uint16_t base = make_cluster(run);
    if (!base) return BFT_EXIT_USAGE;
    for (;;) {
        run->setup_attempts++;
        if (start_replicas(run, base) != 0) return BFT_EXIT_USAGE;
        if (run->setup_attempts == 1) print_banner(run);
        if (await_start(run) != 0) return BFT_EXIT_USAGE;
        if (run->head_start < 0 || run->liar_leads || run->setup_attempts >= CTL_LIAR_ATTEMPTS)
            break;
        if (!run->quiet)
            printf("  raft: setting the cluster up again so that liar %d leads (attempt %u of "
                   "%u)\n",
                   run->head_start, run->setup_attempts + 1, CTL_LIAR_ATTEMPTS);
        discard_replicas(run);
    }
    if (run_load(run) != 0) return BFT_EXIT_USAGE;
    return ctl_report(run);
}
