/* What bftctl submit and bftctl read share: opening a client session over
 * the network (include/bft/client.h) from their flags, with a clear
 * message and exit code when it cannot be opened, and printing results. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "tools/bftctl.h"
#include "tools/bftctl_session.h"

int ctl_session_open(const char *prog, const struct ctl_session_flags *f, struct bft_session **s)
{
    struct bft_session_options o = {.version = BFT_SESSION_OPTIONS_VERSION,
                                    .config_path = f->config,
                                    .client_id = f->client_id,
                                    .key_path = f->key,
                                    .state_path = f->state,
                                    .timeout_ms = f->timeout_ms,
                                    .max_outstanding = 4};
    char err[768];
    int rv = bft_session_open(s, &o, err, sizeof err);
    if (rv == BFT_E_OK) return BFT_EXIT_OK;
    fprintf(stderr, "%s: %s\n", prog, err);
    return BFT_EXIT_USAGE; /* config, key, state file or address: setup */
}

static const char *order_status_name(uint8_t st)
{
    switch (st) {
    case BFT_ORDER_OK:
        return "ok";
    case BFT_ORDER_DUP:
        return "duplicate";
    case BFT_ORDER_INVALID:
        return "invalid";
    case BFT_ORDER_FULL:
        return "full";
    case BFT_ORDER_NOT_FOUND:
        return "not_found";
    default:
        return "unknown_status";
    }
}

static const char *kv_status_name(uint8_t st)
{
    switch (st) {
    case BFT_KV_OK:
        return "ok";
    case BFT_KV_NOT_FOUND:
        return "not_found";
    case BFT_KV_INVALID:
        return "invalid";
    case BFT_KV_FULL:
        return "full";
    default:
        return "unknown_status";
    }
}

void ctl_print_result(enum ctl_result_kind kind, const uint8_t *res, size_t len)
{
    if (kind == CTL_RESULT_ORDER) {
        uint8_t st;
        uint64_t seq;
        if (bft_order_result_decode(res, len, &st, &seq) != 0) {
            printf("undecodable order result (%zu bytes)", len);
            return;
        }
        printf("order %s", order_status_name(st));
        if (st == BFT_ORDER_OK || st == BFT_ORDER_DUP) printf(", order_seq %" PRIu64, seq);
        return;
    }
    if (kind == CTL_RESULT_KV) {
        if (len < 1) {
            printf("empty kv result");
            return;
        }
        printf("kv %s", kv_status_name(res[0]));
        if (res[0] == BFT_KV_OK && len > 1) printf(", value %.*s", (int)(len - 1), res + 1);
        return;
    }
    printf("result ");
    for (size_t i = 0; i < len; i++)
        printf("%02x", res[i]);
    if (!len) printf("(empty)");
}
