/* bftctl soak's verdict: five checks over a finished `bftctl cluster` run
 * (safety, progress after the last restart, the acknowledgement ledger,
 * equal state digests, the audit logs), the table, and the "soak" JSON. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bftctl_run.h"

/* Honest replicas up at the end: all at the same seq with the same digest. */
static bool digests_equal(const struct ctl_run *run, char *detail, size_t cap)
{
    uint64_t top = 0, low = UINT64_MAX;
    const char *ref = NULL;
    bool same = true;
    uint32_t up = 0, lag = 0;
    for (uint32_t i = 0; i < run->nodes; i++) {
        const struct ctl_replica *r = &run->reps[i];
        if (!r->honest || r->killed || !r->have_stats) continue;
        up++;
        if (r->committed_seq > top) top = r->committed_seq;
        if (r->committed_seq < low) low = r->committed_seq;
    }
    for (uint32_t i = 0; i < run->nodes; i++) {
        const struct ctl_replica *r = &run->reps[i];
        if (!r->honest || r->killed || !r->have_stats) continue;
        if (r->committed_seq != top) {
            lag = i;
            continue;
        }
        if (!ref)
            ref = r->state_digest;
        else if (strcmp(ref, r->state_digest) != 0)
            same = false;
    }
    if (!up) {
        snprintf(detail, cap, "no replica reported its state");
        return false;
    }
    if (!same) {
        snprintf(detail, cap, "replicas at seq %llu hold different digests",
                 (unsigned long long)top);
        return false;
    }
    if (low != top) {
        snprintf(detail, cap, "replica %u stopped at seq %llu, others at %llu (not caught up)", lag,
                 (unsigned long long)run->reps[lag].committed_seq, (unsigned long long)top);
        return false;
    }
    snprintf(detail, cap, "%u replicas at seq %llu, digest %.16s", up, (unsigned long long)top,
             ref ? ref : "-");
    return true;
}

void ctl_soak_json(const char *path, uint64_t seed_u, double wipe_prob, char (*spec)[48],
                   uint32_t n, const struct soak_row *rows, int rc)
{
    FILE *f = fopen(path, "r");
    cJSON *root = NULL;
    if (f) {
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = len > 0 ? malloc((size_t)len + 1) : NULL;
        if (buf && fread(buf, 1, (size_t)len, f) == (size_t)len) {
            buf[len] = 0;
            root = cJSON_Parse(buf);
        }
        free(buf);
        fclose(f);
    }
    if (!root) root = cJSON_CreateObject();
    cJSON *s = cJSON_AddObjectToObject(root, "soak");
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)seed_u);
    cJSON_AddStringToObject(s, "seed", seed);
    cJSON_AddNumberToObject(s, "wipe_prob", wipe_prob);
    cJSON *sch = cJSON_AddArrayToObject(s, "schedule");
    for (uint32_t i = 0; i < n; i++)
        cJSON_AddItemToArray(sch, cJSON_CreateString(spec[i]));
    cJSON *t = cJSON_AddObjectToObject(s, "checks");
    for (uint32_t i = 0; i < SOAK_CHECKS; i++) {
        cJSON *x = cJSON_AddObjectToObject(t, rows[i].name);
        cJSON_AddBoolToObject(x, "ok", rows[i].ok);
        cJSON_AddStringToObject(x, "detail", rows[i].detail);
    }
    cJSON_AddNumberToObject(s, "exit_code", rc);
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    f = txt ? fopen(path, "w") : NULL;
    if (!f || fputs(txt, f) < 0 || fputc('\n', f) == EOF)
        fprintf(stderr, "bftctl soak: cannot write %s\n", path);
    if (f) fclose(f);
    free(txt);
}

/* The five checks of a soak run (docs/design.md "bftctl soak"). */
void ctl_soak_checks(struct ctl_run *run, struct soak_row *rows)
{
    memset(rows, 0, SOAK_CHECKS * sizeof *rows);
    /* 1. safety: honest replicas agree at every seq, clients never saw an
     * order number twice. */
    struct ctl_verdict v;
    ctl_check_safety(run->reps, run->nodes, &v);
    rows[0].name = "safety";
    rows[0].ok = v.safe && !run->load->dup_order_seq;
    if (!v.safe)
        snprintf(rows[0].detail, sizeof rows[0].detail, "divergence at seq %llu (%s)",
                 (unsigned long long)v.bad_seq, v.bad_what);
    else if (run->load->dup_order_seq)
        snprintf(rows[0].detail, sizeof rows[0].detail, "%llu order numbers given twice",
                 (unsigned long long)run->load->dup_order_seq);
    else
        snprintf(rows[0].detail, sizeof rows[0].detail, "%llu seq comparisons",
                 (unsigned long long)v.common_seqs);
    /* 2. progress after the last restart. */
    struct ctl_phases ph;
    ctl_phases(run, &ph);
    rows[1].name = "progress";
    rows[1].ok = ph.progressed || !ph.core_up;
    snprintf(rows[1].detail, sizeof rows[1].detail,
             "%llu ops (%.0f ops/s) after the last restart at t=%.1f s; %.0f ops/s before the "
             "first kill; longest window without commits %.2f s",
             (unsigned long long)ph.after.ops, ph.after.ops_s, ph.sched.settle_s, ph.before.ops_s,
             run->load->longest_gap_s);
    /* 3. ledger: every acknowledged order exactly once with the same order
     * number on every honest replica (a killed replica may lack what it
     * caught up on by state transfer; repeated lines fail). */
    const struct ledger_result *lr = &run->ledger;
    rows[2].name = "ledger";
    rows[2].ok = run->have_ledger && !ledger_violated(lr) && !lr->repeated_killed;
    if (!run->have_ledger)
        snprintf(rows[2].detail, sizeof rows[2].detail, "not checked: %s", run->ledger_err);
    else
        snprintf(rows[2].detail, sizeof rows[2].detail,
                 "%llu acks: %llu ok, %llu mismatched, %llu missing / %llu repeated on replicas "
                 "never killed, %llu repeated / %llu missing on killed replicas",
                 (unsigned long long)lr->acks, (unsigned long long)lr->ok,
                 (unsigned long long)lr->mismatch, (unsigned long long)lr->missing_live,
                 (unsigned long long)lr->repeated_live, (unsigned long long)lr->repeated_killed,
                 (unsigned long long)lr->missing_killed);
    /* 4. equal state digests. */
    rows[3].name = "digests";
    rows[3].ok = digests_equal(run, rows[3].detail, sizeof rows[3].detail);
    /* 5. audit logs intact and identical: `bftctl audit` over the run. */
    rows[4].name = "audit";
    printf("bftctl soak: bftctl audit --dir %s\n", run->dir);
    fflush(stdout);
    char *aav[] = {"audit", "--dir", run->dir, NULL};
    int arc = cmd_audit(3, aav);
    rows[4].ok = arc == BFT_EXIT_OK;
    snprintf(rows[4].detail, sizeof rows[4].detail, "bftctl audit exit %d", arc);
}

/* Print the table and the verdict; the exit code. */
int ctl_soak_verdict(const struct soak_row *rows)
{
    for (uint32_t i = 0; i < SOAK_CHECKS; i++)
        printf("  %-9s %-4s  %s\n", rows[i].name, rows[i].ok ? "ok" : "FAIL", rows[i].detail);
    int rc;
    if (!rows[0].ok || !rows[2].ok || !rows[4].ok)
        rc = BFT_EXIT_UNSAFE;
    else if (!rows[1].ok || !rows[3].ok)
        rc = BFT_EXIT_NO_PROGRESS;
    else
        rc = BFT_EXIT_OK;
    printf("soak: %s (exit %d)\n",
           rc == BFT_EXIT_OK       ? "all good"
           : rc == BFT_EXIT_UNSAFE ? "SAFETY, LEDGER OR AUDIT VIOLATION"
                                   : "NO PROGRESS",
           rc);
    return rc;
}
