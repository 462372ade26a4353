/* Private to bftctl submit and read (tools/bftctl_session.c). */
#ifndef BFT_TOOLS_BFTCTL_SESSION_H
#define BFT_TOOLS_BFTCTL_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "bft/client.h"

/* The flags both commands take to reach a cluster as a client. */
struct ctl_session_flags {
    const char *config, *key, *state;
    uint32_t client_id, timeout_ms;
};

/* Open the session; BFT_EXIT_OK, or BFT_EXIT_USAGE with the reason on
 * stderr prefixed by prog. */
int ctl_session_open(const char *prog, const struct ctl_session_flags *f, struct bft_session **s);

enum ctl_result_kind { CTL_RESULT_ORDER, CTL_RESULT_KV, CTL_RESULT_HEX };
/* Print a result on stdout, decoded (no newline). */
void ctl_print_result(enum ctl_result_kind kind, const uint8_t *res, size_t len);

#endif
