/* sim: how much heap this process holds, to show that hostile input (a
 * message far outside the window, a flood) does not grow a replica's
 * memory. Under AddressSanitizer glibc's counters are bypassed, so ask the
 * sanitizer's allocator instead. */
#include <malloc.h>

#include "sim/sim_internal.h"

#if defined(__SANITIZE_ADDRESS__)
size_t __sanitizer_get_current_allocated_bytes(void);
size_t sim_heap_bytes(void)
{
    return __sanitizer_get_current_allocated_bytes();
}
#else
size_t sim_heap_bytes(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}
#endif
