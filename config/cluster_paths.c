/* Paths derived from a loaded cluster.json: key files, TLS certificates
 * and status addresses. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cluster.h"

void bft_cluster_replica_key_path(const struct bft_cluster *c, uint32_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/replica-%" PRIu32 ".pem", c->keys_dir, id);
}

int bft_cluster_status_url(const struct bft_cluster *c, uint32_t id, char *out, size_t cap)
{
    if (id >= c->n || cap == 0) return -1;
    int w;
    if (c->replicas[id].status[0]) {
        w = snprintf(out, cap, "%s", c->replicas[id].status);
    } else {
        /* metrics_base "http://HOST:PORT": replica i at PORT + i. */
        const char *colon = strrchr(c->metrics_base, ':');
        long port = colon ? strtol(colon + 1, NULL, 10) : 0;
        if (!c->metrics_base[0] || !colon || port <= 0 || port + id > 65535) return -1;
        w = snprintf(out, cap, "%.*s:%ld", (int)(colon - c->metrics_base), c->metrics_base,
                     port + (long)id);
    }
    return w > 0 && (size_t)w < cap ? 0 : -1;
}

void bft_cluster_client_key_path(const struct bft_cluster *c, uint32_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/client-%" PRIu32 ".pem", c->keys_dir, id);
}

void bft_cluster_tls_paths(const struct bft_cluster *c, bool client, uint32_t id, char *crt,
                           char *key, size_t cap)
{
    const char *who = client ? "client" : "replica";
    snprintf(crt, cap, "%s/%s-%" PRIu32 ".crt", c->keys_dir, who, id);
    snprintf(key, cap, "%s/%s-%" PRIu32 ".key", c->keys_dir, who, id);
}
