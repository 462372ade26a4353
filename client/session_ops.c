/* Client session requests: submit, retry and read, blocking or with a
 * callback, and how each completes (done, or unknown at its deadline).
 * Contract: include/bft/client.h; the thread that drives them: session.c. */
#include <string.h>
#include <time.h>

#include "client/session_internal.h"

uint64_t session_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

void session_host_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct bft_session *s = ctx;
    net_send(s->tx, replica, msg, len); /* a full queue drops: retransmission covers it */
}

void session_retry_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct session_op *op = ctx;
    net_send(op->s->tx, replica, msg, len);
}

/* Called with the mutex held. A blocking caller is woken; an async op
 * joins the callback queue (bounded: one entry per op slot). */
void session_finish(struct bft_session *s, struct session_op *op, int status, const uint8_t *res,
                    size_t len)
{
    if (op->finished) return;
    op->finished = true;
    op->out.status = status;
    op->out.latency_us = session_now_us() - op->start_us;
    if (status == BFT_OUTCOME_DONE && len <= BFT_RESULT_MAX) {
        if (len) memcpy(op->out.result, res, len);
        op->out.result_len = len;
    } else {
        op->out.result_len = 0;
    }
    if (status == BFT_OUTCOME_UNKNOWN) s->unknown++;
    if (op->kind == OP_READ) s->reads--;
    if (op->waiter)
        pthread_cond_broadcast(&s->cv);
    else
        s->ready[s->n_ready++] = (uint32_t)(op - s->ops);
}

void session_op_free(struct bft_session *s, struct session_op *op)
{
    /* A retry's client is destroyed here, never from its own callback. */
    if (op->kind == OP_RETRY) bft_client_destroy(op->retry);
    memset(op, 0, sizeof *op);
    s->in_flight--;
}

static struct session_op *find(struct bft_session *s, int kind, uint64_t id)
{
    for (uint32_t i = 0; i < s->cap; i++) {
        struct session_op *op = &s->ops[i];
        if (op->kind == kind && op->id == id && !op->finished) return op;
    }
    return NULL;
}

/* The main client's completions: ordered requests and reads (read ids
 * are in their own number space, client/client_internal.h). */
void session_host_done(void *ctx, uint64_t id, const uint8_t *res, size_t len)
{
    struct bft_session *s = ctx;
    struct session_op *op = find(s, OP_SUBMIT, id);
    if (!op) op = find(s, OP_READ, id);
    if (op) session_finish(s, op, BFT_OUTCOME_DONE, res, len);
}

void session_retry_done(void *ctx, uint64_t id, const uint8_t *res, size_t len)
{
    struct session_op *op = ctx;
    if (op->kind == OP_RETRY && op->id == id) session_finish(op->s, op, BFT_OUTCOME_DONE, res, len);
}

void session_host_no_result(void *ctx, uint64_t id)
{
    struct bft_session *s = ctx;
    struct session_op *op = find(s, OP_SUBMIT, id);
    if (!op) op = find(s, OP_READ, id);
    if (op) session_finish(s, op, BFT_OUTCOME_NO_RESULT, NULL, 0);
}

void session_retry_no_result(void *ctx, uint64_t id)
{
    struct session_op *op = ctx;
    if (op->kind == OP_RETRY && op->id == id)
        session_finish(op->s, op, BFT_OUTCOME_NO_RESULT, NULL, 0);
}

void session_note_fallbacks(struct bft_session *s)
{
    for (uint32_t i = 0; s->reads && i < s->cap; i++) {
        struct session_op *op = &s->ops[i];
        if (op->kind != OP_READ || op->finished || op->out.req_no) continue;
        op->out.req_no = bft_client_read_fallback(s->client, op->id);
        if (op->out.req_no) op->out.flags |= BFT_OUTCOME_ORDERED;
    }
}

void session_expire(struct bft_session *s, uint64_t now_us)
{
    for (uint32_t i = 0; i < s->cap; i++) {
        struct session_op *op = &s->ops[i];
        if (op->kind == OP_FREE || op->finished || op->deadline_us > now_us) continue;
        /* Stop retransmitting; a late reply is ignored. */
        if (op->kind == OP_SUBMIT) bft_client_abandon(s->client, op->id);
        if (op->kind == OP_READ) bft_client_read_abandon(s->client, op->id);
        if (op->kind == OP_RETRY) bft_client_abandon(op->retry, op->id);
        session_finish(s, op, BFT_OUTCOME_UNKNOWN, NULL, 0);
    }
}

/* A free op slot for a new request, or NULL (bounded: max_outstanding). */
static struct session_op *take(struct bft_session *s, int kind, uint32_t timeout_ms,
                               bft_session_cb cb, void *ctx)
{
    if (s->in_flight >= s->cap) return NULL;
    for (uint32_t i = 0; i < s->cap; i++) {
        struct session_op *op = &s->ops[i];
        if (op->kind != OP_FREE) continue;
        memset(op, 0, sizeof *op);
        op->kind = (uint8_t)kind;
        op->s = s;
        op->waiter = cb == NULL;
        op->cb = cb;
        op->ctx = ctx;
        op->start_us = session_now_us();
        op->deadline_us = op->start_us + (uint64_t)(timeout_ms ? timeout_ms : s->timeout_ms) * 1000;
        s->in_flight++;
        return op;
    }
    return NULL;
}

static bool on_session_thread(struct bft_session *s)
{
    return pthread_equal(pthread_self(), s->thread);
}

/* Wait (mutex held) until op finishes, copy its outcome, free the slot.
 * The session thread finishes every op by its deadline. */
static void wait_op(struct bft_session *s, struct session_op *op, struct bft_outcome *out)
{
    while (!op->finished)
        pthread_cond_wait(&s->cv, &s->mu);
    *out = op->out;
    session_op_free(s, op);
}

static bool op_ok(const uint8_t *op, size_t len)
{
    return op && len > 0 && len <= BFT_OP_MAX;
}

/* Start an ordered request (mutex held): BFT_E_OK with op->id set. */
static int start_submit(struct bft_session *s, const uint8_t *opb, size_t len, uint32_t timeout_ms,
                        bft_session_cb cb, void *ctx, struct session_op **started)
{
    uint64_t next = bft_client_next_req_no(s->client);
    /* Durable before sent: the number must be in the reservation, with
     * room for every read that may still fall back (client/session_reqno.c). */
    if (session_reqno_reserve(&s->rq, next) != BFT_E_OK) return BFT_E_IO;
    if (!bft_client_room(s->client)) return BFT_E_FULL;
    struct session_op *op = take(s, OP_SUBMIT, timeout_ms, cb, ctx);
    if (!op) return BFT_E_FULL;
    op->id = bft_client_submit(s->client, opb, len, session_now_us() / 1000);
    if (!op->id) {
        session_op_free(s, op);
        return BFT_E_FULL;
    }
    op->out.req_no = op->id;
    bft_client_flush(s->client, session_now_us() / 1000);
    net_flush(s->tx);
    *started = op;
    return BFT_E_OK;
}

int bft_session_submit(struct bft_session *s, const uint8_t *op, size_t len, uint32_t timeout_ms,
                       struct bft_outcome *out)
{
    if (!s || !op_ok(op, len) || !out || on_session_thread(s)) return BFT_E_INVALID;
    pthread_mutex_lock(&s->mu);
    struct session_op *o = NULL;
    int rv = start_submit(s, op, len, timeout_ms, NULL, NULL, &o);
    if (rv == BFT_E_OK) wait_op(s, o, out);
    pthread_mutex_unlock(&s->mu);
    return rv;
}

int bft_session_submit_async(struct bft_session *s, const uint8_t *op, size_t len,
                             bft_session_cb cb, void *ctx, uint64_t *req_no)
{
    if (!s || !op_ok(op, len) || !cb) return BFT_E_INVALID;
    pthread_mutex_lock(&s->mu);
    struct session_op *o = NULL;
    int rv = start_submit(s, op, len, 0, cb, ctx, &o);
    if (rv == BFT_E_OK && req_no) *req_no = o->id;
    pthread_mutex_unlock(&s->mu);
    return rv;
}

int bft_session_retry(struct bft_session *s, uint64_t req_no, const uint8_t *op, size_t len,
                      uint32_t timeout_ms, struct bft_outcome *out)
{
    if (!s || !op_ok(op, len) || !out || on_session_thread(s) || req_no == 0) return BFT_E_INVALID;
    pthread_mutex_lock(&s->mu);
    /* Only a number this client id handed out: a fresh one taken here
     * would be handed out again by a later submit. */
    if (req_no >= bft_client_next_req_no(s->client)) {
        pthread_mutex_unlock(&s->mu);
        return BFT_E_INVALID;
    }
    struct session_op *o = take(s, OP_RETRY, timeout_ms, NULL, NULL);
    if (!o) {
        pthread_mutex_unlock(&s->mu);
        return BFT_E_FULL;
    }
    /* A client of its own numbered from req_no: the pure client numbers
     * its requests itself, and the session's is past req_no. */
    struct bft_client_config cc = s->ccfg;
    cc.first_req_no = req_no;
    cc.max_outstanding = 1;
    struct bft_client_host h = {.ctx = o,
                                .send = session_retry_send,
                                .done = session_retry_done,
                                .no_result = session_retry_no_result};
    int rv = bft_client_create(&o->retry, &cc, &h);
    explicit_bzero(&cc.key, sizeof cc.key);
    uint64_t now_ms = session_now_us() / 1000;
    if (rv == BFT_E_OK && bft_client_submit(o->retry, op, len, now_ms) != req_no)
        rv = BFT_E_INVALID;
    if (rv != BFT_E_OK) {
        session_op_free(s, o); /* and o->retry, if it was created */
        pthread_mutex_unlock(&s->mu);
        return rv;
    }
    o->id = o->out.req_no = req_no;
    bft_client_flush(o->retry, now_ms);
    net_flush(s->tx);
    wait_op(s, o, out);
    pthread_mutex_unlock(&s->mu);
    return BFT_E_OK;
}

static int start_read(struct bft_session *s, const uint8_t *opb, size_t len, int level,
                      uint32_t staleness_ms, uint32_t timeout_ms, bft_session_cb cb, void *ctx,
                      struct session_op **started)
{
    if (!bft_read_level_name(level) || (level == BFT_READ_LOCAL && staleness_ms == 0))
        return BFT_E_INVALID;
    /* A read may fall back to an ordered request: its number must be
     * reserved too (the reservation keeps a margin for every read). */
    if (session_reqno_reserve(&s->rq, bft_client_next_req_no(s->client)) != BFT_E_OK)
        return BFT_E_IO;
    if (s->reads >= SESSION_READS) return BFT_E_FULL;
    struct session_op *op = take(s, OP_READ, timeout_ms, cb, ctx);
    if (!op) return BFT_E_FULL;
    uint64_t now_ms = session_now_us() / 1000;
    op->id = bft_client_read_at(s->client, opb, len, level, staleness_ms, now_ms);
    if (!op->id) {
        session_op_free(s, op);
        return BFT_E_FULL;
    }
    s->reads++;
    session_note_fallbacks(s);
    net_flush(s->tx);
    *started = op;
    return BFT_E_OK;
}

int bft_session_read(struct bft_session *s, const uint8_t *op, size_t len, int level,
                     uint32_t staleness_ms, uint32_t timeout_ms, struct bft_outcome *out)
{
    if (!s || !op_ok(op, len) || !out || on_session_thread(s)) return BFT_E_INVALID;
    pthread_mutex_lock(&s->mu);
    struct session_op *o = NULL;
    int rv = start_read(s, op, len, level, staleness_ms, timeout_ms, NULL, NULL, &o);
    if (rv == BFT_E_OK) wait_op(s, o, out);
    pthread_mutex_unlock(&s->mu);
    return rv;
}

int bft_session_read_async(struct bft_session *s, const uint8_t *op, size_t len, int level,
                           uint32_t staleness_ms, bft_session_cb cb, void *ctx)
{
    if (!s || !op_ok(op, len) || !cb) return BFT_E_INVALID;
    pthread_mutex_lock(&s->mu);
    struct session_op *o = NULL;
    int rv = start_read(s, op, len, level, staleness_ms, 0, cb, ctx, &o);
    pthread_mutex_unlock(&s->mu);
    return rv;
}
