/* The Raft (Ongaro and Ousterhout, USENIX ATC 2014), docs/raft.md: a pure core behind core/core.h.
 */
#ifndef BFT_CORE_RAFT_H
#define BFT_CORE_RAFT_H

#include "core/core.h"

extern const struct bft_core_ops bft_raft_ops;

#endif
