/* A user-defined state machine for the replica API tests, written against
 * the public headers only (bft/app.h), as an embedder would write it.
 * op:  u8 kind (1 add, 2 get) | u64 amount (add only, little-endian)
 * res: u8 status (0 ok, 1 invalid) | u64 value after the op */
#ifndef BFT_TEST_COUNTER_APP_H
#define BFT_TEST_COUNTER_APP_H

#include <stddef.h>
#include <stdint.h>

#include "bft/app.h"

#define COUNTER_ADD 1
#define COUNTER_GET 2
#define COUNTER_OP_LEN 9
#define COUNTER_RES_LEN 9

/* What bft_replica_options.app_user points at: the embedder's
 * configuration, handed to create. */
struct counter_config {
    uint64_t initial;
};

extern const struct bft_app_ops counter_app;
size_t counter_op(uint8_t *op, int kind, uint64_t amount);
/* 0 and *value, or -1 if res is not an ok result. */
int counter_result(const uint8_t *res, size_t len, uint64_t *value);

#endif
