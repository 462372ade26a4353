/* Private to faults/: the seeded PRNG, error helper, shared formatting. */
#ifndef BFT_FAULTS_INTERNAL_H
#define BFT_FAULTS_INTERNAL_H

#include <stdarg.h>
#include <stdio.h>

#include "faults/faults.h"
#include "wire/hash.h"

/* splitmix64: tiny, good enough for fault schedules, and exactly the same
 * on every machine, so a seed replays a run. */
static inline uint64_t fault_rng_next(uint64_t *s)
{
    return bft_splitmix64(s);
}
/* Uniform in [0, bound); bound 0 gives 0. Modulo bias is irrelevant here. */
static inline uint64_t fault_rng_below(uint64_t *s, uint64_t bound)
{
    return bound ? fault_rng_next(s) % bound : 0;
}
/* True with probability ppm / 1e6. */
static inline bool fault_rng_ppm(uint64_t *s, uint32_t ppm)
{
    return ppm && fault_rng_below(s, 1000000) < ppm;
}
/* Mix two values into one seed (per-replica, per-purpose streams). */
static inline uint64_t fault_seed_mix(uint64_t a, uint64_t b)
{
    uint64_t s = a ^ (b * 0xd1b54a32d192ed03ull);
    return fault_rng_next(&s);
}

static inline int fault_err(char *err, size_t errlen, int rv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static inline int fault_err(char *err, size_t errlen, int rv, const char *fmt, ...)
{
    if (err && errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rv;
}

/* plan.c: "@T0[-T1]" suffix formatting and a replica-mask list "0,1,2". */
size_t fault_window_format(const struct fault_window *w, char *out, size_t cap);
size_t fault_mask_format(uint32_t mask, char *out, size_t cap);

/* plan_json.c: JSON pieces shared with scenario.c (strict: unknown keys
 * are errors). */
struct cJSON;
int fault_json_net(const struct cJSON *o, struct fault_net_rates *r, char *err, size_t errlen);
int fault_json_params(const struct cJSON *o, struct fault_params *p, char *err, size_t errlen);
int fault_json_specs(const struct cJSON *arr, struct fault_plan *p, bool partitions, char *err,
                     size_t errlen);
int fault_json_seed(const struct cJSON *v, uint64_t *seed);
/* Whole file, NUL-terminated, at most 1 MiB; malloc'd (NULL + err). */
char *fault_json_read_file(const char *path, char *err, size_t errlen);

#endif
