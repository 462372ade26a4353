/* tests/lib/core_fixture_log.c: the fixture's effect log, bounded to
 * CF_LOG_MAX lines between two reads, and the names it prints: message
 * types (wire/wire.h), WAL record types and timers of each protocol.
 *
 * The fixture drives a core only through bft_core_ops; the names come
 * from core_fixture_names_<p>.c, which read the ids from each core's own
 * headers and decode Raft's bodies with its codec (raft_wire.h), so
 * nothing here restates a layout. */
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

void cf_log_msg(struct cf *cf, unsigned kind, const char *prefix, const struct bft_msg *m)
{
    if (cf->hide_type[m->type]) return;
    const char *name = bft_msg_type_name(m->type);
    char d[9];
    cf_short_digest(&m->digest, d);
    char pay[80] = "";
    if (m->payload_len) snprintf(pay, sizeof pay, " pay=%u", m->payload_len);
    const struct cf_names *nm = cf_names_for(cf->opt.protocol);
    if (nm && nm->detail) nm->detail(m, pay, sizeof pay);
    if (m->type == BFT_MSG_REQUEST)
        cf_log_line(cf, kind, "%s request client=%u req=%llu", prefix, m->sender,
                    (unsigned long long)m->seq);
    else
        cf_log_line(cf, kind, "%s %s v=%llu s=%llu d=%s%s", prefix, name ? name : "?",
                    (unsigned long long)m->view, (unsigned long long)m->seq, d, pay);
}

/* ---- WAL record names: the type byte and its first fields ---- */

static const struct cf_rec_name *rec_name(int protocol, const uint8_t *rec, size_t len)
{
    const struct cf_names *nm = cf_names_for(protocol);
    for (size_t i = 0; nm && len && i < nm->n_recs; i++)
        if (nm->recs[i].type == rec[0]) return &nm->recs[i];
    return NULL;
}

const char *cf_record_name(int protocol, uint8_t type)
{
    const struct cf_rec_name *r = rec_name(protocol, &type, 1);
    return r ? r->name : "unknown";
}

void cf_record_text(int protocol, const uint8_t *rec, size_t len, char *out, size_t cap)
{
    const struct cf_rec_name *r = rec_name(protocol, rec, len);
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

const char *cf_timer_name(const struct cf *cf, uint32_t timer, char *buf, size_t cap)
{
    const struct cf_names *nm = cf_names_for(cf->opt.protocol);
    for (size_t i = 0; nm && i < nm->n_timers; i++)
        if (nm->timers[i].id == timer) return nm->timers[i].name;
    if (nm && nm->lease_ring && timer >= nm->lease_base && timer < nm->lease_base + nm->lease_ring)
        snprintf(buf, cap, "lease%u", timer - nm->lease_base);
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
