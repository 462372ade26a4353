/* A close that cannot hang its caller (contract in net/net.h,
 * net_run_bounded).
 *
 * Why: nng 1.5.2 (Debian's) can wait forever in nng_close for a pipe that
 * is never reaped while frames are still arriving (nanomsg/nng#1219,
 * #1543; fixed after 1.5.2). We saw it on a client session's PULL socket
 * closing while replicas still sent replies: the bank example's client
 * hung at exit in 2 of 32 runs on a loaded machine (docs/design.md,
 * "Transport"). An embedder's bft_session_close or bft_replica_destroy
 * must return, so the close runs on a thread of its own and the caller
 * waits a bounded time; past that the thread keeps the work (and frees it
 * if nng ever returns) and the caller goes on. */
#include "net/net.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

struct bounded {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    void (*fn)(void *);
    void *arg;
    bool done; /* fn returned */
    bool gone; /* the caller stopped waiting: the thread frees this */
};

static atomic_uint_fast64_t g_overran;

static void bounded_free(struct bounded *b)
{
    pthread_cond_destroy(&b->cv);
    pthread_mutex_destroy(&b->mu);
    free(b);
}

static void *bounded_main(void *arg)
{
    struct bounded *b = arg;
    b->fn(b->arg);
    pthread_mutex_lock(&b->mu);
    b->done = true;
    bool gone = b->gone;
    pthread_cond_signal(&b->cv);
    pthread_mutex_unlock(&b->mu);
    if (gone) bounded_free(b);
    return NULL;
}

bool net_run_bounded(void (*fn)(void *), void *arg, unsigned wait_ms)
{
    struct bounded *b = calloc(1, sizeof *b);
    pthread_condattr_t ca;
    bool cv_ok = false;
    if (b && pthread_condattr_init(&ca) == 0) {
        cv_ok = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) == 0 &&
                pthread_cond_init(&b->cv, &ca) == 0;
        pthread_condattr_destroy(&ca);
    }
    if (!cv_ok || pthread_mutex_init(&b->mu, NULL) != 0) {
        if (cv_ok) pthread_cond_destroy(&b->cv);
        free(b);
        fn(arg); /* no thread to spare: close here, unbounded as before */
        return true;
    }
    b->fn = fn;
    b->arg = arg;
    pthread_attr_t at;
    pthread_t th;
    bool started = false;
    if (pthread_attr_init(&at) == 0) {
        started = pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) == 0 &&
                  pthread_create(&th, &at, bounded_main, b) == 0;
        pthread_attr_destroy(&at);
    }
    if (!started) {
        bounded_free(b);
        fn(arg);
        return true;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += wait_ms / 1000;
    until.tv_nsec += (long)(wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&b->mu);
    while (!b->done && pthread_cond_timedwait(&b->cv, &b->mu, &until) == 0) {
    }
    bool done = b->done;
    if (!done) b->gone = true;
    pthread_mutex_unlock(&b->mu);
    if (done) {
        bounded_free(b);
        return true;
    }
    atomic_fetch_add(&g_overran, 1);
    return false;
}

uint64_t net_closes_overran(void)
{
    return (uint64_t)atomic_load(&g_overran);
}

static void *detached_main(void *arg)
{
    struct bounded *b = arg;
    b->fn(b->arg);
    free(b);
    return NULL;
}

void net_run_detached(void (*fn)(void *), void *arg)
{
    struct bounded *b = calloc(1, sizeof *b);
    pthread_attr_t at;
    bool started = false;
    if (b && pthread_attr_init(&at) == 0) {
        b->fn = fn;
        b->arg = arg;
        pthread_t th;
        started = pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED) == 0 &&
                  pthread_create(&th, &at, detached_main, b) == 0;
        pthread_attr_destroy(&at);
    }
    if (started) return;
    free(b);
    fn(arg); /* no thread to spare: here, unbounded */
}

uint64_t net_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}
