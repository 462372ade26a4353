/* tests/core/dd_commands.h: the commands of the core data-driven tests
 * (tests/core/README.md), run against the core fixture. */
#ifndef BFT_TESTS_DD_COMMANDS_H
#define BFT_TESTS_DD_COMMANDS_H

#include "tests/lib/core_fixture.h"
#include "tests/lib/datadriven.h"

/* One test file's state: the cluster its `init` made (NULL before). */
struct dd_ctx {
    struct cf *cf;
};

/* The dd_handler: run one command. */
bool dd_commands_run(void *ctx, const struct dd_cmd *cmd, struct dd_buf *out);
/* Destroy the cluster (end of a file, or a second `init`). */
void dd_ctx_reset(struct dd_ctx *ctx);

#endif
