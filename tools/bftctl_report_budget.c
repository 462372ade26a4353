/* The latency budget of a `bftctl cluster` run (docs/design.md "Latency
 * budget"): where a request's time goes, per stage, at the client, the
 * leader and the backups, and the leader's sampled phases. Every figure is
 * measured by the replicas (stats.json) or the load generator; nothing is
 * estimated here, only divided by the operations done. */
#include <string.h>

#include "tools/bftctl_budget.h"

/* The client stage doing the same work as a replica stage (-1: none). */
static int client_stage_of(int stage)
{
    switch (stage) {
    case BFT_STAGE_IDLE:
        return LOAD_STAGE_WAIT;
    case BFT_STAGE_SIGN:
        return LOAD_STAGE_SIGN;
    case BFT_STAGE_SEND:
        return LOAD_STAGE_SEND;
    case BFT_STAGE_VERIFY:
        return LOAD_STAGE_VERIFY;
    case BFT_STAGE_OTHER:
        return LOAD_STAGE_OTHER;
    default:
        return -1;
    }
}

static int pick_leader(const struct ctl_replica *reps, uint32_t n)
{
    int best = -1;
    uint64_t most = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!reps[i].have_stats) continue;
        if (reps[i].phase_n[BFT_PHASE_REPLY_SENT] > most) {
            most = reps[i].phase_n[BFT_PHASE_REPLY_SENT];
            best = (int)i;
        }
    }
    if (best >= 0) return best;
    for (uint32_t i = 0; i < n; i++)
        if (reps[i].have_stats && reps[i].is_leader) return (int)i;
    for (uint32_t i = 0; i < n; i++)
        if (reps[i].have_stats) return (int)i;
    return -1;
}

void ctl_budget_compute(const struct ctl_replica *reps, uint32_t n, const struct load_result *L,
                        struct ctl_budget *b)
{
    memset(b, 0, sizeof *b);
    b->leader = pick_leader(reps, n);
    b->p50_us = L->lat_ms_p50 * 1000.0;
    b->have = b->leader >= 0 && L->completed > 0;
    double ops_client = L->completed ? (double)L->completed : 1.0;
    const struct ctl_replica *ld = b->leader >= 0 ? &reps[b->leader] : NULL;
    double ops_leader = ld && ld->requests_executed ? (double)ld->requests_executed : 0;
    for (int s = 0; s < BFT_STAGE__COUNT; s++) {
        struct ctl_budget_row *r = &b->row[s];
        r->stage = s;
        r->client_stage = client_stage_of(s);
        if (r->client_stage >= 0)
            r->client_us = (double)L->budget.stage_ns[r->client_stage] / 1000.0 / ops_client;
        if (ops_leader > 0) {
            r->leader_us = ld->stage_us[s] / ops_leader;
            r->leader_calls = (double)ld->stage_calls[s] / ops_leader;
        }
    }
    double sum_phase[BFT_PHASE__COUNT] = {0};
    for (uint32_t i = 0; i < n; i++) {
        const struct ctl_replica *x = &reps[i];
        if (!x->have_stats) continue;
        for (int p = 0; p < BFT_PHASE__COUNT; p++) {
            sum_phase[p] += x->phase_us[p] * (double)x->phase_n[p];
            b->phase_n[p] += x->phase_n[p];
        }
        if ((int)i == b->leader || !x->requests_executed) continue;
        b->backups++;
        for (int s = 0; s < BFT_STAGE__COUNT; s++)
            b->row[s].backup_us += x->stage_us[s] / (double)x->requests_executed;
    }
    for (int s = 0; s < BFT_STAGE__COUNT; s++) {
        struct ctl_budget_row *r = &b->row[s];
        if (b->backups) r->backup_us /= b->backups;
        /* Waiting is where time goes when nothing is being done: it is not
         * a share of anyone's cost. */
        r->share_p50 =
            s == BFT_STAGE_IDLE || b->p50_us <= 0 ? -1 : (r->client_us + r->leader_us) / b->p50_us;
    }
    for (int p = 0; p < BFT_PHASE__COUNT; p++)
        b->phase_us[p] = b->phase_n[p] ? sum_phase[p] / (double)b->phase_n[p] : 0;
    b->client_timed = L->budget.timed;
    if (L->budget.timed) {
        b->first_reply_us = (double)L->budget.first_reply_ns / 1000.0 / (double)L->budget.timed;
        b->accept_reply_us = (double)L->budget.accept_reply_ns / 1000.0 / (double)L->budget.timed;
    }
    /* The means add up where medians do not: per-op means over the mean
     * latency is the additive view, the share of the p50 the one asked
     * for at a glance (it passes 100% when the tail is heavy). */
    for (int s = 0; s < BFT_STAGE__COUNT; s++) {
        struct ctl_budget_row *r = &b->row[s];
        r->share_mean = s == BFT_STAGE_IDLE || b->accept_reply_us <= 0
                            ? -1
                            : (r->client_us + r->leader_us) / b->accept_reply_us;
    }
}

void ctl_budget_print(FILE *out, const struct ctl_budget *b)
{
    if (!b->have) {
        fprintf(out, "  latency budget  none: no replica reported stages or no op completed\n");
        return;
    }
    fprintf(out,
            "  latency budget  us per op; leader = replica %d, backups = mean of %u; p50 %.0f us, "
            "mean %.0f us\n",
            b->leader, b->backups, b->p50_us, b->accept_reply_us);
    fprintf(out, "    %-9s %9s %9s %9s %8s %8s %9s\n", "stage", "client", "leader", "backups",
            "of p50", "of mean", "calls/op");
    for (int s = 0; s < BFT_STAGE__COUNT; s++) {
        const struct ctl_budget_row *r = &b->row[s];
        char client[16] = "-", share[16] = "-", share_mean[16] = "-";
        if (r->client_stage >= 0) snprintf(client, sizeof client, "%.1f", r->client_us);
        if (r->share_p50 >= 0) snprintf(share, sizeof share, "%.1f%%", r->share_p50 * 100.0);
        if (r->share_mean >= 0)
            snprintf(share_mean, sizeof share_mean, "%.1f%%", r->share_mean * 100.0);
        fprintf(out, "    %-9s %9s %9.1f %9.1f %8s %8s %9.2f\n",
                s == BFT_STAGE_IDLE ? "idle/wait" : bft_stage_name(s), client, r->leader_us,
                r->backup_us, share, share_mean, r->leader_calls);
    }
    fprintf(out, "  phases us       from arrival at the proposer (%llu samples):",
            (unsigned long long)b->phase_n[BFT_PHASE_REPLY_SENT]);
    for (int p = 0; p < BFT_PHASE__COUNT; p++) {
        if (b->phase_n[p])
            fprintf(out, " %s %.0f", bft_phase_name(p), b->phase_us[p]);
        else
            fprintf(out, " %s -", bft_phase_name(p));
    }
    fprintf(out, "\n  client us       from send: first reply %.0f, accepting reply %.0f (%llu)\n",
            b->first_reply_us, b->accept_reply_us, (unsigned long long)b->client_timed);
}

void ctl_budget_json(cJSON *o, const struct ctl_budget *b)
{
    cJSON *x = cJSON_AddObjectToObject(o, "latency_budget");
    cJSON_AddBoolToObject(x, "available", b->have);
    cJSON_AddNumberToObject(x, "leader", b->leader);
    cJSON_AddNumberToObject(x, "backups", b->backups);
    cJSON_AddNumberToObject(x, "p50_us", b->p50_us);
    cJSON_AddNumberToObject(x, "mean_us", b->accept_reply_us);
    cJSON *st = cJSON_AddObjectToObject(x, "stages_us_per_op");
    for (int s = 0; s < BFT_STAGE__COUNT; s++) {
        const struct ctl_budget_row *r = &b->row[s];
        cJSON *y = cJSON_AddObjectToObject(st, bft_stage_name(s));
        if (r->client_stage >= 0)
            cJSON_AddNumberToObject(y, "client", r->client_us);
        else
            cJSON_AddNullToObject(y, "client");
        cJSON_AddNumberToObject(y, "leader", r->leader_us);
        cJSON_AddNumberToObject(y, "leader_calls", r->leader_calls);
        cJSON_AddNumberToObject(y, "backups", r->backup_us);
        if (r->share_p50 >= 0)
            cJSON_AddNumberToObject(y, "share_of_p50", r->share_p50);
        else
            cJSON_AddNullToObject(y, "share_of_p50");
        if (r->share_mean >= 0)
            cJSON_AddNumberToObject(y, "share_of_mean", r->share_mean);
        else
            cJSON_AddNullToObject(y, "share_of_mean");
    }
    cJSON *ph = cJSON_AddObjectToObject(x, "phases_us");
    for (int p = 0; p < BFT_PHASE__COUNT; p++) {
        if (b->phase_n[p])
            cJSON_AddNumberToObject(ph, bft_phase_name(p), b->phase_us[p]);
        else
            cJSON_AddNullToObject(ph, bft_phase_name(p));
    }
    cJSON *pn = cJSON_AddObjectToObject(x, "phase_samples");
    for (int p = 0; p < BFT_PHASE__COUNT; p++)
        cJSON_AddNumberToObject(pn, bft_phase_name(p), (double)b->phase_n[p]);
    cJSON *cl = cJSON_AddObjectToObject(x, "client_us");
    cJSON_AddNumberToObject(cl, "first_reply", b->first_reply_us);
    cJSON_AddNumberToObject(cl, "accepting_reply", b->accept_reply_us);
    cJSON_AddNumberToObject(cl, "timed", (double)b->client_timed);
}
