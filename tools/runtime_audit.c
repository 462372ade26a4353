/* bftd's orders audit log (DIR/replica-I/audit.log): one hash-chained line
 * per accepted order, written as the order executes. A restarted replica
 * continues the chain from the last intact line. */
#include <stdio.h>
#include <string.h>

#include "tools/runtime_audit.h"

int rt_audit_open(struct rt_audit *a, const char *dir)
{
    memset(a, 0, sizeof *a);
    char path[700];
    snprintf(path, sizeof path, "%s/audit.log", dir);
    FILE *r = fopen(path, "r");
    if (r) { /* continue the chain from the last intact line */
        char line[BFT_AUDIT_LINE_MAX];
        struct bft_audit_entry e;
        while (fgets(line, sizeof line, r))
            if (bft_audit_parse(line, &e) == 0) memcpy(a->prev, e.hash, 32);
        fclose(r);
    }
    a->f = fopen(path, "a");
    return a->f ? 0 : -1;
}

void rt_audit_result(struct rt_audit *a, uint32_t client, uint64_t seq, uint64_t view,
                     const uint8_t *op, size_t op_len, const uint8_t *res, size_t res_len)
{
    if (!a->f) return;
    struct bft_audit_entry e;
    memset(&e, 0, sizeof e);
    uint8_t status;
    if (bft_order_result_decode(res, res_len, &status, &e.order_seq) != 0 || status != BFT_ORDER_OK)
        return; /* only newly accepted orders get a number and a line */
    if (bft_order_decode(op, op_len, &e.client_order_id, e.symbol, &e.side, &e.qty, &e.price) != 0)
        return;
    e.seq = seq;
    e.view = view;
    e.client = client;
    memcpy(e.prev, a->prev, 32);
    char line[BFT_AUDIT_LINE_MAX];
    size_t n = bft_audit_format(&e, line, sizeof line);
    if (!n) return;
    fwrite(line, 1, n, a->f);
    memcpy(a->prev, e.hash, 32);
}

void rt_audit_flush(struct rt_audit *a)
{
    if (a->f) fflush(a->f);
}

void rt_audit_close(struct rt_audit *a)
{
    if (a->f) fclose(a->f);
    a->f = NULL;
}
