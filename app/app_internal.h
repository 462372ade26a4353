/* Private to the applications (app/app_*.c) and their unit tests: the parts
 * of the orders and kv encodings that bft.h does not name yet, and
 * constructors with a small bound so tests can reach "table full". */
#ifndef BFT_APP_INTERNAL_H
#define BFT_APP_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "app/app.h"

/* orders: kinds of operation. */
#define BFT_ORDER_KIND_NEW 1
/* LOOKUP: u8 kind=2 | u32 client_id | u64 client_order_id (13 bytes).
 * Answered by query (read-only) and also by apply, where it changes
 * nothing. Result: u8 status (OK or NOT_FOUND) | u64 order_seq (0 if not
 * found). */
#define BFT_ORDER_KIND_LOOKUP 2
#define BFT_ORDER_LOOKUP_LEN 13
/* Status beyond enum bft_order_status: LOOKUP of an order never accepted. */
#define BFT_ORDER_NOT_FOUND 4
size_t bft_order_lookup_encode(uint8_t *op, uint32_t client_id, uint64_t client_order_id);

/* kv: kinds and result status bytes (bft.h "kv"). */
enum bft_kv_kind { BFT_KV_PUT = 1, BFT_KV_GET = 2, BFT_KV_DELETE = 3 };
enum bft_kv_status {
    BFT_KV_OK = 0,
    BFT_KV_NOT_FOUND = 1,
    BFT_KV_INVALID = 2,
    BFT_KV_FULL = 3,
};
#define BFT_KV_KEY_MAX 255
#define BFT_KV_VALUE_MAX (BFT_RESULT_MAX - 1) /* status byte + value fit a result */
/* Encode a kv op into `op` (room for 5 + klen + vlen bytes); GET and DELETE
 * pass vlen 0 and value NULL. Returns the length. */
size_t bft_kv_encode(uint8_t *op, uint8_t kind, const void *key, size_t klen, const void *value,
                     size_t vlen);

/* Same as the vtables' create, with a smaller table bound (tests). */
void *bft_orders_create_bounded(uint32_t max_orders);
void *bft_kv_create_bounded(uint32_t max_keys);

#endif
