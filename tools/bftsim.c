/* bftsim: run the deterministic simulator over a range of seeds.
 *
 *   bftsim --protocol pbft|hotstuff|raft --nodes N --seeds A:B [options]
 *   bftsim --scenario FILE.json --seeds A:B [--protocol P] [--nodes N] [options]
 *
 * The first form is a seed sweep: each seed is one whole run (sim_run_seed:
 * options, faults and schedule all come from the seed, a fault phase then a
 * liveness phase). --faults byzantine|twins|byzzfuzz draw Byzantine
 * replicas, Twins scenarios or ByzzFuzz schedules from the seed
 * (docs/simulator.md); --byzantine / --partition / --net give an explicit
 * faults/ plan applied during the fault phase.
 *
 * The second runs a scenario file (docs/faults.md "Scenario schema") on
 * its own timeline, once per seed, for each protocol it names (or only
 * --protocol), and checks its expect block (sim_run_scenario,
 * docs/simulator.md "Scenarios").
 *
 * Either way a failing seed prints one line with the command that replays
 * it, and the seeds end with "N passed, N failed" (docs/design.md
 * "bftsim"). Exit 0 if every seed passed, 1 if any failed, 2 on a usage
 * error or a protocol that is not built.
 *
 * Options are one table (k_opts): name, argument, parser and help text
 * drive both getopt_long and --help. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "core/core.h"
#include "node/node.h"
#include "sim/sim.h"

enum { EXIT_PASSED = 0, EXIT_FAILED = 1, EXIT_USAGE = 2 };

#define MAX_SPECS (3 * FAULT_MAX_FAULTS)

struct args {
    const char *proto_arg, *faults_arg, *scenario, *level_arg;
    uint64_t nodes, seed_a, seed_b, phase_min_ms, phase_max_ms, read_pct;
    bool have_seeds, verbose, phase_set, reads_set, faults_set, help;
    int read_level;
    uint32_t staleness_ms;
    /* Plan specs are checked once nodes is known; kept for the replay line. */
    const char *specs[MAX_SPECS];
    char kinds[MAX_SPECS]; /* 'b' byzantine, 'x' partition, 'N' net */
    uint32_t n_specs;
};

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-') return -1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

/* "A:B" with A <= B, or "S" alone meaning S:S. */
static int parse_range(const char *arg, uint64_t *a, uint64_t *b)
{
    char buf[64];
    if (!arg || strlen(arg) >= sizeof(buf)) return -1;
    strcpy(buf, arg);
    char *colon = strchr(buf, ':');
    if (!colon) {
        if (parse_u64(buf, a)) return -1;
        *b = *a;
        return 0;
    }
    *colon = 0;
    if (parse_u64(buf, a) || parse_u64(colon + 1, b) || *b < *a) return -1;
    return 0;
}

/* ---- one parser per option; each says what is wrong on stderr ---- */

typedef int (*opt_parse_fn)(struct args *a, const char *arg, const char *name);

static int opt_protocol(struct args *a, const char *arg, const char *name)
{
    (void)name;
    a->proto_arg = arg;
    return 0;
}

static int opt_nodes(struct args *a, const char *arg, const char *name)
{
    if (parse_u64(arg, &a->nodes) || a->nodes < 1 || a->nodes > BFT_MAX_REPLICAS) {
        fprintf(stderr, "bftsim: --%s must be 1..%d\n", name, BFT_MAX_REPLICAS);
        return -1;
    }
    return 0;
}

static int opt_seeds(struct args *a, const char *arg, const char *name)
{
    if (parse_range(arg, &a->seed_a, &a->seed_b)) {
        fprintf(stderr, "bftsim: --%s wants A:B with A <= B\n", name);
        return -1;
    }
    a->have_seeds = true;
    return 0;
}

static int opt_faults(struct args *a, const char *arg, const char *name)
{
    (void)name;
    a->faults_arg = arg;
    a->faults_set = true;
    return 0;
}

static int opt_spec(struct args *a, const char *arg, const char *name)
{
    if (a->n_specs == MAX_SPECS) {
        fprintf(stderr, "bftsim: too many fault specs (at most %d)\n", MAX_SPECS);
        return -1;
    }
    a->kinds[a->n_specs] = strcmp(name, "byzantine") == 0   ? 'b'
                           : strcmp(name, "partition") == 0 ? 'x'
                                                            : 'N';
    a->specs[a->n_specs++] = arg;
    return 0;
}

static int opt_phase(struct args *a, const char *arg, const char *name)
{
    if (parse_range(arg, &a->phase_min_ms, &a->phase_max_ms) || a->phase_max_ms > 3600000) {
        fprintf(stderr, "bftsim: --%s wants MIN:MAX (ms, at most 3600000)\n", name);
        return -1;
    }
    a->phase_set = true;
    return 0;
}

static int opt_reads(struct args *a, const char *arg, const char *name)
{
    if (parse_u64(arg, &a->read_pct) || a->read_pct > 100) {
        fprintf(stderr, "bftsim: --%s wants a percentage 0..100\n", name);
        return -1;
    }
    a->reads_set = true;
    return 0;
}

static int opt_read_level(struct args *a, const char *arg, const char *name)
{
    if (strcmp(arg, "mix") == 0) {
        a->read_level = SIM_READ_MIX;
    } else if (bft_read_level_parse(arg, &a->read_level, &a->staleness_ms) != 0) {
        fprintf(stderr, "bftsim: --%s wants linearizable, quorum, local[:MS] (MS >= 1) or mix\n",
                name);
        return -1;
    }
    a->level_arg = arg;
    return 0;
}

static int opt_scenario(struct args *a, const char *arg, const char *name)
{
    (void)name;
    a->scenario = arg;
    return 0;
}

static int opt_verbose(struct args *a, const char *arg, const char *name)
{
    (void)arg, (void)name;
    a->verbose = true;
    return 0;
}

static int opt_help(struct args *a, const char *arg, const char *name)
{
    (void)arg, (void)name;
    a->help = true;
    return 0;
}

/* The options: getopt_long's table and --help are both built from it. Help
 * lines after the first start with '\n'. */
static const struct opt {
    const char *name;
    const char *arg; /* shown in --help; NULL: takes no argument */
    opt_parse_fn parse;
    const char *help;
} k_opts[] = {
    {"protocol", "P", opt_protocol,
     "pbft, hotstuff or raft (with --scenario: only this one of the\n"
     "file's protocols; default all of them)"},
    {"nodes", "N", opt_nodes, "replicas, 1..16 (with --scenario: overrides the file)"},
    {"seeds", "A:B", opt_seeds, "run every seed from A to B inclusive (S alone = S:S)"},
    {"scenario", "FILE.json", opt_scenario,
     "run a scenario file on its own timeline and check its expect\n"
     "block (docs/simulator.md \"Scenarios\"); no --faults, --byzantine,\n"
     "--partition, --net or --fault-phase-ms with it"},
    {"faults", "PROFILE", opt_faults,
     "fault profile for the safety phase (default: default):\n"
     "none lossy crash partition default byzantine twins byzzfuzz\n"
     "restarts (one replica killed ~2 s every ~5 s, under load)"},
    {"fault-phase-ms", "MIN:MAX", opt_phase,
     "the seed picks the fault phase length in this range of\n"
     "virtual milliseconds (default 5000:20000)"},
    {"byzantine", "ID:BEHAVIOUR[@T0[-T1]]", opt_spec,
     "a faulty replica for the fault phase (silent slow equivocate\n"
     "junk badsig replay stale flood withhold forge twin crash);\n"
     "repeatable"},
    {"partition", "SPEC", opt_spec, "'A,B|C,D[@T0-T1]' or 'A>B,C[@T0-T1]'; repeatable"},
    {"net", "RATES", opt_spec, "drop=P,duplicate=P,reorder=P,delay_ms=MS,jitter_ms=MS[@T0-T1]"},
    {"reads", "PCT", opt_reads,
     "chance (%) that a client refills each of its 2 read slots\n"
     "with a read-only LOOKUP (default 50; 0: no reads)"},
    {"read-level", "L", opt_read_level,
     "linearizable, quorum, local[:MS] or mix: consistency level of\n"
     "those reads (docs/reads.md; default linearizable); local has a\n"
     "staleness bound (default 100 ms); mix: each read picks one"},
    {"verbose", NULL, opt_verbose, "narrate each run on stderr and print passing seeds"},
    {"help", NULL, opt_help, "this text"},
};
#define N_OPTS (sizeof k_opts / sizeof *k_opts)

static void usage(FILE *out)
{
    fprintf(out, "usage: bftsim --protocol P --nodes N --seeds A:B [options]\n"
                 "       bftsim --scenario FILE.json --seeds A:B [--protocol P] [--nodes N] "
                 "[options]\n");
    for (size_t i = 0; i < N_OPTS; i++) {
        char head[64];
        snprintf(head, sizeof head, "--%s%s%s", k_opts[i].name, k_opts[i].arg ? " " : "",
                 k_opts[i].arg ? k_opts[i].arg : "");
        fprintf(out, "  %s\n", head);
        for (const char *p = k_opts[i].help; *p;) {
            const char *nl = strchr(p, '\n');
            int len = nl ? (int)(nl - p) : (int)strlen(p);
            fprintf(out, "      %.*s\n", len, p);
            p += len + (nl ? 1 : 0);
        }
    }
}

/* 0 parsed, 1 --help, -1 usage error (already reported). */
static int parse_args(int argc, char **argv, struct args *a)
{
    struct option longopts[N_OPTS + 1];
    for (size_t i = 0; i < N_OPTS; i++)
        longopts[i] = (struct option){
            k_opts[i].name, k_opts[i].arg ? required_argument : no_argument, NULL, 256 + (int)i};
    longopts[N_OPTS] = (struct option){NULL, 0, NULL, 0};
    *a = (struct args){.faults_arg = "default",
                       .read_level = BFT_READ_LINEARIZABLE,
                       .staleness_ms = BFT_READ_STALENESS_DEFAULT_MS};
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c < 256 || c >= 256 + (int)N_OPTS) {
            fprintf(stderr, "bftsim: unknown or incomplete option '%s'\n", argv[optind - 1]);
            return -1;
        }
        const struct opt *o = &k_opts[c - 256];
        if (o->parse(a, optarg, o->name) != 0) return -1;
        if (a->help) return 1;
    }
    if (optind < argc) {
        fprintf(stderr, "bftsim: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!a->have_seeds || (!a->scenario && (!a->proto_arg || !a->nodes))) {
        fprintf(stderr, "bftsim: --protocol, --nodes and --seeds are required "
                        "(--scenario and --seeds with a scenario)\n");
        return -1;
    }
    return 0;
}

/* ---- seed sweeps ---- */

/* Options for the sweep and, in `replay`, the flags that shaped them. */
static int sweep_options(const struct args *a, int proto, struct sim_options *o, char *replay,
                         size_t cap)
{
    int profile = sim_profile_parse(a->faults_arg);
    if (profile < 0) {
        fprintf(stderr, "bftsim: unknown fault profile '%s'\n", a->faults_arg);
        return -1;
    }
    sim_options_default(o, proto, (uint32_t)a->nodes);
    o->faults = profile;
    o->verbose = a->verbose;
    size_t off = (size_t)snprintf(replay, cap, " --faults %s", sim_profile_name(profile));
    if (a->phase_set) {
        o->fault_phase_min_us = a->phase_min_ms * 1000;
        o->fault_phase_max_us = a->phase_max_ms * 1000;
        off += (size_t)snprintf(replay + off, cap - off, " --fault-phase-ms %" PRIu64 ":%" PRIu64,
                                a->phase_min_ms, a->phase_max_ms);
    }
    if (a->reads_set) {
        o->read_pct = (uint32_t)a->read_pct;
        off += (size_t)snprintf(replay + off, cap - off, " --reads %" PRIu64, a->read_pct);
    }
    if (a->level_arg) {
        o->read_level = a->read_level;
        o->read_staleness_ms = a->read_level == SIM_READ_MIX && !strchr(a->level_arg, ':')
                                   ? BFT_READ_STALENESS_DEFAULT_MS
                                   : a->staleness_ms;
        snprintf(replay + off, cap - off, " --read-level %s", a->level_arg);
    }
    return 0;
}

/* The explicit plan of --byzantine / --partition / --net, if any. */
static int sweep_plan(const struct args *a, struct fault_plan *plan, struct sim_options *o,
                      char *replay, size_t cap)
{
    if (!a->n_specs) return 0;
    fault_plan_init(plan, (uint32_t)a->nodes, 1);
    size_t off = strlen(replay);
    for (uint32_t i = 0; i < a->n_specs; i++) {
        char err[256];
        char k = a->kinds[i];
        int rv = k == 'b'   ? fault_plan_add_fault(plan, a->specs[i], err, sizeof(err))
                 : k == 'x' ? fault_plan_add_partition(plan, a->specs[i], err, sizeof(err))
                            : fault_plan_set_net(plan, a->specs[i], err, sizeof(err));
        if (rv != BFT_E_OK) {
            fprintf(stderr, "bftsim: %s\n", err);
            return -1;
        }
        const char *flag = k == 'b' ? "byzantine" : k == 'x' ? "partition" : "net";
        if (off < cap)
            off += (size_t)snprintf(replay + off, cap - off, " --%s '%s'", flag, a->specs[i]);
    }
    o->plan = plan;
    return 0;
}

static void print_pass(const struct sim_result *res)
{
    printf("PASS seed=%" PRIu64 ": %" PRIu64 " ops, %" PRIu64 " reads (%" PRIu64
           " found), seq %" PRIu64 ", view %" PRIu64 ", %" PRIu64
           " msgs, %.3f s virtual; faulty sent %" PRIu64 " rewritten %" PRIu64
           " equivocated %" PRIu64 " injected %" PRIu64 " dropped %" PRIu64 ", twin cut %" PRIu64
           "\n",
           res->seed, res->stats.ops_completed, res->stats.reads_completed, res->stats.reads_found,
           res->max_executed, res->max_view, res->stats.msgs_sent, (double)res->virtual_us / 1e6,
           res->faults.actor.seen, res->faults.actor.rewritten, res->faults.actor.equivocated,
           res->faults.actor.injected, res->faults.actor.dropped, res->faults.twin_cut);
}

static int run_sweep(const struct args *a, int proto)
{
    struct sim_options o;
    static struct fault_plan plan;
    char replay[1200];
    if (sweep_options(a, proto, &o, replay, sizeof replay) != 0) return -1;
    if (sweep_plan(a, &plan, &o, replay, sizeof replay) != 0) return EXIT_USAGE;
    uint64_t passed = 0, failed = 0;
    uint64_t by_level[BFT_READ_LEVELS] = {0}, local_answers = 0, local_refusals = 0;
    uint64_t crashes = 0, torn = 0, no_result = 0;
    for (uint64_t seed = a->seed_a;; seed++) {
        struct sim_result res;
        if (sim_run_seed(&o, seed, &res) != BFT_E_OK) {
            fprintf(stderr, "bftsim: cannot build the cluster: %s\n", res.reason);
            return EXIT_USAGE;
        }
        crashes += res.stats.crashes;
        torn += res.stats.torn_crashes;
        no_result += res.stats.no_result;
        for (int l = 0; l < BFT_READ_LEVELS; l++)
            by_level[l] += res.stats.reads_level[l];
        local_answers += res.stats.local_answers;
        local_refusals += res.stats.local_refusals;
        if (res.passed) {
            passed++;
            if (a->verbose) print_pass(&res);
        } else {
            failed++;
            printf("FAIL seed=%" PRIu64 ": %s; replay: bftsim --protocol %s --nodes %u --seeds "
                   "%" PRIu64 ":%" PRIu64 "%s\n",
                   seed, res.reason, a->proto_arg, (unsigned)a->nodes, seed, seed, replay);
        }
        fflush(stdout);
        if (seed == a->seed_b) break;
    }
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
    printf("reads checked: %" PRIu64 " linearizable, %" PRIu64 " quorum, %" PRIu64
           " local (%" PRIu64 " local answers checked for freshness, %" PRIu64
           " refused as stale)\n",
           by_level[BFT_READ_LINEARIZABLE], by_level[BFT_READ_QUORUM], by_level[BFT_READ_LOCAL],
           local_answers, local_refusals);
    printf("crashes: %" PRIu64 ", of which %" PRIu64
           " in the middle of a sync (its records lost, what it sent ahead of the sync out); "
           "%" PRIu64 " requests closed without a result\n",
           crashes, torn, no_result);
    return failed ? EXIT_FAILED : EXIT_PASSED;
}

/* ---- scenario files ---- */

struct scen_tally {
    uint64_t passed, failed;
    uint32_t ran; /* protocols run */
};

static void scenario_header(const struct fault_scenario *sc, const struct sim_options *o)
{
    const struct fault_expect *e = &fault_scenario_for(sc, o->protocol)->expect;
    printf("scenario %s (%s, %u nodes, %u s): expect safety %s", sc->name,
           bft_protocol_name(o->protocol), o->n, sc->duration_s,
           e->safety == FAULT_SAFETY_OK ? "ok" : "violated");
    if (e->safety == FAULT_SAFETY_VIOLATED)
        printf(" (progress not judged)\n");
    else
        printf(", %s after %.1f s\n", e->progress ? "progress" : "no progress",
               (double)e->progress_after_ms / 1000.0);
    for (size_t i = 0; fault_expect_key(i); i++) {
        const char *how = sim_scenario_check_of(fault_expect_key(i));
        printf("  %-16s %s\n", fault_expect_key(i), how ? how : "NOT CHECKED in the simulator");
    }
}

static void scenario_line(const struct args *a, const struct sim_options *o,
                          const struct sim_scenario_result *r, const char *replay)
{
    const char *proto = bft_protocol_name(o->protocol);
    if (!r->passed) {
        printf("FAIL %s seed=%" PRIu64 ": %s; replay: bftsim --scenario %s --protocol %s "
               "--seeds %" PRIu64 ":%" PRIu64 "%s\n",
               proto, r->seed, r->why, a->scenario, proto, r->seed, r->seed, replay);
        return;
    }
    if (!a->verbose) return;
    printf("PASS %s seed=%" PRIu64 ": safety %s%s%s, %" PRIu64 " ops from T=0, %" PRIu64
           " after the progress window opened; faulty sent %" PRIu64 " rewritten %" PRIu64
           " equivocated %" PRIu64 " injected %" PRIu64 ", twin cut %" PRIu64
           ", %u leader restarts before T=0\n",
           proto, r->seed, r->violated ? "violated (" : "ok", r->violated ? r->reason : "",
           r->violated ? ")" : "", r->ops_total, r->ops_after, r->faults.actor.seen,
           r->faults.actor.rewritten, r->faults.actor.equivocated, r->faults.actor.injected,
           r->faults.twin_cut, r->leader_restarts);
}

/* Every seed of one protocol. -1 if the scenario cannot run for it. */
static int scenario_protocol(const struct args *a, const struct fault_scenario *sc, int proto,
                             struct scen_tally *t)
{
    struct sim_options o;
    sim_scenario_options(&o, sc, proto, (uint32_t)a->nodes);
    o.verbose = a->verbose;
    char replay[160] = "";
    size_t off = 0;
    if (a->nodes) off += (size_t)snprintf(replay, sizeof replay, " --nodes %u", o.n);
    if (a->reads_set) {
        o.read_pct = (uint32_t)a->read_pct;
        off +=
            (size_t)snprintf(replay + off, sizeof replay - off, " --reads %" PRIu64, a->read_pct);
    }
    if (a->level_arg) {
        o.read_level = a->read_level;
        o.read_staleness_ms = a->staleness_ms;
        snprintf(replay + off, sizeof replay - off, " --read-level %s", a->level_arg);
    }
    scenario_header(sc, &o);
    uint64_t passed = 0, failed = 0;
    for (uint64_t seed = a->seed_a;; seed++) {
        struct sim_scenario_result r;
        if (sim_run_scenario(sc, &o, seed, &r) != BFT_E_OK) {
            fprintf(stderr, "bftsim: scenario %s (%s): %s\n", sc->name, bft_protocol_name(proto),
                    r.why);
            return -1;
        }
        r.passed ? passed++ : failed++;
        scenario_line(a, &o, &r, replay);
        fflush(stdout);
        if (seed == a->seed_b) break;
    }
    printf("scenario %s %s: %" PRIu64 " passed, %" PRIu64 " failed\n", sc->name,
           bft_protocol_name(proto), passed, failed);
    t->passed += passed;
    t->failed += failed;
    t->ran++;
    return 0;
}

static int run_scenario(const struct args *a)
{
    if (a->faults_set || a->phase_set || a->n_specs) {
        fprintf(stderr, "bftsim: --scenario takes its faults and timeline from the file "
                        "(no --faults, --fault-phase-ms, --byzantine, --partition or --net)\n");
        return -1;
    }
    static struct fault_scenario sc; /* 1 KiB description + a plan: not on the stack */
    char err[512];
    if (fault_scenario_load(&sc, a->scenario, err, sizeof err) != BFT_E_OK) {
        fprintf(stderr, "bftsim: --scenario: %s\n", err);
        return EXIT_USAGE;
    }
    int only = a->proto_arg ? bft_protocol_parse(a->proto_arg) : -1;
    if (a->proto_arg && !fault_scenario_for(&sc, only)) {
        fprintf(stderr, "bftsim: scenario %s does not list protocol '%s'\n", sc.name, a->proto_arg);
        return EXIT_USAGE;
    }
    struct scen_tally t = {0};
    for (uint32_t i = 0; i < sc.n_protocols; i++) {
        int proto = sc.protocols[i].protocol;
        if (only >= 0 && proto != only) continue;
        if (!bft_core_ops_for(proto)) {
            printf("skip %s: not built into this binary\n", bft_protocol_name(proto));
            continue;
        }
        if (scenario_protocol(a, &sc, proto, &t) != 0) return EXIT_USAGE;
    }
    if (!t.ran) {
        fprintf(stderr, "bftsim: no protocol of scenario %s is built into this binary\n", sc.name);
        return EXIT_USAGE;
    }
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", t.passed, t.failed);
    return t.failed ? EXIT_FAILED : EXIT_PASSED;
}

int main(int argc, char **argv)
{
    struct args a;
    int rv = parse_args(argc, argv, &a);
    if (rv > 0) {
        usage(stdout);
        return EXIT_PASSED;
    }
    if (rv < 0) {
        usage(stderr);
        return EXIT_USAGE;
    }
    int proto = a.proto_arg ? bft_protocol_parse(a.proto_arg) : -1;
    if (a.proto_arg && proto < 0) {
        fprintf(stderr, "bftsim: unknown protocol '%s'\n", a.proto_arg);
        usage(stderr);
        return EXIT_USAGE;
    }
    if (a.scenario) {
        rv = run_scenario(&a);
    } else if (!bft_core_ops_for(proto)) {
        fprintf(stderr, "bftsim: protocol %s is not built into this binary\n", a.proto_arg);
        return EXIT_USAGE;
    } else {
        rv = run_sweep(&a, proto);
    }
    if (rv < 0) usage(stderr);
    return rv < 0 ? EXIT_USAGE : rv;
}
