/* bftd's stats.json: what bftctl status, bftctl cluster and the tests read
 * about a running replica (docs/design.md "Files"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "runtime/runtime.h"
#include "runtime/runtime_files.h"
#include "runtime/runtime_internal.h"

void rt_stats_rejected_json(FILE *f, const uint64_t rejected[BFT_REJECT__COUNT])
{
    for (int r = BFT_REJECT__FIRST; r < BFT_REJECT__COUNT; r++)
        /* Reasons start at BFT_REJECT__FIRST (0 is "not refused"): no comma
         * before the first, or the file is not JSON and bftctl reads no
         * stats at all. */
        fprintf(f, "%s\"%s\": %llu", r > BFT_REJECT__FIRST ? ", " : "", bft_reject_name(r),
                (unsigned long long)rejected[r]);
    fprintf(f, "}");
}

void rt_stats_budget_json(FILE *f, const struct bft_budget *b, const struct bft_phase_stats *ph,
                          uint64_t ops)
{
    fprintf(f, ", \"stage_us\": {");
    for (int s = 0; s < BFT_STAGE__COUNT; s++)
        fprintf(f, "%s\"%s\": %llu", s ? ", " : "", bft_stage_name(s),
                (unsigned long long)(b->ns[s] / 1000));
    fprintf(f, "}, \"stage_calls\": {");
    for (int s = 0; s < BFT_STAGE__COUNT; s++)
        fprintf(f, "%s\"%s\": %llu", s ? ", " : "", bft_stage_name(s),
                (unsigned long long)b->calls[s]);
    fprintf(f, "}, \"stage_us_per_op\": {");
    for (int s = 0; s < BFT_STAGE__COUNT; s++)
        fprintf(f, "%s\"%s\": %.2f", s ? ", " : "", bft_stage_name(s),
                ops ? (double)b->ns[s] / 1000.0 / (double)ops : 0.0);
    /* Means from the request's arrival, only for phases some sample
     * reached: an absent member means "not seen here". */
    fprintf(f, "}, \"phase_us\": {");
    bool first = true;
    for (int p = 0; p < BFT_PHASE__COUNT; p++) {
        if (!ph->count[p]) continue;
        fprintf(f, "%s\"%s\": %.1f", first ? "" : ", ", bft_phase_name(p),
                (double)ph->sum_ns[p] / 1000.0 / (double)ph->count[p]);
        first = false;
    }
    fprintf(f, "}, \"phase_n\": {\"sampled\": %llu, \"unproposed\": %llu, \"evicted\": %llu",
            (unsigned long long)ph->sampled, (unsigned long long)ph->unproposed,
            (unsigned long long)ph->evicted);
    for (int p = 0; p < BFT_PHASE__COUNT; p++)
        fprintf(f, ", \"%s\": %llu", bft_phase_name(p), (unsigned long long)ph->count[p]);
    fprintf(f, "}");
}

void rt_write_stats(struct rt *rt, bool final)
{
    bft_budget_settle(&rt->budget, bft_budget_clock_ns());
    struct bft_node_stats st;
    bft_node_stats(rt->node, &st);
    struct net_peer_stats ns;
    net_total_stats(rt->net, &ns);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    struct crypto_counters cc;
    crypto_counters_get(&cc);
    char dig[65];
    char *text = NULL;
    size_t text_len = 0;
    FILE *f = open_memstream(&text, &text_len);
    if (!f) return;
    crypto_to_hex(st.state_digest.b, sizeof st.state_digest.b, dig);
    fprintf(f,
            "{\"id\": %u, \"final\": %s, \"committed_seq\": %llu, \"view\": %llu, "
            "\"view_changes\": %llu, \"state_digest\": \"%s\", \"requests_executed\": %llu, "
            "\"batches_executed\": %llu, \"msgs_sent\": %llu, \"bytes_sent\": %llu, "
            "\"frames_sent\": %llu, \"frames_dropped\": %llu, \"msgs_received\": %llu, "
            "\"rss_kib\": %ld, \"cpu_s\": %.3f, \"signs\": %llu, \"verifies\": %llu, "
            "\"verify_cache_hits\": %llu, \"wal_failed\": %s, \"audit_failed\": %s, "
            "\"audit_orders\": %llu, \"audit_filled\": %llu, \"audit_gaps\": %llu, "
            "\"reads_deferred\": %llu, \"leader\": %d, "
            "\"is_leader\": %s, \"rejected\": {",
            rt->id, final ? "true" : "false", (unsigned long long)st.last_executed,
            (unsigned long long)st.view, (unsigned long long)st.view_changes, dig,
            (unsigned long long)st.requests_executed, (unsigned long long)st.batches_executed,
            (unsigned long long)ns.msgs_sent, (unsigned long long)ns.bytes_sent,
            (unsigned long long)ns.frames_sent, (unsigned long long)ns.frames_dropped,
            (unsigned long long)st.msgs_received, rt_rss_kib(), cpu, (unsigned long long)cc.signs,
            (unsigned long long)cc.verifies, (unsigned long long)cc.cache_hits,
            rt->wal_failed ? "true" : "false", rt->audit_failed ? "true" : "false",
            (unsigned long long)rt->audit.last_order, (unsigned long long)rt->audit.filled,
            (unsigned long long)rt->audit.gaps, (unsigned long long)st.reads_deferred,
            st.leader < rt->cl.n ? (int)st.leader : -1, st.is_leader ? "true" : "false");
    rt_stats_rejected_json(f, st.rejected);
    rt_stats_budget_json(f, &rt->budget, &st.phase, st.requests_executed);
    if (rt->faults) rt_faults_stats_json(rt->faults, f);
    rt_storage_stats_json(&rt->store, st.snapshot_loaded, f);
    fprintf(f, ", \"tls_refused\": %llu", (unsigned long long)ns.tls_refused); /* docs/tls.md */
    /* Votes dropped unverified after their quorum (bft_core_ops.needless). */
    fprintf(f, ", \"needless_unverified\": %llu", (unsigned long long)st.needless);
    fprintf(f, ", \"audit_syncs\": %llu", (unsigned long long)atomic_load(&rt->audit.syncer.syncs));
    /* Memory (docs/architecture.md "Bounds"): the peak RSS, and the send
     * queues' bytes now, their peak (summed over peers) and what their
     * byte bounds dropped; replies the reply cache's byte bound evicted. */
    fprintf(f,
            ", \"rss_hwm_kib\": %ld, \"send_queued_bytes\": %llu, \"send_queued_bytes_max\": %llu, "
            "\"send_bytes_dropped\": %llu, \"replies_evicted\": %llu, \"replies_no_result\": %llu",
            rt_rss_hwm_kib(), (unsigned long long)ns.queued_bytes,
            (unsigned long long)ns.queued_bytes_max, (unsigned long long)ns.bytes_dropped,
            (unsigned long long)st.replies_evicted, (unsigned long long)st.replies_no_result);
    fprintf(f, ", \"storage_error\": \"%s\"}\n", rt->storage_err);
    if (fclose(f) == 0) rt_publish_stats(rt->dir, text, text_len);
    free(text);
    rt_status_tick(rt, &st);
    if (rt->metrics)
        rt_metrics_publish(rt->metrics, rt->id, bft_protocol_name(rt->cl.protocol), &st, &ns, cpu,
                           rt_rss_kib(), rt->wal_failed || rt->audit_failed);
}
