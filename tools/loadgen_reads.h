/* The load generator's reads (docs/reads.md): which level each read uses,
 * the read op, and per-level latency samples, kept apart from the network
 * so a unit test can drive them (tests/tools/test_loadgen.c). */
#ifndef BFT_TOOLS_LOADGEN_READS_H
#define BFT_TOOLS_LOADGEN_READS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tools/bftctl.h"

struct lg_reads {
    int level;         /* enum bft_read_level, or LOAD_READ_MIX */
    uint32_t next_mix; /* LOAD_READ_MIX: the level of the next read */
    uint32_t cap;      /* latency samples kept per level (bounded) */
    uint32_t *lat_us[BFT_READ_LEVELS];
    uint64_t kept[BFT_READ_LEVELS];
    struct load_reads st[BFT_READ_LEVELS];
};

/* 0, or -1 if out of memory or the level is not one of the above. */
int lg_reads_init(struct lg_reads *r, int level, uint32_t cap);
void lg_reads_free(struct lg_reads *r);
/* The level of the next read (the levels in turn for LOAD_READ_MIX). */
int lg_reads_next_level(struct lg_reads *r);
/* The read op: a LOOKUP of (client, client_order_id) for the orders
 * application, else a kv get of the key that client's puts use. Returns
 * its length (op has room for BFT_OP_MAX bytes). */
size_t lg_read_op(bool orders, uint32_t client, uint64_t client_order_id, uint8_t *op);
/* One read issued / completed at `level` after lat_us; found: the result
 * said the order (or key) exists. Samples beyond cap are counted, not kept. */
void lg_reads_issued(struct lg_reads *r, int level);
void lg_reads_done(struct lg_reads *r, int level, uint64_t lat_us, bool found);
/* Fill out[] with counts and percentiles per level (sorts the samples). */
void lg_reads_summary(struct lg_reads *r, struct load_reads out[BFT_READ_LEVELS]);

#endif
