/* A deliberately impure "core" for the purity check's own test: it reads
 * the clock, which a core must never do (docs/style.md #1). test
 * purity_catches_clock expects tests/purity/check_purity.sh to reject it. */
#include <stdint.h>
#include <time.h>

uint64_t impure_core_now_ms(void);

uint64_t impure_core_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
