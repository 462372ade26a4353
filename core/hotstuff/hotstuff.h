/* The chained HotStuff (Yin et al., PODC 2019), docs/hotstuff.md: a pure core behind core/core.h.
 */
#ifndef BFT_CORE_HOTSTUFF_H
#define BFT_CORE_HOTSTUFF_H

#include "core/core.h"

extern const struct bft_core_ops bft_hotstuff_ops;

#endif
