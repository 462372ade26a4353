/* Twins scenario generator (Bano, Sonnino, Chursin, Perelman, Li, Ching,
 * Malkhi, "Twins: BFT Systems Made Robust", OPODIS'21 §4). A Byzantine
 * node is modelled as two honest instances with one identity and key; the
 * generator enumerates (1) every partition of the n+1 identities into at
 * most max_groups groups, (2) for each round a (partition, leader) pair,
 * (3) all sequences of R rounds. Partitions are restricted-growth strings
 * in lexicographic order and scenarios are mixed-radix numbers over
 * (partition, leader) with round 0 as the least significant digit, so
 * scenario i is the same scenario on every machine. */
#include <string.h>

#include "faults/faults_internal.h"

/* All restricted-growth strings of length m with values < k. */
static void enum_rgs(struct twins_gen *g, uint32_t m, uint32_t k)
{
    uint8_t a[TWINS_MAX_IDS] = {0}, mx[TWINS_MAX_IDS] = {0};
    g->n_partitions = 0;
    while (true) {
        if (g->n_partitions < TWINS_MAX_PARTITIONS) memcpy(g->rgs[g->n_partitions++], a, sizeof a);
        /* Next string: bump the rightmost position that can grow. */
        int i = (int)m - 1;
        while (i > 0 && (a[i] > mx[i - 1] || a[i] + 1u >= k))
            i--;
        if (i <= 0) return;
        a[i]++;
        mx[i] = a[i] > mx[i - 1] ? a[i] : mx[i - 1];
        for (uint32_t j = (uint32_t)i + 1; j < m; j++) {
            a[j] = 0;
            mx[j] = mx[j - 1];
        }
    }
}

int twins_gen_init(struct twins_gen *g, const struct twins_config *c, char *err, size_t errlen)
{
    memset(g, 0, sizeof *g);
    if (c->n < 2 || c->n + 1 > TWINS_MAX_IDS || c->twin >= c->n)
        return fault_err(err, errlen, BFT_E_INVALID, "twins: need 2 <= n <= %d and twin < n",
                         TWINS_MAX_IDS - 1);
    if (c->rounds < 1 || c->rounds > TWINS_MAX_ROUNDS)
        return fault_err(err, errlen, BFT_E_INVALID, "twins: rounds must be 1..%d",
                         TWINS_MAX_ROUNDS);
    if (c->max_groups < 1 || c->max_groups > c->n + 1)
        return fault_err(err, errlen, BFT_E_INVALID, "twins: max_groups must be 1..%u", c->n + 1);
    g->cfg = *c;
    enum_rgs(g, c->n + 1, c->max_groups);
    uint64_t per_round = (uint64_t)g->n_partitions * (c->fixed_leaders ? 1 : c->n);
    g->count = 1;
    for (uint32_t r = 0; r < c->rounds; r++) {
        if (g->count > UINT64_MAX / per_round)
            return fault_err(err, errlen, BFT_E_INVALID,
                             "twins: %u rounds of %llu choices overflow a 64-bit index", c->rounds,
                             (unsigned long long)per_round);
        g->count *= per_round;
    }
    return BFT_E_OK;
}

uint64_t twins_count(const struct twins_gen *g)
{
    return g->count;
}

int twins_scenario_at(const struct twins_gen *g, uint64_t index, struct twins_scenario *out)
{
    if (index >= g->count) return BFT_E_INVALID;
    memset(out, 0, sizeof *out);
    const struct twins_config *c = &g->cfg;
    out->index = index;
    out->n = c->n;
    out->twin = c->twin;
    out->rounds = c->rounds;
    out->round_ms = c->round_ms;
    uint64_t leaders = c->fixed_leaders ? 1 : c->n, radix = g->n_partitions * leaders;
    for (uint32_t r = 0; r < c->rounds; r++) {
        uint64_t digit = index % radix;
        index /= radix;
        struct twins_round *rd = &out->round[r];
        const uint8_t *rgs = g->rgs[digit / leaders];
        rd->leader = c->fixed_leaders ? r % c->n : (uint32_t)(digit % leaders);
        for (uint32_t i = 0; i < c->n + 1; i++) {
            rd->group[rgs[i]] |= 1u << i;
            if (rgs[i] + 1u > rd->n_groups) rd->n_groups = rgs[i] + 1u;
        }
    }
    return BFT_E_OK;
}

void twins_scenario_sample(const struct twins_gen *g, uint64_t seed, struct twins_scenario *out)
{
    twins_scenario_at(g, fault_seed_mix(seed, 0x7717) % g->count, out);
}

bool twins_scenario_valid(const struct twins_scenario *s)
{
    if (s->n < 2 || s->n + 1 > TWINS_MAX_IDS || s->twin >= s->n || s->rounds < 1 ||
        s->rounds > TWINS_MAX_ROUNDS)
        return false;
    uint32_t all = (1u << (s->n + 1)) - 1;
    for (uint32_t r = 0; r < s->rounds; r++) {
        const struct twins_round *rd = &s->round[r];
        if (rd->leader >= s->n || rd->n_groups < 1 || rd->n_groups > s->n + 1) return false;
        uint32_t seen = 0;
        for (uint32_t g = 0; g < rd->n_groups; g++) {
            if (rd->group[g] == 0 || (seen & rd->group[g]) || (rd->group[g] & ~all)) return false;
            seen |= rd->group[g];
        }
        if (seen != all) return false;
    }
    return true;
}

uint32_t twins_identity_replica(const struct twins_scenario *s, uint32_t ident)
{
    return ident == s->n ? s->twin : ident;
}

uint32_t twins_round_at(const struct twins_scenario *s, uint64_t now_ms)
{
    uint64_t r = s->round_ms ? now_ms / s->round_ms : 0;
    return r >= s->rounds ? s->rounds - 1 : (uint32_t)r;
}

bool twins_can_talk(const struct twins_scenario *s, uint32_t round, uint32_t a, uint32_t b)
{
    if (a == b) return true;
    if (round >= s->rounds || a > s->n || b > s->n) return false;
    const struct twins_round *rd = &s->round[round];
    for (uint32_t g = 0; g < rd->n_groups; g++)
        if (rd->group[g] & (1u << a)) return (rd->group[g] & (1u << b)) != 0;
    return false;
}

size_t twins_scenario_format(const struct twins_scenario *s, char *out, size_t cap)
{
    size_t len = 0;
    if (cap == 0) return 0;
    out[0] = '\0';
    int k = snprintf(out, cap, "twins #%llu n=%u twin=%u(=id %u):", (unsigned long long)s->index,
                     s->n, s->twin, s->n);
    if (k < 0 || (size_t)k >= cap) return 0;
    len = (size_t)k;
    for (uint32_t r = 0; r < s->rounds; r++) {
        k = snprintf(out + len, cap - len, " r%u L%u ", r, s->round[r].leader);
        if (k < 0 || (size_t)k >= cap - len) return 0;
        len += (size_t)k;
        for (uint32_t g = 0; g < s->round[r].n_groups; g++) {
            char ids[64];
            fault_mask_format(s->round[r].group[g], ids, sizeof ids);
            k = snprintf(out + len, cap - len, "{%s}", ids);
            if (k < 0 || (size_t)k >= cap - len) return 0;
            len += (size_t)k;
        }
    }
    return len;
}
