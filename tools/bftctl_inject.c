/* An outsider (not a replica, no replica key) throws bad input at every
 * replica's listening address: frames of random bytes, and well-formed
 * PREPAREs that claim to come from replica 0 but carry a random signature.
 * Replicas must count them (malformed, bad_signature) and keep committing. */
#include <getopt.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "config/cluster.h"
#include "net/net.h"
#include "tools/bftctl.h"

#define INJECT_EACH 20

int ctl_inject(const struct bft_cluster *cl, bool junk, bool badsig, char *err, size_t errlen)
{
    struct net_transport *t;
    if (net_open(&t, NULL, err, errlen) != 0) return -1;
    for (uint32_t i = 0; i < cl->n; i++)
        if (net_add_peer(t, i, cl->replicas[i].address, err, errlen) != 0) {
            net_abandon(t);
            return -1;
        }
    usleep(100000); /* let the dialers connect */
    uint8_t buf[512];
    for (uint32_t i = 0; i < cl->n; i++) {
        for (int k = 0; junk && k < INJECT_EACH; k++) {
            size_t len = 16 + randombytes_uniform(400);
            randombytes_buf(buf, len);
            net_send_raw(t, i, buf, len);
        }
        for (int k = 0; badsig && k < INJECT_EACH; k++) {
            struct bft_msg m = {0};
            m.type = BFT_MSG_PREPARE;
            m.sender = i == 0 ? 1 : 0;
            m.cluster_id = cl->cluster_id;
            m.view = 0;
            m.seq = 1 + (uint64_t)k;
            randombytes_buf(m.digest.b, 32);
            randombytes_buf(m.sig, sizeof m.sig);
            size_t len = bft_msg_encode(&m, buf, sizeof buf);
            if (len) net_send(t, i, buf, len);
        }
    }
    net_flush(t);
    usleep(200000); /* nng sends in the background */
    net_abandon(t); /* this process exits next: see net_abandon */
    return 0;
}

/* bftctl inject --config DIR/cluster.json [--what junk,badsig] */
int cmd_inject(int argc, char **argv)
{
    static const struct option lo[] = {
        {"config", 1, 0, 'c'}, {"what", 1, 0, 'w'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *cfg = NULL;
    bool junk = false, badsig = false;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (ch == 'c') {
            cfg = optarg;
        } else if (ch == 'w') {
            for (char *t = strtok(optarg, ","); t; t = strtok(NULL, ",")) {
                if (!strcmp(t, "junk"))
                    junk = true;
                else if (!strcmp(t, "badsig"))
                    badsig = true;
                else {
                    fprintf(stderr, "bftctl inject: --what takes junk and/or badsig, got '%s'\n",
                            t);
                    return BFT_EXIT_USAGE;
                }
            }
        } else if (ch == 'h') {
            printf("usage: bftctl inject --config DIR/cluster.json [--what junk,badsig]\n"
                   "An outsider sends junk frames and badly signed messages to every replica.\n");
            return BFT_EXIT_OK;
        } else {
            fprintf(stderr, "bftctl inject: unknown or incomplete option '%s'\n", argv[optind - 1]);
            return BFT_EXIT_USAGE;
        }
    }
    if (!cfg) {
        fprintf(stderr, "usage: bftctl inject --config DIR/cluster.json [--what junk,badsig]\n");
        return BFT_EXIT_USAGE;
    }
    if (!junk && !badsig) junk = badsig = true;
    struct bft_cluster cl;
    char err[512];
    if (bft_cluster_load(&cl, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl inject: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    int rv = ctl_inject(&cl, junk, badsig, err, sizeof err);
    if (rv != 0) fprintf(stderr, "bftctl inject: %s\n", err);
    bft_cluster_free(&cl);
    return rv == 0 ? BFT_EXIT_OK : BFT_EXIT_FAIL;
}
