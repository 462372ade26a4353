/* bftctl check: `bftctl cluster`'s safety checks over the data dirs of
 * replicas started by hand (on one host, or copied from many): every pair
 * of replicas executed the same batch to the same state at every seq both
 * executed, the replicas at the top seq hold the same state digest
 * (bftctl_check.c), every acknowledged order of a `bftctl load --ledger`
 * file is held exactly once with its order number (bftctl_ledger.c), and
 * the audit logs' hash chains (bftctl audit). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "tools/bftctl_check.h"

struct check_args {
    const char *cfg, *dir, *ledger, *killed;
};

#define OFF(field) offsetof(struct check_args, field)
static const struct cli_opt k_opts[] = {
    {"config", 0, "PATH", CLI_STR, OFF(cfg), 0, 0, NULL, "cluster.json (required)"},
    {"dir", 0, "DIR", CLI_STR, OFF(dir), 0, 0, NULL,
     "holds replica-I/ (commits.log, stats.json, audit.log); default: cluster.json's dir"},
    {"ledger", 0, "FILE", CLI_STR, OFF(ledger), 0, 0, NULL,
     "acknowledged orders (bftctl load --ledger) to find in every audit log"},
    {"killed", 0, "I,J,...", CLI_STR, OFF(killed), 0, 0, NULL,
     "replicas killed with SIGKILL during the run (their logs may miss\nacknowledged orders "
     "past their last line)"},
};
#undef OFF

static const struct cli_spec k_spec = {
    .prog = "bftctl check",
    .synopsis = "bftctl check --config DIR/cluster.json [--dir DIR] [--ledger FILE]\n"
                "                    [--killed I,J,...]",
    .intro = "The checks of `bftctl cluster` over replicas you ran yourself; stop them\n"
             "(SIGTERM) first so that their logs are final.\n",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro = "Exit codes: 0 safe, 2 usage or missing files, 3 replicas diverged, an\n"
             "acknowledged order is missing or repeated, or an audit log is broken.\n",
};

static int parse_killed(const char *s, uint32_t n, bool *killed)
{
    char buf[256];
    if (strlen(s) >= sizeof buf) return -1;
    memcpy(buf, s, strlen(s) + 1);
    for (char *save = NULL, *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *end;
        long id = strtol(t, &end, 10);
        if (*end || id < 0 || (uint32_t)id >= n) return -1;
        killed[id] = true;
    }
    return 0;
}

static int check_ledger(const struct check_args *a, const char *dir, struct ctl_replica *reps,
                        uint32_t n)
{
    struct ledger acks = {0};
    struct ledger_result lr;
    char err[512];
    int rc = BFT_EXIT_OK;
    if (ctl_ledger_csv_read(a->ledger, &acks, err, sizeof err) != 0 ||
        ctl_ledger_run(dir, reps, n, &acks, &lr, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl check: %s\n", err);
        rc = BFT_EXIT_USAGE;
    } else {
        bool bad = ledger_violated(&lr);
        printf("ledger: %llu acknowledged orders x %u replicas: %llu exactly once with the same "
               "order number; mismatched %llu; missing %llu / repeated %llu on replicas never "
               "killed; missing %llu / repeated %llu on replicas killed; %llu past the end of a "
               "replica's log: %s\n",
               (unsigned long long)lr.acks, n, (unsigned long long)lr.ok,
               (unsigned long long)lr.mismatch, (unsigned long long)lr.missing_live,
               (unsigned long long)lr.repeated_live, (unsigned long long)lr.missing_killed,
               (unsigned long long)lr.repeated_killed, (unsigned long long)lr.not_reached,
               bad ? "VIOLATED" : "ok");
        if (bad) rc = BFT_EXIT_UNSAFE;
    }
    ledger_free(&acks);
    return rc;
}

int cmd_check(int argc, char **argv)
{
    struct check_args a = {0};
    enum cli_result cr = cli_parse(&k_spec, argc, argv, &a, NULL);
    if (cr != CLI_PARSED) return cr == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    if (!a.cfg) {
        fprintf(stderr, "bftctl check: --config is required\n");
        cli_usage(&k_spec, stderr);
        return BFT_EXIT_USAGE;
    }
    struct bft_cluster cl;
    char err[512];
    if (bft_cluster_load(&cl, a.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl check: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    const char *dir = a.dir ? a.dir : cl.dir;
    bool killed[BFT_MAX_REPLICAS] = {false};
    struct ctl_replica reps[BFT_MAX_REPLICAS];
    memset(reps, 0, sizeof reps);
    int rc = BFT_EXIT_OK;
    if (a.killed && parse_killed(a.killed, cl.n, killed) != 0) {
        fprintf(stderr, "bftctl check: --killed '%s': replica ids 0..%u, comma-separated\n",
                a.killed, cl.n - 1);
        rc = BFT_EXIT_USAGE;
        goto out;
    }
    for (uint32_t i = 0; i < cl.n; i++) {
        reps[i] = (struct ctl_replica){.id = i, .honest = true, .ever_killed = killed[i]};
        ctl_read_stats(dir, &reps[i]); /* missing: that replica never wrote one */
        if (ctl_read_commits(dir, &reps[i]) != 0) {
            fprintf(stderr, "bftctl check: cannot read %s/replica-%u/commits.log\n", dir, i);
            rc = BFT_EXIT_USAGE;
            goto out;
        }
    }
    struct ctl_verdict v;
    ctl_check_safety(reps, cl.n, &v);
    for (uint32_t i = 0; i < cl.n; i++)
        printf("replica %u: committed %llu, %zu commits logged, state %.16s\n", i,
               (unsigned long long)reps[i].committed_seq, reps[i].n_log, reps[i].state_digest);
    if (v.safe)
        printf("safety: ok (%llu seqs compared; %u replicas at the top seq, digests %s)\n",
               (unsigned long long)v.common_seqs, v.at_top, v.digests_equal ? "equal" : "DIFFER");
    else
        printf("safety: VIOLATED at seq %llu: replicas %u and %u differ in %s (%.16s vs %.16s)\n",
               (unsigned long long)v.bad_seq, v.bad_a, v.bad_b, v.bad_what, v.val_a, v.val_b);
    if (!v.safe) rc = BFT_EXIT_UNSAFE;
    if (a.ledger && !strcmp(cl.app, "orders")) {
        int lrc = check_ledger(&a, dir, reps, cl.n);
        if (lrc != BFT_EXIT_OK && rc == BFT_EXIT_OK) rc = lrc;
    }
    if (!strcmp(cl.app, "orders")) {
        char d[600];
        snprintf(d, sizeof d, "%s", dir);
        char *av[] = {"audit", "--dir", d, NULL};
        int arc = cmd_audit(3, av);
        if (arc != BFT_EXIT_OK && rc == BFT_EXIT_OK)
            rc = arc == BFT_EXIT_USAGE ? arc : BFT_EXIT_UNSAFE;
    }
out:
    for (uint32_t i = 0; i < cl.n; i++)
        free(reps[i].log);
    bft_cluster_free(&cl);
    return rc;
}
