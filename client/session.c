/* Client session: the pure client (client/client.c) driven over the nng
 * transport by one thread of its own (contract: include/bft/client.h).
 *
 * The session thread receives reply frames, feeds them to the client(s),
 * ticks retransmissions, times requests out and runs completion callbacks.
 * Calling threads take the mutex to start a request (which the pure client
 * sends at once) and wait on the condition variable for blocking calls.
 * Callbacks run with the mutex released, so a callback may start another
 * request. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/session_internal.h"
#include "config/cluster_net.h"
#include "crypto/crypto.h"

/* Open the transports: rx listens on the client's address (the replicas
 * send replies there), tx dials every replica. Kept in one function so the
 * transport's flavour (tcp, tls+tcp) is chosen in one place. */
static int session_transport_open(struct bft_session *s, const struct bft_cluster *cl,
                                  uint32_t client_id, const char *listen, char *err, size_t errlen)
{
    /* Through config/cluster_net.c: plain TCP, or TLS with this client's
     * certificate (keys/client-ID.crt) when cluster.json has "tls"
     * (docs/tls.md), so the session dials and is dialled like every other
     * member. */
    if (bft_cluster_net_open(cl, true, client_id, listen, &s->rx, err, errlen) != 0)
        return BFT_E_IO;
    if (bft_cluster_net_open(cl, true, client_id, NULL, &s->tx, err, errlen) != 0) return BFT_E_IO;
    for (uint32_t i = 0; i < cl->n; i++)
        if (bft_cluster_net_add_replica(cl, s->tx, i, i, NULL, err, errlen) != 0) return BFT_E_IO;
    return BFT_E_OK;
}

/* The wall clock (not the monotonic one requests are timed with): it seeds
 * request numbers when there is no state file, so they land above those
 * an earlier holder of the client id used (client/session_reqno.c). */
static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Check the options and fill in the defaults. */
static int check_options(const struct bft_session_options *o, struct bft_session_options *v,
                         char *err, size_t errlen)
{
    if (!o) {
        snprintf(err, errlen, "no options");
        return BFT_E_INVALID;
    }
    if (o->version != BFT_SESSION_OPTIONS_VERSION) {
        snprintf(err, errlen, "options version %u: this library knows version %u", o->version,
                 BFT_SESSION_OPTIONS_VERSION);
        return BFT_E_INVALID;
    }
    *v = *o;
    if (!v->config_path || !v->config_path[0]) {
        snprintf(err, errlen, "config_path is required (a cluster.json)");
        return BFT_E_INVALID;
    }
    if (v->max_outstanding > BFT_SESSION_OUTSTANDING_MAX) {
        snprintf(err, errlen, "max_outstanding %u: at most %u", v->max_outstanding,
                 BFT_SESSION_OUTSTANDING_MAX);
        return BFT_E_INVALID;
    }
    if (!v->timeout_ms) v->timeout_ms = BFT_SESSION_TIMEOUT_DEFAULT_MS;
    if (!v->retransmit_ms) v->retransmit_ms = BFT_SESSION_RETRANSMIT_DEFAULT_MS;
    if (!v->max_outstanding) v->max_outstanding = BFT_SESSION_OUTSTANDING_DEFAULT;
    return BFT_E_OK;
}

/* The client's key: it must be the one cluster.json names for the id,
 * or every reply would be for a client the replicas think is someone
 * else (and the requests would be refused as badly signed). */
static int load_key(const struct bft_cluster *cl, const struct bft_session_options *v,
                    struct bft_client_config *cc, char *path, size_t pathcap, char *err,
                    size_t errlen)
{
    if (v->key_path)
        snprintf(path, pathcap, "%s", v->key_path);
    else
        bft_cluster_client_key_path(cl, v->client_id, path, pathcap);
    char kerr[512];
    if (crypto_key_read_pem(path, &cc->key, kerr, sizeof kerr) != 0) {
        snprintf(err, errlen, "client %u key: %s", v->client_id, kerr);
        return BFT_E_INVALID;
    }
    if (memcmp(cc->key.pk, cl->clients[v->client_id].pk, CRYPTO_PK_LEN) != 0) {
        snprintf(err, errlen, "key %s is not client %u's key in %s", path, v->client_id, cl->path);
        return BFT_E_INVALID;
    }
    return BFT_E_OK;
}

/* Everything open needs from cluster.json, the key and the state file. */
static int session_setup(struct bft_session *s, const struct bft_session_options *v,
                         struct bft_cluster *cl, char *err, size_t errlen)
{
    if (bft_cluster_load(cl, v->config_path, err, errlen) != 0) return BFT_E_INVALID;
    if (v->client_id >= cl->n_clients) {
        snprintf(err, errlen, "client %u: %s has clients 0..%u", v->client_id, cl->path,
                 cl->n_clients ? cl->n_clients - 1 : 0);
        return BFT_E_INVALID;
    }
    const char *listen = v->listen ? v->listen : cl->clients[v->client_id].address;
    if (!listen[0]) {
        snprintf(err, errlen, "client %u has no address in %s: replicas could not reply",
                 v->client_id, cl->path);
        return BFT_E_INVALID;
    }
    struct bft_client_config *cc = &s->ccfg;
    *cc = (struct bft_client_config){.protocol = cl->protocol,
                                     .n = cl->n,
                                     .f = cl->f,
                                     .id = v->client_id,
                                     .cluster_id = cl->cluster_id,
                                     .retransmit_ms = v->retransmit_ms,
                                     /* one request per envelope: a retry
                                      * finds its reply by first number */
                                     .envelope = 1,
                                     .max_outstanding = v->max_outstanding};
    for (uint32_t i = 0; i < cl->n; i++)
        memcpy(cc->replica_pk[i], cl->replicas[i].pk, CRYPTO_PK_LEN);
    char key_path[600], state_path[620];
    int rv = load_key(cl, v, cc, key_path, sizeof key_path, err, errlen);
    if (rv != BFT_E_OK) return rv;
    if (v->state_path)
        snprintf(state_path, sizeof state_path, "%s", v->state_path);
    else
        snprintf(state_path, sizeof state_path, "%s.reqno", key_path);
    uint64_t first;
    rv = session_reqno_open(&s->rq, state_path, wall_us(), &first, err, errlen);
    if (rv != BFT_E_OK) return rv;
    cc->first_req_no = first;
    struct bft_client_host h = {.ctx = s,
                                .send = session_host_send,
                                .done = session_host_done,
                                .no_result = session_host_no_result};
    if (bft_client_create(&s->client, cc, &h) != BFT_E_OK) {
        snprintf(err, errlen, "cannot create the client (out of memory?)");
        return BFT_E_NOMEM;
    }
    return session_transport_open(s, cl, v->client_id, listen, err, errlen);
}

/* Run the callbacks of finished async ops, with the mutex released, then
 * free their slots. Called with the mutex held; returns with it held. */
static void deliver(struct bft_session *s)
{
    while (s->n_ready) {
        /* Oldest first: callbacks run in the order requests finished. */
        uint32_t batch[64], k = s->n_ready < 64 ? s->n_ready : 64;
        memcpy(batch, s->ready, k * sizeof *batch);
        memmove(s->ready, s->ready + k, (s->n_ready - k) * sizeof *s->ready);
        s->n_ready -= k;
        pthread_mutex_unlock(&s->mu);
        for (uint32_t i = 0; i < k; i++) {
            struct session_op *op = &s->ops[batch[i]];
            op->cb(op->ctx, &op->out); /* op stays ours until freed below */
        }
        pthread_mutex_lock(&s->mu);
        for (uint32_t i = 0; i < k; i++)
            session_op_free(s, &s->ops[batch[i]]);
    }
}

static void on_frame(struct bft_session *s, const uint8_t *frame, size_t len, uint64_t now_ms)
{
    struct net_frame_iter it;
    if (net_frame_check(frame, len, &it) != NET_FRAME_OK) return; /* junk: dropped */
    const uint8_t *m;
    size_t ml;
    while (net_frame_next(&it, &m, &ml)) {
        bft_client_on_reply(s->client, m, ml, now_ms);
        for (uint32_t i = 0; i < s->cap; i++)
            if (s->ops[i].kind == OP_RETRY && !s->ops[i].finished)
                bft_client_on_reply(s->ops[i].retry, m, ml, now_ms);
    }
}

static void *session_main(void *arg)
{
    struct bft_session *s = arg;
    pthread_mutex_lock(&s->mu);
    while (!s->stop) {
        pthread_mutex_unlock(&s->mu);
        uint8_t *frame = NULL;
        size_t len = 0;
        int got = net_recv(s->rx, SESSION_RECV_WAIT_MS, &frame, &len);
        pthread_mutex_lock(&s->mu);
        uint64_t now_us = session_now_us();
        if (got == 1) on_frame(s, frame, len, now_us / 1000);
        net_frame_free(frame);
        bft_client_peers_up(s->client, net_peers_up(s->tx), now_us / 1000);
        bft_client_tick(s->client, now_us / 1000);
        for (uint32_t i = 0; i < s->cap; i++)
            if (s->ops[i].kind == OP_RETRY && !s->ops[i].finished)
                bft_client_tick(s->ops[i].retry, now_us / 1000);
        session_note_fallbacks(s);
        session_expire(s, now_us);
        /* A read's fallback may have taken numbers: keep them reserved
         * (if this fails, new requests are refused until it works). */
        (void)session_reqno_reserve(&s->rq, bft_client_next_req_no(s->client));
        net_flush(s->tx);
        deliver(s);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int bft_session_open(struct bft_session **out, const struct bft_session_options *o, char *err,
                     size_t errlen)
{
    char dummy[1];
    if (!err || !errlen) err = dummy, errlen = sizeof dummy;
    err[0] = '\0';
    if (!out) return BFT_E_INVALID;
    *out = NULL;
    struct bft_session_options v;
    int rv = check_options(o, &v, err, errlen);
    if (rv != BFT_E_OK) return rv;
    if (crypto_init() != 0) {
        snprintf(err, errlen, "crypto library failed to initialise");
        return BFT_E_IO;
    }
    struct bft_session *s = calloc(1, sizeof *s);
    if (!s) return BFT_E_NOMEM;
    s->rq.fd = -1;
    s->cap = v.max_outstanding;
    s->timeout_ms = v.timeout_ms;
    s->ops = calloc(s->cap, sizeof *s->ops);
    s->ready = calloc(s->cap, sizeof *s->ready);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&s->mu, NULL);
    struct bft_cluster cl;
    memset(&cl, 0, sizeof cl);
    if (!s->ops || !s->ready) {
        rv = BFT_E_NOMEM;
        snprintf(err, errlen, "out of memory");
    } else {
        rv = session_setup(s, &v, &cl, err, errlen);
    }
    bft_cluster_free(&cl);
    if (rv == BFT_E_OK && pthread_create(&s->thread, NULL, session_main, s) != 0) {
        snprintf(err, errlen, "cannot start the session thread");
        rv = BFT_E_NOMEM;
    }
    if (rv != BFT_E_OK) {
        bft_session_close(s);
        return rv;
    }
    s->started = true;
    *out = s;
    return BFT_E_OK;
}

void bft_session_close(struct bft_session *s)
{
    if (!s) return;
    if (s->started) {
        pthread_mutex_lock(&s->mu);
        s->stop = true;
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->thread, NULL);
    }
    /* No thread any more: what is still in flight completes UNKNOWN, its
     * callback on this thread. */
    pthread_mutex_lock(&s->mu);
    for (uint32_t i = 0; s->ops && i < s->cap; i++)
        if (s->ops[i].kind != OP_FREE && !s->ops[i].finished)
            session_finish(s, &s->ops[i], BFT_OUTCOME_UNKNOWN, NULL, 0);
    deliver(s);
    pthread_mutex_unlock(&s->mu);
    if (s->client)
        session_reqno_close(&s->rq, bft_client_next_req_no(s->client));
    else if (s->rq.fd >= 0)
        session_reqno_close(&s->rq, s->rq.reserved_hi);
    bft_client_destroy(s->client);
    if (s->rx) net_close(s->rx);
    if (s->tx) net_close(s->tx);
    explicit_bzero(&s->ccfg.key, sizeof s->ccfg.key);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->ops);
    free(s->ready);
    free(s);
}

void bft_session_stats(struct bft_session *s, struct bft_session_stats *out)
{
    memset(out, 0, sizeof *out);
    if (!s) return;
    pthread_mutex_lock(&s->mu);
    struct bft_client_stats cs;
    bft_client_stats(s->client, &cs);
    out->submitted = cs.submitted;
    out->completed = cs.completed;
    out->unknown = s->unknown;
    out->retransmits = cs.retransmits;
    out->bad_replies = cs.bad_replies;
    out->read_fallbacks = cs.read_fallbacks;
    out->read_refusals = cs.read_refusals;
    out->next_req_no = bft_client_next_req_no(s->client);
    pthread_mutex_unlock(&s->mu);
}
