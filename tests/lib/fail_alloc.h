/* Out-of-memory paths on demand: a test linked with
 *     -Wl,--wrap=malloc -Wl,--wrap=calloc -Wl,--wrap=realloc
 * (CMakeLists.txt) sends every allocation made by its own objects and the
 * static libraries it links through these wrappers, which fail the
 * allocation fail_alloc_after says and pass every other one to libc. The
 * code under test carries no hook for it (canonical/raft's fault-injecting
 * heap does the same through its own allocator). Include in one .c only. */
#ifndef TESTS_UNIT_FAIL_ALLOC_H
#define TESTS_UNIT_FAIL_ALLOC_H

#include <stddef.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);

/* -1: never fail. n >= 0: let n more allocations succeed, fail the next
 * one, then never fail again. */
static long fail_alloc_countdown = -1;

static void fail_alloc_after(long n)
{
    fail_alloc_countdown = n;
}

static int fail_alloc_now(void)
{
    if (fail_alloc_countdown < 0) return 0;
    return fail_alloc_countdown-- == 0;
}

void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

void *__wrap_malloc(size_t n)
{
    return fail_alloc_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
    return fail_alloc_now() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
    return fail_alloc_now() ? NULL : __real_realloc(p, n);
}

#endif
