/* bftctl cluster's options: one table (tools/cli.h) for parsing and
 * --help, and the checks that need more than one flag (docs/design.md
 * "bftctl cluster"). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "core/core.h"
#include "node/node.h"
#include "tools/bftctl_run.h"

#define PROG "bftctl cluster"

/* The behaviours --fault takes: every behaviour of the faults module
 * (each bftd's fault actor or bftctl carries it out), plus bftctl's own
 * `wipe`. The help lists the same names from the same X-macro, so the list
 * and the parser cannot disagree. */
#define BEHAVIOUR_WORD(name, str) " " str
#define BEHAVIOUR_LIST "wipe" FAULT_BEHAVIOUR_MAP(BEHAVIOUR_WORD)

static bool behaviour_known(const char *b)
{
    return !strcmp(b, "wipe") || fault_behaviour_parse(b) >= 0;
}

/* "T0[-T1]" after '@', in the faults module's own time syntax ("2",
 * "2.5", "1500ms", "3s"), so --fault takes the same units as --partition,
 * --net and plan files: the one parser, run on a one-replica scratch plan. */
static int parse_window(const char *spec, const char *win, struct ctl_fault *f)
{
    char one[FAULT_SPEC_MAX + 16], err[256];
    struct fault_plan p;
    fault_plan_init(&p, 1, 0);
    snprintf(one, sizeof one, "0:silent@%s", win);
    if (!*win || fault_plan_add_fault(&p, one, err, sizeof err) != BFT_E_OK) {
        fprintf(stderr,
                PROG ": --fault '%s': bad window '@%s': T0[-T1] in seconds (2, 2.5) or with a "
                     "unit (1500ms, 3s), T1 after T0\n",
                spec, win);
        return -1;
    }
    f->t0 = (double)p.fault[0].win.from_ms / 1000.0;
    f->t1 =
        p.fault[0].win.until_ms == FAULT_FOREVER ? -1 : (double)p.fault[0].win.until_ms / 1000.0;
    return 0;
}

/* "ID:BEHAVIOUR[@T0[-T1]]" with ID a replica below n or "leader". */
static int parse_fault(const char *s, struct ctl_fault *f, uint32_t n)
{
    char buf[FAULT_SPEC_MAX];
    if (snprintf(buf, sizeof buf, "%s", s) >= (int)sizeof buf) goto bad;
    char *colon = strchr(buf, ':');
    if (!colon) goto bad;
    *colon = 0;
    char *end;
    /* "leader": whichever replica leads when the fault fires (crash and
     * wipe only), e.g. to kill the Raft leader wherever the election put it. */
    f->by_leader = !strcmp(buf, "leader");
    long id = f->by_leader ? 0 : strtol(buf, &end, 10);
    if (f->by_leader) end = buf + strlen(buf);
    if (*end || buf[0] == 0 || id < 0 || (uint32_t)id >= n) {
        fprintf(stderr, PROG ": --fault '%s': replica id must be 0..%u\n", s, n - 1);
        return -1;
    }
    char *beh = colon + 1, *at = strchr(beh, '@');
    f->t0 = 0;
    f->t1 = -1;
    if (at) {
        *at = 0;
        if (parse_window(s, at + 1, f) != 0) return -1;
    }
    if (!behaviour_known(beh)) {
        fprintf(stderr, PROG ": --fault '%s': unknown behaviour '%s' (%s)\n", s, beh,
                BEHAVIOUR_LIST);
        return -1;
    }
    if (f->by_leader && strcmp(beh, "crash") != 0 && strcmp(beh, "wipe") != 0) {
        fprintf(stderr, PROG ": --fault '%s': 'leader' works with crash and wipe only\n", s);
        return -1;
    }
    /* wipe: killed at T0, restarted at T1 with empty state (no WAL), so it
     * must catch up by state transfer. Default T1 = T0 + 2 s. */
    if (!strcmp(beh, "wipe") && f->t1 < 0) f->t1 = f->t0 + 2;
    f->replica = (uint32_t)id;
    snprintf(f->behaviour, sizeof f->behaviour, "%s", beh);
    return 0;
bad:
    fprintf(stderr, PROG ": --fault '%s': expected ID:BEHAVIOUR[@T0[-T1]]\n", s);
    return -1;
}

static int opt_app(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)o;
    struct ctl_run *run = ctx;
    if (!bft_app_for(arg)) {
        fprintf(stderr, "%s: unknown app '%s' (orders, kv)\n", prog, arg);
        return -1;
    }
    snprintf(run->app, sizeof run->app, "%s", arg);
    return 0;
}

static int opt_fault(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)o;
    struct ctl_run *run = ctx;
    if (run->n_faults == CTL_MAX_FAULTS) {
        fprintf(stderr, "%s: at most %d --fault flags\n", prog, CTL_MAX_FAULTS);
        return -1;
    }
    run->fault_args[run->n_faults++] = arg;
    return 0;
}

static int opt_partition(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)o;
    struct ctl_run *run = ctx;
    if (run->n_partitions == FAULT_MAX_PARTITIONS) {
        fprintf(stderr, "%s: at most %d --partition flags\n", prog, FAULT_MAX_PARTITIONS);
        return -1;
    }
    run->partition_args[run->n_partitions++] = arg;
    return 0;
}

static int opt_inject(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    struct ctl_run *run = ctx;
    return ctl_parse_inject(prog, o->name, arg, &run->inject_junk, &run->inject_badsig);
}

static int opt_read_level(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)o;
    struct ctl_run *run = ctx;
    if (!strcmp(arg, "mix")) {
        run->read_level = LOAD_READ_MIX;
    } else if (bft_read_level_parse(arg, &run->read_level, &run->read_staleness_ms)) {
        fprintf(stderr,
                "%s: --read-level wants linearizable, quorum, local[:MS] (MS >= 1) or mix, "
                "got '%s'\n",
                prog, arg);
        return -1;
    }
    run->read_level_arg = arg;
    return 0;
}

#define OFF(field) offsetof(struct ctl_run, field)
static const struct cli_opt k_opts[] = {
    {"protocol", 0, "P", CLI_FN, OFF(protocol), 0, 0, ctl_opt_protocol,
     "pbft, hotstuff or raft (required)"},
    {"nodes", 0, "N", CLI_U32, OFF(nodes), 1, BFT_MAX_REPLICAS, NULL,
     "replicas (required; with --scenario, the scenario's)"},
    {"duration", 0, "S", CLI_DOUBLE, OFF(duration_s), 0.5, LOAD_MAX_SECONDS - 1, NULL,
     "seconds of load (required; with --scenario, scales its\ntimeline)"},
    {"clients", 0, "C", CLI_U32, OFF(clients), 1, 256, NULL, "closed-loop clients (default 4)"},
    {"batch", 0, "B", CLI_U32, OFF(batch), 1, BFT_BATCH_MAX_ENVELOPES, NULL,
     "max requests per batch (default 64)"},
    {"envelope", 0, "K", CLI_U32, OFF(envelope), 1, BFT_ENVELOPE_MAX_OPS, NULL,
     "requests per client signature (default 1)"},
    {"outstanding", 0, "W", CLI_U32, OFF(outstanding), 1, 16, NULL,
     "envelopes in flight per client (default 1)"},
    {"app", 0, "orders|kv", CLI_FN, 0, 0, 0, opt_app, "application (default orders)"},
    {"payload", 0, "BYTES", CLI_U32, OFF(payload), 0, BFT_RESULT_MAX - 1, NULL,
     "kv value size (default 16)"},
    {"sign", 0, NULL, CLI_FLAG, OFF(sign), 0, 0, NULL, "raft: sign replica messages too"},
    {"tls", 0, NULL, CLI_FLAG, OFF(tls), 0, 0, NULL,
     "replicas and clients talk mutual TLS (keygen --tls;\ndocs/tls.md)"},
    {"transport", 0, "direct|nng", CLI_FN, OFF(transport), 0, 0, ctl_opt_transport,
     "direct (default, tcp+direct://) or nng (tcp://);\n--tls is always nng (keygen --transport)"},
    {"reads", 0, "PCT", CLI_U32, OFF(read_pct), 0, 100, NULL,
     "each client also keeps up to 2 reads in flight: a free\nread slot issues a LOOKUP of its "
     "latest acknowledged order\nwith this chance (%; default 0: none); latency per level"},
    {"read-level", 0, "L", CLI_FN, 0, 0, 0, opt_read_level,
     "linearizable (default), quorum, local[:MS] (staleness\nbound, default 100 ms) or mix "
     "(docs/reads.md)"},
    {"fault", 0, "ID:BEHAVIOUR[@T0[-T1]]", CLI_FN, 0, 0, 0, opt_fault,
     "e.g. 0:crash@3, leader:wipe@4-6, 1:slow@1500ms-3s\n(repeatable); behaviours "
     "(docs/faults.md):\n" BEHAVIOUR_LIST},
    {"partition", 0, "SPEC", CLI_FN, 0, 0, 0, opt_partition,
     "'A,B|C,D[@T0[-T1]]' symmetric; 'A>B,C[@T0[-T1]]'\nasymmetric (repeatable; clients are "
     "never partitioned)"},
    {"net", 0, "RATES", CLI_STR, OFF(net_arg), 0, 0, NULL,
     "drop=P,duplicate=P,reorder=P,reorder_ms=MS,delay_ms=MS,\njitter_ms=MS[@T0[-T1]]"},
    {"drop", 0, "P", CLI_DOUBLE, OFF(drop), 0, 1, NULL, "the --net drop rate alone"},
    {"duplicate", 0, "P", CLI_DOUBLE, OFF(duplicate), 0, 1, NULL, "the --net duplicate rate alone"},
    {"reorder", 0, "P", CLI_DOUBLE, OFF(reorder), 0, 1, NULL, "the --net reorder rate alone"},
    {"delay-ms", 0, "MS", CLI_DOUBLE, OFF(delay_ms), 0, 60000, NULL, "the --net delay alone"},
    {"scenario", 0, "FILE.json", CLI_STR, OFF(scenario_path), 0, 0, NULL,
     "run a scenario (scenarios/*.json): its faults, nodes and\nduration (--duration compresses "
     "its timeline); exit 0 iff\nthe outcome matches its expectation"},
    {"inject", 0, "junk,badsig", CLI_FN, 0, 0, 0, opt_inject,
     "an outsider sends junk frames and badly signed\nmessages to every replica halfway "
     "through the run"},
    {"dir", 0, "DIR", CLI_STR, OFF(dir_arg), 0, 0, NULL,
     "keep cluster.json, keys, WALs and logs in DIR"},
    {"json", 0, "OUT.json", CLI_STR, OFF(json_path), 0, 0, NULL, "write the result as JSON"},
    {"base-port", 0, "PORT", CLI_U16, OFF(base_port), 1024, 65000, NULL,
     "first replica port (default: a free range)"},
    {"quiet", 0, NULL, CLI_FLAG, OFF(quiet), 0, 0, NULL, "print only the verdict line"},
};
#undef OFF

static const struct cli_spec k_spec = {
    .prog = PROG,
    .synopsis = "bftctl cluster --protocol pbft|hotstuff|raft --nodes N --duration S [options]",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro =
        "Times take seconds (2, 2.5) or a unit (1500ms, 3s). BFTD=path overrides the bftd binary.\n"
        "Exit codes: 0 safe and progressed, 2 usage/setup error, 3 safety violated\n"
        "(incl. an acknowledged order not held exactly once with its order number by an\n"
        "honest replica), 4 no commits after the last fault healed although 2f+1 honest\n"
        "replicas (raft: a majority) are up at the end; the load is extended to end at\n"
        "least 3 s after the last heal. With --scenario: 0 outcome as expected, 3 safety\n"
        "other than expected, 4 progress other than expected.\n",
};

/* --fault: crash and wipe are bftctl's (kill / restart); every other
 * behaviour goes into the plan each bftd carries out. */
static int check_faults(struct ctl_run *run)
{
    for (uint32_t i = 0; i < run->n_faults; i++) {
        if (parse_fault(run->fault_args[i], &run->faults[i],
                        run->nodes_set ? run->nodes : BFT_MAX_REPLICAS) != 0)
            return -1;
        if (!strcmp(run->faults[i].behaviour, "crash") || !strcmp(run->faults[i].behaviour, "wipe"))
            continue;
        run->plan_fault_args[run->n_fault_args_plan++] = run->fault_args[i];
    }
    if (ctl_build_plan(run) != 0) return -1;
    for (uint32_t i = 0; i < run->n_faults; i++)
        if (run->faults[i].replica >= run->nodes) {
            fprintf(stderr, PROG ": fault on replica %u: nodes are 0..%u\n", run->faults[i].replica,
                    run->nodes - 1);
            return -1;
        }
    return 0;
}

int ctl_cluster_args(struct ctl_run *run, int argc, char **argv)
{
    uint64_t seen;
    run->protocol = -1;
    enum cli_result r = cli_parse(&k_spec, argc, argv, run, &seen);
    if (r == CLI_HELP) return 1;
    if (r != CLI_PARSED) return -1;
    run->nodes_set = cli_given(&k_spec, seen, "nodes");
    run->duration_set = cli_given(&k_spec, seen, "duration");
    if (ctl_check_transport(PROG, run->tls, run->transport) != 0) return -1;
    if (run->protocol < 0 || ((!run->nodes_set || !run->duration_set) && !run->scenario_path)) {
        fprintf(stderr,
                PROG ": --protocol, --nodes and --duration are required "
                     "(--nodes and --duration default to the scenario's with --scenario)\n");
        cli_usage(&k_spec, stderr);
        return -1;
    }
    if (!bft_core_ops_for(run->protocol)) {
        fprintf(stderr, PROG ": protocol %s is not built yet\n", bft_protocol_name(run->protocol));
        return -1;
    }
    if (check_faults(run) != 0) return -1;
    if (ctl_default_f(run->protocol, run->nodes) < 1) {
        fprintf(stderr, PROG ": %s needs at least %u nodes\n", bft_protocol_name(run->protocol),
                run->protocol == BFT_PROTO_RAFT ? 3 : 4);
        return -1;
    }
    return 0;
}
