/* bftctl submit: place one operation by hand against a running cluster
 * through a client session (include/bft/client.h): an order (orders app),
 * a kv put or delete (kv app), or raw bytes. Prints the request number,
 * the outcome and the decoded result; on an unknown outcome, the exact
 * command that retries the same request number (exactly-once). */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "config/cluster.h"
#include "tools/bftctl.h"
#include "tools/bftctl_session.h"

struct submit_opts {
    struct ctl_session_flags sf;
    const char *order, *kv_put, *kv_del, *op_hex, *req_no_s;
};

#define OFF(field) offsetof(struct submit_opts, field)
static const struct cli_opt k_opts[] = {
    {"config", 0, "PATH", CLI_STR, OFF(sf.config), 0, 0, NULL, "cluster.json (required)"},
    {"client", 0, "ID", CLI_U32, OFF(sf.client_id), 0, BFT_MAX_CLIENTS - 1, NULL,
     "submit as this client: its key and address (required)"},
    {"key", 0, "PATH", CLI_STR, OFF(sf.key), 0, 0, NULL,
     "the client's private key (default: the keys dir's client-ID.pem)"},
    {"state", 0, "PATH", CLI_STR, OFF(sf.state), 0, 0, NULL,
     "request-number state file (default: the key's path + .reqno)"},
    {"timeout", 0, "MS", CLI_U32, OFF(sf.timeout_ms), 1, 600000, NULL,
     "give up after MS: unknown outcome (default 5000)"},
    {"order", 0, "ORDER", CLI_STR, OFF(order), 0, 0, NULL,
     "orders app: a NEW order, SYMBOL:buy|sell:QTY:PRICE[:CLIENT_ORDER_ID]\n"
     "(CLIENT_ORDER_ID default: the wall clock in microseconds)"},
    {"kv-put", 0, "K=V", CLI_STR, OFF(kv_put), 0, 0, NULL, "kv app: put V under K"},
    {"kv-del", 0, "K", CLI_STR, OFF(kv_del), 0, 0, NULL, "kv app: delete K"},
    {"op-hex", 0, "HEX", CLI_STR, OFF(op_hex), 0, 0, NULL,
     "any app: these bytes as the operation (the result is printed in hex)"},
    {"req-no", 0, "N", CLI_STR, OFF(req_no_s), 0, 0, NULL,
     "retry request N with the same operation: executed at most once,\n"
     "the original result comes back"},
};
#undef OFF

static const struct cli_spec k_spec = {
    .prog = "bftctl submit",
    .synopsis = "bftctl submit --config DIR/cluster.json --client ID [--key PATH] [--timeout MS]\n"
                "       (--order SYMBOL:buy|sell:QTY:PRICE[:CLIENT_ORDER_ID] | --kv-put K=V |\n"
                "        --kv-del K | --op-hex HEX) [--req-no N]",
    .intro = "Place one operation against a running cluster (docs/design.md \"bftctl submit\").\n",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro = "Exit codes: 0 done, 2 usage/config/key error, 4 unknown outcome (the request\n"
             "number and the command that retries it are printed).\n",
};

static uint64_t wall_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* SYMBOL:buy|sell:QTY:PRICE[:COID]; fills *coid (given or from the clock)
 * and the op. Its length, or 0 after a message. */
static size_t order_op(const char *arg, uint64_t *coid, uint8_t *op)
{
    char buf[128], *parts[6];
    int n = 0;
    if (strlen(arg) >= sizeof buf) goto bad;
    strcpy(buf, arg);
    for (char *p = buf, *tok; n < 6 && (tok = strsep(&p, ":")) != NULL;)
        parts[n++] = tok;
    if (n < 4 || n > 5 || !parts[0][0] || strlen(parts[0]) > 8) goto bad;
    uint8_t side = strcmp(parts[1], "buy") == 0 ? 1 : strcmp(parts[1], "sell") == 0 ? 2 : 0;
    char *end;
    errno = 0;
    unsigned long long qty = strtoull(parts[2], &end, 10);
    if (!side || errno || *end || end == parts[2] || qty == 0 || qty > UINT32_MAX) goto bad;
    long long price = strtoll(parts[3], &end, 10);
    if (errno || *end || end == parts[3]) goto bad;
    *coid = wall_us();
    if (n == 5) {
        unsigned long long c = strtoull(parts[4], &end, 10);
        if (errno || *end || end == parts[4] || parts[4][0] == '-') goto bad;
        *coid = c;
    }
    return bft_order_encode(op, *coid, parts[0], side, (uint32_t)qty, (int64_t)price);
bad:
    fprintf(stderr,
            "bftctl submit: --order wants SYMBOL:buy|sell:QTY:PRICE[:CLIENT_ORDER_ID] (SYMBOL "
            "1..8 chars, QTY >= 1), got '%s'\n",
            arg);
    return 0;
}

static size_t hex_op(const char *hex, uint8_t *op)
{
    size_t n = strlen(hex);
    if (n == 0 || n % 2 || n / 2 > BFT_OP_MAX) goto bad;
    for (size_t i = 0; i < n / 2; i++) {
        unsigned v;
        if (sscanf(hex + 2 * i, "%2x", &v) != 1 || !strchr("0123456789abcdefABCDEF", hex[2 * i]) ||
            !strchr("0123456789abcdefABCDEF", hex[2 * i + 1]))
            goto bad;
        op[i] = (uint8_t)v;
    }
    return n / 2;
bad:
    fprintf(stderr, "bftctl submit: --op-hex wants 1..%d bytes as an even number of hex digits\n",
            BFT_OP_MAX);
    return 0;
}

static size_t kv_op(const struct submit_opts *o, uint8_t *op)
{
    const char *arg = o->kv_put ? o->kv_put : o->kv_del;
    const char *eq = o->kv_put ? strchr(arg, '=') : NULL;
    size_t klen = eq ? (size_t)(eq - arg) : strlen(arg);
    size_t vlen = eq ? strlen(eq + 1) : 0;
    if ((o->kv_put && !eq) || klen == 0 || klen > BFT_KV_KEY_MAX || vlen > BFT_KV_VALUE_MAX) {
        fprintf(stderr, "bftctl submit: %s wants %s (key 1..%d bytes, value up to %d)\n",
                o->kv_put ? "--kv-put" : "--kv-del", o->kv_put ? "K=V" : "K", BFT_KV_KEY_MAX,
                BFT_KV_VALUE_MAX);
        return 0;
    }
    return bft_kv_encode(op, o->kv_put ? BFT_KV_PUT : BFT_KV_DELETE, arg, klen, eq ? eq + 1 : NULL,
                         vlen);
}

/* Print a shell word, quoted if it needs to be. */
static void put_word(const char *w)
{
    if (w[0] &&
        strspn(w, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-./:=@,+") ==
            strlen(w)) {
        printf("%s", w);
        return;
    }
    putchar('\'');
    for (const char *p = w; *p; p++)
        if (*p == '\'')
            printf("'\\''");
        else
            putchar(*p);
    putchar('\'');
}

/* The command that retries req_no with the very same operation. */
static void print_retry(const struct submit_opts *o, uint64_t coid, uint64_t req_no)
{
    char num[32];
    printf("retry with: bftctl submit --config ");
    put_word(o->sf.config);
    printf(" --client %u", o->sf.client_id);
    if (o->sf.key) printf(" --key "), put_word(o->sf.key);
    if (o->sf.state) printf(" --state "), put_word(o->sf.state);
    if (o->order) {
        /* The order with its client order id, so the bytes are the same. */
        char order[160];
        const char *p = o->order;
        int colons = 0;
        for (const char *q = p; *q; q++)
            colons += *q == ':';
        if (colons == 3)
            snprintf(order, sizeof order, "%s:%" PRIu64, p, coid);
        else
            snprintf(order, sizeof order, "%s", p);
        printf(" --order "), put_word(order);
    } else if (o->kv_put) {
        printf(" --kv-put "), put_word(o->kv_put);
    } else if (o->kv_del) {
        printf(" --kv-del "), put_word(o->kv_del);
    } else {
        printf(" --op-hex "), put_word(o->op_hex);
    }
    snprintf(num, sizeof num, "%" PRIu64, req_no);
    printf(" --req-no %s\n", num);
}

/* Which app the cluster runs decides which operation flags fit. */
static int check_app(const struct submit_opts *o, enum ctl_result_kind *kind)
{
    struct bft_cluster cl;
    char err[512];
    if (bft_cluster_load(&cl, o->sf.config, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl submit: %s\n", err);
        return -1;
    }
    bool kv = strcmp(cl.app, "kv") == 0;
    bft_cluster_free(&cl);
    *kind = CTL_RESULT_HEX;
    if (o->op_hex) return 0;
    if ((o->order != NULL) == kv) {
        fprintf(stderr, "bftctl submit: the cluster runs the %s app: use %s\n",
                kv ? "kv" : "orders", kv ? "--kv-put or --kv-del" : "--order");
        return -1;
    }
    *kind = kv ? CTL_RESULT_KV : CTL_RESULT_ORDER;
    return 0;
}

static int parse_req_no(const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end || end == s || s[0] == '-' || v == 0) {
        fprintf(stderr, "bftctl submit: --req-no wants a request number >= 1, got '%s'\n", s);
        return -1;
    }
    *out = v;
    return 0;
}

static int run(const struct submit_opts *o, enum ctl_result_kind kind, const uint8_t *op,
               size_t len, uint64_t coid, uint64_t req_no)
{
    struct bft_session *s;
    int rc = ctl_session_open("bftctl submit", &o->sf, &s);
    if (rc != BFT_EXIT_OK) return rc;
    struct bft_outcome out;
    int rv = req_no ? bft_session_retry(s, req_no, op, len, 0, &out)
                    : bft_session_submit(s, op, len, 0, &out);
    if (rv != BFT_E_OK) {
        struct bft_session_stats st;
        bft_session_stats(s, &st);
        if (req_no && rv == BFT_E_INVALID)
            fprintf(stderr,
                    "bftctl submit: request %" PRIu64 " was never handed out to client %u "
                    "(its next request number is %" PRIu64 ")\n",
                    req_no, o->sf.client_id, st.next_req_no);
        else
            fprintf(stderr, "bftctl submit: nothing sent: %s\n", bft_strerror(rv));
        bft_session_close(s);
        return BFT_EXIT_USAGE;
    }
    bft_session_close(s);
    if (out.status == BFT_OUTCOME_DONE) {
        printf("request %" PRIu64 ": done, ", out.req_no);
        ctl_print_result(kind, out.result, out.result_len);
        if (o->order) printf(", client_order_id %" PRIu64, coid);
        printf(" (%.2f ms)\n", (double)out.latency_us / 1000.0);
        return BFT_EXIT_OK;
    }
    if (out.status == BFT_OUTCOME_NO_RESULT) {
        printf("request %" PRIu64 ": closed without a result: the replicas executed it (or it "
               "was abandoned) and no longer hold its result; it will not execute again",
               out.req_no);
        if (o->order)
            printf(" (bftctl read --order %u:%" PRIu64 " finds the order)", o->sf.client_id, coid);
        printf("\n");
        return BFT_EXIT_OK;
    }
    printf("request %" PRIu64 ": unknown outcome after %u ms (it may have executed, or may "
           "still)\n",
           out.req_no, o->sf.timeout_ms);
    print_retry(o, coid, out.req_no);
    return BFT_EXIT_NO_PROGRESS;
}

int cmd_submit(int argc, char **argv)
{
    struct submit_opts o = {.sf.timeout_ms = 5000};
    uint64_t seen;
    enum cli_result cr = cli_parse(&k_spec, argc, argv, &o, &seen);
    if (cr != CLI_PARSED) return cr == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    int ops = !!o.order + !!o.kv_put + !!o.kv_del + !!o.op_hex;
    if (!o.sf.config || !cli_given(&k_spec, seen, "client") || ops != 1) {
        fprintf(stderr, "bftctl submit: --config, --client and exactly one of --order, "
                        "--kv-put, --kv-del or --op-hex are required\n");
        cli_usage(&k_spec, stderr);
        return BFT_EXIT_USAGE;
    }
    uint64_t req_no = 0, coid = 0;
    if (o.req_no_s && parse_req_no(o.req_no_s, &req_no) != 0) return BFT_EXIT_USAGE;
    uint8_t op[BFT_OP_MAX];
    size_t len = o.order    ? order_op(o.order, &coid, op)
                 : o.op_hex ? hex_op(o.op_hex, op)
                            : kv_op(&o, op);
    if (!len) return BFT_EXIT_USAGE;
    enum ctl_result_kind kind;
    if (check_app(&o, &kind) != 0) return BFT_EXIT_USAGE;
    return run(&o, kind, op, len, coid, req_no);
}
