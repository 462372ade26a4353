/* app: deterministic state machines the node executes on: the order
 * router (orders), a key-value store (kv), and the orders audit trail. */
#ifndef BFT_APP_H
#define BFT_APP_H

#include <stddef.h>
#include <stdint.h>

#include "bft/app.h"
#include "wire/wire.h"

/* Applications: deterministic state machines; struct bft_app_ops is
 * public (bft/app.h). */
extern const struct bft_app_ops bft_app_orders;
extern const struct bft_app_ops bft_app_kv;
const struct bft_app_ops *bft_app_for(const char *name); /* NULL if unknown */

/* orders: operation and result encodings (docs/design.md "Applications").
 * op  NEW: u8 kind=1 | u64 client_order_id | char symbol[8] | u8 side (1 buy,
 *          2 sell) | u32 qty | i64 price
 * res:     u8 status | u64 order_seq
 * order_seq is unique and gap-free over all accepted orders; a retried
 * (client, client_order_id) returns its original order_seq with status DUP. */
enum bft_order_status {
    BFT_ORDER_OK = 0,
    BFT_ORDER_DUP = 1,
    BFT_ORDER_INVALID = 2,
    BFT_ORDER_FULL = 3,
};
#define BFT_ORDER_OP_LEN 30
#define BFT_ORDER_RES_LEN 9
#define BFT_ORDERS_MAX (1u << 22) /* orders remembered for dedup */
size_t bft_order_encode(uint8_t *op, uint64_t client_order_id, const char *symbol, uint8_t side,
                        uint32_t qty, int64_t price);
int bft_order_result_decode(const uint8_t *res, size_t len, uint8_t *status, uint64_t *order_seq);

/* Decode a NEW order op; 0 or -1. symbol gets up to 8 chars + NUL. */
int bft_order_decode(const uint8_t *op, size_t len, uint64_t *client_order_id, char symbol[9],
                     uint8_t *side, uint32_t *qty, int64_t *price);

/* The orders audit log: one line per accepted order, hash-chained
 * (app/audit.c has the format): each line carries the previous line's hash
 * and its own, SHA-256(prev || the order's record), so a changed, dropped
 * or reordered order breaks the chain. The chain is the orders
 * application's own (its head is in the state digest), so every honest
 * replica's log has the same lines and hashes. `bftctl audit` verifies. */
struct bft_audit_entry {
    uint64_t order_seq; /* the order's unique, gap-free number */
    uint64_t seq;       /* consensus sequence number that committed it */
    uint32_t client;
    uint64_t client_order_id;
    char symbol[9];
    uint8_t side;
    uint32_t qty;
    int64_t price;
    uint8_t prev[32];
    uint8_t hash[32];
};
#define BFT_AUDIT_LINE_MAX 320
#define BFT_AUDIT_RECORD_LEN 49
/* out = SHA-256(prev || the entry's record): one link of the chain. */
void bft_audit_link(const uint8_t prev[32], const struct bft_audit_entry *e, uint8_t out[32]);
/* Compute e->hash from e->prev and the fields, and format the line
 * (newline-terminated). Returns the length. */
size_t bft_audit_format(struct bft_audit_entry *e, char *line, size_t cap);
/* Parse one line and check its own hash; 0, or -1 if malformed, not in
 * the exact form format writes, or the hash does not match its fields. */
int bft_audit_parse(const char *line, struct bft_audit_entry *e);
/* The orders application's accepted orders (app: its state, e.g. from
 * bft_node_app): how many, and order number k (1-based) as an audit
 * entry without prev/hash; 0, or -1 if there is no such order. */
uint64_t bft_orders_count(const void *app);
int bft_orders_entry(const void *app, uint64_t order_seq, struct bft_audit_entry *e);

/* kv: op u8 kind (1 put, 2 get, 3 delete) | u16 klen | key | u16 vlen | value
 *     res u8 status (0 ok, 1 not found, 2 invalid, 3 full) | value */
#define BFT_KV_MAX_KEYS (1u << 20)

#endif
