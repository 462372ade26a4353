/* Prometheus text metrics for bftd, served by nng's HTTP server at
 * GET /metrics. The main loop renders a fresh page every stats interval;
 * the HTTP handler (an nng thread) only copies the last page under a
 * mutex, so it never touches replica state. */
#ifndef BFT_RUNTIME_METRICS_H
#define BFT_RUNTIME_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "wire/wire.h"
#include "net/net.h"

struct rt_metrics;
/* url like "http://127.0.0.1:9100". 0, or -1 with err. */
int rt_metrics_start(struct rt_metrics **out, const char *url, char *err, size_t errlen);
/* Stop serving and free (NULL is ignored): a replica destroyed inside a
 * process that goes on (bft_replica_destroy). */
void rt_metrics_stop(struct rt_metrics *m);
/* Render and publish the page. */
void rt_metrics_publish(struct rt_metrics *m, uint32_t id, const char *protocol,
                        const struct bft_node_stats *st, const struct net_peer_stats *ns,
                        double cpu_s, long rss_kib, bool storage_failed);
/* Render into buf (for tests and for `bftctl status`); returns length. */
size_t rt_metrics_render(char *buf, size_t cap, uint32_t id, const char *protocol,
                         const struct bft_node_stats *st, const struct net_peer_stats *ns,
                         double cpu_s, long rss_kib, bool storage_failed);

#endif
