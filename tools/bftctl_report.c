/* The result of a `bftctl cluster` run: a readable summary on stdout and
 * the JSON of the docs/design.md contract. Every figure printed is measured in
 * this run; nothing is estimated. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "tools/bftctl_budget.h"
#include "tools/bftctl_run.h"

static void sum(const struct ctl_run *run, struct ctl_totals *t)
{
    memset(t, 0, sizeof *t);
    for (uint32_t i = 0; i < run->nodes; i++) {
        const struct ctl_replica *r = &run->reps[i];
        t->msgs += r->msgs_sent;
        t->bytes += r->bytes_sent;
        t->cpu_s += r->cpu_s;
        if (r->view_changes > t->view_changes) t->view_changes = r->view_changes;
    }
}

void ctl_ledger_print(const struct ctl_run *run)
{
    if (strcmp(run->app, "orders") != 0) return;
    if (!run->have_ledger) {
        printf("  ledger          not checked: %s\n", run->ledger_err);
        return;
    }
    const struct ledger_result *r = &run->ledger;
    printf("  ledger          %llu acknowledged orders x honest replicas: %llu exactly once with "
           "the same order number; mismatched %llu; missing %llu / repeated %llu on replicas "
           "never killed; missing %llu / repeated %llu on replicas killed with SIGKILL; %llu past "
           "the end of a replica's log (down or behind)%s\n",
           (unsigned long long)r->acks, (unsigned long long)r->ok, (unsigned long long)r->mismatch,
           (unsigned long long)r->missing_live, (unsigned long long)r->repeated_live,
           (unsigned long long)r->missing_killed, (unsigned long long)r->repeated_killed,
           (unsigned long long)r->not_reached,
           run->load->acks.dropped ? " (ledger full: some acks not recorded)" : "");
    if (r->have_example)
        printf("  ledger          e.g. client %u order %llu acknowledged as order number %llu: %s "
               "on replica %u%s\n",
               r->ex_client, (unsigned long long)r->ex_coid, (unsigned long long)r->ex_ack_seq,
               r->ex_what, r->ex_replica,
               !strcmp(r->ex_what, "mismatch") ? " (it holds another number)" : "");
}

/* Reads by level (--reads, docs/reads.md): latency of completed reads,
 * including those that fell back to an ordered request. */
const char *ctl_reads_level_arg(const struct ctl_run *run)
{
    return run->read_level_arg ? run->read_level_arg : "linearizable";
}

static void reads_print(const struct ctl_run *run)
{
    const struct load_result *L = run->load;
    if (!run->read_pct) return;
    printf("  reads           %u%% at %s: %llu refused as stale, %llu ordered as fallback\n",
           run->read_pct, ctl_reads_level_arg(run), (unsigned long long)L->read_refusals,
           (unsigned long long)L->read_fallbacks);
    for (int l = 0; l < BFT_READ_LEVELS; l++) {
        const struct load_reads *x = &L->reads[l];
        if (!x->issued) continue;
        printf("    %-13s %llu done (%llu found)  p50 %.2f  p90 %.2f  p99 %.2f  max %.2f ms\n",
               bft_read_level_name(l), (unsigned long long)x->completed,
               (unsigned long long)x->found, x->lat_ms_p50, x->lat_ms_p90, x->lat_ms_p99,
               x->lat_ms_max);
    }
}

/* The measured figures, one line each. */
static void print_summary(const struct ctl_run *run, const struct ctl_totals *t,
                          const struct ctl_phases *ph, double div, double tput)
{
    const struct load_result *L = run->load;
    printf("  committed ops   %llu  (%.0f ops/s over %.1f s)\n", (unsigned long long)L->completed,
           tput, L->elapsed_s);
    printf("  latency ms      p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", L->lat_ms_p50,
           L->lat_ms_p90, L->lat_ms_p99, L->lat_ms_max);
    printf("  per op          %.1f msgs, %.0f bytes, %.0f us replica CPU\n", t->msgs / div,
           t->bytes / div, t->cpu_s * 1e6 / div);
    printf("  view changes    %llu   longest stall %.0f ms   client retransmits %llu\n",
           (unsigned long long)t->view_changes, L->max_stall_ms,
           (unsigned long long)L->retransmits);
    if (ph->sched.any)
        printf("  throughput      before faults %.0f ops/s (%.1f-%.1f s), during %.0f ops/s "
               "(%.1f-%.1f s), after the last heal %.0f ops/s (%.1f-%.1f s)\n",
               ph->before.ops_s, ph->before.from_s, ph->before.to_s, ph->during.ops_s,
               ph->during.from_s, ph->during.to_s, ph->after.ops_s, ph->after.from_s,
               ph->after.to_s);
    printf("  no commits      longest window %.2f s (from t=%.2f s)\n", L->longest_gap_s,
           L->longest_gap_from_s);
    if (!strcmp(run->app, "orders"))
        printf("  orders          highest order number %llu, duplicates seen by clients %llu\n",
               (unsigned long long)L->max_order_seq, (unsigned long long)L->dup_order_seq);
    ctl_ledger_print(run);
    reads_print(run);
    struct ctl_budget b;
    ctl_budget_compute(run->reps, run->nodes, L, &b);
    ctl_budget_print(stdout, &b);
}

/* One line per replica: honest, crashed, where it stopped, what it refused. */
static void print_replicas(const struct ctl_run *run)
{
    printf("  replica honest crashed committed_seq view  rss_kib  cpu_s  msgs_sent  "
           "state_digest      rejected\n");
    for (uint32_t i = 0; i < run->nodes; i++) {
        const struct ctl_replica *r = &run->reps[i];
        char rej[256] = "";
        size_t off = 0;
        for (int k = BFT_REJECT__FIRST; k < BFT_REJECT__COUNT; k++)
            if (r->rejected[k] && off < sizeof rej)
                off += (size_t)snprintf(rej + off, sizeof rej - off, "%s%s=%llu", off ? "," : "",
                                        bft_reject_name(k), (unsigned long long)r->rejected[k]);
        printf("  %-7u %-6s %-7s %13llu %5llu %8ld %6.2f %10llu  %.16s  %s\n", r->id,
               r->honest ? "yes" : "no", r->killed ? "yes" : "no",
               (unsigned long long)r->committed_seq, (unsigned long long)r->view, r->rss_kib,
               r->cpu_s, (unsigned long long)r->msgs_sent,
               r->state_digest[0] ? r->state_digest : "-", off ? rej : "-");
    }
}

/* The verdict line; the exit code (0, 3 unsafe, 4 no progress). */
static int verdict(const struct ctl_run *run, const struct ctl_verdict *vp,
                   const struct ctl_phases *ph, double tput)
{
    const struct load_result *L = run->load;
    int rc = BFT_EXIT_OK;
    if (!vp->safe) {
        if (!strcmp(vp->bad_what, "final"))
            printf("SAFETY VIOLATED: honest replicas at seq %llu hold different state digests\n",
                   (unsigned long long)vp->bad_seq);
        else
            printf("SAFETY VIOLATED: first divergence at seq %llu: replica %u %s %.16s... vs "
                   "replica %u %s %.16s...\n",
                   (unsigned long long)vp->bad_seq, vp->bad_a, vp->bad_what, vp->val_a, vp->bad_b,
                   vp->bad_what, vp->val_b);
        rc = BFT_EXIT_UNSAFE;
    } else if (L->dup_order_seq) {
        printf("SAFETY VIOLATED: clients were given %llu order numbers twice\n",
               (unsigned long long)L->dup_order_seq);
        rc = BFT_EXIT_UNSAFE;
    } else if (run->have_ledger && ledger_violated(&run->ledger)) {
        const struct ledger_result *lr = &run->ledger;
        printf("SAFETY VIOLATED: acknowledged orders not held exactly once with the same order "
               "number: %llu mismatched, %llu missing and %llu repeated on replicas never "
               "killed (e.g. client %u order %llu, number %llu: %s on replica %u)\n",
               (unsigned long long)lr->mismatch, (unsigned long long)lr->missing_live,
               (unsigned long long)lr->repeated_live, lr->ex_client,
               (unsigned long long)lr->ex_coid, (unsigned long long)lr->ex_ack_seq, lr->ex_what,
               lr->ex_replica);
        rc = BFT_EXIT_UNSAFE;
    } else if (ph->core_up && !ph->progressed) {
        if (ph->sched.any)
            printf("NO PROGRESS: no operation committed in the %.1f s after the last fault healed "
                   "at t=%.1f s, with %u honest replicas up (quorum %u); %llu ops before\n",
                   ph->after.to_s - ph->after.from_s, ph->sched.settle_s, ph->honest_up, ph->quorum,
                   (unsigned long long)L->completed);
        else
            printf("NO PROGRESS: no operation committed in %.1f s\n", L->elapsed_s);
        rc = BFT_EXIT_NO_PROGRESS;
    } else {
        if (!ph->core_up)
            printf("progress not required: %u honest replicas up and connected at the end, "
                   "quorum %u (%llu ops after the last heal)\n",
                   ph->honest_up, ph->quorum, (unsigned long long)ph->after.ops);
        printf("safety: ok (%llu seq comparisons across honest replicas; %u replicas at the top "
               "seq agree on the state digest); %llu ops, %.0f ops/s, p50 %.2f ms, p99 %.2f ms\n",
               (unsigned long long)vp->common_seqs, vp->at_top, (unsigned long long)L->completed,
               tput, L->lat_ms_p50, L->lat_ms_p99);
    }
    return rc;
}

int ctl_report(struct ctl_run *run)
{
    struct ctl_verdict v;
    ctl_check_safety(run->reps, run->nodes, &v);
    struct ctl_totals t;
    sum(run, &t);
    struct ctl_phases ph;
    ctl_phases(run, &ph);
    const struct load_result *L = run->load;
    double div = L->completed ? (double)L->completed : 1.0;
    double tput = L->elapsed_s > 0 ? L->completed / L->elapsed_s : 0;
    if (!run->quiet) {
        print_summary(run, &t, &ph, div, tput);
        print_replicas(run);
    }
    int rc = verdict(run, &v, &ph, tput);
    bool ledger_ok = !run->have_ledger || !ledger_violated(&run->ledger);
    if (run->have_expect)
        rc = ctl_scenario_verdict(run, v.safe && !L->dup_order_seq && ledger_ok, rc);
    if (run->json_path && ctl_report_json(run, &v, &t, div, &ph) != 0 && rc == BFT_EXIT_OK)
        rc = BFT_EXIT_USAGE;
    return rc;
}
