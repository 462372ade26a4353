/* The JSON of a `bftctl cluster` run (docs/design.md "JSON (--json
 * FILE)"): every key the contract lists, measured in this run. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "tools/bftctl_budget.h"
#include "tools/bftctl_run.h"

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
    cJSON_AddNumberToObject(x, "closed_no_result", (double)run->load->acks_no_result);
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
static void reads_json(cJSON *o, const struct ctl_run *run)
{
    const struct load_result *L = run->load;
    if (!run->read_pct) return;
    cJSON *r = cJSON_AddObjectToObject(o, "reads");
    cJSON_AddNumberToObject(r, "pct", run->read_pct);
    cJSON_AddStringToObject(r, "level", ctl_reads_level_arg(run));
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

/* The keys about the load and the verdict, in the contract's order. */
static void head_json(cJSON *o, const struct ctl_run *run, const struct ctl_verdict *v,
                      const struct ctl_totals *t, double per_op_div)
{
    const struct load_result *L = run->load;
    cJSON_AddStringToObject(o, "protocol", bft_protocol_name(run->protocol));
    cJSON_AddNumberToObject(o, "nodes", run->nodes);
    cJSON_AddNumberToObject(o, "f", run->cl.f);
    cJSON_AddNumberToObject(o, "duration_s", L->elapsed_s);
    cJSON_AddNumberToObject(o, "clients", run->clients);
    cJSON_AddNumberToObject(o, "batch", run->batch);
    cJSON_AddNumberToObject(o, "envelope", run->envelope);
    cJSON_AddStringToObject(o, "app", run->app);
    cJSON_AddStringToObject(o, "transport", ctl_transport_name(&run->cl));
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
}

static void counts_json(cJSON *o, const struct ctl_run *run, const struct ctl_verdict *v)
{
    const struct load_result *L = run->load;
    cJSON_AddNumberToObject(o, "client_retransmits", (double)L->retransmits);
    cJSON_AddNumberToObject(o, "client_bad_replies", (double)L->bad_replies);
    cJSON_AddNumberToObject(o, "max_order_seq", (double)L->max_order_seq);
    cJSON_AddNumberToObject(o, "duplicate_order_seqs", (double)L->dup_order_seq);
    cJSON_AddNumberToObject(o, "common_seqs_compared", (double)v->common_seqs);
    cJSON *tl = cJSON_AddArrayToObject(o, "ops_per_second");
    for (uint32_t s = 0; s < L->seconds; s++)
        cJSON_AddItemToArray(tl, cJSON_CreateNumber((double)L->per_second[s]));
}

/* t1 or null (a window that never closes). */
static void window_json(cJSON *x, uint64_t from_ms, uint64_t until_ms)
{
    cJSON_AddNumberToObject(x, "t0", from_ms / 1000.0);
    if (until_ms != FAULT_FOREVER)
        cJSON_AddNumberToObject(x, "t1", until_ms / 1000.0);
    else
        cJSON_AddNullToObject(x, "t1");
}

/* "faults": one object per --fault, partition, network rates, injection. */
static void faults_json(cJSON *o, const struct ctl_run *run)
{
    const struct load_result *L = run->load;
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
        window_json(x, pt->win.from_ms, pt->win.until_ms);
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
        window_json(x, nr->win.from_ms, nr->win.until_ms);
        cJSON_AddBoolToObject(x, "applied", L->elapsed_s * 1000.0 >= (double)nr->win.from_ms);
        cJSON_AddItemToArray(fa, x);
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
}

/* With --scenario and for a Raft liar. */
static void extras_json(cJSON *o, const struct ctl_run *run)
{
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
        cJSON_AddNumberToObject(h, "setup_attempts", run->setup_attempts);
    }
}

int ctl_report_json(const struct ctl_run *run, const struct ctl_verdict *v,
                    const struct ctl_totals *t, double per_op_div, const struct ctl_phases *ph)
{
    cJSON *o = cJSON_CreateObject();
    head_json(o, run, v, t, per_op_div);
    phases_json(o, run, ph);
    ledger_json(o, run);
    reads_json(o, run);
    counts_json(o, run, v);
    struct ctl_budget b;
    ctl_budget_compute(run->reps, run->nodes, run->load, &b);
    ctl_budget_json(o, &b);
    faults_json(o, run);
    extras_json(o, run);
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
