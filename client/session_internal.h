/* Private to the client session (client/session*.c): the public contract
 * is include/bft/client.h; the pure client it wraps is client/client.h. */
#ifndef BFT_CLIENT_SESSION_INTERNAL_H
#define BFT_CLIENT_SESSION_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "bft/client.h"
#include "client/client.h"
#include "config/cluster.h"
#include "net/net.h"

#define SESSION_READS 16u        /* the pure client's read slots (CLIENT_READS) */
#define SESSION_RECV_WAIT_MS 10  /* longest the thread sleeps in net_recv */
#define SESSION_REQNO_MARGIN 32u /* extend the reservation below this many */

/* The request-number state file (session_reqno.c). */
struct session_reqno {
    int fd;               /* open and flock'd while the session lives */
    uint64_t reserved_hi; /* every number below it may be handed out */
    char path[600];
};

enum session_op_kind { OP_FREE = 0, OP_SUBMIT, OP_RETRY, OP_READ };

/* One request in flight: an entry of a table of max_outstanding. */
struct session_op {
    uint8_t kind;             /* enum session_op_kind */
    bool finished;            /* out is final */
    bool waiter;              /* a blocking call waits for it, else cb */
    uint64_t id;              /* the request number, or the read id */
    struct bft_client *retry; /* OP_RETRY: a client of its own */
    struct bft_session *s;    /* for the retry client's host */
    uint64_t start_us, deadline_us;
    bft_session_cb cb;
    void *ctx;
    struct bft_outcome out;
};

struct bft_session {
    pthread_mutex_t mu; /* guards everything below but the transports' rx */
    pthread_cond_t cv;  /* an op finished (blocking callers wait on it) */
    pthread_t thread;
    bool started, stop;
    /* Two transports so each belongs to one thread (net/transport.c's
     * contract): rx only ever on the session thread, tx under mu. */
    struct net_transport *rx, *tx;
    struct bft_client *client;
    struct bft_client_config ccfg; /* for retry clients; holds the key */
    struct session_op *ops;
    uint32_t cap, in_flight, reads;
    uint32_t *ready; /* finished async ops awaiting their callback */
    uint32_t n_ready;
    uint32_t timeout_ms;
    uint64_t unknown; /* requests completed UNKNOWN */
    struct session_reqno rq;
};

/* session_reqno.c */
/* The first request number of a new session: the file's value if the
 * state file held one, else the wall clock in microseconds (at least 1). */
uint64_t session_reqno_first(bool have_file, uint64_t file_next, uint64_t now_us);
/* Parse a state file's bytes: 0 with *next, or -1 if malformed. */
int session_reqno_parse(const char *buf, size_t len, uint64_t *next);
/* Open and lock `path` (created 0600 if absent); *next: where numbering
 * starts; reserve the first block. BFT_E_OK or an error with err. */
int session_reqno_open(struct session_reqno *rq, const char *path, uint64_t now_us, uint64_t *next,
                       char *err, size_t errlen);
/* Make sure numbers below next + SESSION_REQNO_MARGIN are reserved
 * (written and fsync'd). BFT_E_OK or BFT_E_IO. */
int session_reqno_reserve(struct session_reqno *rq, uint64_t next);
/* Record `next` as the first number never handed out, unlock, close. */
void session_reqno_close(struct session_reqno *rq, uint64_t next);

/* session_ops.c */
uint64_t session_now_us(void);
void session_finish(struct bft_session *s, struct session_op *op, int status, const uint8_t *res,
                    size_t len);
/* Release a finished op's slot (and a retry's own client). */
void session_op_free(struct bft_session *s, struct session_op *op);
/* Give up on every op past its deadline (UNKNOWN). */
void session_expire(struct bft_session *s, uint64_t now_us);
/* Note the ordered number a read fell back to (outcome flags). */
void session_note_fallbacks(struct bft_session *s);
void session_host_done(void *ctx, uint64_t id, const uint8_t *res, size_t len);
void session_retry_done(void *ctx, uint64_t id, const uint8_t *res, size_t len);
void session_host_no_result(void *ctx, uint64_t id);
void session_retry_no_result(void *ctx, uint64_t id);
void session_host_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len);
void session_retry_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len);

#endif
