/* bftctl status: each replica's last reported state (bftd rewrites
 * <dir>/replica-I/stats.json every 200 ms and on exit). */
#include <getopt.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "config/cluster.h"
#include "tools/bftctl_check.h"

int cmd_status(int argc, char **argv)
{
    static const struct option lo[] = {{"config", 1, 0, 'c'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *cfg = NULL;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (ch == 'c')
            cfg = optarg;
        else if (ch == 'h') {
            printf("usage: bftctl status --config DIR/cluster.json\n");
            return BFT_EXIT_OK;
        } else {
            fprintf(stderr, "bftctl status: unknown or incomplete option '%s'\n", argv[optind - 1]);
            return BFT_EXIT_USAGE;
        }
    }
    if (!cfg || optind < argc) {
        fprintf(stderr, "usage: bftctl status --config DIR/cluster.json\n");
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
