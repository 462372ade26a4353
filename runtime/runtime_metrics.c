#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "node/node.h"
#include "store/store.h"
#include "runtime/runtime_metrics.h"

#define METRICS_PAGE_MAX 8192

struct rt_metrics {
    pthread_mutex_t mu;
    char page[METRICS_PAGE_MAX];
    size_t len;
    nng_http_server *srv;
};

static void handle(nng_aio *aio)
{
    nng_http_handler *h = nng_aio_get_input(aio, 1);
    struct rt_metrics *m = nng_http_handler_get_data(h);
    nng_http_res *res;
    if (nng_http_res_alloc(&res) != 0) {
        nng_aio_finish(aio, NNG_ENOMEM);
        return;
    }
    pthread_mutex_lock(&m->mu);
    int rv = nng_http_res_copy_data(res, m->page, m->len);
    pthread_mutex_unlock(&m->mu);
    if (rv == 0) rv = nng_http_res_set_header(res, "Content-Type", "text/plain; version=0.0.4");
    if (rv != 0) {
        nng_http_res_free(res);
        nng_aio_finish(aio, rv);
        return;
    }
    nng_aio_set_output(aio, 0, res);
    nng_aio_finish(aio, 0);
}

int rt_metrics_start(struct rt_metrics **out, const char *url, char *err, size_t errlen)
{
    struct rt_metrics *m = calloc(1, sizeof *m);
    if (!m) return -1;
    pthread_mutex_init(&m->mu, NULL);
    nng_url *u = NULL;
    nng_http_handler *h = NULL;
    int rv = nng_url_parse(&u, url);
    if (rv == 0) rv = nng_http_server_hold(&m->srv, u);
    if (rv == 0) rv = nng_http_handler_alloc(&h, "/metrics", handle);
    if (rv == 0) rv = nng_http_handler_set_data(h, m, NULL);
    if (rv == 0) rv = nng_http_server_add_handler(m->srv, h);
    if (rv == 0) rv = nng_http_server_start(m->srv);
    if (u) nng_url_free(u);
    if (rv != 0) {
        snprintf(err, errlen, "metrics on %s: %s", url, nng_strerror(rv));
        return -1; /* the half-built server is left to process exit */
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
    pthread_mutex_lock(&m->mu);
    memcpy(m->page, page, len);
    m->len = len;
    pthread_mutex_unlock(&m->mu);
}

void rt_metrics_stop(struct rt_metrics *m)
{
    if (!m) return;
    /* Stop serving before freeing the page the handler copies from: after
     * nng_http_server_stop no handler runs. Release drops our hold, so a
     * replica created again can serve the same address. */
    nng_http_server_stop(m->srv);
    nng_http_server_release(m->srv);
    pthread_mutex_destroy(&m->mu);
    free(m);
}
