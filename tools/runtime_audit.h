#ifndef BFT_TOOLS_RUNTIME_AUDIT_H
#define BFT_TOOLS_RUNTIME_AUDIT_H

#include <stdio.h>

#include "bft/bft.h"

struct rt_audit {
    FILE *f;
    uint8_t prev[32];
};
int rt_audit_open(struct rt_audit *a, const char *dir);
void rt_audit_result(struct rt_audit *a, uint32_t client, uint64_t seq, uint64_t view,
                     const uint8_t *op, size_t op_len, const uint8_t *res, size_t res_len);
void rt_audit_flush(struct rt_audit *a);
void rt_audit_close(struct rt_audit *a);

#endif
