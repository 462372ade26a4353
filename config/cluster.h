/* config: cluster.json, loaded, validated and saved (docs/design.md
 * "Command-line contract"). */
#ifndef BFT_CONFIG_H
#define BFT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"
#include "wire/wire.h"

/* ------------------------------------------------------------------ */
/* Cluster configuration (cluster.json).                               */
/* ------------------------------------------------------------------ */
struct bft_cluster_replica {
    uint32_t id;
    char address[128];
    uint8_t pk[CRYPTO_PK_LEN];
    char status[128]; /* optional "http://HOST:PORT" serving GET /status ("": none) */
};
struct bft_cluster_client {
    uint32_t id;
    char address[128];
    uint8_t pk[CRYPTO_PK_LEN];
};
struct bft_cluster {
    char path[512];
    char dir[512]; /* directory holding cluster.json */
    uint64_t cluster_id;
    int protocol;
    uint32_t f, n;
    char app[16];
    uint32_t batch_max;
    bool sign; /* raft --sign */
    struct bft_cluster_replica replicas[BFT_MAX_REPLICAS];
    uint32_t n_clients;
    struct bft_cluster_client *clients; /* malloc'd */
    char keys_dir[512];
    char metrics_base[64]; /* optional, e.g. "http://127.0.0.1:9100" */
    /* TLS (docs/tls.md): "tls": {"ca": FILE} turns it on; every address is
     * then tls+tcp://. tls_ca is the CA certificate's path, resolved
     * against keys_dir when relative. */
    bool tls;
    char tls_ca[512];
};
/* Load and validate cluster.json; every problem is a clear message in err. */
int bft_cluster_load(struct bft_cluster *c, const char *path, char *err, size_t errlen);
int bft_cluster_save(const struct bft_cluster *c, const char *path, char *err, size_t errlen);
void bft_cluster_free(struct bft_cluster *c);
/* Paths of private key files under the keys dir. */
void bft_cluster_replica_key_path(const struct bft_cluster *c, uint32_t id, char *out, size_t cap);
void bft_cluster_client_key_path(const struct bft_cluster *c, uint32_t id, char *out, size_t cap);
/* Where replica id serves its status page (docs/design.md "bftctl
 * status"): its "status" field, else metrics_base's PORT+id, else none.
 * 0 with the URL in out, -1 when it has none (or it does not fit). */
int bft_cluster_status_url(const struct bft_cluster *c, uint32_t id, char *out, size_t cap);
/* TLS certificate and key of a replica or client, under the keys dir:
 * replica-ID.crt / replica-ID.key, client-ID.crt / client-ID.key. */
void bft_cluster_tls_paths(const struct bft_cluster *c, bool client, uint32_t id, char *crt,
                           char *key, size_t cap);

#endif
