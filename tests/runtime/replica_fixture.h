/* The replica API test's fixture: a cluster dir as `bftctl keygen` writes
 * it (free loopback ports, keys, cluster.json) and a client of the in-tree
 * client library over net/ (tests/runtime/test_replica_api.c). */
#ifndef BFT_TEST_REPLICA_FIXTURE_H
#define BFT_TEST_REPLICA_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client/client.h"
#include "net/net.h"

#define OP_TIMEOUT_MS 20000 /* per operation: bounds the test, not a goal */

struct cluster_dir {
    char dir[128];
    char cfg[192];
    uint32_t n;
};

uint64_t mono_ms(void);
/* A fresh temp dir with cluster.json for n replicas of protocol and one
 * client, all on free 127.0.0.1 ports; fails the test if it cannot. */
void make_cluster(struct cluster_dir *cd, int protocol, uint32_t n);
void remove_cluster(const struct cluster_dir *cd);

/* Client 0 of the cluster; `want` is the request or read id waited for. */
struct cli {
    struct net_transport *net;
    struct bft_client *c;
    uint64_t want;
    bool done;
    uint8_t res[BFT_RESULT_MAX];
    size_t res_len;
};
void open_client(const struct cluster_dir *cd, struct cli *k);
/* Tick the client until k->want completes or OP_TIMEOUT_MS passes. */
bool client_wait(struct cli *k);

#endif
