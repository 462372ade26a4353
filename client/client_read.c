/* Read consistency levels: names and the "level[:ms]" syntax shared by the
 * client library's callers (bftctl, loadgen, bftsim). What each level
 * promises, per protocol, is in docs/reads.md. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client.h"

static const char *const level_names[BFT_READ_LEVELS] = {
    [BFT_READ_LINEARIZABLE] = "linearizable",
    [BFT_READ_QUORUM] = "quorum",
    [BFT_READ_LOCAL] = "local",
};

const char *bft_read_level_name(int level)
{
    return level >= 0 && level < BFT_READ_LEVELS ? level_names[level] : NULL;
}

int bft_read_level_parse(const char *s, int *level, uint32_t *staleness_ms)
{
    if (!s) return -1;
    const char *colon = strchr(s, ':');
    size_t name_len = colon ? (size_t)(colon - s) : strlen(s);
    for (int l = 0; l < BFT_READ_LEVELS; l++) {
        if (strlen(level_names[l]) != name_len || strncmp(s, level_names[l], name_len) != 0)
            continue;
        uint32_t ms = l == BFT_READ_LOCAL ? BFT_READ_STALENESS_DEFAULT_MS : 0;
        if (colon) {
            /* Only a local read has a bound: "quorum:5" is a mistake. */
            if (l != BFT_READ_LOCAL || colon[1] < '0' || colon[1] > '9') return -1;
            char *end;
            errno = 0;
            unsigned long long v = strtoull(colon + 1, &end, 10);
            if (errno || *end || v == 0 || v > UINT32_MAX) return -1;
            ms = (uint32_t)v;
        }
        *level = l;
        *staleness_ms = ms;
        return 0;
    }
    return -1;
}
