/* The gate in front of one PUSH socket (why and contract: net/gate.h). */
#include "net/gate.h"
#include "net/tls.h"

#include <stdlib.h>

struct net_gate *net_gate_new(struct net_tls_ctx *tls)
{
    struct net_gate *g = calloc(1, sizeof *g);
    if (!g) return NULL;
    if (pthread_mutex_init(&g->mu, NULL) != 0) {
        free(g);
        return NULL;
    }
    atomic_init(&g->shut, false);
    atomic_init(&g->refused_pipe, 0);
    atomic_init(&g->ups, 0);
    g->tls = tls;
    g->dialer = (nng_dialer)NNG_DIALER_INITIALIZER;
    return g;
}

void net_gate_free(struct net_gate *g)
{
    if (!g) return;
    pthread_mutex_destroy(&g->mu);
    free(g);
}

bool net_gate_enter(struct net_gate *g)
{
    if (net_gate_is_shut(g)) return false;
    pthread_mutex_lock(&g->mu);
    if (atomic_load_explicit(&g->shut, memory_order_relaxed)) {
        pthread_mutex_unlock(&g->mu);
        return false;
    }
    return true;
}

void net_gate_leave(struct net_gate *g)
{
    pthread_mutex_unlock(&g->mu);
}

/* Before the pipe starts (nothing can have been sent on it yet): a shut
 * gate admits nothing more, and TLS refuses an unverified peer. A refused
 * pipe is never started, so it cannot be left on the ready list. */
static void on_add_pre(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct net_gate *g = arg;
    (void)ev;
    bool ok = !net_gate_is_shut(g) && (!g->tls || net_tls_admit(g->tls, p));
    if (ok) return;
    atomic_store(&g->refused_pipe, (unsigned)nng_pipe_id(p));
    nng_pipe_close(p);
}

static void on_add_post(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    (void)p;
    (void)ev;
    atomic_fetch_add_explicit(&((struct net_gate *)arg)->ups, 1, memory_order_relaxed);
}

/* First thing in nng's teardown of a pipe, before it is freed. Any pipe we
 * admitted may have been put back on the ready list (net/gate.h). */
static void on_rem_post(nng_pipe p, nng_pipe_ev ev, void *arg)
{
    struct net_gate *g = arg;
    (void)ev;
    if ((unsigned)nng_pipe_id(p) == atomic_load(&g->refused_pipe)) return;
    pthread_mutex_lock(&g->mu); /* waits for a send in progress */
    atomic_store_explicit(&g->shut, true, memory_order_release);
    pthread_mutex_unlock(&g->mu);
    if (nng_dialer_id(g->dialer) > 0) {
        (void)nng_dialer_set_ms(g->dialer, NNG_OPT_RECONNMINT, NET_GATE_SHUT_REDIAL_MS);
        (void)nng_dialer_set_ms(g->dialer, NNG_OPT_RECONNMAXT, NET_GATE_SHUT_REDIAL_MS);
    }
}

int net_gate_watch(struct net_gate *g, nng_socket s)
{
    int rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_PRE, on_add_pre, g);
    if (rv == 0) rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, on_add_post, g);
    if (rv == 0) rv = nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, on_rem_post, g);
    return rv;
}
