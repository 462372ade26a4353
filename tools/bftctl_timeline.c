/* bftctl cluster: the run's timeline (timed crash / wipe / twin faults,
 * the outsider injection), the quiet period after the load and the stop. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/bftctl_run.h"

/* One fault at time t: apply it at T0 (a kill for crash and wipe), run a
 * twin's clone from T0 to T1, restart a killed replica at T1. */
static void fault_step(struct ctl_run *run, struct ctl_fault *f, double t)
{
    struct ctl_replica *r = &run->reps[f->replica];
    bool kills = !strcmp(f->behaviour, "crash") || !strcmp(f->behaviour, "wipe");
    if (!f->applied && t >= f->t0) {
        if (kills) {
            if (r->pid > 0) {
                kill(r->pid, SIGKILL);
                waitpid(r->pid, NULL, 0);
                r->pid = 0;
            }
            r->killed = true;
            r->ever_killed = true;
        }
        f->applied = true;
        f->applied_at = t;
        if (!run->quiet)
            printf("  t=%5.2fs  fault applied: replica %u %s\n", t, f->replica, f->behaviour);
    }
    /* twin: the clone starts at T0 and stops at T1 (bftctl_scenario.c). */
    bool twin = !strcmp(f->behaviour, "twin") && f->replica < BFT_MAX_REPLICAS;
    if (twin && f->applied && run->twin_pid[f->replica] == 0 && !f->ended) {
        run->twin_pid[f->replica] = ctl_spawn_twin(run, f->replica);
        if (!run->quiet)
            printf("  t=%5.2fs  twin of replica %u started (its key and a copy of its WAL)\n", t,
                   f->replica);
    }
    if (twin && f->applied && !f->ended && f->t1 >= 0 && t >= f->t1) {
        if (run->twin_pid[f->replica] > 0) {
            kill(run->twin_pid[f->replica], SIGKILL);
            waitpid(run->twin_pid[f->replica], NULL, 0);
            run->twin_pid[f->replica] = 0;
        }
        f->ended = true;
    }
    if (kills && f->applied && !f->ended && f->t1 >= 0 && t >= f->t1) {
        bool fresh = !strcmp(f->behaviour, "wipe");
        r->pid = ctl_spawn_replica(run, f->replica, fresh);
        r->killed = false;
        r->restarted = true;
        if (fresh) r->wiped = true;
        f->ended = true;
        if (!run->quiet)
            printf("  t=%5.2fs  replica %u restarted %s\n", t, f->replica,
                   fresh ? "with empty state" : "from its WAL");
    }
}

/* Halfway through, an outsider (--inject) throws bad input at every
 * replica. */
static void maybe_inject(struct ctl_run *run, double t)
{
    if (run->injected || t < run->duration_s / 2) return;
    run->injected = true;
    /* The outsider is its own process (`bftctl inject`), like a
     * real attacker, so the load generator is not held up. It is
     * exec'd, not just forked: nng is not fork-safe. */
    char self[PATH_MAX], cfgp[700];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    self[sl > 0 ? sl : 0] = 0;
    snprintf(cfgp, sizeof cfgp, "%s/cluster.json", run->dir);
    const char *what = run->inject_junk && run->inject_badsig ? "junk,badsig"
                       : run->inject_junk                     ? "junk"
                                                              : "badsig";
    fflush(stdout);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        ctl_child_dies_with(parent);
        execl(self, "bftctl", "inject", "--config", cfgp, "--what", what, (char *)NULL);
        _exit(BFT_EXIT_EXEC_FAILED);
    }
    run->inject_pid = pid;
    if (pid < 0)
        fprintf(stderr, "bftctl cluster: inject: fork: %s\n", strerror(errno));
    else if (!run->quiet)
        printf("  t=%5.2fs  outsider injected%s%s into every replica\n", t,
               run->inject_junk ? " junk frames" : "",
               run->inject_badsig ? " badly signed messages" : "");
}

void ctl_on_tick(void *ctx, double t)
{
    struct ctl_run *run = ctx;
    for (uint32_t i = 0; i < run->n_faults; i++) {
        struct ctl_fault *f = &run->faults[i];
        if (f->by_leader && !f->applied && t >= f->t0) {
            int l = ctl_current_leader(run);
            if (l < 0) continue; /* no leader known yet: try at the next tick */
            f->replica = (uint32_t)l;
        }
        fault_step(run, f, t);
    }
    if (run->inject_junk || run->inject_badsig) maybe_inject(run, t);
}

/* After the load stops, let live replicas finish what is in flight so that
 * their final state digests are comparable. Bounded wait. */
void ctl_quiesce(struct ctl_run *run)
{
    uint64_t prev_top = UINT64_MAX;
    for (int i = 0; i < 40; i++) {
        usleep(100000);
        uint64_t top = 0, low = UINT64_MAX;
        for (uint32_t r = 0; r < run->cl.n; r++) {
            struct ctl_replica *rep = &run->reps[r];
            if (rep->killed) continue;
            if (ctl_read_stats(run->dir, rep) != 0) continue;
            if (rep->committed_seq > top) top = rep->committed_seq;
            if (rep->committed_seq < low) low = rep->committed_seq;
        }
        if (top == low && top == prev_top) return;
        prev_top = top;
    }
}

static void stop_twins(struct ctl_run *run)
{
    for (uint32_t r = 0; r < run->nodes && r < BFT_MAX_REPLICAS; r++) {
        if (run->twin_pid[r] <= 0) continue;
        kill(run->twin_pid[r], SIGTERM);
        for (int i = 0; i < 100 && waitpid(run->twin_pid[r], NULL, WNOHANG) == 0; i++)
            usleep(20000);
        kill(run->twin_pid[r], SIGKILL);
        waitpid(run->twin_pid[r], NULL, WNOHANG);
        run->twin_pid[r] = 0;
    }
}

void ctl_stop_all(struct ctl_run *run)
{
    stop_twins(run);
    for (uint32_t r = 0; r < run->cl.n; r++)
        if (run->reps[r].pid > 0 && !run->reps[r].killed) kill(run->reps[r].pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        bool any = false;
        for (uint32_t r = 0; r < run->cl.n; r++) {
            struct ctl_replica *rep = &run->reps[r];
            if (rep->pid <= 0) continue;
            int st;
            pid_t w = waitpid(rep->pid, &st, WNOHANG);
            if (w == rep->pid) {
                rep->exit_status = st;
                rep->pid = 0;
            } else {
                any = true;
            }
        }
        if (!any) return;
        usleep(50000);
    }
    for (uint32_t r = 0; r < run->cl.n; r++) {
        if (run->reps[r].pid <= 0) continue;
        fprintf(stderr, "bftctl cluster: replica %u did not stop; killing it\n", r);
        kill(run->reps[r].pid, SIGKILL);
        waitpid(run->reps[r].pid, NULL, 0);
        run->reps[r].pid = 0;
    }
}
