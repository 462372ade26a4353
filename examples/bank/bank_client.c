/* bank-client: drives the bank ledger (bank.h) through the bft client
 * session API (bft/client.h) and checks every answer against its own
 * model of the accounts. The example's test (test.sh) runs it in phases
 * around a replica crash.
 *
 *   bank-client --config DIR/cluster.json --client ID open N
 *       open accounts 0..N-1 and deposit 1000 into each
 *   bank-client --config DIR/cluster.json --client ID transfer N K SEED
 *       read the N balances, make K transfers between random accounts (some
 *       of them async), retry one under the same request number, then read
 *       every balance back and check it against the model and the total
 *
 * Exit codes: 0 every check passed, 1 a check failed, 2 usage or setup,
 * 4 an operation's outcome stayed unknown. */
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bft/client.h>

#include "bank.h"

#define OPENING_DEPOSIT 1000u
#define TIMEOUT_MS 20000u

static int g_failed;

#define CHECK(cond, ...)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "bank-client: check failed: " __VA_ARGS__);                            \
            fprintf(stderr, "\n");                                                                 \
            g_failed = 1;                                                                          \
        }                                                                                          \
    } while (0)

/* Order one operation; exit 4 if its outcome stays unknown. */
static void order(struct bft_session *s, const uint8_t *op, size_t len, struct bft_outcome *out)
{
    int rc = bft_session_submit(s, op, len, TIMEOUT_MS, out);
    if (rc != BFT_E_OK) {
        fprintf(stderr, "bank-client: submit: %s\n", bft_strerror(rc));
        exit(2);
    }
    if (out->status != BFT_OUTCOME_DONE) {
        fprintf(stderr, "bank-client: request %" PRIu64 ": outcome unknown after %u ms\n",
                out->req_no, TIMEOUT_MS);
        exit(4);
    }
}

static uint64_t read_balance(struct bft_session *s, uint32_t acct, int level)
{
    uint8_t op[32];
    size_t len = bank_op(op, BANK_BALANCE, acct, 0, 0);
    struct bft_outcome out;
    int rc = bft_session_read(s, op, len, level, 1000, TIMEOUT_MS, &out);
    if (rc != BFT_E_OK || out.status != BFT_OUTCOME_DONE) {
        fprintf(stderr, "bank-client: read of account %u (%s): %s\n", acct,
                bft_read_level_name(level), rc ? bft_strerror(rc) : "no answer in time");
        exit(4);
    }
    uint8_t st;
    uint64_t bal;
    CHECK(bank_result(out.result, out.result_len, &st, &bal) == 0 && st == BANK_OK,
          "read of account %u: status %u", acct, out.result_len ? out.result[0] : 255);
    return bal;
}

static int phase_open(struct bft_session *s, uint32_t n)
{
    for (uint32_t a = 0; a < n; a++) {
        uint8_t op[32];
        struct bft_outcome out;
        uint8_t st;
        uint64_t bal;
        order(s, op, bank_op(op, BANK_OPEN, a, 0, 0), &out);
        CHECK(bank_result(out.result, out.result_len, &st, &bal) == 0 && st == BANK_OK,
              "open %u: status %u", a, out.result[0]);
        order(s, op, bank_op(op, BANK_DEPOSIT, a, 0, OPENING_DEPOSIT), &out);
        CHECK(bank_result(out.result, out.result_len, &st, &bal) == 0 && st == BANK_OK &&
                  bal == OPENING_DEPOSIT,
              "deposit into %u: status %u balance %" PRIu64, a, st, bal);
    }
    printf("opened %u accounts with %u each\n", n, OPENING_DEPOSIT);
    return 0;
}

/* Written by the session's thread, read by main: atomics. */
struct async_done {
    atomic_int done, unknown;
};

static void on_async(void *ctx, const struct bft_outcome *out)
{
    struct async_done *d = ctx;
    if (out->status == BFT_OUTCOME_DONE)
        d->done++;
    else
        d->unknown++;
}

static int phase_transfer(struct bft_session *s, uint32_t n, uint32_t k, uint32_t seed)
{
    uint64_t *bal = calloc(n, sizeof *bal), total = 0;
    if (!bal) return 2;
    for (uint32_t a = 0; a < n; a++)
        total += bal[a] = read_balance(s, a, BFT_READ_LINEARIZABLE);
    srand(seed);
    uint32_t ok = 0, refused = 0;
    uint8_t op[32];
    size_t len = 0;
    struct bft_outcome out = {0};
    for (uint32_t i = 0; i < k; i++) {
        uint32_t from = (uint32_t)rand() % n, to = (uint32_t)rand() % n;
        if (to == from) to = (to + 1) % n;
        uint64_t amount = (uint64_t)(rand() % 400);
        len = bank_op(op, BANK_TRANSFER, from, to, amount);
        order(s, op, len, &out);
        uint8_t st;
        uint64_t left;
        CHECK(bank_result(out.result, out.result_len, &st, &left) == 0, "transfer: bad result");
        if (bal[from] >= amount) {
            CHECK(st == BANK_OK && left == bal[from] - amount,
                  "transfer %u->%u of %" PRIu64 ": status %u, left %" PRIu64 ", expected %" PRIu64,
                  from, to, amount, st, left, bal[from] - amount);
            bal[from] -= amount;
            bal[to] += amount;
            ok++;
        } else {
            CHECK(st == BANK_INSUFFICIENT, "transfer beyond the balance: status %u", st);
            refused++;
        }
    }
    /* Exactly once: the last transfer again, under its request number,
     * returns its original result and moves no money. */
    struct bft_outcome again;
    int rc = bft_session_retry(s, out.req_no, op, len, TIMEOUT_MS, &again);
    CHECK(rc == BFT_E_OK && again.status == BFT_OUTCOME_DONE &&
              again.result_len == out.result_len &&
              !memcmp(again.result, out.result, out.result_len),
          "retry of request %" PRIu64 " did not return its original result", out.req_no);
    /* A burst of async deposits of 1 into account 0, completed by callback. */
    struct async_done d;
    atomic_init(&d.done, 0);
    atomic_init(&d.unknown, 0);
    const int burst = 16;
    for (int i = 0; i < burst; i++) {
        len = bank_op(op, BANK_DEPOSIT, 0, 0, 1);
        rc = bft_session_submit_async(s, op, len, on_async, &d, NULL);
        CHECK(rc == BFT_E_OK, "async submit: %s", bft_strerror(rc));
    }
    /* Each callback runs by the session's timeout at the latest. */
    for (int waited = 0; atomic_load(&d.done) + atomic_load(&d.unknown) < burst &&
                         waited < (int)(TIMEOUT_MS / 10) + 100;
         waited++)
        nanosleep(&(struct timespec){.tv_nsec = 10 * 1000 * 1000}, NULL);
    int done = atomic_load(&d.done);
    CHECK(done == burst, "async deposits: %d done, %d unknown of %d", done, atomic_load(&d.unknown),
          burst);
    bal[0] += (uint64_t)done;
    total += (uint64_t)done;
    /* Every balance, at every level, against the model. */
    uint64_t sum = 0;
    for (uint32_t a = 0; a < n; a++) {
        uint64_t b = read_balance(s, a, BFT_READ_LINEARIZABLE);
        CHECK(b == bal[a], "account %u: balance %" PRIu64 ", expected %" PRIu64, a, b, bal[a]);
        sum += b;
        b = read_balance(s, a, BFT_READ_QUORUM);
        CHECK(b == bal[a], "account %u (quorum read): %" PRIu64 " != %" PRIu64, a, b, bal[a]);
    }
    CHECK(sum == total, "total %" PRIu64 ", expected %" PRIu64, sum, total);
    printf("%u transfers ok, %u refused (insufficient), retry exactly-once, %d async deposits, "
           "%u balances checked, total %" PRIu64 "\n",
           ok, refused, done, n, sum);
    free(bal);
    return 0;
}

static int usage(void)
{
    fprintf(stderr, "usage: bank-client --config DIR/cluster.json --client ID open N\n"
                    "       bank-client --config DIR/cluster.json --client ID transfer N K SEED\n");
    return 2;
}

int main(int argc, char **argv)
{
    if (argc < 6 || strcmp(argv[1], "--config") || strcmp(argv[3], "--client")) return usage();
    struct bft_session_options o = {.version = BFT_SESSION_OPTIONS_VERSION,
                                    .config_path = argv[2],
                                    .client_id = (uint32_t)strtoul(argv[4], NULL, 10),
                                    .timeout_ms = TIMEOUT_MS};
    const char *phase = argv[5];
    uint32_t n = argc > 6 ? (uint32_t)strtoul(argv[6], NULL, 10) : 0;
    if (n < 2 || n > BANK_ACCOUNTS) return usage();
    char err[512];
    struct bft_session *s;
    int rc = bft_session_open(&s, &o, err, sizeof err);
    if (rc != BFT_E_OK) {
        fprintf(stderr, "bank-client: %s\n", err);
        return 2;
    }
    int st;
    if (!strcmp(phase, "open") && argc == 7)
        st = phase_open(s, n);
    else if (!strcmp(phase, "transfer") && argc == 9)
        st = phase_transfer(s, n, (uint32_t)strtoul(argv[7], NULL, 10),
                            (uint32_t)strtoul(argv[8], NULL, 10));
    else
        st = usage();
    bft_session_close(s);
    if (st) return st;
    return g_failed ? 1 : 0;
}
