/* Safety check of a finished run: every pair of honest replicas must have
 * executed the same batch, reaching the same application state, at every
 * sequence number both executed (agreement, docs/design.md "bftctl cluster"). */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "tools/bftctl_check.h"

static char *slurp(const char *path, size_t max)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char *buf = malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max, f) : 0;
    fclose(f);
    if (!buf) return NULL;
    buf[n] = 0;
    return buf;
}

static uint64_t jnum(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) && v->valuedouble > 0 ? (uint64_t)v->valuedouble : 0;
}

int ctl_read_stats(const char *dir, struct ctl_replica *r)
{
    char path[700];
    snprintf(path, sizeof path, "%s/replica-%u/stats.json", dir, r->id);
    char *txt = slurp(path, 1 << 16);
    if (!txt) return -1;
    cJSON *o = cJSON_Parse(txt);
    free(txt);
    if (!o) return -1;
    r->have_stats = true;
    r->committed_seq = jnum(o, "committed_seq");
    r->view = jnum(o, "view");
    r->view_changes = jnum(o, "view_changes");
    r->msgs_sent = jnum(o, "msgs_sent");
    r->bytes_sent = jnum(o, "bytes_sent");
    r->requests_executed = jnum(o, "requests_executed");
    r->verifies = jnum(o, "verifies");
    r->signs = jnum(o, "signs");
    r->rss_kib = (long)jnum(o, "rss_kib");
    const cJSON *cpu = cJSON_GetObjectItemCaseSensitive(o, "cpu_s");
    r->cpu_s = cJSON_IsNumber(cpu) ? cpu->valuedouble : 0;
    const cJSON *d = cJSON_GetObjectItemCaseSensitive(o, "state_digest");
    snprintf(r->state_digest, sizeof r->state_digest, "%s",
             cJSON_IsString(d) ? d->valuestring : "");
    const cJSON *rej = cJSON_GetObjectItemCaseSensitive(o, "rejected");
    for (int i = BFT_REJECT__FIRST; i < BFT_REJECT__COUNT; i++)
        r->rejected[i] = jnum(rej, bft_reject_name(i));
    r->is_leader = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "is_leader"));
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(o, "stage_us");
    for (int s = 0; s < BFT_STAGE__COUNT; s++)
        r->stage_us[s] = (double)jnum(st, bft_stage_name(s));
    const cJSON *sc = cJSON_GetObjectItemCaseSensitive(o, "stage_calls");
    for (int s = 0; s < BFT_STAGE__COUNT; s++)
        r->stage_calls[s] = jnum(sc, bft_stage_name(s));
    const cJSON *pu = cJSON_GetObjectItemCaseSensitive(o, "phase_us");
    const cJSON *pn = cJSON_GetObjectItemCaseSensitive(o, "phase_n");
    for (int p = 0; p < BFT_PHASE__COUNT; p++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(pu, bft_phase_name(p));
        r->phase_us[p] = cJSON_IsNumber(v) ? v->valuedouble : 0;
        r->phase_n[p] = jnum(pn, bft_phase_name(p));
    }
    cJSON_Delete(o);
    return 0;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct ctl_entry *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

int ctl_read_commits(const char *dir, struct ctl_replica *r)
{
    char path[700];
    snprintf(path, sizeof path, "%s/replica-%u/commits.log", dir, r->id);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t cap = 1024;
    r->log = malloc(cap * sizeof *r->log);
    r->n_log = 0;
    char line[256];
    while (r->log && fgets(line, sizeof line, f)) {
        unsigned long long seq, view;
        char b[65], s[65];
        /* Whole lines only: a torn line (kill -9 mid-write) that a later
         * incarnation appended to would otherwise read as a divergence.
         * bftd cuts torn tails (runtime/runtime_commits.h); this is the
         * reader's side of the same rule. */
        int end = 0;
        if (sscanf(line, "%llu %llu %64s %64s%n", &seq, &view, b, s, &end) != 4 ||
            strcmp(line + end, "\n") != 0)
            continue;
        struct ctl_entry e = {.seq = seq, .view = view};
        if (crypto_from_hex(b, e.batch, CRYPTO_DIGEST_LEN) != 0 ||
            crypto_from_hex(s, e.state, CRYPTO_DIGEST_LEN) != 0)
            continue;
        if (r->n_log == cap) {
            struct ctl_entry *p = realloc(r->log, 2 * cap * sizeof *p);
            if (!p) break;
            r->log = p;
            cap *= 2;
        }
        r->log[r->n_log++] = e;
    }
    fclose(f);
    if (!r->log) return -1;
    /* Stable sort is not needed: equal seqs (re-execution after a restart)
     * are compared against each other below. */
    qsort(r->log, r->n_log, sizeof *r->log, cmp_entry);
    return 0;
}

static bool diverge(struct ctl_verdict *v, const struct ctl_replica *a, const struct ctl_entry *x,
                    const struct ctl_replica *b, const struct ctl_entry *y)
{
    const char *what = NULL;
    const uint8_t *va = NULL, *vb = NULL;
    if (memcmp(x->batch, y->batch, CRYPTO_DIGEST_LEN) != 0) {
        what = "batch";
        va = x->batch;
        vb = y->batch;
    } else if (memcmp(x->state, y->state, CRYPTO_DIGEST_LEN) != 0) {
        what = "state";
        va = x->state;
        vb = y->state;
    }
    if (!what) return false;
    if (v->safe || x->seq < v->bad_seq) {
        v->safe = false;
        v->bad_seq = x->seq;
        v->bad_a = a->id;
        v->bad_b = b->id;
        snprintf(v->bad_what, sizeof v->bad_what, "%s", what);
        crypto_to_hex(va, CRYPTO_DIGEST_LEN, v->val_a);
        crypto_to_hex(vb, CRYPTO_DIGEST_LEN, v->val_b);
    }
    return true;
}

/* Compare two sorted logs seq by seq (merge walk). */
static void compare_pair(struct ctl_verdict *v, const struct ctl_replica *a,
                         const struct ctl_replica *b)
{
    size_t i = 0, j = 0;
    while (i < a->n_log && j < b->n_log) {
        const struct ctl_entry *x = &a->log[i], *y = &b->log[j];
        if (x->seq < y->seq) {
            i++;
        } else if (y->seq < x->seq) {
            j++;
        } else {
            v->common_seqs++;
            if (diverge(v, a, x, b, y)) return;
            i++;
            j++;
        }
    }
}

static void compare_self(struct ctl_verdict *v, const struct ctl_replica *a)
{
    for (size_t i = 1; i < a->n_log; i++)
        if (a->log[i].seq == a->log[i - 1].seq) diverge(v, a, &a->log[i - 1], a, &a->log[i]);
}

void ctl_check_safety(struct ctl_replica *reps, uint32_t n, struct ctl_verdict *v)
{
    memset(v, 0, sizeof *v);
    v->safe = true;
    for (uint32_t a = 0; a < n; a++) {
        if (!reps[a].honest) continue;
        compare_self(v, &reps[a]);
        for (uint32_t b = a + 1; b < n; b++)
            if (reps[b].honest) compare_pair(v, &reps[a], &reps[b]);
    }
    /* Final state digests: honest replicas that stopped at the same,
     * highest seq must hold the same full replicated state. */
    uint64_t top = 0;
    for (uint32_t a = 0; a < n; a++)
        if (reps[a].honest && reps[a].have_stats && reps[a].committed_seq > top)
            top = reps[a].committed_seq;
    const char *ref = NULL;
    v->digests_equal = true;
    for (uint32_t a = 0; a < n; a++) {
        if (!reps[a].honest || !reps[a].have_stats || reps[a].committed_seq != top) continue;
        v->at_top++;
        if (!ref)
            ref = reps[a].state_digest;
        else if (strcmp(ref, reps[a].state_digest) != 0)
            v->digests_equal = false;
    }
    if (!v->digests_equal && v->safe) {
        v->safe = false;
        v->bad_seq = top;
        snprintf(v->bad_what, sizeof v->bad_what, "final");
    }
}
