/* Shared by the cluster.json loader (cluster.c) and writer
 * (cluster_save.c): error reporting with the file name, protocol names,
 * the directory of a path. */
#ifndef BFT_CONFIG_CLUSTER_INTERNAL_H
#define BFT_CONFIG_CLUSTER_INTERNAL_H

#include <stddef.h>

struct cluster_ctx {
    const char *path;
    char *err;
    size_t errlen;
};

/* "<path>: <what>" into x->err; always returns -1. */
__attribute__((format(printf, 2, 3))) int cluster_fail(const struct cluster_ctx *x, const char *fmt,
                                                       ...);
/* "pbft", "hotstuff", "raft", or NULL. */
const char *cluster_proto_name(int p);
/* The directory holding path ("." for a bare name). */
void cluster_dir_of(const char *path, char *out, size_t cap);

#endif
