/* bft/bft.h: the whole public API of the bft library in one include
 * (docs/embedding.md). Each header also compiles alone. */
#ifndef BFT_PUBLIC_BFT_H
#define BFT_PUBLIC_BFT_H

#include "bft/app.h"
#include "bft/client.h"
#include "bft/common.h"
#include "bft/replica.h"

#endif
