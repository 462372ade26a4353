/* The status page: the tracker, the JSON document and its HTTP server
 * (runtime_status.h; docs/design.md "bftctl status"). */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "crypto/crypto.h"
#include "runtime/runtime_http.h"
#include "runtime/runtime_status.h"

void rt_status_track_init(struct rt_status_track *t, uint32_t n, uint32_t self, uint32_t quorum,
                          uint64_t window_ms, uint64_t now_ms)
{
    memset(t, 0, sizeof *t);
    t->n = n < BFT_MAX_REPLICAS ? n : BFT_MAX_REPLICAS;
    t->self = self;
    t->quorum = quorum;
    t->window_ms = window_ms;
    t->start_ms = now_ms ? now_ms : 1;
}

static bool within(uint64_t then_ms, uint64_t now_ms, uint64_t window_ms)
{
    return then_ms != 0 && now_ms - then_ms <= window_ms;
}

void rt_status_observe(struct rt_status_track *t, const struct bft_node_stats *st, uint64_t now_ms)
{
    if (now_ms == 0) now_ms = 1; /* 0 means "never" below */
    for (uint32_t i = 0; i < t->n; i++) {
        if (st->heard_from[i] != t->heard_count[i]) {
            t->heard_count[i] = st->heard_from[i];
            t->heard_ms[i] = now_ms;
        }
    }
    if (st->last_executed != t->last_exec) {
        t->last_exec = st->last_executed;
        t->commit_ms = now_ms;
    }
    if (st->requests_ordered != t->requests) {
        t->requests = st->requests_ordered;
        t->request_ms = now_ms;
    }
    /* Work: a view change or election, or a request newer than the last
     * commit. A commit at this tick ends the stretch. */
    bool work = st->in_view_change || t->request_ms > t->commit_ms;
    if (!work)
        t->work_ms = 0;
    else if (t->work_ms == 0)
        t->work_ms = now_ms; /* the request came within the last tick */
    bool short_of_quorum =
        work && !within(t->commit_ms, now_ms, t->window_ms) && now_ms - t->work_ms >= t->window_ms;
    if (!short_of_quorum)
        t->no_quorum_ms = 0;
    else if (t->no_quorum_ms == 0)
        t->no_quorum_ms = t->commit_ms > t->work_ms ? t->commit_ms : t->work_ms;
}

uint32_t rt_status_reachable(const struct rt_status_track *t, uint64_t now_ms, uint32_t *mask)
{
    uint32_t m = 0, k = 0;
    for (uint32_t i = 0; i < t->n; i++) {
        if (i == t->self || within(t->heard_ms[i], now_ms, t->window_ms)) {
            m |= 1u << i;
            k++;
        }
    }
    if (mask) *mask = m;
    return k;
}

const char *rt_status_role(int protocol, const struct bft_node_stats *st)
{
    if (protocol == BFT_PROTO_RAFT)
        return st->is_leader ? "leader" : st->in_view_change ? "candidate" : "follower";
    if (st->in_view_change) return "view-change";
    if (protocol == BFT_PROTO_PBFT) return st->is_leader ? "primary" : "backup";
    return st->is_leader ? "leader" : "replica";
}

void rt_status_disk(const char *dir, uint64_t *wal_bytes, uint64_t *snapshot_bytes)
{
    *wal_bytes = *snapshot_bytes = 0;
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    /* Bounded by the data dir's own bound on files (docs/storage.md). */
    while ((e = readdir(d)) != NULL) {
        bool wal = !strcmp(e->d_name, "wal") || !strncmp(e->d_name, "wal-", 4);
        bool snap = !strncmp(e->d_name, "snap-", 5);
        if (!wal && !snap) continue;
        char p[1200];
        struct stat sb;
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (stat(p, &sb) != 0) continue;
        *(wal ? wal_bytes : snapshot_bytes) += (uint64_t)sb.st_size;
    }
    closedir(d);
}

/* Milliseconds since then, or -1 for never. */
static double age_ms(uint64_t then_ms, uint64_t now_ms)
{
    return then_ms ? (double)(now_ms - then_ms) : -1.0;
}

static bool add_rejects(cJSON *root, const struct bft_node_stats *st)
{
    cJSON *rej = cJSON_AddObjectToObject(root, "rejected");
    if (!rej) return false;
    for (int r = BFT_REJECT__FIRST; r < BFT_REJECT__COUNT; r++)
        if (!cJSON_AddNumberToObject(rej, bft_reject_name(r), (double)st->rejected[r]))
            return false;
    return true;
}

static bool add_peers(cJSON *root, const struct rt_status_track *t, uint64_t now_ms)
{
    uint32_t mask;
    uint32_t k = rt_status_reachable(t, now_ms, &mask);
    cJSON *heard = cJSON_AddArrayToObject(root, "peers_reachable");
    cJSON *ago = cJSON_AddArrayToObject(root, "heard_ms_ago");
    if (!heard || !ago || !cJSON_AddNumberToObject(root, "peers_reachable_count", k)) return false;
    for (uint32_t i = 0; i < t->n; i++) {
        if ((mask & (1u << i)) && !cJSON_AddItemToArray(heard, cJSON_CreateNumber(i))) return false;
        double a = i == t->self ? 0 : age_ms(t->heard_ms[i], now_ms);
        if (!cJSON_AddItemToArray(ago, cJSON_CreateNumber(a))) return false;
    }
    return true;
}

char *rt_status_render(const struct rt_status_track *t, const struct bft_node_stats *st,
                       const struct rt_status_info *in)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    char dig[65];
    crypto_to_hex(st->state_digest.b, sizeof st->state_digest.b, dig);
    uint64_t now = in->now_ms;
    bool ok =
        cJSON_AddNumberToObject(root, "id", in->id) &&
        cJSON_AddStringToObject(root, "protocol", bft_protocol_name(in->protocol)) &&
        cJSON_AddNumberToObject(root, "n", in->n) && cJSON_AddNumberToObject(root, "f", in->f) &&
        cJSON_AddNumberToObject(root, "quorum", t->quorum) &&
        cJSON_AddStringToObject(root, "role", rt_status_role(in->protocol, st)) &&
        cJSON_AddStringToObject(root, "view_kind",
                                in->protocol == BFT_PROTO_RAFT ? "term" : "view") &&
        cJSON_AddNumberToObject(root, "view", (double)st->view) &&
        cJSON_AddNumberToObject(root, "leader", st->leader < in->n ? (double)st->leader : -1) &&
        cJSON_AddNumberToObject(root, "committed_seq", (double)st->last_executed) &&
        cJSON_AddStringToObject(root, "state_digest", dig) &&
        cJSON_AddNumberToObject(root, "last_commit_ms_ago", age_ms(t->commit_ms, now)) &&
        cJSON_AddNumberToObject(root, "uptime_ms", (double)(now - t->start_ms)) &&
        cJSON_AddBoolToObject(root, "no_quorum", t->no_quorum_ms != 0) &&
        cJSON_AddNumberToObject(
            root, "no_quorum_since_unix_ms",
            t->no_quorum_ms ? (double)(in->now_unix_ms - (now - t->no_quorum_ms)) : 0) &&
        cJSON_AddNumberToObject(root, "no_quorum_ms",
                                t->no_quorum_ms ? (double)(now - t->no_quorum_ms) : 0) &&
        cJSON_AddNumberToObject(root, "view_changes", (double)st->view_changes) &&
        cJSON_AddNumberToObject(root, "requests_executed", (double)st->requests_executed) &&
        cJSON_AddNumberToObject(root, "wal_bytes", (double)in->wal_bytes) &&
        cJSON_AddNumberToObject(root, "snapshot_bytes", (double)in->snapshot_bytes) &&
        cJSON_AddNumberToObject(root, "window_ms", (double)t->window_ms) &&
        add_peers(root, t, now) && add_rejects(root, st) &&
        cJSON_AddStringToObject(root, "storage_error", in->storage_error ? in->storage_error : "");
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* ---- HTTP: the page over runtime_http.c ---- */

struct rt_status_server {
    struct rt_http_page *page;
};

int rt_status_server_start(struct rt_status_server **out, const char *url, char *err, size_t errlen)
{
    struct rt_status_server *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "status on %s: out of memory", url);
        return -1;
    }
    /* Until the first tick: a valid document that says so. */
    if (rt_http_page_start(&s->page, "status", url, "/status", "application/json",
                           "{\"starting\": true}", err, errlen) != 0) {
        free(s);
        return -1;
    }
    *out = s;
    return 0;
}

void rt_status_server_publish(struct rt_status_server *s, const char *page, size_t len)
{
    rt_http_page_publish(s->page, page, len); /* too long cannot happen at n <= 16 */
}

void rt_status_server_stop(struct rt_status_server *s)
{
    if (!s) return;
    rt_http_page_stop(s->page);
    free(s);
}
