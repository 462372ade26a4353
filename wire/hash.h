/* wire/hash.h: the one home of the 64-bit mixing every layer uses for hash
 * tables and deterministic random streams. splitmix64 (Steele, Lea and
 * Flood, "Fast splittable pseudorandom number generators", OOPSLA 2014):
 * tiny, the same on every machine, so a simulator seed replays a run
 * bit for bit. Not a cryptographic hash: tables keyed by peer input stay
 * bounded and a crafted collision only slows its own client down. */
#ifndef BFT_WIRE_HASH_H
#define BFT_WIRE_HASH_H

#include <stdint.h>

/* 2^64 / golden ratio: the splitmix64 increment and Fibonacci hashing's
 * multiplier. Written here once. */
#define BFT_GOLDEN64 0x9e3779b97f4a7c15ull

/* The splitmix64 finaliser: every input bit affects every output bit. */
static inline uint64_t bft_mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* The next value of the splitmix64 stream whose state is *s. */
static inline uint64_t bft_splitmix64(uint64_t *s)
{
    *s += BFT_GOLDEN64;
    return bft_mix64(*s);
}

/* A 64-bit hash of a request's identity (client, request number), for the
 * tables that remember requests by it. */
static inline uint64_t bft_hash_request(uint32_t client, uint64_t req_no)
{
    uint64_t k = (req_no * BFT_GOLDEN64) ^ ((uint64_t)client * 0xc2b2ae3d27d4eb4full);
    return k ^ (k >> 31);
}

/* Fibonacci hashing of (client, req_no) into 2^bits buckets (bits <= 24):
 * the multiply spreads consecutive request numbers across buckets. */
static inline uint32_t bft_hash_bucket(uint32_t client, uint64_t req_no, unsigned bits)
{
    uint64_t x = (((uint64_t)client << 40) ^ req_no) * BFT_GOLDEN64;
    return (uint32_t)(x >> 40) & ((1u << bits) - 1u);
}

#endif
