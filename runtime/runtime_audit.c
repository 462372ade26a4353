/* bftd's orders audit log (DIR/replica-I/audit.log): one hash-chained line
 * per accepted order, written as the order executes.
 *
 * Durability (docs/architecture.md "Audit log"): the lines of a step are
 * written and fdatasync'ed by rt_audit_sync, which the runtime calls from
 * the node's group commit, before any reply of that step leaves. So an
 * order a client saw acknowledged is in the audit log of every replica
 * that acknowledged it, even after kill -9.
 *
 * Complete on every replica: the chain is the orders application's own
 * (app/audit.c), so orders a replica installed by state transfer rather
 * than executed are written from the installed, certified state, with the
 * same lines and hashes as on the replicas that executed them.
 *
 * Restart: the log is opened before the WAL is replayed. A torn tail (the
 * last line half written when the process died) is cut, never appended
 * to. Orders that replay executes again and that the log already holds
 * (order_seq at or below the last line's) are skipped; the rest continue
 * the chain. A bad line followed by good ones is not a torn tail but
 * damage: the replica refuses to start rather than cut evidence. Only the
 * tail is read (RT_AUDIT_TAIL_BYTES below), so a restart costs the same
 * after a day of trading as after a minute. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/node.h"
#include "app/app.h"
#include "crypto/crypto.h"
#include "runtime/runtime_audit.h"

/* Restart reads the log's tail only: this much, doubled until it holds an
 * intact line. The log keeps every order ever placed, so a scan from the
 * start made each restart slower by the whole trading history (a 63 MB
 * log, 380k orders: 1.0 s before the replica listened, 86% of it parsing
 * lines). Where to append and what to cut need only the tail; checking
 * the whole chain is `bftctl audit`'s job (docs/architecture.md "Audit
 * log"). */
#define RT_AUDIT_TAIL_BYTES (1L << 20)

/* Scan the log from offset `from` (0, or just after the first newline at
 * or past it): the offset just past the last line of the intact chain
 * there, its order_seq and hash; *found is false if no line of the window
 * is intact. Returns 0, or -1 with err set when a bad line is followed by
 * a line that is whole by itself (damage, not a torn tail). */
static int scan(FILE *r, long from, struct rt_audit *a, long *good_end, long *size, bool *found,
                char *err, size_t errlen)
{
    char line[BFT_AUDIT_LINE_MAX + 8];
    long off = from, bad_at = -1;
    uint64_t lineno = 0, bad_line = 0;
    bool first = true;
    *good_end = from;
    *found = false;
    a->lines = 0;
    a->last_order = 0;
    memset(a->prev, 0, sizeof a->prev);
    if (fseek(r, from, SEEK_SET) != 0) {
        snprintf(err, errlen, "cannot seek in audit.log: %s", strerror(errno));
        return -1;
    }
    if (from > 0) { /* mid-line: the window starts at the next line */
        int ch;
        while ((ch = getc(r)) != EOF) {
            off++;
            if (ch == '\n') break;
        }
        *good_end = off;
    }
    while (fgets(line, sizeof line, r)) { /* ends at EOF: a regular file */
        lineno++;
        /* Bytes read from the file, NULs included: a power loss can leave
         * zero-filled blocks at the tail, which strlen would not count
         * (and the cut would then leave them in front of the next line). */
        long next = ftell(r);
        if (next < off) {
            snprintf(err, errlen, "cannot tell the offset in audit.log: %s", strerror(errno));
            return -1;
        }
        size_t n = (size_t)(next - off);
        struct bft_audit_entry e;
        bool whole = n > 0 && strlen(line) == n && line[n - 1] == '\n';
        bool parses = whole && bft_audit_parse(line, &e) == 0;
        bool ok = parses && bad_at < 0 &&
                  (first || (memcmp(e.prev, a->prev, CRYPTO_DIGEST_LEN) == 0 &&
                             e.order_seq > a->last_order));
        if (parses && bad_at >= 0) {
            snprintf(err, errlen,
                     "audit.log line %llu%s is damaged but later lines are intact: not a torn "
                     "tail; refusing to cut it (move the file aside to start anew)",
                     (unsigned long long)bad_line, from > 0 ? " of its tail" : "");
            return -1;
        }
        if (ok) {
            memcpy(a->prev, e.hash, CRYPTO_DIGEST_LEN);
            a->last_order = e.order_seq;
            a->lines++;
            first = false;
            *good_end = next;
            *found = true;
        } else if (bad_at < 0) {
            bad_at = off;
            bad_line = lineno;
        }
        off = next;
    }
    *size = off;
    return 0;
}

int rt_audit_open(struct rt_audit *a, const char *dir, char *err, size_t errlen)
{
    memset(a, 0, sizeof *a);
    char path[700];
    snprintf(path, sizeof path, "%s/audit.log", dir);
    struct stat st;
    bool exists = stat(path, &st) == 0;
    if (!exists && errno != ENOENT) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        return -1;
    }
    /* Only a regular file is scanned (bounded by its size); a device such
     * as /dev/full, used to test write failures, is not read. */
    if (exists && S_ISREG(st.st_mode)) {
        FILE *r = fopen(path, "r");
        if (!r) {
            snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
            return -1;
        }
        long good_end = 0, size = 0, window = RT_AUDIT_TAIL_BYTES;
        bool found = false;
        int rv;
        for (;;) {
            long from = (long)st.st_size > window ? (long)st.st_size - window : 0;
            rv = scan(r, from, a, &good_end, &size, &found, err, errlen);
            /* A tail without one intact line (a torn region longer than
             * the window): look further back, up to the whole log. */
            if (rv != 0 || found || from == 0) break;
            window *= 2;
        }
        fclose(r);
        if (rv != 0) return -1;
        if (good_end < size) {
            if (truncate(path, good_end) != 0) {
                snprintf(err, errlen, "cannot cut the torn tail of %s: %s", path, strerror(errno));
                return -1;
            }
            a->cut_bytes = (uint64_t)(size - good_end);
        }
    }
    a->f = fopen(path, "a");
    if (!a->f) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* Append entry e (prev and hash are set here). */
static int append(struct rt_audit *a, struct bft_audit_entry *e)
{
    memcpy(e->prev, a->prev, CRYPTO_DIGEST_LEN);
    char line[BFT_AUDIT_LINE_MAX];
    size_t n = bft_audit_format(e, line, sizeof line);
    if (!n) return -1;
    if (fwrite(line, 1, n, a->f) != n) {
        a->failed = true;
        return -1;
    }
    memcpy(a->prev, e->hash, CRYPTO_DIGEST_LEN);
    a->last_order = e->order_seq;
    a->lines++;
    a->unsynced = true;
    return 0;
}

static uint64_t next_order(const struct rt_audit *a)
{
    return a->lines ? a->last_order + 1 : 1;
}

/* Write the lines of orders the application holds but this log lacks, up
 * to order `upto` (at most `max` lines): orders installed by a snapshot
 * (state transfer), whose records the snapshot carried and the state
 * digest certified. Returns the lines written. */
static uint64_t fill(struct rt_audit *a, uint64_t upto, uint64_t max)
{
    uint64_t done = 0;
    for (uint64_t k = next_order(a); k <= upto && done < max && a->f && !a->failed; k++) {
        struct bft_audit_entry e;
        if (bft_orders_entry(bft_node_app(a->node), k, &e) != 0 || append(a, &e) != 0) break;
        done++;
    }
    a->filled += done;
    return done;
}

void rt_audit_result(struct rt_audit *a, uint32_t client, uint64_t seq, const uint8_t *op,
                     size_t op_len, const uint8_t *res, size_t res_len)
{
    if (!a->f || a->failed) return;
    struct bft_audit_entry e;
    memset(&e, 0, sizeof e);
    uint8_t status;
    if (bft_order_result_decode(res, res_len, &status, &e.order_seq) != 0 || status != BFT_ORDER_OK)
        return; /* only newly accepted orders get a number and a line */
    /* Replay after a restart executes orders the log already holds. */
    if (e.order_seq < next_order(a)) return;
    if (a->node) {
        /* A gap: orders installed by state transfer come first. */
        if (e.order_seq > next_order(a)) fill(a, e.order_seq - 1, UINT64_MAX);
        if (bft_orders_entry(bft_node_app(a->node), e.order_seq, &e) != 0) return;
    } else if (bft_order_decode(op, op_len, &e.client_order_id, e.symbol, &e.side, &e.qty,
                                &e.price) != 0) {
        return;
    } else {
        e.seq = seq;
        e.client = client;
    }
    if (e.order_seq != next_order(a)) a->gaps++; /* without the app: counted, not filled */
    append(a, &e);
}

uint64_t rt_audit_catch_up(struct rt_audit *a, uint64_t max)
{
    if (!a->f || a->failed || !a->node) return 0;
    return fill(a, bft_orders_count(bft_node_app(a->node)), max);
}

int rt_audit_sync(struct rt_audit *a)
{
    if (!a->f) return 0;
    if (a->failed) return -1;
    if (!a->unsynced) return 0;
    /* Like the WAL, a failed write or sync is final for this file handle:
     * the kernel may have dropped the dirty pages (fsyncgate). */
    if (fflush(a->f) != 0 || fdatasync(fileno(a->f)) != 0) {
        a->failed = true;
        return -1;
    }
    a->unsynced = false;
    return 0;
}

int rt_audit_start_syncer(struct rt_audit *a)
{
    if (!a->f) return 0;
    return rt_syncer_start(&a->syncer, fileno(a->f));
}

int rt_audit_write(struct rt_audit *a)
{
    if (!a->f) return 0;
    if (!a->syncer.running) return rt_audit_sync(a);
    if (a->failed || rt_syncer_failed(&a->syncer)) {
        a->failed = true;
        return -1;
    }
    if (!a->unsynced) return 0;
    if (fflush(a->f) != 0) {
        a->failed = true;
        return -1;
    }
    a->unsynced = false;
    rt_syncer_kick(&a->syncer);
    return 0;
}

void rt_audit_close(struct rt_audit *a)
{
    /* The syncer's last sync runs before the final one here. */
    rt_syncer_stop(&a->syncer);
    if (a->f) a->unsynced = true; /* written may not mean synced: sync */
    if (a->f) {
        rt_audit_sync(a);
        fclose(a->f);
    }
    a->f = NULL;
}
