/* bftctl load: the closed-loop order load of `bftctl cluster` (the same
 * generator, tools/loadgen.c) against a cluster that is already running,
 * on one host or many (docs/deploy.md). Every acknowledged order goes to
 * the --ledger file, for `bftctl check` after the run. */
#include <stddef.h>
#include <stdlib.h>
#include <time.h>
#include <string.h>

#include "tools/bftctl.h"
#include "tools/bftctl_check.h"

/* Microseconds since the epoch: above any request number or client order
 * id an earlier run (or bftctl submit's session) used. */
static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

struct load_args {
    const char *cfg, *ledger, *json;
    uint32_t clients, outstanding, envelope;
    double duration_s;
    bool quiet;
};

#define OFF(field) offsetof(struct load_args, field)
static const struct cli_opt k_opts[] = {
    {"config", 0, "PATH", CLI_STR, OFF(cfg), 0, 0, NULL, "cluster.json (required)"},
    {"clients", 0, "C", CLI_U32, OFF(clients), 1, BFT_MAX_CLIENTS, NULL,
     "closed-loop clients, ids 0..C-1 (default 4; at most the clients in cluster.json)"},
    {"outstanding", 0, "K", CLI_U32, OFF(outstanding), 1, 1024, NULL,
     "envelopes in flight per client (default 4)"},
    {"envelope", 0, "E", CLI_U32, OFF(envelope), 1, BFT_ENVELOPE_MAX_OPS, NULL,
     "requests per client signature (default 1)"},
    {"duration", 0, "S", CLI_DOUBLE, OFF(duration_s), 0.5, LOAD_MAX_SECONDS - 1, NULL,
     "seconds of load (default 10)"},
    {"ledger", 0, "FILE", CLI_STR, OFF(ledger), 0, 0, NULL,
     "write every acknowledged order (client,req_no,client_order_id,order_seq)"},
    {"json", 0, "FILE", CLI_STR, OFF(json), 0, 0, NULL,
     "the result as JSON (completed, per_second, latency_ms, longest_gap_s ...)"},
    {"quiet", 'q', NULL, CLI_FLAG, OFF(quiet), 0, 0, NULL, "no progress lines"},
};
#undef OFF

static const struct cli_spec k_spec = {
    .prog = "bftctl load",
    .synopsis = "bftctl load --config DIR/cluster.json [--clients C] [--outstanding K]\n"
                "                   [--duration S] [--ledger FILE] [--json FILE]",
    .intro = "Drives orders (or kv puts) at a running cluster from this host. The clients\n"
             "listen on their cluster.json address (bftctl keygen --client-host).\n"
             "Request numbers and client order ids start at the wall clock in us, above\n"
             "any earlier run's, so runs can follow one another with the same clients.\n",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro = "Exit codes: 0 orders were acknowledged, 2 usage or setup error,\n"
             "3 an order number acknowledged twice, 4 nothing acknowledged.\n",
};

static int write_json(const char *path, const struct load_result *r, double ops_s)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f,
            "{\"completed\": %llu, \"submitted\": %llu, \"retransmits\": %llu, "
            "\"bad_replies\": %llu, \"elapsed_s\": %.3f, \"ops_s\": %.1f, "
            "\"latency_ms\": {\"p50\": %.3f, \"p90\": %.3f, \"p99\": %.3f, \"max\": %.3f}, "
            "\"longest_gap_s\": %.3f, \"longest_gap_from_s\": %.3f, \"acks\": %llu, "
            "\"acks_not_ok\": %llu, \"closed_no_result\": %llu, \"dup_order_seq\": %llu, "
            "\"per_second\": [",
            (unsigned long long)r->completed, (unsigned long long)r->submitted,
            (unsigned long long)r->retransmits, (unsigned long long)r->bad_replies, r->elapsed_s,
            ops_s, r->lat_ms_p50, r->lat_ms_p90, r->lat_ms_p99, r->lat_ms_max, r->longest_gap_s,
            r->longest_gap_from_s, (unsigned long long)r->acks.n,
            (unsigned long long)r->acks_not_ok, (unsigned long long)r->acks_no_result,
            (unsigned long long)r->dup_order_seq);
    for (uint32_t s = 0; s < r->seconds && s < LOAD_MAX_SECONDS; s++)
        fprintf(f, "%s%llu", s ? ", " : "", (unsigned long long)r->per_second[s]);
    fprintf(f, "]}\n");
    return fclose(f) == 0 ? 0 : -1;
}

int cmd_load(int argc, char **argv)
{
    struct load_args a = {.clients = 4, .outstanding = 4, .envelope = 1, .duration_s = 10};
    enum cli_result cr = cli_parse(&k_spec, argc, argv, &a, NULL);
    if (cr != CLI_PARSED) return cr == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    if (!a.cfg) {
        fprintf(stderr, "bftctl load: --config is required\n");
        cli_usage(&k_spec, stderr);
        return BFT_EXIT_USAGE;
    }
    struct bft_cluster cl;
    char err[512];
    if (bft_cluster_load(&cl, a.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl load: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    int rc = BFT_EXIT_USAGE;
    struct load_result *r = calloc(1, sizeof *r);
    if (a.clients > cl.n_clients) {
        fprintf(stderr, "bftctl load: --clients %u but %s has %u clients\n", a.clients, a.cfg,
                cl.n_clients);
        goto out;
    }
    struct load_opts lo = {.cl = &cl,
                           .clients = a.clients,
                           .envelope = a.envelope,
                           .outstanding = a.outstanding,
                           .duration_s = a.duration_s,
                           .quiet = a.quiet,
                           .first_id = wall_us()};
    if (!r || ctl_load_run(&lo, r, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl load: %s\n", r ? err : "out of memory");
        goto out;
    }
    double ops_s = r->elapsed_s > 0 ? (double)r->completed / r->elapsed_s : 0;
    printf("load: %llu completed in %.1f s (%.0f ops/s), latency p50 %.2f p99 %.2f ms, "
           "%llu retransmits, longest gap %.1f s from t=%.1f s, %llu orders acknowledged\n",
           (unsigned long long)r->completed, r->elapsed_s, ops_s, r->lat_ms_p50, r->lat_ms_p99,
           (unsigned long long)r->retransmits, r->longest_gap_s, r->longest_gap_from_s,
           (unsigned long long)r->acks.n);
    if (a.ledger && ctl_ledger_csv_write(a.ledger, &r->acks) != 0) {
        fprintf(stderr, "bftctl load: cannot write %s\n", a.ledger);
        goto out;
    }
    if (a.json && write_json(a.json, r, ops_s) != 0) {
        fprintf(stderr, "bftctl load: cannot write %s\n", a.json);
        goto out;
    }
    if (r->dup_order_seq) {
        printf("load: UNSAFE: %llu order numbers acknowledged twice\n",
               (unsigned long long)r->dup_order_seq);
        rc = BFT_EXIT_UNSAFE;
    } else {
        rc = r->completed ? BFT_EXIT_OK : BFT_EXIT_NO_PROGRESS;
    }
out:
    if (r) ledger_free(&r->acks);
    free(r);
    bft_cluster_free(&cl);
    return rc;
}
