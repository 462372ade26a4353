/* tests/lib/core_fixture_log.c: the fixture's effect log, bounded to
 * CF_LOG_MAX lines between two reads, and the names it prints: message
 * types (wire/wire.h), WAL record types and timers of each protocol.
 *
 * The record and timer tables repeat ids that the cores keep in their
 * private headers (core/<p>/<p>_internal.h): the fixture sees a core only
 * through bft_core_ops, and a renumbered id shows as a changed name in
 * every testdata file that prints it. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/core_fixture_internal.h"

void cf_log_line(struct cf *cf, unsigned kind, const char *fmt, ...)
{
    if (!(cf->mask & kind)) return;
    if (cf->log_lines >= CF_LOG_MAX) {
        cf->log_lost++;
        return;
    }
    char line[CF_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line, sizeof line - 1, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    size_t len = strlen(line);
    line[len++] = '\n';
    if (cf->log_len + len + 1 > cf->log_cap) {
        size_t cap = cf->log_cap ? cf->log_cap * 2 : 4096;
        while (cap < cf->log_len + len + 1)
            cap *= 2;
        char *p = realloc(cf->log, cap);
        if (!p) {
            cf->log_lost++;
            return;
        }
        cf->log = p;
        cf->log_cap = cap;
    }
    memcpy(cf->log + cf->log_len, line, len);
    cf->log_len += len;
    cf->log[cf->log_len] = '\0';
    cf->log_lines++;
}

void cf_logf(struct cf *cf, const char *fmt, ...)
{
    char line[CF_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    unsigned mask = cf->mask;
    cf->mask = ~0u; /* the test's own lines are always shown */
    cf_log_line(cf, 1, "%s", line);
    cf->mask = mask;
}

char *cf_log_take(struct cf *cf)
{
    if (cf->log_lost) {
        unsigned mask = cf->mask;
        uint32_t lost = cf->log_lost;
        cf->mask = ~0u;
        cf->log_lines = 0; /* room for the note */
        cf->log_lost = 0;
        cf_log_line(cf, 1, "... %u more lines not kept (CF_LOG_MAX)", lost);
        cf->mask = mask;
    }
    char *out = cf->log ? cf->log : strdup("");
    cf->log = NULL;
    cf->log_len = cf->log_cap = 0;
    cf->log_lines = 0;
    return out;
}

void cf_set_log_mask(struct cf *cf, unsigned mask)
{
    cf->mask = mask;
}

/* The first four bytes in hex: enough to tell batches apart in a test;
 * "0" for the all-zero digest (a null request, an empty block). */
void cf_short_digest(const bft_digest *d, char out[9])
{
    static const bft_digest zero;
    if (memcmp(d->b, zero.b, CRYPTO_DIGEST_LEN) == 0) {
        strcpy(out, "0");
        return;
    }
    crypto_to_hex(d->b, 4, out);
}

bool cf_set_log_types(struct cf *cf, const char *const *types, size_t count)
{
    bool hide[256];
    for (int t = 0; t < 256; t++) {
        hide[t] = count > 0;
        for (size_t i = 0; i < count; i++)
            if (bft_msg_type_name(t) && strcmp(bft_msg_type_name(t), types[i]) == 0)
                hide[t] = false;
    }
    for (size_t i = 0; i < count; i++) {
        int t = 0;
        while (t < 256 && !(bft_msg_type_name(t) && strcmp(bft_msg_type_name(t), types[i]) == 0))
            t++;
        if (t == 256) return false;
    }
    memcpy(cf->hide_type, hide, sizeof hide);
    return true;
}

/* Key fields of Raft's bodies (layouts in core/raft/raft_election.c and
 * raft_replication.c): whether a vote is a pre-vote and was granted,
 * what an append carries and whether it was accepted. These decide what
 * a Raft test shows; the BFT messages say enough in their headers. */
static void raft_detail(const struct bft_msg *m, char *out, size_t cap)
{
    static const char *const kinds[] = {"?", "real", "pre", "probe"};
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    out[0] = '\0';
    if (m->type == BFT_MSG_RAFT_VOTE) {
        uint8_t k = wire_get_u8(&r);
        uint64_t last_term = wire_get_u64(&r);
        if (!r.err)
            snprintf(out, cap, " %s last=%llu/%llu", kinds[k < 4 ? k : 0],
                     (unsigned long long)last_term, (unsigned long long)m->seq);
    } else if (m->type == BFT_MSG_RAFT_VOTE_RESP) {
        uint8_t k = wire_get_u8(&r), granted = wire_get_u8(&r);
        if (!r.err)
            snprintf(out, cap, " %s %s", kinds[k < 4 ? k : 0], granted ? "granted" : "denied");
    } else if (m->type == BFT_MSG_RAFT_APPEND) {
        uint8_t flags = wire_get_u8(&r);
        uint64_t prev_term = wire_get_u64(&r), commit = wire_get_u64(&r);
        (void)wire_get_u64(&r); /* round */
        if (flags & 1) {        /* the anchor: boot id and index */
            (void)wire_get_u64(&r);
            (void)wire_get_u64(&r);
        }
        uint32_t k = wire_get_u32(&r);
        if (!r.err)
            snprintf(out, cap, " prev=%llu/%llu commit=%llu entries=%u",
                     (unsigned long long)prev_term, (unsigned long long)m->seq,
                     (unsigned long long)commit, k);
    } else if (m->type == BFT_MSG_RAFT_APPEND_RESP) {
        uint8_t flags = wire_get_u8(&r);
        if (!r.err) snprintf(out, cap, " %s", (flags & 1) ? "ok" : "reject");
    }
}

void cf_log_msg(struct cf *cf, unsigned kind, const char *prefix, const struct bft_msg *m)
{
    if (cf->hide_type[m->type]) return;
    const char *name = bft_msg_type_name(m->type);
    char d[9];
    cf_short_digest(&m->digest, d);
    char pay[80] = "";
    if (m->payload_len) snprintf(pay, sizeof pay, " pay=%u", m->payload_len);
    if (cf->opt.protocol == BFT_PROTO_RAFT) raft_detail(m, pay, sizeof pay);
    if (m->type == BFT_MSG_REQUEST)
        cf_log_line(cf, kind, "%s request client=%u req=%llu", prefix, m->sender,
                    (unsigned long long)m->seq);
    else
        cf_log_line(cf, kind, "%s %s v=%llu s=%llu d=%s%s", prefix, name ? name : "?",
                    (unsigned long long)m->view, (unsigned long long)m->seq, d, pay);
}

/* ---- WAL record names: the type byte and its first fields ---- */

struct rec_name {
    int protocol;
    uint8_t type;
    const char *name;
    const char *f1, *f2; /* u64 fields after the type byte; NULL: not shown */
    uint8_t w2;          /* width of f2 in bytes (8, or 4 for Raft's vote) */
};

static const struct rec_name rec_names[] = {
    {BFT_PROTO_PBFT, 1, "view", "v", NULL, 0},
    {BFT_PROTO_PBFT, 2, "pre_prepare", "v", "s", 8},
    {BFT_PROTO_PBFT, 3, "commit", "v", "s", 8},
    {BFT_PROTO_PBFT, 4, "checkpoint", "s", NULL, 0},
    {BFT_PROTO_PBFT, 5, "stable", "s", NULL, 0},
    {BFT_PROTO_PBFT, 6, "new_view", "v", NULL, 0},
    {BFT_PROTO_PBFT, 7, "floor", "s", NULL, 0},
    {BFT_PROTO_HOTSTUFF, 1, "vote", "v", "h", 8},
    {BFT_PROTO_HOTSTUFF, 2, "lock", NULL, NULL, 0},
    {BFT_PROTO_HOTSTUFF, 3, "commit", "v", "h", 8},
    {BFT_PROTO_HOTSTUFF, 4, "snap", "s", NULL, 0},
    {BFT_PROTO_HOTSTUFF, 5, "block", "v", "h", 8},
    {BFT_PROTO_HOTSTUFF, 6, "snap_part", "s", NULL, 0},
    {BFT_PROTO_HOTSTUFF, 7, "snap_end", "s", NULL, 0},
    {BFT_PROTO_HOTSTUFF, 8, "base", "h", NULL, 0},
    {BFT_PROTO_RAFT, 1, "hard", "term", "vote", 4},
    {BFT_PROTO_RAFT, 2, "entry", "i", "t", 8},
    {BFT_PROTO_RAFT, 3, "commit", "i", NULL, 0},
    {BFT_PROTO_RAFT, 4, "snap", "i", NULL, 0},
};

const char *cf_record_name(int protocol, uint8_t type)
{
    for (size_t i = 0; i < sizeof rec_names / sizeof rec_names[0]; i++)
        if (rec_names[i].protocol == protocol && rec_names[i].type == type)
            return rec_names[i].name;
    return "unknown";
}

void cf_record_text(int protocol, const uint8_t *rec, size_t len, char *out, size_t cap)
{
    const struct rec_name *r = NULL;
    for (size_t i = 0; len && i < sizeof rec_names / sizeof rec_names[0]; i++)
        if (rec_names[i].protocol == protocol && rec_names[i].type == rec[0]) r = &rec_names[i];
    if (!r) {
        snprintf(out, cap, "unknown(%u) len=%zu", len ? rec[0] : 0, len);
        return;
    }
    int k = snprintf(out, cap, "%s", r->name);
    if (r->f1 && len >= 9 && k >= 0 && (size_t)k < cap)
        k += snprintf(out + k, cap - (size_t)k, " %s=%llu", r->f1,
                      (unsigned long long)wire_le_load(rec + 1, 8));
    if (r->f2 && len >= 9u + r->w2 && k >= 0 && (size_t)k < cap) {
        uint64_t v = wire_le_load(rec + 9, r->w2);
        if (r->w2 == 4 && v == UINT32_MAX)
            snprintf(out + k, cap - (size_t)k, " %s=none", r->f2);
        else
            snprintf(out + k, cap - (size_t)k, " %s=%llu", r->f2, (unsigned long long)v);
    }
}

/* ---- timer names ---- */

struct timer_name {
    int protocol;
    uint32_t id;
    const char *name;
};

static const struct timer_name timer_names[] = {
    {BFT_PROTO_PBFT, 1, "view_change"}, {BFT_PROTO_PBFT, 2, "retransmit"},
    {BFT_PROTO_PBFT, 3, "state"},       {BFT_PROTO_PBFT, 4, "status"},
    {BFT_PROTO_PBFT, 5, "monitor"},     {BFT_PROTO_HOTSTUFF, 1, "view"},
    {BFT_PROTO_HOTSTUFF, 2, "fetch"},   {BFT_PROTO_HOTSTUFF, 3, "state"},
    {BFT_PROTO_HOTSTUFF, 4, "resend"},  {BFT_PROTO_HOTSTUFF, 5, "request"},
    {BFT_PROTO_HOTSTUFF, 6, "monitor"}, {BFT_PROTO_RAFT, 1, "start"},
    {BFT_PROTO_RAFT, 2, "election"},    {BFT_PROTO_RAFT, 3, "heartbeat"},
    {BFT_PROTO_RAFT, 4, "sticky"},      {BFT_PROTO_RAFT, 5, "quorum"},
    {BFT_PROTO_RAFT, 6, "state"},
};
#define CF_RAFT_LEASE_BASE 16 /* Raft: one lease timer per heartbeat round, 16..47 */
#define CF_RAFT_LEASE_RING 32

const char *cf_timer_name(const struct cf *cf, uint32_t timer, char *buf, size_t cap)
{
    for (size_t i = 0; i < sizeof timer_names / sizeof timer_names[0]; i++)
        if (timer_names[i].protocol == cf->opt.protocol && timer_names[i].id == timer)
            return timer_names[i].name;
    if (cf->opt.protocol == BFT_PROTO_RAFT && timer >= CF_RAFT_LEASE_BASE &&
        timer < CF_RAFT_LEASE_BASE + CF_RAFT_LEASE_RING)
        snprintf(buf, cap, "lease%u", timer - CF_RAFT_LEASE_BASE);
    else
        snprintf(buf, cap, "timer%u", timer);
    return buf;
}

int cf_timer_parse(const struct cf *cf, const char *name)
{
    for (uint32_t t = 0; t < CF_TIMERS; t++) {
        char buf[24];
        if (strcmp(cf_timer_name(cf, t, buf, sizeof buf), name) == 0) return (int)t;
    }
    return -1;
}
