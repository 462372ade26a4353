/* Application registry: the names accepted in cluster.json's "app". */
#include <string.h>

#include "app/app.h"

const struct bft_app_ops *bft_app_for(const char *name)
{
    static const struct bft_app_ops *const apps[] = {&bft_app_orders, &bft_app_kv};
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++)
        if (strcmp(apps[i]->name, name) == 0) return apps[i];
    return NULL;
}

void bft_sha256(const void *data, size_t len, bft_digest *out)
{
    crypto_sha256(data, len, out->b);
}
