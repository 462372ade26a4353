/* The background fdatasync of runtime/runtime_syncer.h. */
#include "runtime/runtime_syncer.h"

#include <errno.h>
#include <time.h>
#include <unistd.h>

static void pause_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void *syncer_main(void *arg)
{
    struct rt_syncer *s = arg;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->kicked && !s->stop)
            pthread_cond_wait(&s->cv, &s->mu);
        if (!s->kicked && s->stop) break;
        s->kicked = false;
        bool stopping = s->stop;
        pthread_mutex_unlock(&s->mu);
        if (!atomic_load(&s->failed)) {
            if (fdatasync(s->fd) != 0)
                atomic_store(&s->failed, true);
            else
                atomic_fetch_add(&s->syncs, 1);
        }
        /* Gather what the owner writes meanwhile into the next sync. */
        if (!stopping) pause_ms(RT_SYNCER_EVERY_MS);
        pthread_mutex_lock(&s->mu);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int rt_syncer_start(struct rt_syncer *s, int fd)
{
    s->fd = fd;
    s->kicked = s->stop = false;
    atomic_init(&s->failed, false);
    atomic_init(&s->syncs, 0);
    s->running = false;
    if (pthread_mutex_init(&s->mu, NULL) != 0) return -1;
    if (pthread_cond_init(&s->cv, NULL) != 0) {
        pthread_mutex_destroy(&s->mu);
        return -1;
    }
    if (pthread_create(&s->thr, NULL, syncer_main, s) != 0) {
        pthread_cond_destroy(&s->cv);
        pthread_mutex_destroy(&s->mu);
        return -1;
    }
    s->running = true;
    return 0;
}

void rt_syncer_kick(struct rt_syncer *s)
{
    if (!s->running) return;
    pthread_mutex_lock(&s->mu);
    if (!s->kicked) {
        s->kicked = true;
        pthread_cond_signal(&s->cv);
    }
    pthread_mutex_unlock(&s->mu);
}

bool rt_syncer_failed(const struct rt_syncer *s)
{
    return s->running && atomic_load(&s->failed);
}

void rt_syncer_stop(struct rt_syncer *s)
{
    if (!s->running) return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thr, NULL);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    s->running = false;
}
