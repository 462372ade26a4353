/* bft/client.h: a client session over the network. Open it with a
 * cluster.json, a client id and that client's key file; submit operations
 * (blocking with a timeout, or with a completion callback), retry one under
 * the same request number, and read at a consistency level. The session
 * finds the leader, retransmits, and accepts a result only on f+1 matching
 * signed replies (2f+1 for a read answered without ordering; the leader's
 * for Raft). docs/embedding.md "The client session" is the guide; this header is the
 * contract. Self-contained: the C standard library and bft/common.h only.
 *
 * Threading. A session runs one thread of its own, which receives replies,
 * retransmits and times requests out. Every function below may be called
 * from any thread, concurrently, except bft_session_close (once, with no
 * other call on the session in progress or to come). Completion callbacks
 * run on the session's thread, one at a time, with no lock held: they may
 * call the *_async functions and bft_session_stats, but not a blocking
 * function (it returns BFT_E_INVALID there) nor bft_session_close; a slow
 * callback delays every other request of the session.
 *
 * Timeouts and "unknown outcome". A request that gets no accepted result
 * within its timeout completes with BFT_OUTCOME_UNKNOWN: the session stops
 * retransmitting it, but the replicas may have executed it, or may still.
 * To learn which, retry it: bft_session_retry with the same request number
 * and the same operation. The replicas execute a request number at most
 * once and answer a retry of an executed one with the original result, so
 * a retry never executes twice. The results are held in memory, per
 * client at most 128 replies and 1 MiB: a retry that comes after every
 * replica restarted from a snapshot, or after the client's newer replies
 * pushed its reply out, completes with BFT_OUTCOME_NO_RESULT instead
 * (executed or abandoned, never to execute again). A read that times out
 * has no effect to retry: read again.
 *
 * Request numbers across processes (docs/embedding.md "The client session"). Replicas
 * remember, per client, a window of 1024 request numbers and the last 128
 * replies; a number at or below one they executed is never executed again.
 * A session therefore never hands out a number an earlier session of the
 * same client id handed out: it keeps the next free number in a state file
 * (default: the key file's path + ".reqno"), reserved ahead in blocks of
 * BFT_SESSION_REQNO_BLOCK and written (fsync) before any of them is sent,
 * and locks it while open, so a second concurrent session of the same
 * client id on the same host fails to open (BFT_E_AGAIN). Without a state
 * file (first use on this host), numbering starts at the wall clock in
 * microseconds. Limits: a client id used from two hosts at once, or a state
 * file deleted while the wall clock is behind the numbers already used, can
 * reuse numbers (a new request may then get an old request's result); an
 * unknown request stays retryable only until its client has used about
 * 1024 newer numbers (the replicas then abandon it for good).
 */
#ifndef BFT_CLIENT_API_H
#define BFT_CLIENT_API_H

#include <stddef.h>
#include <stdint.h>

#include "bft/common.h"

/* Read consistency levels (docs/reads.md). */
enum bft_read_level {
    BFT_READ_LINEARIZABLE = 0, /* the default */
    BFT_READ_QUORUM = 1,
    BFT_READ_LOCAL = 2, /* with a staleness bound in ms */
};
#define BFT_READ_LEVELS 3
#define BFT_READ_STALENESS_DEFAULT_MS 100u
BFT_API const char *bft_read_level_name(int level); /* NULL if unknown */
/* Parse "linearizable", "quorum", "local" or "local:MS" (MS >= 1; "local"
 * alone: BFT_READ_STALENESS_DEFAULT_MS). 0, or -1 if malformed. */
BFT_API int bft_read_level_parse(const char *s, int *level, uint32_t *staleness_ms);

/* ---- Session ---- */

#define BFT_SESSION_OPTIONS_VERSION 1
#define BFT_SESSION_TIMEOUT_DEFAULT_MS 5000u
#define BFT_SESSION_RETRANSMIT_DEFAULT_MS 500u
#define BFT_SESSION_OUTSTANDING_DEFAULT 64u
#define BFT_SESSION_OUTSTANDING_MAX 4096u
#define BFT_SESSION_REQNO_BLOCK 64u

/* Set version to BFT_SESSION_OPTIONS_VERSION; a later library reads only the
 * fields of the version given. Zero (NULL) fields take the defaults. */
struct bft_session_options {
    uint32_t version;
    const char *config_path;  /* cluster.json (required) */
    uint32_t client_id;       /* an id in cluster.json's clients */
    const char *key_path;     /* NULL: the cluster's keys dir, client-ID.pem */
    const char *state_path;   /* NULL: key_path + ".reqno" (request numbers) */
    const char *listen;       /* NULL: the client's address in cluster.json */
    uint32_t timeout_ms;      /* of *_async requests; 0: 5000 */
    uint32_t retransmit_ms;   /* first retransmission, doubling to 8x; 0: 500 */
    uint32_t max_outstanding; /* requests in flight (all kinds); 0: 64; <= 4096 */
};

enum bft_outcome_status {
    BFT_OUTCOME_DONE = 1,    /* accepted result in result[] */
    BFT_OUTCOME_UNKNOWN = 2, /* no accepted result in time: maybe executed */
    /* The replicas closed the request number and no longer hold its result
     * (f+1 agree; Raft: the leader): it executed, or was abandoned (see
     * "Request numbers across processes"), and will never execute again.
     * Learn its effect from the application state (orders: a LOOKUP by
     * client order id). A read: read again. */
    BFT_OUTCOME_NO_RESULT = 3,
};
/* flags */
#define BFT_OUTCOME_ORDERED 1u /* a read that went through consensus */

struct bft_outcome {
    uint64_t req_no;     /* the request number (a read: the ordered one it fell back to, or 0) */
    int status;          /* enum bft_outcome_status */
    uint32_t flags;      /* BFT_OUTCOME_* */
    uint64_t latency_us; /* from the call to completion */
    size_t result_len;   /* <= BFT_RESULT_MAX; 0 unless DONE */
    uint8_t result[BFT_RESULT_MAX];
};

/* Called once per *_async request, on the session's thread; `out` is valid
 * only during the call. */
typedef void (*bft_session_cb)(void *ctx, const struct bft_outcome *out);

struct bft_session_stats {
    uint64_t submitted, completed, unknown, retransmits, bad_replies;
    uint64_t read_fallbacks, read_refusals;
    uint64_t next_req_no; /* the number the next submit will take */
};

struct bft_session;

/* Open a session: load cluster.json and the key, lock the state file, start
 * listening and dialling every replica, start the session thread. Returns
 * BFT_E_OK, or an error with a message in err: BFT_E_INVALID (bad options,
 * cluster.json or key), BFT_E_AGAIN (the client id is in use by another
 * session on this host), BFT_E_IO (state file, network), BFT_E_NOMEM. */
BFT_API int bft_session_open(struct bft_session **out, const struct bft_session_options *o,
                             char *err, size_t errlen);
/* Stop the session thread; every request still in flight completes with
 * BFT_OUTCOME_UNKNOWN (its callback runs on the closing thread, before
 * close returns); record the next free request number in the state file;
 * free everything. Returns within a few seconds whatever the network does
 * (a socket that nng cannot close in 2 s is left to close in the
 * background; its listen address may stay taken until then). NULL is a
 * no-op. */
BFT_API void bft_session_close(struct bft_session *s);

/* Order one operation (1..BFT_OP_MAX bytes) and wait up to timeout_ms
 * (0: the session's) for its result. BFT_E_OK with out->status DONE or
 * UNKNOWN; BFT_E_INVALID (bad arguments, or called from a callback),
 * BFT_E_FULL (max_outstanding in flight), BFT_E_IO (the state file cannot
 * reserve request numbers): then nothing was sent. */
BFT_API int bft_session_submit(struct bft_session *s, const uint8_t *op, size_t len,
                               uint32_t timeout_ms, struct bft_outcome *out);
/* The same without waiting: cb(ctx, outcome) runs once, on the session's
 * thread, after the session's timeout at the latest. *req_no (if not
 * NULL) gets the request number before the call returns. Errors as above
 * (the callback is then never called). */
BFT_API int bft_session_submit_async(struct bft_session *s, const uint8_t *op, size_t len,
                                     bft_session_cb cb, void *ctx, uint64_t *req_no);
/* Send request req_no again, with the operation it was first sent with
 * (the replicas key on the number alone: a different op would get the
 * first one's result). Executed at most once over all tries; DONE carries
 * the original result. req_no must be one this client id handed out
 * (below bft_session_stats' next_req_no), else BFT_E_INVALID. */
BFT_API int bft_session_retry(struct bft_session *s, uint64_t req_no, const uint8_t *op, size_t len,
                              uint32_t timeout_ms, struct bft_outcome *out);
/* Read at a level (enum bft_read_level; staleness_ms for LOCAL, >= 1):
 * not ordered unless it cannot complete otherwise (docs/reads.md), in
 * which case it is ordered and out->flags has BFT_OUTCOME_ORDERED. At most
 * 16 reads in flight per session (BFT_E_FULL beyond). */
BFT_API int bft_session_read(struct bft_session *s, const uint8_t *op, size_t len, int level,
                             uint32_t staleness_ms, uint32_t timeout_ms, struct bft_outcome *out);
BFT_API int bft_session_read_async(struct bft_session *s, const uint8_t *op, size_t len, int level,
                                   uint32_t staleness_ms, bft_session_cb cb, void *ctx);
BFT_API void bft_session_stats(struct bft_session *s, struct bft_session_stats *out);

#endif
