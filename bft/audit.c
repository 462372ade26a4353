/* The orders audit log line: fixed field order, text, hash-chained.
 *   order_seq seq view client client_order_id symbol side qty price prev hash
 * hash = SHA-256(prev (32 bytes) || the text of the first nine fields). */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "bft/bft.h"

static int fields(const struct bft_audit_entry *e, char *out, size_t cap)
{
    return snprintf(
        out, cap,
        "%" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRIu32 " %" PRIu64 " %s %s %" PRIu32 " %" PRId64,
        e->order_seq, e->seq, e->view, e->client, e->client_order_id,
        e->symbol[0] ? e->symbol : "-", e->side == 1 ? "buy" : "sell", e->qty, e->price);
}

size_t bft_audit_format(struct bft_audit_entry *e, char *line, size_t cap)
{
    char f[200];
    int n = fields(e, f, sizeof f);
    if (n < 0 || (size_t)n >= sizeof f) return 0;
    crypto_sha256_2(e->prev, 32, f, (size_t)n, e->hash);
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
                   "%" SCNu64 " %" SCNu64 " %" SCNu64 " %" SCNu32 " %" SCNu64 " %15s %7s %" SCNu32
                   " %" SCNd64 " %79s %79s",
                   &e->order_seq, &e->seq, &e->view, &e->client, &e->client_order_id, sym, side,
                   &e->qty, &e->price, prev, hash);
    if (n != 11 || strlen(sym) > 8) return -1;
    if (!strcmp(side, "buy"))
        e->side = 1;
    else if (!strcmp(side, "sell"))
        e->side = 2;
    else
        return -1;
    if (strcmp(sym, "-") != 0) memcpy(e->symbol, sym, strlen(sym) + 1); /* <= 8 + NUL */
    uint8_t want[32];
    if (crypto_from_hex(prev, e->prev, 32) != 0 || crypto_from_hex(hash, want, 32) != 0) return -1;
    char f[200];
    int fl = fields(e, f, sizeof f);
    if (fl < 0 || (size_t)fl >= sizeof f) return -1;
    crypto_sha256_2(e->prev, 32, f, (size_t)fl, e->hash);
    return memcmp(want, e->hash, 32) == 0 ? 0 : -1;
}
