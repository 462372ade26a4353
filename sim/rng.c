/* sim: the seeded PRNG. xoshiro256** (Blackman & Vigna) seeded through
 * splitmix64, so one 64-bit seed fans out into independent streams (network,
 * clients, fault schedule) and a run never touches rand() or the clock. */
#include "sim/sim_internal.h"
#include "wire/hash.h"

void sim_rng_seed(struct sim_rng *r, uint64_t seed, uint64_t stream)
{
    uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ull);
    for (int i = 0; i < 4; i++)
        r->s[i] = bft_splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t out = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return out;
}

/* Lemire's multiply-shift with rejection: unbiased and deterministic. */
uint64_t sim_rng_below(struct sim_rng *r, uint64_t bound)
{
    if (bound <= 1) return 0;
    uint64_t threshold = (0 - bound) % bound;
    for (;;) {
        uint64_t x = sim_rng_next(r);
        unsigned __int128 m = (unsigned __int128)x * bound;
        if ((uint64_t)m >= threshold) return (uint64_t)(m >> 64);
    }
}

uint64_t sim_rng_range(struct sim_rng *r, uint64_t lo, uint64_t hi)
{
    if (hi <= lo) return lo;
    return lo + sim_rng_below(r, hi - lo + 1);
}

bool sim_rng_ppm(struct sim_rng *r, uint32_t ppm)
{
    if (ppm == 0) return false;
    return sim_rng_below(r, 1000000) < ppm;
}
