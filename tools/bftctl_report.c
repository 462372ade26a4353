/* The result of a `bftctl cluster` run: a readable summary on stdout and
 * the JSON of the docs/design.md contract. Every figure printed is measured in
 * this run; nothing is estimated. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "tools/bftctl_run.h"

struct totals {
    uint64_t msgs, bytes, view_changes;
    double cpu_s;
};

static void sum(const struct ctl_run *run, struct totals *t)
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

static cJSON *replica_json(const struct ctl_replica *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", r->id);
    cJSON_AddBoolToObject(o, "honest", r->honest);
    cJSON_AddBoolToObject(o, "crashed", r->killed);
    cJSON_AddBoolToObject(o, "restarted", r->restarted);
    cJSON_AddNumberToObject(o, "committed_seq", (double)r->committed_seq);
    cJSON_AddNumberToObject(o, "view", (double)r->view);
    cJSON_AddStringToObject(o, "state_digest", r->state_digest);
    cJSON_AddNumberToObject(o, "requests_executed", (double)r->requests_executed);
    cJSON_AddNumberToObject(o, "rss_kib", (double)r->rss_kib);
    cJSON_AddNumberToObject(o, "cpu_s", r->cpu_s);
    cJSON_AddNumberToObject(o, "msgs_sent", (double)r->msgs_sent);
    cJSON_AddNumberToObject(o, "bytes_sent", (double)r->bytes_sent);
    cJSON_AddNumberToObject(o, "signs", (double)r->signs);
    cJSON_AddNumberToObject(o, "verifies", (double)r->verifies);
    cJSON *rej = cJSON_AddObjectToObject(o, "rejected");
    for (int k = BFT_REJECT__FIRST; k < BFT_REJECT__COUNT; k++)
        cJSON_AddNumberToObject(rej, bft_reject_name(k), (double)r->rejected[k]);
    return o;
}

static void phase_json(cJSON *o, const char *name, const struct ctl_phase *p)
{
    cJSON *x = cJSON_AddObjectToObject(o, name);
    cJSON_AddNumberToObject(x, "from_s", p->from_s);
    cJSON_AddNumberToObject(x, "to_s", p->to_s);
    cJSON_AddNumberToObject(x, "ops", (double)p->ops);
    cJSON_AddNumberToObject(x, "ops_s", p->ops_s);
}

static void ledger_json(cJSON *o, const struct ctl_run *run)
{
    if (strcmp(run->app, "orders") != 0) return;
    const struct ledger_result *r = &run->ledger;
    cJSON *x = cJSON_AddObjectToObject(o, "ledger");
    cJSON_AddBoolToObject(x, "checked", run->have_ledger);
    if (!run->have_ledger) {
        cJSON_AddStringToObject(x, "error", run->ledger_err);
        return;
    }
    cJSON_AddStringToObject(x, "verdict",
                            ledger_violated(r) ? "violated"
                            : ledger_clean(r)  ? "ok"
                                               : "incomplete");
    cJSON_AddNumberToObject(x, "acknowledged", (double)r->acks);
    cJSON_AddNumberToObject(x, "not_recorded", (double)run->load->acks.dropped);
    cJSON_AddNumberToObject(x, "acknowledged_not_ok", (double)run->load->acks_not_ok);
    cJSON_AddNumberToObject(x, "pairs_checked", (double)r->checked);
    cJSON_AddNumberToObject(x, "ok", (double)r->ok);
    cJSON_AddNumberToObject(x, "mismatch", (double)r->mismatch);
    cJSON_AddNumberToObject(x, "missing_never_killed", (double)r->missing_live);
    cJSON_AddNumberToObject(x, "repeated_never_killed", (double)r->repeated_live);
    cJSON_AddNumberToObject(x, "missing_killed", (double)r->missing_killed);
    cJSON_AddNumberToObject(x, "repeated_killed", (double)r->repeated_killed);
    cJSON_AddNumberToObject(x, "not_reached", (double)r->not_reached);
}

/* One line on the ledger check; the problem example if any. */
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
static const char *reads_level_arg(const struct ctl_run *run)
{
    return run->read_level_arg ? run->read_level_arg : "linearizable";
}

static void reads_json(cJSON *o, const struct ctl_run *run)
{
    const struct load_result *L = run->load;
    if (!run->read_pct) return;
    cJSON *r = cJSON_AddObjectToObject(o, "reads");
    cJSON_AddNumberToObject(r, "pct", run->read_pct);
    cJSON_AddStringToObject(r, "level", reads_level_arg(run));
    cJSON_AddNumberToObject(r, "stale_refusals", (double)L->read_refusals);
    cJSON_AddNumberToObject(r, "ordered_fallbacks", (double)L->read_fallbacks);
    for (int l = 0; l < BFT_READ_LEVELS; l++) {
        const struct load_reads *x = &L->reads[l];
        if (!x->issued) continue;
        cJSON *y = cJSON_AddObjectToObject(r, bft_read_level_name(l));
        cJSON_AddNumberToObject(y, "issued", (double)x->issued);
        cJSON_AddNumberToObject(y, "completed", (double)x->completed);
        cJSON_AddNumberToObject(y, "found", (double)x->found);
        cJSON_AddNumberToObject(y, "reads_s", L->elapsed_s > 0 ? x->completed / L->elapsed_s : 0);
        cJSON *lat = cJSON_AddObjectToObject(y, "latency_ms");
        cJSON_AddNumberToObject(lat, "p50", x->lat_ms_p50);
        cJSON_AddNumberToObject(lat, "p90", x->lat_ms_p90);
        cJSON_AddNumberToObject(lat, "p99", x->lat_ms_p99);
        cJSON_AddNumberToObject(lat, "max", x->lat_ms_max);
    }
}

static void reads_print(const struct ctl_run *run)
{
    const struct load_result *L = run->load;
    if (!run->read_pct) return;
    printf("  reads           %u%% at %s: %llu refused as stale, %llu ordered as fallback\n",
           run->read_pct, reads_level_arg(run), (unsigned long long)L->read_refusals,
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

static void phases_json(cJSON *o, const struct ctl_run *run, const struct ctl_phases *ph)
{
    cJSON *x = cJSON_AddObjectToObject(o, "phases");
    cJSON_AddBoolToObject(x, "faults", ph->sched.any);
    if (ph->sched.any) {
        cJSON_AddNumberToObject(x, "first_fault_s", ph->sched.first_s);
        cJSON_AddNumberToObject(x, "last_heal_s", ph->sched.settle_s);
        phase_json(x, "before", &ph->before);
        phase_json(x, "during", &ph->during);
    }
    phase_json(x, "after", &ph->after);
    cJSON *p = cJSON_AddObjectToObject(o, "progress");
    cJSON_AddBoolToObject(p, "after_last_heal", ph->progressed);
    cJSON_AddBoolToObject(p, "required", ph->core_up);
    cJSON_AddNumberToObject(p, "honest_up_at_end", ph->honest_up);
    cJSON_AddNumberToObject(p, "quorum", ph->quorum);
    cJSON_AddNumberToObject(o, "longest_no_commit_s", run->load->longest_gap_s);
    cJSON_AddNumberToObject(o, "longest_no_commit_from_s", run->load->longest_gap_from_s);
    cJSON_AddNumberToObject(o, "duration_asked_s", run->asked_duration_s);
}

static int write_json(const struct ctl_run *run, const struct ctl_verdict *v,
                      const struct totals *t, double per_op_div, const struct ctl_phases *ph)
{
    const struct load_result *L = run->load;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "protocol", bft_protocol_name(run->protocol));
    cJSON_AddNumberToObject(o, "nodes", run->nodes);
    cJSON_AddNumberToObject(o, "f", run->cl.f);
    cJSON_AddNumberToObject(o, "duration_s", L->elapsed_s);
    cJSON_AddNumberToObject(o, "clients", run->clients);
    cJSON_AddNumberToObject(o, "batch", run->batch);
    cJSON_AddNumberToObject(o, "envelope", run->envelope);
    cJSON_AddStringToObject(o, "app", run->app);
    cJSON_AddNumberToObject(o, "committed_ops", (double)L->completed);
    cJSON_AddNumberToObject(o, "throughput_ops_s",
                            L->elapsed_s > 0 ? L->completed / L->elapsed_s : 0);
    cJSON *lat = cJSON_AddObjectToObject(o, "latency_ms");
    cJSON_AddNumberToObject(lat, "p50", L->lat_ms_p50);
    cJSON_AddNumberToObject(lat, "p90", L->lat_ms_p90);
    cJSON_AddNumberToObject(lat, "p99", L->lat_ms_p99);
    cJSON_AddNumberToObject(lat, "max", L->lat_ms_max);
    cJSON_AddNumberToObject(o, "view_changes", (double)t->view_changes);
    cJSON_AddStringToObject(o, "safety", v->safe ? "ok" : "violated");
    if (!v->safe) {
        cJSON *d = cJSON_AddObjectToObject(o, "divergence");
        cJSON_AddNumberToObject(d, "seq", (double)v->bad_seq);
        cJSON_AddStringToObject(d, "what", v->bad_what);
        cJSON_AddNumberToObject(d, "replica_a", v->bad_a);
        cJSON_AddNumberToObject(d, "replica_b", v->bad_b);
        cJSON_AddStringToObject(d, "value_a", v->val_a);
        cJSON_AddStringToObject(d, "value_b", v->val_b);
    }
    cJSON_AddNumberToObject(o, "msgs_per_op", t->msgs / per_op_div);
    cJSON_AddNumberToObject(o, "bytes_per_op", t->bytes / per_op_div);
    cJSON_AddNumberToObject(o, "cpu_us_per_op", t->cpu_s * 1e6 / per_op_div);
    cJSON_AddNumberToObject(o, "max_stall_ms", L->max_stall_ms);
    phases_json(o, run, ph);
    ledger_json(o, run);
    reads_json(o, run);
    cJSON_AddNumberToObject(o, "client_retransmits", (double)L->retransmits);
    cJSON_AddNumberToObject(o, "client_bad_replies", (double)L->bad_replies);
    cJSON_AddNumberToObject(o, "max_order_seq", (double)L->max_order_seq);
    cJSON_AddNumberToObject(o, "duplicate_order_seqs", (double)L->dup_order_seq);
    cJSON_AddNumberToObject(o, "common_seqs_compared", (double)v->common_seqs);
    cJSON *tl = cJSON_AddArrayToObject(o, "ops_per_second");
    for (uint32_t s = 0; s < L->seconds; s++)
        cJSON_AddItemToArray(tl, cJSON_CreateNumber((double)L->per_second[s]));
    cJSON *fa = cJSON_AddArrayToObject(o, "faults");
    for (uint32_t i = 0; i < run->n_faults; i++) {
        const struct ctl_fault *f = &run->faults[i];
        cJSON *x = cJSON_CreateObject();
        cJSON_AddNumberToObject(x, "replica", f->replica);
        cJSON_AddStringToObject(x, "behaviour", f->behaviour);
        cJSON_AddNumberToObject(x, "t0", f->t0);
        if (f->t1 >= 0)
            cJSON_AddNumberToObject(x, "t1", f->t1);
        else
            cJSON_AddNullToObject(x, "t1");
        cJSON_AddBoolToObject(x, "applied", f->applied);
        if (f->applied) cJSON_AddNumberToObject(x, "applied_at_s", f->applied_at);
        cJSON_AddItemToArray(fa, x);
    }
    for (uint32_t i = 0; run->have_plan && i < run->plan.n_partitions; i++) {
        const struct fault_partition *pt = &run->plan.partition[i];
        char spec[FAULT_SPEC_MAX];
        fault_partition_format(pt, spec, sizeof spec);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "partition", spec);
        cJSON_AddNumberToObject(x, "t0", pt->win.from_ms / 1000.0);
        if (pt->win.until_ms != FAULT_FOREVER)
            cJSON_AddNumberToObject(x, "t1", pt->win.until_ms / 1000.0);
        else
            cJSON_AddNullToObject(x, "t1");
        cJSON_AddBoolToObject(x, "applied", L->elapsed_s * 1000.0 >= (double)pt->win.from_ms);
        cJSON_AddItemToArray(fa, x);
    }
    const struct fault_net_rates *nr = &run->plan.net;
    if (run->have_plan &&
        (nr->drop_ppm || nr->duplicate_ppm || nr->reorder_ppm || nr->delay_ms || nr->jitter_ms)) {
        char spec[FAULT_SPEC_MAX];
        fault_net_format(nr, spec, sizeof spec);
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "network", spec);
        cJSON_AddNumberToObject(x, "t0", nr->win.from_ms / 1000.0);
        if (nr->win.until_ms != FAULT_FOREVER)
            cJSON_AddNumberToObject(x, "t1", nr->win.until_ms / 1000.0);
        else
            cJSON_AddNullToObject(x, "t1");
        cJSON_AddBoolToObject(x, "applied", L->elapsed_s * 1000.0 >= (double)nr->win.from_ms);
        cJSON_AddItemToArray(fa, x);
    }
    if (run->have_expect) {
        cJSON *sc = cJSON_AddObjectToObject(o, "scenario");
        cJSON_AddStringToObject(sc, "name", run->scenario_name);
        cJSON *ex = cJSON_AddObjectToObject(sc, "expected");
        cJSON_AddStringToObject(ex, "safety",
                                run->expect.safety == FAULT_SAFETY_OK ? "ok" : "violated");
        cJSON_AddBoolToObject(ex, "progress", run->expect.progress);
        cJSON_AddNumberToObject(ex, "progress_after_s", run->expect.progress_after_ms / 1000.0);
    }
    if (run->head_start >= 0) {
        cJSON *h = cJSON_AddObjectToObject(o, "raft_liar");
        cJSON_AddNumberToObject(h, "replica", run->head_start);
        cJSON_AddBoolToObject(h, "led_at_t0", run->liar_leads);
        cJSON_AddNumberToObject(h, "leader_restarts", run->leader_bounces);
    }
    if (run->inject_junk || run->inject_badsig) {
        cJSON *x = cJSON_CreateObject();
        cJSON_AddStringToObject(x, "replica", "outsider");
        cJSON_AddStringToObject(x, "behaviour",
                                run->inject_junk && run->inject_badsig ? "junk+badsig"
                                : run->inject_junk                     ? "junk"
                                                                       : "badsig");
        cJSON_AddNumberToObject(x, "t0", run->duration_s / 2);
        cJSON_AddBoolToObject(x, "applied", run->injected);
        cJSON_AddItemToArray(fa, x);
    }
    cJSON *reps = cJSON_AddArrayToObject(o, "replicas");
    for (uint32_t i = 0; i < run->nodes; i++)
        cJSON_AddItemToArray(reps, replica_json(&run->reps[i]));
    cJSON_AddStringToObject(o, "dir", run->dir);
    char *txt = cJSON_Print(o);
    cJSON_Delete(o);
    if (!txt) return -1;
    FILE *f = fopen(run->json_path, "w");
    int rv = -1;
    if (f) {
        rv = fputs(txt, f) >= 0 && fputc('\n', f) != EOF ? 0 : -1;
        if (fclose(f) != 0) rv = -1;
    }
    free(txt);
    if (rv != 0) fprintf(stderr, "bftctl cluster: cannot write %s\n", run->json_path);
    return rv;
}

int ctl_report(struct ctl_run *run)
{
    struct ctl_verdict v;
    ctl_check_safety(run->reps, run->nodes, &v);
    struct totals t;
    sum(run, &t);
    struct ctl_phases ph;
    ctl_phases(run, &ph);
    const struct load_result *L = run->load;
    double div = L->completed ? (double)L->completed : 1.0;
    double tput = L->elapsed_s > 0 ? L->completed / L->elapsed_s : 0;
    if (!run->quiet) {
        printf("  committed ops   %llu  (%.0f ops/s over %.1f s)\n",
               (unsigned long long)L->completed, tput, L->elapsed_s);
        printf("  latency ms      p50 %.2f  p90 %.2f  p99 %.2f  max %.2f\n", L->lat_ms_p50,
               L->lat_ms_p90, L->lat_ms_p99, L->lat_ms_max);
        printf("  per op          %.1f msgs, %.0f bytes, %.0f us replica CPU\n", t.msgs / div,
               t.bytes / div, t.cpu_s * 1e6 / div);
        printf("  view changes    %llu   longest stall %.0f ms   client retransmits %llu\n",
               (unsigned long long)t.view_changes, L->max_stall_ms,
               (unsigned long long)L->retransmits);
        if (ph.sched.any)
            printf("  throughput      before faults %.0f ops/s (%.1f-%.1f s), during %.0f ops/s "
                   "(%.1f-%.1f s), after the last heal %.0f ops/s (%.1f-%.1f s)\n",
                   ph.before.ops_s, ph.before.from_s, ph.before.to_s, ph.during.ops_s,
                   ph.during.from_s, ph.during.to_s, ph.after.ops_s, ph.after.from_s,
                   ph.after.to_s);
        printf("  no commits      longest window %.2f s (from t=%.2f s)\n", L->longest_gap_s,
               L->longest_gap_from_s);
        if (!strcmp(run->app, "orders"))
            printf("  orders          highest order number %llu, duplicates seen by clients %llu\n",
                   (unsigned long long)L->max_order_seq, (unsigned long long)L->dup_order_seq);
        ctl_ledger_print(run);
        reads_print(run);
        printf("  replica honest crashed committed_seq view  rss_kib  cpu_s  msgs_sent  "
               "state_digest      rejected\n");
        for (uint32_t i = 0; i < run->nodes; i++) {
            const struct ctl_replica *r = &run->reps[i];
            char rej[256] = "";
            size_t off = 0;
            for (int k = BFT_REJECT__FIRST; k < BFT_REJECT__COUNT; k++)
                if (r->rejected[k] && off < sizeof rej)
                    off +=
                        (size_t)snprintf(rej + off, sizeof rej - off, "%s%s=%llu", off ? "," : "",
                                         bft_reject_name(k), (unsigned long long)r->rejected[k]);
            printf("  %-7u %-6s %-7s %13llu %5llu %8ld %6.2f %10llu  %.16s  %s\n", r->id,
                   r->honest ? "yes" : "no", r->killed ? "yes" : "no",
                   (unsigned long long)r->committed_seq, (unsigned long long)r->view, r->rss_kib,
                   r->cpu_s, (unsigned long long)r->msgs_sent,
                   r->state_digest[0] ? r->state_digest : "-", off ? rej : "-");
        }
    }
    int rc = BFT_EXIT_OK;
    if (!v.safe) {
        if (!strcmp(v.bad_what, "final"))
            printf("SAFETY VIOLATED: honest replicas at seq %llu hold different state digests\n",
                   (unsigned long long)v.bad_seq);
        else
            printf("SAFETY VIOLATED: first divergence at seq %llu: replica %u %s %.16s... vs "
                   "replica %u %s %.16s...\n",
                   (unsigned long long)v.bad_seq, v.bad_a, v.bad_what, v.val_a, v.bad_b, v.bad_what,
                   v.val_b);
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
    } else if (ph.core_up && !ph.progressed) {
        if (ph.sched.any)
            printf("NO PROGRESS: no operation committed in the %.1f s after the last fault healed "
                   "at t=%.1f s, with %u honest replicas up (quorum %u); %llu ops before\n",
                   ph.after.to_s - ph.after.from_s, ph.sched.settle_s, ph.honest_up, ph.quorum,
                   (unsigned long long)L->completed);
        else
            printf("NO PROGRESS: no operation committed in %.1f s\n", L->elapsed_s);
        rc = BFT_EXIT_NO_PROGRESS;
    } else {
        if (!ph.core_up)
            printf("progress not required: %u honest replicas up and connected at the end, "
                   "quorum %u (%llu ops after the last heal)\n",
                   ph.honest_up, ph.quorum, (unsigned long long)ph.after.ops);
        printf("safety: ok (%llu seq comparisons across honest replicas; %u replicas at the top "
               "seq agree on the state digest); %llu ops, %.0f ops/s, p50 %.2f ms, p99 %.2f ms\n",
               (unsigned long long)v.common_seqs, v.at_top, (unsigned long long)L->completed, tput,
               L->lat_ms_p50, L->lat_ms_p99);
    }
    bool ledger_ok = !run->have_ledger || !ledger_violated(&run->ledger);
    if (run->have_expect)
        rc = ctl_scenario_verdict(run, v.safe && !L->dup_order_seq && ledger_ok, rc);
    if (run->json_path && write_json(run, &v, &t, div, &ph) != 0 && rc == BFT_EXIT_OK) rc = BFT_EXIT_USAGE;
    return rc;
}
