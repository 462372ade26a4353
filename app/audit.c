/* The orders audit log line (docs/architecture.md "Audit log"):
 *   order_seq seq client client_order_id symbol side qty price prev hash
 * hash = SHA-256(prev (32 bytes) || record), where record is the 49-byte
 * little-endian encoding
 *   u64 order_seq | u64 seq | u32 client | u64 client_order_id |
 *   char symbol[8] (NUL-padded) | u8 side (1 buy, 2 sell) | u32 qty | i64 price
 * This is the orders application's own hash chain (app/app_orders.c): its
 * head is in the replicated state digest, so honest replicas certify it in
 * their checkpoints, every honest replica's log holds the same lines with
 * the same hashes, and a replica that installs a snapshot can write the
 * lines it missed from the certified orders. seq is the consensus sequence
 * number that committed the order (the same on every replica). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "wire/bytes.h"

void bft_audit_link(const uint8_t prev[32], const struct bft_audit_entry *e, uint8_t out[32])
{
    uint8_t rec[BFT_AUDIT_RECORD_LEN];
    wire_le_store(rec, e->order_seq, 8);
    wire_le_store(rec + 8, e->seq, 8);
    wire_le_store(rec + 16, e->client, 4);
    wire_le_store(rec + 20, e->client_order_id, 8);
    memset(rec + 28, 0, 8);
    for (size_t i = 0; i < 8 && e->symbol[i]; i++)
        rec[28 + i] = (uint8_t)e->symbol[i];
    rec[36] = e->side;
    wire_le_store(rec + 37, e->qty, 4);
    wire_le_store(rec + 41, (uint64_t)e->price, 8);
    crypto_sha256_2(prev, 32, rec, sizeof rec, out);
}

static int fields(const struct bft_audit_entry *e, char *out, size_t cap)
{
    return snprintf(
        out, cap, "%" PRIu64 " %" PRIu64 " %" PRIu32 " %" PRIu64 " %s %s %" PRIu32 " %" PRId64,
        e->order_seq, e->seq, e->client, e->client_order_id, e->symbol[0] ? e->symbol : "-",
        e->side == 1 ? "buy" : "sell", e->qty, e->price);
}

size_t bft_audit_format(struct bft_audit_entry *e, char *line, size_t cap)
{
    char f[200];
    int n = fields(e, f, sizeof f);
    if (n < 0 || (size_t)n >= sizeof f) return 0;
    bft_audit_link(e->prev, e, e->hash);
    char prev[65], hash[65];
    crypto_to_hex(e->prev, 32, prev);
    crypto_to_hex(e->hash, 32, hash);
    int len = snprintf(line, cap, "%s %s %s\n", f, prev, hash);
    return len > 0 && (size_t)len < cap ? (size_t)len : 0;
}

int bft_audit_parse(const char *line, struct bft_audit_entry *e)
{
    memset(e, 0, sizeof *e);
    char sym[16], side[8], prev[80], hash[80];
    int n = sscanf(line,
                   "%" SCNu64 " %" SCNu64 " %" SCNu32 " %" SCNu64 " %15s %7s %" SCNu32 " %" SCNd64
                   " %79s %79s",
                   &e->order_seq, &e->seq, &e->client, &e->client_order_id, sym, side, &e->qty,
                   &e->price, prev, hash);
    if (n != 10 || strlen(sym) > 8) return -1;
    if (!strcmp(side, "buy"))
        e->side = 1;
    else if (!strcmp(side, "sell"))
        e->side = 2;
    else
        return -1;
    if (strcmp(sym, "-") != 0) memcpy(e->symbol, sym, strlen(sym) + 1); /* <= 8 + NUL */
    uint8_t want[32];
    if (crypto_from_hex(prev, e->prev, 32) != 0 || crypto_from_hex(hash, want, 32) != 0) return -1;
    /* The text must be exactly what format writes (no second spelling of
     * the same line). */
    char again[BFT_AUDIT_LINE_MAX];
    struct bft_audit_entry c = *e;
    size_t len = bft_audit_format(&c, again, sizeof again);
    size_t ll = strcspn(line, "\n");
    if (!len || ll != len - 1 || memcmp(line, again, ll) != 0) return -1;
    memcpy(e->hash, c.hash, 32);
    return memcmp(want, e->hash, 32) == 0 ? 0 : -1;
}
