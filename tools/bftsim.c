/* bftsim: run the deterministic simulator over a range of seeds.
 *
 *   bftsim --protocol pbft|hotstuff|raft --nodes N --seeds A:B
 *          [--faults none|lossy|crash|partition|default|restarts] [--verbose]
 *          [--fault-phase-ms MIN:MAX] [--byzantine ID:BEHAVIOUR[@T0[-T1]]]...
 *          [--partition SPEC]... [--net RATES]
 *
 * --faults restarts kills one replica at a time (~2 s down, every ~5 s).
 * --faults byzantine|twins|byzzfuzz draw Byzantine replicas, Twins
 * scenarios or ByzzFuzz schedules from the seed (docs/simulator.md);
 * --byzantine / --partition / --net give an explicit faults/ plan applied
 * during the fault phase (combine with --faults none for only that).
 *
 * Each seed is one whole run (sim_run_seed: options, faults and schedule
 * all come from the seed). A failing seed prints one line with the command
 * that replays it; the last line is "N passed, N failed" (docs/design.md
 * command-line contract). Exit 0 if every seed passed, 1 if any failed, 2
 * on a usage error or a protocol that is not built. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "client/client.h"
#include "core/core.h"
#include "sim/sim.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: bftsim --protocol pbft|hotstuff|raft --nodes N --seeds A:B\n"
            "              [--faults none|lossy|crash|partition|default|restarts] [--verbose]\n"
            "              [--fault-phase-ms MIN:MAX] [--byzantine ID:BEHAVIOUR[@T0[-T1]]]\n"
            "              [--partition SPEC] [--net RATES] [--reads PCT]\n"
            "              [--read-level linearizable|quorum|local[:MS]|mix]\n"
            "  --seeds A:B   run every seed from A to B inclusive (S alone = S:S)\n"
            "  --faults      fault profile for the safety phase (default: default):\n"
            "                none lossy crash partition default byzantine twins byzzfuzz\n"
            "                restarts (one replica killed ~2 s every ~5 s, under load)\n"
            "  --byzantine ID:BEHAVIOUR[@T0[-T1]]  a faulty replica for the fault phase\n"
            "                (silent slow equivocate junk badsig replay stale flood\n"
            "                withhold forge twin crash); repeatable\n"
            "  --partition 'A,B|C,D[@T0-T1]' or 'A>B,C[@T0-T1]'  repeatable\n"
            "  --net drop=P,duplicate=P,reorder=P,delay_ms=MS,jitter_ms=MS[@T0-T1]\n"
            "  --fault-phase-ms MIN:MAX  the seed picks the fault phase length in this\n"
            "                range of virtual milliseconds (default 5000:20000)\n"
            "  --reads PCT   chance (%%) that a client refills each of its 2 read slots\n"
            "                with a read-only LOOKUP (default 50; 0: no reads)\n"
            "  --read-level  consistency level of those reads (docs/reads.md; default\n"
            "                linearizable); local[:MS] has a staleness bound (default\n"
            "                100 ms); mix: each read picks one of the three\n"
            "  --verbose     narrate each run on stderr and print passing seeds\n");
}

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

int main(int argc, char **argv)
{
    static const struct option longopts[] = {{"protocol", required_argument, NULL, 'p'},
                                             {"nodes", required_argument, NULL, 'n'},
                                             {"seeds", required_argument, NULL, 's'},
                                             {"faults", required_argument, NULL, 'f'},
                                             {"verbose", no_argument, NULL, 'v'},
                                             {"help", no_argument, NULL, 'h'},
                                             {"fault-phase-ms", required_argument, NULL, 'F'},
                                             {"byzantine", required_argument, NULL, 'b'},
                                             {"partition", required_argument, NULL, 'x'},
                                             {"net", required_argument, NULL, 'N'},
                                             {"reads", required_argument, NULL, 'r'},
                                             {"read-level", required_argument, NULL, 'L'},
                                             {NULL, 0, NULL, 0}};
    const char *proto_arg = NULL, *faults_arg = "default";
    uint64_t nodes = 0, seed_a = 0, seed_b = 0;
    bool have_seeds = false, verbose = false, phase_set = false;
    uint64_t phase_min_ms = 0, phase_max_ms = 0;
    uint64_t read_pct = 0;
    bool reads_set = false;
    const char *level_arg = NULL;
    int read_level = BFT_READ_LINEARIZABLE;
    uint32_t staleness_ms = BFT_READ_STALENESS_DEFAULT_MS;
    /* Plan specs are checked once nodes is known; kept for the replay line. */
    const char *specs[3 * FAULT_MAX_FAULTS];
    char kinds[3 * FAULT_MAX_FAULTS];
    uint32_t n_specs = 0;
    int c;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            proto_arg = optarg;
            break;
        case 'n':
            if (parse_u64(optarg, &nodes) || nodes < 1 || nodes > BFT_MAX_REPLICAS) {
                fprintf(stderr, "bftsim: --nodes must be 1..%d\n", BFT_MAX_REPLICAS);
                usage(stderr);
                return 2;
            }
            break;
        case 's':
            if (parse_range(optarg, &seed_a, &seed_b)) {
                fprintf(stderr, "bftsim: --seeds wants A:B with A <= B\n");
                usage(stderr);
                return 2;
            }
            have_seeds = true;
            break;
        case 'f':
            faults_arg = optarg;
            break;
        case 'v':
            verbose = true;
            break;
        case 'b':
        case 'x':
        case 'N':
            if (n_specs == 3 * FAULT_MAX_FAULTS) {
                fprintf(stderr, "bftsim: too many fault specs\n");
                return 2;
            }
            kinds[n_specs] = (char)c;
            specs[n_specs++] = optarg;
            break;
        case 'r':
            if (parse_u64(optarg, &read_pct) || read_pct > 100) {
                fprintf(stderr, "bftsim: --reads wants a percentage 0..100\n");
                usage(stderr);
                return 2;
            }
            reads_set = true;
            break;
        case 'L':
            if (strcmp(optarg, "mix") == 0) {
                read_level = SIM_READ_MIX;
            } else if (bft_read_level_parse(optarg, &read_level, &staleness_ms) != 0) {
                fprintf(stderr, "bftsim: --read-level wants linearizable, quorum, local[:MS] "
                                "(MS >= 1) or mix\n");
                usage(stderr);
                return 2;
            }
            level_arg = optarg;
            break;
        case 'F':
            if (parse_range(optarg, &phase_min_ms, &phase_max_ms) || phase_max_ms > 3600000) {
                fprintf(stderr, "bftsim: --fault-phase-ms wants MIN:MAX (ms, at most 3600000)\n");
                usage(stderr);
                return 2;
            }
            phase_set = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "bftsim: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bftsim: unexpected argument '%s'\n", argv[optind]);
        usage(stderr);
        return 2;
    }
    if (!proto_arg || !nodes || !have_seeds) {
        fprintf(stderr, "bftsim: --protocol, --nodes and --seeds are required\n");
        usage(stderr);
        return 2;
    }
    int proto = bft_protocol_parse(proto_arg);
    if (proto < 0) {
        fprintf(stderr, "bftsim: unknown protocol '%s'\n", proto_arg);
        usage(stderr);
        return 2;
    }
    if (!bft_core_ops_for(proto)) {
        fprintf(stderr, "bftsim: protocol %s is not built into this binary\n", proto_arg);
        return 2;
    }
    int profile = sim_profile_parse(faults_arg);
    if (profile < 0) {
        fprintf(stderr, "bftsim: unknown fault profile '%s'\n", faults_arg);
        usage(stderr);
        return 2;
    }

    struct sim_options o;
    sim_options_default(&o, proto, (uint32_t)nodes);
    o.faults = profile;
    o.verbose = verbose;
    char phase_arg[96] = "";
    if (phase_set) {
        o.fault_phase_min_us = phase_min_ms * 1000;
        o.fault_phase_max_us = phase_max_ms * 1000;
        snprintf(phase_arg, sizeof(phase_arg), " --fault-phase-ms %" PRIu64 ":%" PRIu64,
                 phase_min_ms, phase_max_ms);
    }
    if (reads_set) {
        o.read_pct = (uint32_t)read_pct;
        size_t off = strlen(phase_arg);
        snprintf(phase_arg + off, sizeof(phase_arg) - off, " --reads %" PRIu64, read_pct);
    }
    if (level_arg) {
        o.read_level = read_level;
        if (read_level == SIM_READ_MIX && strchr(level_arg, ':') == NULL)
            staleness_ms = BFT_READ_STALENESS_DEFAULT_MS;
        o.read_staleness_ms = staleness_ms;
        size_t off = strlen(phase_arg);
        snprintf(phase_arg + off, sizeof(phase_arg) - off, " --read-level %s", level_arg);
    }
    static struct fault_plan plan;
    char plan_arg[1024] = "";
    if (n_specs) {
        fault_plan_init(&plan, (uint32_t)nodes, 1);
        size_t off = 0;
        for (uint32_t i = 0; i < n_specs; i++) {
            char err[256];
            int rv = kinds[i] == 'b'   ? fault_plan_add_fault(&plan, specs[i], err, sizeof(err))
                     : kinds[i] == 'x' ? fault_plan_add_partition(&plan, specs[i], err, sizeof(err))
                                       : fault_plan_set_net(&plan, specs[i], err, sizeof(err));
            if (rv != BFT_E_OK) {
                fprintf(stderr, "bftsim: %s\n", err);
                return 2;
            }
            const char *flag = kinds[i] == 'b'   ? "byzantine"
                               : kinds[i] == 'x' ? "partition"
                                                 : "net";
            if (off < sizeof(plan_arg))
                off += (size_t)snprintf(plan_arg + off, sizeof(plan_arg) - off, " --%s '%s'", flag,
                                        specs[i]);
        }
        o.plan = &plan;
    }
    uint64_t passed = 0, failed = 0;
    uint64_t by_level[BFT_READ_LEVELS] = {0}, local_answers = 0, local_refusals = 0;
    for (uint64_t seed = seed_a;; seed++) {
        struct sim_result res;
        int rv = sim_run_seed(&o, seed, &res);
        if (rv != BFT_E_OK) {
            fprintf(stderr, "bftsim: cannot build the cluster: %s\n", res.reason);
            return 2;
        }
        for (int l = 0; l < BFT_READ_LEVELS; l++)
            by_level[l] += res.stats.reads_level[l];
        local_answers += res.stats.local_answers;
        local_refusals += res.stats.local_refusals;
        if (res.passed) {
            passed++;
            if (verbose)
                printf("PASS seed=%" PRIu64 ": %" PRIu64 " ops, %" PRIu64 " reads (%" PRIu64
                       " found), seq %" PRIu64 ", view %" PRIu64 ", %" PRIu64
                       " msgs, %.3f s virtual; faulty sent %" PRIu64 " rewritten %" PRIu64
                       " equivocated %" PRIu64 " injected %" PRIu64 " dropped %" PRIu64
                       ", twin cut %" PRIu64 "\n",
                       seed, res.stats.ops_completed, res.stats.reads_completed,
                       res.stats.reads_found, res.max_executed, res.max_view, res.stats.msgs_sent,
                       (double)res.virtual_us / 1e6, res.faults.actor.seen,
                       res.faults.actor.rewritten, res.faults.actor.equivocated,
                       res.faults.actor.injected, res.faults.actor.dropped, res.faults.twin_cut);
        } else {
            failed++;
            printf("FAIL seed=%" PRIu64 ": %s; replay: bftsim --protocol %s --nodes %u --seeds "
                   "%" PRIu64 ":%" PRIu64 " --faults %s%s%s\n",
                   seed, res.reason, proto_arg, (unsigned)nodes, seed, seed,
                   sim_profile_name(profile), phase_arg, plan_arg);
        }
        fflush(stdout);
        if (seed == seed_b) break;
    }
    printf("%" PRIu64 " passed, %" PRIu64 " failed\n", passed, failed);
    printf("reads checked: %" PRIu64 " linearizable, %" PRIu64 " quorum, %" PRIu64
           " local (%" PRIu64 " local answers checked for freshness, %" PRIu64
           " refused as stale)\n",
           by_level[BFT_READ_LINEARIZABLE], by_level[BFT_READ_QUORUM], by_level[BFT_READ_LOCAL],
           local_answers, local_refusals);
    return failed ? 1 : 0;
}
