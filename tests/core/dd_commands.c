/* tests/core/dd_commands.c: one handler per command of the core
 * data-driven tests, found in a table by name. Each command's output is
 * the effect log lines the fixture wrote while it ran, then its own lines
 * (status, timers). Bad arguments are an error line and a failed case. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tests/core/dd_commands.h"

/* ---- argument parsing ---- */

static bool parse_u64(const char *s, uint64_t *v)
{
    if (!s || !*s || *s == '-') return false;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(s, &end, 10);
    if (errno || *end) return false;
    *v = x;
    return true;
}

static bool parse_u32(const char *s, uint32_t *v)
{
    uint64_t x;
    if (!parse_u64(s, &x) || x > UINT32_MAX) return false;
    *v = (uint32_t)x;
    return true;
}

/* A node id below n. */
static bool parse_node(const struct cf *cf, const char *s, uint32_t *id)
{
    return parse_u32(s, id) && *id < cf_n(cf);
}

/* "all" or "0,2,3": a mask of node ids. */
static bool parse_nodes(const struct cf *cf, const char *s, uint32_t *mask)
{
    if (!s || strcmp(s, "all") == 0) {
        *mask = (1u << cf_n(cf)) - 1;
        return true;
    }
    char buf[64];
    snprintf(buf, sizeof buf, "%s", s);
    *mask = 0;
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        uint32_t id;
        if (!parse_node(cf, t, &id)) return false;
        *mask |= 1u << id;
    }
    return *mask != 0;
}

/* "A->B" where either side may be "*" (every node). */
static bool parse_link(const struct cf *cf, const char *s, uint32_t *from_mask, uint32_t *to_mask)
{
    const char *arrow = s ? strstr(s, "->") : NULL;
    if (!arrow || arrow == s) return false;
    char from[16];
    size_t k = (size_t)(arrow - s);
    if (k >= sizeof from) return false;
    memcpy(from, s, k);
    from[k] = '\0';
    const char *to = arrow + 2;
    uint32_t all = (1u << cf_n(cf)) - 1;
    return (strcmp(from, "*") == 0 ? (*from_mask = all, true) : parse_nodes(cf, from, from_mask)) &&
           (strcmp(to, "*") == 0 ? (*to_mask = all, true) : parse_nodes(cf, to, to_mask));
}

static bool fail(struct dd_buf *out, const struct dd_cmd *c, const char *why)
{
    dd_appendf(out, "error: %s: %s\n", c->name, why);
    return false;
}

/* The fixture's log since the last command, into the output. */
static void take_log(struct cf *cf, struct dd_buf *out)
{
    char *log = cf_log_take(cf);
    if (log) dd_append(out, log);
    free(log);
}

/* ---- commands ---- */

static bool cmd_init(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    dd_ctx_reset(x);
    struct cf_options o = {0};
    o.protocol = bft_protocol_parse(dd_arg(c, "protocol") ? dd_arg(c, "protocol") : "");
    if (o.protocol < 0) return fail(out, c, "protocol=pbft|hotstuff|raft");
    if (!parse_u32(dd_arg(c, "n"), &o.n)) return fail(out, c, "n=<nodes>");
    const struct {
        const char *key;
        uint32_t *v;
    } opt[] = {{"batch", &o.batch_max},
               {"pipeline", &o.pipeline_max},
               {"window", &o.window},
               {"checkpoint", &o.checkpoint_interval},
               {"timeout", &o.request_timeout_ms},
               {"leader_views", &o.leader_views}};
    for (size_t i = 0; i < sizeof opt / sizeof opt[0]; i++)
        if (dd_arg(c, opt[i].key) && !parse_u32(dd_arg(c, opt[i].key), opt[i].v))
            return fail(out, c, "option values are unsigned integers");
    const char *rep = dd_arg(c, "reputation");
    o.no_reputation = rep && strcmp(rep, "0") == 0;
    char err[128];
    if (cf_create(&x->cf, &o, err, sizeof err) != BFT_E_OK) {
        x->cf = NULL;
        return fail(out, c, err);
    }
    take_log(x->cf, out);
    return true;
}

static bool cmd_request(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    uint32_t client = 0, ops = 1, mask;
    if (dd_arg(c, "client") && !parse_u32(dd_arg(c, "client"), &client))
        return fail(out, c, "client=<id>");
    if (dd_arg(c, "ops") && !parse_u32(dd_arg(c, "ops"), &ops)) return fail(out, c, "ops=<n>");
    if (!parse_nodes(x->cf, dd_arg(c, "to"), &mask)) return fail(out, c, "to=all|<id>,<id>...");
    bool readonly = strcmp(c->name, "read") == 0;
    uint64_t first = strcmp(c->name, "resend") == 0
                         ? cf_resend(x->cf, client, mask)
                         : cf_request(x->cf, client, ops, mask, readonly);
    take_log(x->cf, out);
    return first != 0;
}

/* deliver A->B [count=N] | deliver all: every packet queued now. */
static bool cmd_deliver(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    const char *what = dd_pos(c, 0);
    uint32_t count = UINT32_MAX, fm, tm;
    if (dd_arg(c, "count") && !parse_u32(dd_arg(c, "count"), &count))
        return fail(out, c, "count=<n>");
    if (what && strcmp(what, "all") == 0) {
        cf_deliver_round(x->cf);
    } else if (parse_link(x->cf, what, &fm, &tm)) {
        /* Only what is queued when the command starts: packets sent in
         * reaction wait for the next command, as with `deliver all`. */
        uint32_t now[CF_MAX_NODES][CF_MAX_NODES];
        for (uint32_t i = 0; i < cf_n(x->cf); i++)
            for (uint32_t j = 0; j < cf_n(x->cf); j++)
                now[i][j] = cf_queued(x->cf, i, j) < count ? cf_queued(x->cf, i, j) : count;
        for (uint32_t i = 0; i < cf_n(x->cf); i++)
            for (uint32_t j = 0; j < cf_n(x->cf); j++)
                if ((fm >> i & 1) && (tm >> j & 1) && i != j) cf_deliver(x->cf, i, j, now[i][j]);
    } else {
        return fail(out, c, "deliver all | deliver A->B [count=N]");
    }
    take_log(x->cf, out);
    return true;
}

static bool cmd_drop(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    uint32_t fm, tm, k = 0;
    const char *what = dd_pos(c, 0);
    if (what && strcmp(what, "all") == 0) what = "*->*";
    if (!parse_link(x->cf, what, &fm, &tm)) return fail(out, c, "drop all | drop A->B");
    for (uint32_t i = 0; i < cf_n(x->cf); i++)
        for (uint32_t j = 0; j < cf_n(x->cf); j++)
            if ((fm >> i & 1) && (tm >> j & 1)) k += cf_drop(x->cf, i, j);
    take_log(x->cf, out);
    dd_appendf(out, "dropped %u\n", k);
    return true;
}

static bool cmd_stabilize(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    (void)c;
    bool ok = cf_stabilize(x->cf);
    take_log(x->cf, out);
    return ok;
}

/* tick NODE TIMER: fire a timer by its name (it must be armed). */
static bool cmd_tick(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    uint32_t id;
    if (!parse_node(x->cf, dd_pos(c, 0), &id)) return fail(out, c, "tick <node> <timer>");
    const char *name = dd_pos(c, 1);
    int t = name ? cf_timer_parse(x->cf, name) : -1;
    if (t < 0) return fail(out, c, "unknown timer name");
    if (!cf_fire(x->cf, id, (uint32_t)t)) {
        take_log(x->cf, out);
        return fail(out, c, "timer not armed (or node down)");
    }
    take_log(x->cf, out);
    return true;
}

static bool cmd_advance(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    uint64_t ms;
    if (!parse_u64(dd_pos(c, 0), &ms)) return fail(out, c, "advance|run <ms>");
    if (strcmp(c->name, "run") == 0)
        cf_run(x->cf, ms);
    else
        cf_advance(x->cf, ms);
    take_log(x->cf, out);
    return true;
}

static bool cmd_crash(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    uint32_t id;
    if (!parse_node(x->cf, dd_pos(c, 0), &id)) return fail(out, c, "crash <node>");
    if (cf_crash(x->cf, id) != BFT_E_OK) return fail(out, c, "node is down already");
    take_log(x->cf, out);
    return true;
}

static bool cmd_restart(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    uint32_t id;
    if (!parse_node(x->cf, dd_pos(c, 0), &id)) return fail(out, c, "restart <node>");
    int rv = cf_restart(x->cf, id);
    take_log(x->cf, out);
    if (rv != BFT_E_OK) return fail(out, c, bft_strerror(rv));
    return true;
}

/* lose-snapshot <node> seq=S: its durable snapshot at S is gone. */
static bool cmd_lose_snapshot(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    uint32_t id;
    uint64_t seq;
    const char *s = dd_arg(c, "seq");
    if (!parse_node(x->cf, dd_pos(c, 0), &id) || !s || !parse_u64(s, &seq))
        return fail(out, c, "lose-snapshot <node> seq=S");
    if (cf_lose_snapshot(x->cf, id, seq) != BFT_E_OK) return fail(out, c, "no snapshot at seq");
    return true;
}

/* partition 0,1|2,3: the groups; a node in no group is on its own. */
static bool cmd_partition(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    const char *spec = dd_pos(c, 0);
    if (!spec) return fail(out, c, "partition A,B|C,D");
    uint8_t group[CF_MAX_NODES];
    for (uint32_t i = 0; i < CF_MAX_NODES; i++)
        group[i] = (uint8_t)(100 + i);
    char buf[64];
    snprintf(buf, sizeof buf, "%s", spec);
    uint8_t g = 0;
    char *save = NULL;
    for (char *side = strtok_r(buf, "|", &save); side; side = strtok_r(NULL, "|", &save), g++) {
        uint32_t mask;
        if (!parse_nodes(x->cf, side, &mask)) return fail(out, c, "partition A,B|C,D");
        for (uint32_t i = 0; i < cf_n(x->cf); i++)
            if (mask >> i & 1) group[i] = g;
    }
    cf_partition(x->cf, group);
    take_log(x->cf, out);
    return true;
}

static bool cmd_heal(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    (void)c;
    cf_heal(x->cf);
    take_log(x->cf, out);
    return true;
}

/* status [nodes]: what each core reports, and the application's state
 * digest (equal digests: the same batches executed in the same order). */
static bool cmd_status(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    uint32_t mask;
    if (!parse_nodes(x->cf, dd_pos(c, 0), &mask)) return fail(out, c, "status [all|<id>,...]");
    take_log(x->cf, out);
    for (uint32_t i = 0; i < cf_n(x->cf); i++) {
        if (!(mask >> i & 1)) continue;
        struct bft_core_status st;
        if (!cf_status(x->cf, i, &st)) {
            dd_appendf(out, "%u: down\n", i);
            continue;
        }
        char state[9], leader[16] = "none";
        cf_state_hex(x->cf, i, state);
        if (st.leader < cf_n(x->cf)) snprintf(leader, sizeof leader, "%u", st.leader);
        dd_appendf(out,
                   "%u: view=%llu leader=%s%s last_exec=%llu stable=%llu pending=%u%s "
                   "state=%s\n",
                   i, (unsigned long long)st.view, leader, st.is_leader ? " (self)" : "",
                   (unsigned long long)st.last_executed, (unsigned long long)st.stable_checkpoint,
                   st.pending_requests, st.in_view_change ? " in_view_change" : "", state);
    }
    return true;
}

/* timers [nodes]: the armed timers of each live node. */
static bool cmd_timers(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    uint32_t mask;
    if (!parse_nodes(x->cf, dd_pos(c, 0), &mask)) return fail(out, c, "timers [all|<id>,...]");
    take_log(x->cf, out);
    for (uint32_t i = 0; i < cf_n(x->cf); i++) {
        if (!(mask >> i & 1) || cf_is_down(x->cf, i)) continue;
        dd_appendf(out, "%u:", i);
        for (uint32_t t = 0; t < CF_TIMERS; t++) {
            char name[24];
            if (cf_timer_armed(x->cf, i, t))
                dd_appendf(out, " %s", cf_timer_name(x->cf, t, name, sizeof name));
        }
        dd_append(out, "\n");
    }
    return true;
}

/* queue: packets waiting on each non-empty link. */
static bool cmd_queue(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    (void)c;
    take_log(x->cf, out);
    bool any = false;
    for (uint32_t i = 0; i < cf_n(x->cf); i++)
        for (uint32_t j = 0; j < cf_n(x->cf); j++)
            if (cf_queued(x->cf, i, j)) {
                dd_appendf(out, "%u->%u: %u\n", i, j, cf_queued(x->cf, i, j));
                any = true;
            }
    if (!any) dd_append(out, "empty\n");
    return true;
}

/* log default | log all | log send,exec,...: the effect kinds shown. */
static bool cmd_log(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out)
{
    static const struct {
        const char *name;
        unsigned bit;
    } kinds[] = {{"send", CF_LOG_SEND},   {"persist", CF_LOG_PERSIST}, {"exec", CF_LOG_EXEC},
                 {"timer", CF_LOG_TIMER}, {"reject", CF_LOG_REJECT},   {"ckpt", CF_LOG_CKPT},
                 {"read", CF_LOG_READ},   {"recv", CF_LOG_RECV},       {"net", CF_LOG_NET}};
    const char *spec = dd_pos(c, 0);
    if (!spec) return fail(out, c, "log default|all|none|<kind>,... [types=<msg>,...]");
    take_log(x->cf, out);
    unsigned mask = 0;
    if (strcmp(spec, "default") == 0)
        mask = CF_LOG_DEFAULT;
    else if (strcmp(spec, "all") == 0)
        mask = ~0u;
    else if (strcmp(spec, "none") != 0) {
        char buf[128];
        snprintf(buf, sizeof buf, "%s", spec);
        for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
            size_t i = 0;
            while (i < sizeof kinds / sizeof kinds[0] && strcmp(kinds[i].name, t) != 0)
                i++;
            if (i == sizeof kinds / sizeof kinds[0]) return fail(out, c, "unknown effect kind");
            mask |= kinds[i].bit;
        }
    }
    cf_set_log_mask(x->cf, mask);
    /* types=a,b: only these message types in send/recv lines. */
    const char *types[32];
    size_t nt = 0;
    char tbuf[256];
    snprintf(tbuf, sizeof tbuf, "%s", dd_arg(c, "types") ? dd_arg(c, "types") : "");
    for (char *t = strtok(tbuf, ","); t && nt < 32; t = strtok(NULL, ","))
        types[nt++] = t;
    if (!cf_set_log_types(x->cf, types, nt)) return fail(out, c, "unknown message type");
    return true;
}

/* ---- dispatch ---- */

typedef bool (*cmd_fn)(struct dd_ctx *x, const struct dd_cmd *c, struct dd_buf *out);
static const struct {
    const char *name;
    cmd_fn fn;
} commands[] = {
    {"init", cmd_init},
    {"request", cmd_request},
    {"read", cmd_request},
    {"resend", cmd_request},
    {"deliver", cmd_deliver},
    {"drop", cmd_drop},
    {"stabilize", cmd_stabilize},
    {"tick", cmd_tick},
    {"advance", cmd_advance},
    {"run", cmd_advance},
    {"crash", cmd_crash},
    {"restart", cmd_restart},
    {"lose-snapshot", cmd_lose_snapshot},
    {"partition", cmd_partition},
    {"heal", cmd_heal},
    {"status", cmd_status},
    {"timers", cmd_timers},
    {"queue", cmd_queue},
    {"log", cmd_log},
};

bool dd_commands_run(void *ctx, const struct dd_cmd *c, struct dd_buf *out)
{
    struct dd_ctx *x = ctx;
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(commands[i].name, c->name) != 0) continue;
        if (!x->cf && commands[i].fn != cmd_init) return fail(out, c, "no cluster: init first");
        return commands[i].fn(x, c, out);
    }
    return fail(out, c, "unknown command (see tests/core/README.md)");
}

void dd_ctx_reset(struct dd_ctx *ctx)
{
    cf_destroy(ctx->cf);
    ctx->cf = NULL;
}
