/* bftctl status: each replica's last reported state (bftd rewrites
 * <dir>/replica-I/stats.json every 200 ms and on exit). */
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config/cluster.h"
#include "tools/bftctl_check.h"

int cmd_status(int argc, char **argv)
{
    static const struct cli_opt opts[] = {
        {"config", 0, "PATH", CLI_STR, 0, 0, 0, NULL, "cluster.json (required)"}};
    static const struct cli_spec spec = {
        .prog = "bftctl status",
        .synopsis = "bftctl status --config DIR/cluster.json",
        .intro = "Each replica's last reported state (DIR/replica-I/stats.json).\n",
        .opts = opts,
        .n_opts = 1,
        .outro = "Exit codes: 0 done, 2 a bad config.\n"};
    const char *cfg = NULL;
    enum cli_result cr = cli_parse(&spec, argc, argv, &cfg, NULL);
    if (cr != CLI_PARSED) return cr == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    if (!cfg) {
        fprintf(stderr, "bftctl status: --config is required\n");
        cli_usage(&spec, stderr);
        return BFT_EXIT_USAGE;
    }
    struct bft_cluster cl;
    char err[512];
    if (bft_cluster_load(&cl, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl status: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    printf("cluster %016llx: %s n=%u f=%u\n", (unsigned long long)cl.cluster_id,
           bft_protocol_name(cl.protocol), cl.n, cl.f);
    printf("  replica address                      age_s committed_seq  view  state_digest\n");
    for (uint32_t i = 0; i < cl.n; i++) {
        struct ctl_replica r = {.id = i};
        char path[700];
        snprintf(path, sizeof path, "%s/replica-%u/stats.json", cl.dir, i);
        struct stat st;
        if (stat(path, &st) != 0 || ctl_read_stats(cl.dir, &r) != 0) {
            printf("  %-7u %-28s  (no report)\n", i, cl.replicas[i].address);
            continue;
        }
        printf("  %-7u %-28s %6.0f %13llu %5llu  %.16s\n", i, cl.replicas[i].address,
               difftime(time(NULL), st.st_mtime), (unsigned long long)r.committed_seq,
               (unsigned long long)r.view, r.state_digest);
    }
    bft_cluster_free(&cl);
    return BFT_EXIT_OK;
}
