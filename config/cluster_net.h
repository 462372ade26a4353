/* The transport of one cluster member, opened from cluster.json: plain, or
 * TLS with the member's certificate when the cluster has "tls"
 * (docs/tls.md). bftd, the load generator, bftctl read / inject and the
 * client session all open their endpoint through here, so the certificate
 * names are chosen in one place:
 *   replica I presents and is dialled as "replica-I";
 *   a client endpoint presents the certificate of the first client listed
 *   at its address ("client-J"), because clients may share one endpoint
 *   (one load generator multiplexes many clients), and a replica dialling
 *   any client at that address expects that name. */
#ifndef BFT_CONFIG_CLUSTER_NET_H
#define BFT_CONFIG_CLUSTER_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/cluster.h"
#include "net/net.h"

/* The certificate name of replica `id`, or of the endpoint of client `id`. */
void bft_cluster_tls_name(const struct bft_cluster *c, bool client, uint32_t id, char *out,
                          size_t cap);
/* The CA, certificate and key an endpoint loads (paths into the caller's
 * buffers, each `cap` bytes), after checking them (crypto_x509_check): a
 * missing, unreadable or mismatched file is a clear message here. */
int bft_cluster_tls_files(const struct bft_cluster *c, bool client, uint32_t id,
                          struct net_tls_files *out, char *crt, char *key, size_t cap, char *err,
                          size_t errlen);
/* Open the endpoint of replica or client `id`, listening on listen_url
 * (NULL: send-only). With TLS it presents the member's certificate. */
int bft_cluster_net_open(const struct bft_cluster *c, bool client, uint32_t id,
                         const char *listen_url, struct net_transport **out, char *err,
                         size_t errlen);
/* Dial replica `replica` as transport peer `peer` at url (NULL: its
 * cluster.json address), expecting its certificate name under TLS. */
int bft_cluster_net_add_replica(const struct bft_cluster *c, struct net_transport *t, uint32_t peer,
                                uint32_t replica, const char *url, char *err, size_t errlen);
/* Dial client `client`'s endpoint as transport peer `peer`. */
int bft_cluster_net_add_client(const struct bft_cluster *c, struct net_transport *t, uint32_t peer,
                               uint32_t client, char *err, size_t errlen);

#endif
