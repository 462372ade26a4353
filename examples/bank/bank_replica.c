/* bank-replica: one replica of the bank ledger (bank.h), a thin main over
 * the bft replica runtime (bft/replica.h).
 *   bank-replica --config DIR/cluster.json --id I [--data-dir D]
 * Stops cleanly on SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bft/replica.h>

#include "bank.h"

static struct bft_replica *g_replica;

static void on_signal(int sig)
{
    (void)sig;
    if (g_replica) bft_replica_stop(g_replica); /* async-signal-safe */
}

static int usage(void)
{
    fprintf(stderr, "usage: bank-replica --config DIR/cluster.json --id I [--data-dir D]\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct bft_replica_options o = {.version = BFT_REPLICA_OPTIONS_VERSION, .app = &bank_ops};
    bool have_id = false;
    for (int i = 1; i < argc; i++) {
        if (i + 1 < argc && !strcmp(argv[i], "--config")) {
            o.config_path = argv[++i];
        } else if (i + 1 < argc && !strcmp(argv[i], "--id")) {
            char *end;
            unsigned long id = strtoul(argv[++i], &end, 10);
            if (*end || id >= BFT_MAX_REPLICAS) return usage();
            o.id = (uint32_t)id;
            have_id = true;
        } else if (i + 1 < argc && !strcmp(argv[i], "--data-dir")) {
            o.data_dir = argv[++i];
        } else {
            return usage();
        }
    }
    if (!o.config_path || !have_id) return usage();
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    for (;;) {
        char err[512];
        int rc = bft_replica_create(&g_replica, &o, err, sizeof err);
        if (rc != BFT_E_OK) {
            fprintf(stderr, "bank-replica %u: %s\n", o.id, err);
            return 2;
        }
        int st = bft_replica_run(g_replica);
        struct bft_replica *r = g_replica;
        g_replica = NULL;
        bft_replica_destroy(r);
        /* Storage failed and recovered: start again from the WAL. */
        if (st == BFT_REPLICA_RESUME) continue;
        return st == BFT_REPLICA_STOPPED ? 0 : 1;
    }
}
