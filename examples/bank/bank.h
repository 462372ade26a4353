/* A replicated bank ledger: the state machine the example replicas run,
 * and the operation encodings the example client sends.
 *
 * Operations (little-endian):
 *   OPEN      u8 1 | u32 account                    -> u8 status
 *   DEPOSIT   u8 2 | u32 account | u64 amount       -> u8 status | u64 balance
 *   TRANSFER  u8 3 | u32 from | u32 to | u64 amount -> u8 status | u64 balance of from
 *   BALANCE   u8 4 | u32 account                    -> u8 status | u64 balance
 * Every result is at most 9 bytes, well inside BFT_RESULT_MAX. */
#ifndef BANK_H
#define BANK_H

#include <stddef.h>
#include <stdint.h>

#include <bft/app.h>

#define BANK_ACCOUNTS 1024 /* accounts 0..1023; a bounded table */

enum bank_kind { BANK_OPEN = 1, BANK_DEPOSIT = 2, BANK_TRANSFER = 3, BANK_BALANCE = 4 };
enum bank_status {
    BANK_OK = 0,
    BANK_NO_ACCOUNT = 1,
    BANK_EXISTS = 2,
    BANK_INSUFFICIENT = 3,
    BANK_INVALID = 4,
};

extern const struct bft_app_ops bank_ops;

size_t bank_op(uint8_t *op, enum bank_kind kind, uint32_t a, uint32_t b, uint64_t amount);
/* Decode a result: 0, or -1 if malformed. balance is 0 when absent. */
int bank_result(const uint8_t *res, size_t len, uint8_t *status, uint64_t *balance);

#endif
