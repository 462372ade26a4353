/* Transports opened from cluster.json (contract in config/cluster_net.h). */
#include "config/cluster_net.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "crypto/x509.h"

/* Clients that share an address share one endpoint; it is named after the
 * first of them. */
static uint32_t endpoint_client(const struct bft_cluster *c, uint32_t id)
{
    if (id >= c->n_clients) return id;
    for (uint32_t j = 0; j < id; j++)
        if (strcmp(c->clients[j].address, c->clients[id].address) == 0) return j;
    return id;
}

void bft_cluster_tls_name(const struct bft_cluster *c, bool client, uint32_t id, char *out,
                          size_t cap)
{
    if (client)
        snprintf(out, cap, "client-%" PRIu32, endpoint_client(c, id));
    else
        snprintf(out, cap, "replica-%" PRIu32, id);
}

int bft_cluster_tls_files(const struct bft_cluster *c, bool client, uint32_t id,
                          struct net_tls_files *out, char *crt, char *key, size_t cap, char *err,
                          size_t errlen)
{
    char name[32];
    uint32_t owner = client ? endpoint_client(c, id) : id;
    bft_cluster_tls_name(c, client, id, name, sizeof name);
    bft_cluster_tls_paths(c, client, owner, crt, key, cap);
    if (crypto_x509_check(c->tls_ca, crt, key, name, err, errlen) != 0) return -1;
    out->ca_file = c->tls_ca;
    out->cert_file = crt;
    out->key_file = key;
    return 0;
}

int bft_cluster_net_open(const struct bft_cluster *c, bool client, uint32_t id,
                         const char *listen_url, struct net_transport **out, char *err,
                         size_t errlen)
{
    if (!c->tls) return net_open(out, listen_url, err, errlen);
    char crt[700], key[700];
    struct net_tls_files f;
    if (bft_cluster_tls_files(c, client, id, &f, crt, key, sizeof crt, err, errlen) != 0) return -1;
    return net_open_tls(out, listen_url, &f, err, errlen);
}

int bft_cluster_net_add_replica(const struct bft_cluster *c, struct net_transport *t, uint32_t peer,
                                uint32_t replica, const char *url, char *err, size_t errlen)
{
    if (replica >= c->n) {
        if (err && errlen) snprintf(err, errlen, "replica %" PRIu32 " not in the cluster", replica);
        return -1;
    }
    char name[32];
    bft_cluster_tls_name(c, false, replica, name, sizeof name);
    return net_add_peer_named(t, peer, url ? url : c->replicas[replica].address, name, err, errlen);
}

int bft_cluster_net_add_client(const struct bft_cluster *c, struct net_transport *t, uint32_t peer,
                               uint32_t client, char *err, size_t errlen)
{
    if (client >= c->n_clients) {
        if (err && errlen) snprintf(err, errlen, "client %" PRIu32 " not in the cluster", client);
        return -1;
    }
    char name[32];
    bft_cluster_tls_name(c, true, client, name, sizeof name);
    return net_add_peer_named(t, peer, c->clients[client].address, name, err, errlen);
}
