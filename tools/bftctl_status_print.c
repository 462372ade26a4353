/* bftctl status: the table and the --json document from the fetched pages
 * (docs/design.md "bftctl status"). */
#include <string.h>
#include <time.h>

#include "tools/bftctl_status.h"

static void fmt_bytes(uint64_t b, char *out, size_t cap)
{
    if (b < 1024)
        snprintf(out, cap, "%lluB", (unsigned long long)b);
    else if (b < (1u << 20))
        snprintf(out, cap, "%.1fK", (double)b / 1024);
    else if (b < (1ull << 30))
        snprintf(out, cap, "%.1fM", (double)b / (1 << 20));
    else
        snprintf(out, cap, "%.1fG", (double)b / (1ull << 30));
}

static void fmt_clock(uint64_t unix_ms, char *out, size_t cap)
{
    time_t t = (time_t)(unix_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%H:%M:%S", &tm);
}

/* "bad_signature:3,malformed:1", or "-". */
static void fmt_rejects(const uint64_t *rej, char *out, size_t cap)
{
    size_t off = 0;
    out[0] = '\0';
    for (int i = BFT_REJECT__FIRST; i < BFT_REJECT__COUNT && off < cap; i++) {
        if (!rej[i]) continue;
        int k = snprintf(out + off, cap - off, "%s%s:%llu", off ? "," : "", bft_reject_name(i),
                         (unsigned long long)rej[i]);
        if (k > 0) off += (size_t)k;
    }
    if (!out[0]) snprintf(out, cap, "-");
}

void ctl_status_print(FILE *f, const struct bft_cluster *cl, const struct ctl_status_row *rows,
                      uint64_t now_unix_ms)
{
    char now[16];
    fmt_clock(now_unix_ms, now, sizeof now);
    uint32_t answered = 0;
    for (uint32_t i = 0; i < cl->n; i++)
        answered += rows[i].answered;
    fprintf(f, "cluster %016llx: %s n=%u f=%u, %u/%u replicas answered at %s UTC\n",
            (unsigned long long)cl->cluster_id, bft_protocol_name(cl->protocol), cl->n, cl->f,
            answered, cl->n, now);
    fprintf(f, "%-3s %-24s %-11s %-9s %-6s %-10s %-11s %-5s %-7s %-7s %-20s %s\n", "id",
            "status address", "role", "view", "leader", "committed", "last commit", "peers", "wal",
            "snap", "rejects", "quorum");
    for (uint32_t i = 0; i < cl->n; i++) {
        const struct ctl_status_row *r = &rows[i];
        if (!r->answered) {
            fprintf(f, "%-3u %-24s unreachable: %s\n", i, r->url[0] ? r->url : "-", r->error);
            continue;
        }
        if (r->starting) {
            fprintf(f, "%-3u %-24s starting\n", i, r->url);
            continue;
        }
        char view[24], leader[16], age[16], peers[12], wal[12], snap[12], rej[256], q[80];
        snprintf(view, sizeof view, "%s %llu", r->view_kind[0] == 't' ? "term" : "v",
                 (unsigned long long)r->view);
        if (r->leader >= 0)
            snprintf(leader, sizeof leader, "%d", r->leader);
        else
            snprintf(leader, sizeof leader, "-");
        if (r->last_commit_ms_ago < 0)
            snprintf(age, sizeof age, "never");
        else
            snprintf(age, sizeof age, "%.1fs ago", r->last_commit_ms_ago / 1000.0);
        snprintf(peers, sizeof peers, "%u/%u", r->reachable, r->n ? r->n : cl->n);
        fmt_bytes(r->wal_bytes, wal, sizeof wal);
        fmt_bytes(r->snapshot_bytes, snap, sizeof snap);
        fmt_rejects(r->rejected, rej, sizeof rej);
        if (r->no_quorum) {
            char since[16];
            fmt_clock((uint64_t)r->no_quorum_since_unix_ms, since, sizeof since);
            snprintf(q, sizeof q, "no quorum since %s UTC (%.0f s)", since,
                     r->no_quorum_ms / 1000.0);
        } else {
            snprintf(q, sizeof q, "ok");
        }
        fprintf(f, "%-3u %-24s %-11s %-9s %-6s %-10llu %-11s %-5s %-7s %-7s %-20s %s%s%s\n", i,
                r->url, r->role, view, leader, (unsigned long long)r->committed, age, peers, wal,
                snap, rej, q, r->storage_error[0] ? "; storage: " : "", r->storage_error);
    }
}

static void put_json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

void ctl_status_print_json(FILE *f, const struct bft_cluster *cl, const struct ctl_status_row *rows,
                           uint64_t now_unix_ms)
{
    uint32_t answered = 0;
    for (uint32_t i = 0; i < cl->n; i++)
        answered += rows[i].answered;
    fprintf(f,
            "{\"cluster_id\": \"%016llx\", \"protocol\": \"%s\", \"n\": %u, \"f\": %u, "
            "\"unix_ms\": %llu, \"answered\": %u, \"replicas\": [",
            (unsigned long long)cl->cluster_id, bft_protocol_name(cl->protocol), cl->n, cl->f,
            (unsigned long long)now_unix_ms, answered);
    for (uint32_t i = 0; i < cl->n; i++) {
        const struct ctl_status_row *r = &rows[i];
        fprintf(f, "%s{\"id\": %u, \"url\": ", i ? ", " : "", i);
        put_json_string(f, r->url);
        fprintf(f, ", \"answered\": %s", r->answered ? "true" : "false");
        if (r->answered && r->raw)
            fprintf(f, ", \"status\": %s}", r->raw); /* parsed as JSON above */
        else {
            fprintf(f, ", \"error\": ");
            put_json_string(f, r->answered ? "out of memory" : r->error);
            fprintf(f, "}");
        }
    }
    fprintf(f, "]}\n");
}
