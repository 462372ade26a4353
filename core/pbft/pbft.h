/* The PBFT (Castro and Liskov, OSDI 1999 and TOCS 2002), docs/pbft.md: a pure core behind
 * core/core.h. */
#ifndef BFT_CORE_PBFT_H
#define BFT_CORE_PBFT_H

#include "core/core.h"

extern const struct bft_core_ops bft_pbft_ops;

#endif
