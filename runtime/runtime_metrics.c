#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "store/store.h"
#include "runtime/runtime_http.h"
#include "runtime/runtime_metrics.h"

#define METRICS_PAGE_MAX 8192
_Static_assert(METRICS_PAGE_MAX < RT_HTTP_PAGE_MAX, "a metrics page fits an HTTP page");

struct rt_metrics {
    struct rt_http_page *page;
};

int rt_metrics_start(struct rt_metrics **out, const char *url, char *err, size_t errlen)
{
    struct rt_metrics *m = calloc(1, sizeof *m);
    if (!m) return -1;
    if (rt_http_page_start(&m->page, "metrics", url, "/metrics", "text/plain; version=0.0.4", "",
                           err, errlen) != 0) {
        free(m);
        return -1;
    }
    *out = m;
    return 0;
}

size_t rt_metrics_render(char *buf, size_t cap, uint32_t id, const char *protocol,
                         const struct bft_node_stats *st, const struct net_peer_stats *ns,
                         double cpu_s, long rss_kib, bool storage_failed)
{
    size_t off = 0;
#define EMIT(...)                                                                                  \
    do {                                                                                           \
        int k_ = snprintf(buf + off, off < cap ? cap - off : 0, __VA_ARGS__);                      \
        if (k_ > 0) off += (size_t)k_;                                                             \
    } while (0)
    const char *l = "replica";
    EMIT("# TYPE bft_committed_seq gauge\nbft_committed_seq{%s=\"%u\",protocol=\"%s\"} %llu\n", l,
         id, protocol, (unsigned long long)st->last_executed);
    EMIT("# TYPE bft_view gauge\nbft_view{%s=\"%u\"} %llu\n", l, id, (unsigned long long)st->view);
    EMIT("# TYPE bft_view_changes_total counter\nbft_view_changes_total{%s=\"%u\"} %llu\n", l, id,
         (unsigned long long)st->view_changes);
    EMIT(
        "# TYPE bft_requests_executed_total counter\nbft_requests_executed_total{%s=\"%u\"} %llu\n",
        l, id, (unsigned long long)st->requests_executed);
    EMIT("# TYPE bft_messages_sent_total counter\nbft_messages_sent_total{%s=\"%u\"} %llu\n", l, id,
         (unsigned long long)ns->msgs_sent);
    EMIT("# TYPE bft_bytes_sent_total counter\nbft_bytes_sent_total{%s=\"%u\"} %llu\n", l, id,
         (unsigned long long)ns->bytes_sent);
    EMIT("# TYPE bft_frames_dropped_total counter\nbft_frames_dropped_total{%s=\"%u\"} %llu\n", l,
         id, (unsigned long long)ns->frames_dropped);
    /* Peers whose TLS certificate did not verify (docs/tls.md). */
    EMIT("# TYPE bft_tls_refused_total counter\nbft_tls_refused_total{%s=\"%u\"} %llu\n", l, id,
         (unsigned long long)ns->tls_refused);
    EMIT("# TYPE bft_rejected_total counter\n");
    for (int r = BFT_REJECT__FIRST; r < BFT_REJECT__COUNT; r++)
        EMIT("bft_rejected_total{%s=\"%u\",reason=\"%s\"} %llu\n", l, id, bft_reject_name(r),
             (unsigned long long)st->rejected[r]);
    EMIT("# TYPE bft_cpu_seconds_total counter\nbft_cpu_seconds_total{%s=\"%u\"} %.3f\n", l, id,
         cpu_s);
    EMIT("# TYPE bft_rss_kib gauge\nbft_rss_kib{%s=\"%u\"} %ld\n", l, id, rss_kib);
    /* 1 while a WAL or audit write has failed: the replica is not promising. */
    EMIT("# TYPE bft_storage_failed gauge\nbft_storage_failed{%s=\"%u\"} %d\n", l, id,
         storage_failed ? 1 : 0);
#undef EMIT
    return off < cap ? off : cap - 1;
}

void rt_metrics_publish(struct rt_metrics *m, uint32_t id, const char *protocol,
                        const struct bft_node_stats *st, const struct net_peer_stats *ns,
                        double cpu_s, long rss_kib, bool storage_failed)
{
    char page[METRICS_PAGE_MAX];
    size_t len =
        rt_metrics_render(page, sizeof page, id, protocol, st, ns, cpu_s, rss_kib, storage_failed);
    rt_http_page_publish(m->page, page, len);
}

void rt_metrics_stop(struct rt_metrics *m)
{
    if (!m) return;
    rt_http_page_stop(m->page);
    free(m);
}
