/* bftctl status: fetch every replica's GET /status page at once over nng's
 * HTTP client, each transaction bounded by the timeout, and parse it. */
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "tools/bftctl_status.h"

static double jnum(const cJSON *o, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static uint64_t ju64(const cJSON *o, const char *k)
{
    double d = jnum(o, k, 0);
    return d > 0 && d < 1.8e19 ? (uint64_t)d : 0;
}

static void jstr(const cJSON *o, const char *k, char *out, size_t cap)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    snprintf(out, cap, "%s", cJSON_IsString(v) ? v->valuestring : "");
}

int ctl_status_parse(const char *text, size_t len, struct ctl_status_row *r)
{
    cJSON *o = cJSON_ParseWithLength(text, len);
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        snprintf(r->error, sizeof r->error, "not a status page (not a JSON object)");
        return -1;
    }
    r->starting = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "starting"));
    if (!r->starting && !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(o, "committed_seq"))) {
        cJSON_Delete(o);
        snprintf(r->error, sizeof r->error, "not a status page (no committed_seq)");
        return -1;
    }
    jstr(o, "role", r->role, sizeof r->role);
    jstr(o, "view_kind", r->view_kind, sizeof r->view_kind);
    jstr(o, "state_digest", r->digest, sizeof r->digest);
    jstr(o, "storage_error", r->storage_error, sizeof r->storage_error);
    r->view = ju64(o, "view");
    r->committed = ju64(o, "committed_seq");
    r->wal_bytes = ju64(o, "wal_bytes");
    r->snapshot_bytes = ju64(o, "snapshot_bytes");
    r->view_changes = ju64(o, "view_changes");
    r->leader = (int)jnum(o, "leader", -1);
    r->last_commit_ms_ago = jnum(o, "last_commit_ms_ago", -1);
    r->no_quorum = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "no_quorum"));
    r->no_quorum_since_unix_ms = jnum(o, "no_quorum_since_unix_ms", 0);
    r->no_quorum_ms = jnum(o, "no_quorum_ms", 0);
    r->n = (uint32_t)ju64(o, "n");
    r->reachable = (uint32_t)ju64(o, "peers_reachable_count");
    r->reachable_mask = 0;
    const cJSON *it, *peers = cJSON_GetObjectItemCaseSensitive(o, "peers_reachable");
    cJSON_ArrayForEach(it, peers)
    {
        if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble < BFT_MAX_REPLICAS)
            r->reachable_mask |= 1u << (unsigned)it->valuedouble;
    }
    const cJSON *rej = cJSON_GetObjectItemCaseSensitive(o, "rejected");
    for (int i = BFT_REJECT__FIRST; i < BFT_REJECT__COUNT; i++)
        r->rejected[i] = ju64(rej, bft_reject_name(i));
    cJSON_Delete(o);
    r->answered = true;
    return 0;
}

struct fetch {
    nng_url *url;
    nng_http_client *cli;
    nng_http_req *req;
    nng_http_res *res;
    nng_aio *aio;
};

static void fetch_free(struct fetch *f)
{
    if (f->aio) nng_aio_free(f->aio);
    if (f->res) nng_http_res_free(f->res);
    if (f->req) nng_http_req_free(f->req);
    if (f->cli) nng_http_client_free(f->cli);
    if (f->url) nng_url_free(f->url);
}

static void take_page(struct fetch *f, struct ctl_status_row *r)
{
    int rv = nng_aio_result(f->aio);
    if (rv != 0) {
        /* A blackholed or unroutable address fails connect() with EINVAL,
         * which nng reports as "Invalid argument": say what it means. */
        const char *why = rv == NNG_ETIMEDOUT      ? "no answer (timed out)"
                          : rv == NNG_EINVAL       ? "no route to it (Invalid argument)"
                          : rv == NNG_ECONNREFUSED ? "connection refused (not running?)"
                                                   : nng_strerror(rv);
        snprintf(r->error, sizeof r->error, "%s", why);
        return;
    }
    uint16_t code = nng_http_res_get_status(f->res);
    if (code != 200) {
        snprintf(r->error, sizeof r->error, "HTTP %u %s", code, nng_http_res_get_reason(f->res));
        return;
    }
    void *body;
    size_t len;
    nng_http_res_get_data(f->res, &body, &len);
    if (len > CTL_STATUS_BODY_MAX) {
        snprintf(r->error, sizeof r->error, "page of %zu bytes (over %u)", len,
                 CTL_STATUS_BODY_MAX);
        return;
    }
    if (ctl_status_parse(body, len, r) != 0) return;
    r->raw = malloc(len + 1);
    if (r->raw) {
        memcpy(r->raw, body, len);
        r->raw[len] = '\0';
    }
}

uint32_t ctl_status_fetch(const struct bft_cluster *cl, int timeout_ms, struct ctl_status_row *rows)
{
    struct fetch fs[BFT_MAX_REPLICAS];
    memset(fs, 0, sizeof fs);
    for (uint32_t i = 0; i < cl->n; i++) {
        struct ctl_status_row *r = &rows[i];
        memset(r, 0, sizeof *r);
        r->id = i;
        r->leader = -1;
        if (bft_cluster_status_url(cl, i, r->url, sizeof r->url) != 0) {
            snprintf(r->error, sizeof r->error, "no status address in cluster.json");
            continue;
        }
        char page[200];
        snprintf(page, sizeof page, "%s/status", r->url);
        struct fetch *f = &fs[i];
        int rv = nng_url_parse(&f->url, page);
        if (rv == 0) rv = nng_http_client_alloc(&f->cli, f->url);
        if (rv == 0) rv = nng_http_req_alloc(&f->req, f->url);
        if (rv == 0) rv = nng_http_res_alloc(&f->res);
        if (rv == 0) rv = nng_aio_alloc(&f->aio, NULL, NULL);
        if (rv != 0) {
            snprintf(r->error, sizeof r->error, "%.100s: %s", page, nng_strerror(rv));
            fetch_free(f);
            memset(f, 0, sizeof *f);
            continue;
        }
        /* The timeout bounds the whole transaction (connect, request,
         * headers, body): nng 1.5.2's client has no body-size limit of its
         * own, so what a misbehaving server can make us hold is what it
         * sends within the timeout; pages over CTL_STATUS_BODY_MAX are
         * refused after that (take_page). */
        nng_aio_set_timeout(f->aio, timeout_ms);
        nng_http_client_transact(f->cli, f->req, f->res, f->aio);
    }
    uint32_t answered = 0;
    for (uint32_t i = 0; i < cl->n; i++) {
        if (!fs[i].aio) continue;
        nng_aio_wait(fs[i].aio);
        take_page(&fs[i], &rows[i]);
        answered += rows[i].answered;
        fetch_free(&fs[i]);
    }
    return answered;
}

void ctl_status_rows_free(struct ctl_status_row *rows, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        free(rows[i].raw);
        rows[i].raw = NULL;
    }
}
