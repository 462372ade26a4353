/* Protocol cores by name. Each core is a `struct bft_core_ops`; the node,
 * bftd and the simulator only ever see this table. CMake defines
 * BFT_HAVE_<CORE> for each core whose source is present, so a tree without
 * one still builds (the command line then says "not built"). */
#include <stddef.h>

#include "core/hotstuff/hotstuff.h"
#include "core/pbft/pbft.h"
#include "core/raft/raft.h"
#include "node/node.h"

const struct bft_core_ops *bft_core_ops_for(int protocol)
{
    switch (protocol) {
#ifdef BFT_HAVE_PBFT
    case BFT_PROTO_PBFT:
        return &bft_pbft_ops;
#endif
#ifdef BFT_HAVE_HOTSTUFF
    case BFT_PROTO_HOTSTUFF:
        return &bft_hotstuff_ops;
#endif
#ifdef BFT_HAVE_RAFT
    case BFT_PROTO_RAFT:
        return &bft_raft_ops;
#endif
    default:
        return NULL;
    }
}
