/* The plan as text: spec strings that parse back to the same entries, and
 * the JSON plan file bftctl hands each bftd (docs/faults.md "Plan file").
 * JSON keys are checked strictly: an unknown key is an error, so a typo in
 * a scenario cannot silently turn a fault off. */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "faults/faults_internal.h"

/* ---- spec formatting ---- */

static size_t put_time(uint64_t ms, char *out, size_t cap)
{
    int k = ms % 1000 == 0 ? snprintf(out, cap, "%" PRIu64, ms / 1000)
                           : snprintf(out, cap, "%" PRIu64 "ms", ms);
    return k < 0 || (size_t)k >= cap ? 0 : (size_t)k;
}

size_t fault_window_format(const struct fault_window *w, char *out, size_t cap)
{
    if (cap == 0) return 0;
    out[0] = '\0';
    if (w->from_ms == 0 && w->until_ms == FAULT_FOREVER) return 0;
    char a[32], b[32] = "";
    if (!put_time(w->from_ms, a, sizeof a)) return 0;
    if (w->until_ms != FAULT_FOREVER && !put_time(w->until_ms, b, sizeof b)) return 0;
    int k = snprintf(out, cap, "@%s%s%s", a, b[0] ? "-" : "", b);
    return k < 0 || (size_t)k >= cap ? 0 : (size_t)k;
}

size_t fault_mask_format(uint32_t mask, char *out, size_t cap)
{
    size_t len = 0;
    if (cap == 0) return 0;
    out[0] = '\0';
    for (uint32_t i = 0; i < 32; i++) {
        if (!(mask & (1u << i))) continue;
        int k = snprintf(out + len, cap - len, "%s%u", len ? "," : "", i);
        if (k < 0 || (size_t)k >= cap - len) return 0;
        len += (size_t)k;
    }
    return len;
}

size_t fault_entry_format(const struct fault_entry *e, char *out, size_t cap)
{
    char win[64];
    fault_window_format(&e->win, win, sizeof win);
    const char *name = fault_behaviour_name(e->behaviour);
    int k = snprintf(out, cap, "%u:%s%s", e->replica, name ? name : "?", win);
    return k < 0 || (size_t)k >= cap ? 0 : (size_t)k;
}

size_t fault_partition_format(const struct fault_partition *pt, char *out, size_t cap)
{
    size_t len = 0;
    if (cap == 0) return 0;
    out[0] = '\0';
    for (uint32_t g = 0; g < pt->n_groups && g < FAULT_MAX_GROUPS; g++) {
        if (g) {
            if (len + 2 > cap) return 0;
            out[len++] = pt->asym ? '>' : '|';
            out[len] = '\0';
        }
        size_t k = fault_mask_format(pt->group[g], out + len, cap - len);
        if (k == 0 && pt->group[g]) return 0;
        len += k;
    }
    char win[64];
    size_t wl = fault_window_format(&pt->win, win, sizeof win);
    if (len + wl + 1 > cap) return 0;
    memcpy(out + len, win, wl + 1);
    return len + wl;
}

size_t fault_net_format(const struct fault_net_rates *r, char *out, size_t cap)
{
    char win[64];
    fault_window_format(&r->win, win, sizeof win);
    int k = snprintf(out, cap,
                     "drop=%.6g,duplicate=%.6g,reorder=%.6g,delay_ms=%u,jitter_ms=%u,"
                     "reorder_ms=%u%s",
                     r->drop_ppm / 1e6, r->duplicate_ppm / 1e6, r->reorder_ppm / 1e6, r->delay_ms,
                     r->jitter_ms, r->reorder_ms, win);
    return k < 0 || (size_t)k >= cap ? 0 : (size_t)k;
}

/* ---- JSON helpers shared with scenario.c ---- */

static bool json_uint(const cJSON *v, uint64_t max, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0) || d > (double)max || floor(d) != d) return false;
    *out = (uint64_t)d;
    return true;
}

/* Seconds (fractions allowed) -> ms. */
static bool json_secs(const cJSON *v, uint64_t *ms)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0) || d * 1000.0 > (double)FAULT_TIME_MAX_MS) return false;
    *ms = (uint64_t)llround(d * 1000.0);
    return true;
}

int fault_json_net(const cJSON *o, struct fault_net_rates *r, char *err, size_t errlen)
{
    memset(r, 0, sizeof *r);
    r->win.until_ms = FAULT_FOREVER;
    if (!cJSON_IsObject(o))
        return fault_err(err, errlen, BFT_E_INVALID, "\"network\" must be an object");
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        const char *k = it->string;
        uint32_t *prob = strcmp(k, "drop") == 0        ? &r->drop_ppm
                         : strcmp(k, "duplicate") == 0 ? &r->duplicate_ppm
                         : strcmp(k, "reorder") == 0   ? &r->reorder_ppm
                                                       : NULL;
        uint32_t *ms = strcmp(k, "delay_ms") == 0     ? &r->delay_ms
                       : strcmp(k, "jitter_ms") == 0  ? &r->jitter_ms
                       : strcmp(k, "reorder_ms") == 0 ? &r->reorder_ms
                                                      : NULL;
        uint64_t v;
        if (prob) {
            if (!cJSON_IsNumber(it) || !(it->valuedouble >= 0 && it->valuedouble <= 1))
                return fault_err(err, errlen, BFT_E_INVALID,
                                 "network.%s must be a probability in [0, 1]", k);
            *prob = (uint32_t)llround(it->valuedouble * 1e6);
        } else if (ms) {
            if (!json_uint(it, 3600000, &v))
                return fault_err(err, errlen, BFT_E_INVALID,
                                 "network.%s must be a whole number of ms", k);
            *ms = (uint32_t)v;
        } else if (strcmp(k, "from_s") == 0) {
            if (!json_secs(it, &r->win.from_ms))
                return fault_err(err, errlen, BFT_E_INVALID, "network.from_s must be seconds >= 0");
        } else if (strcmp(k, "until_s") == 0) {
            if (!json_secs(it, &r->win.until_ms))
                return fault_err(err, errlen, BFT_E_INVALID,
                                 "network.until_s must be seconds >= 0");
        } else {
            return fault_err(err, errlen, BFT_E_INVALID,
                             "network: unknown key \"%s\" (known: drop, duplicate, reorder, "
                             "delay_ms, jitter_ms, reorder_ms, from_s, until_s)",
                             k);
        }
    }
    if (r->win.until_ms <= r->win.from_ms)
        return fault_err(err, errlen, BFT_E_INVALID, "network: until_s is not after from_s");
    return BFT_E_OK;
}

#define PARAMS_MAP(X)                                                                              \
    X(slow_pct, 1000)                                                                              \
    X(slow_delay_ms, 3600000)                                                                      \
    X(flood_per_tick, 100000)                                                                      \
    X(junk_per_tick, 100000)                                                                       \
    X(replay_per_tick, 100000)                                                                     \
    X(withhold_keep, BFT_MAX_REPLICAS)

int fault_json_params(const cJSON *o, struct fault_params *p, char *err, size_t errlen)
{
    memset(p, 0, sizeof *p);
    if (!cJSON_IsObject(o))
        return fault_err(err, errlen, BFT_E_INVALID, "\"params\" must be an object");
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        uint64_t v;
#define PARAM_READ(name, max)                                                                      \
    if (strcmp(it->string, #name) == 0) {                                                          \
        if (!json_uint(it, max, &v))                                                               \
            return fault_err(err, errlen, BFT_E_INVALID,                                           \
                             "params." #name " must be a whole number <= %u", (unsigned)(max));    \
        p->name = (uint32_t)v;                                                                     \
        continue;                                                                                  \
    }
        PARAMS_MAP(PARAM_READ)
        return fault_err(err, errlen, BFT_E_INVALID,
                         "params: unknown key \"%s\" (known: slow_pct, slow_delay_ms, "
                         "flood_per_tick, junk_per_tick, replay_per_tick, withhold_keep)",
                         it->string);
    }
    return BFT_E_OK;
}

int fault_json_specs(const cJSON *arr, struct fault_plan *p, bool partitions, char *err,
                     size_t errlen)
{
    const char *key = partitions ? "partitions" : "faults";
    if (!cJSON_IsArray(arr))
        return fault_err(err, errlen, BFT_E_INVALID, "\"%s\" must be an array of spec strings",
                         key);
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        if (!cJSON_IsString(it))
            return fault_err(err, errlen, BFT_E_INVALID, "\"%s\": every entry must be a string",
                             key);
        int rv = partitions ? fault_plan_add_partition(p, it->valuestring, err, errlen)
                            : fault_plan_add_fault(p, it->valuestring, err, errlen);
        if (rv != BFT_E_OK) return rv;
    }
    return BFT_E_OK;
}

int fault_json_seed(const cJSON *v, uint64_t *seed)
{
    if (cJSON_IsString(v)) {
        char *end;
        unsigned long long s = strtoull(v->valuestring, &end, 0);
        if (!*v->valuestring || *end) return BFT_E_INVALID;
        *seed = s;
        return BFT_E_OK;
    }
    return json_uint(v, 1ull << 53, seed) ? BFT_E_OK : BFT_E_INVALID;
}

char *fault_json_read_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fault_err(err, errlen, BFT_E_IO, "cannot open %s", path);
        return NULL;
    }
    enum { MAX = 1 << 20 };
    char *buf = malloc(MAX + 1);
    size_t len = buf ? fread(buf, 1, MAX + 1, f) : 0;
    bool bad = ferror(f) != 0;
    fclose(f);
    if (!buf || bad || len > MAX) {
        free(buf);
        fault_err(err, errlen, BFT_E_IO, "cannot read %s (or larger than 1 MiB)", path);
        return NULL;
    }
    buf[len] = '\0';
    return buf;
}

/* ---- plan <-> JSON ---- */

static bool add_specs(cJSON *root, const char *key, const struct fault_plan *p, bool parts)
{
    cJSON *arr = cJSON_AddArrayToObject(root, key);
    if (!arr) return false;
    uint32_t count = parts ? p->n_partitions : p->n_faults;
    for (uint32_t i = 0; i < count; i++) {
        char spec[FAULT_SPEC_MAX * 2];
        size_t k = parts ? fault_partition_format(&p->partition[i], spec, sizeof spec)
                         : fault_entry_format(&p->fault[i], spec, sizeof spec);
        if (k == 0 || !cJSON_AddItemToArray(arr, cJSON_CreateString(spec))) return false;
    }
    return true;
}

char *fault_plan_to_json(const struct fault_plan *p)
{
    cJSON *root = cJSON_CreateObject();
    char *out = NULL;
    if (!root) return NULL;
    bool ok = cJSON_AddNumberToObject(root, "nodes", p->n) != NULL;
    if (p->seed <= (1ull << 53)) {
        ok = ok && cJSON_AddNumberToObject(root, "seed", (double)p->seed);
    } else {
        char s[32];
        snprintf(s, sizeof s, "%" PRIu64, p->seed);
        ok = ok && cJSON_AddStringToObject(root, "seed", s);
    }
    ok = ok && add_specs(root, "faults", p, false) && add_specs(root, "partitions", p, true);
    cJSON *net = ok ? cJSON_AddObjectToObject(root, "network") : NULL;
    const struct fault_net_rates *r = &p->net;
    ok = net && cJSON_AddNumberToObject(net, "drop", r->drop_ppm / 1e6) &&
         cJSON_AddNumberToObject(net, "duplicate", r->duplicate_ppm / 1e6) &&
         cJSON_AddNumberToObject(net, "reorder", r->reorder_ppm / 1e6) &&
         cJSON_AddNumberToObject(net, "delay_ms", r->delay_ms) &&
         cJSON_AddNumberToObject(net, "jitter_ms", r->jitter_ms) &&
         cJSON_AddNumberToObject(net, "reorder_ms", r->reorder_ms);
    if (ok && r->win.from_ms) ok = cJSON_AddNumberToObject(net, "from_s", r->win.from_ms / 1e3);
    if (ok && r->win.until_ms != FAULT_FOREVER)
        ok = cJSON_AddNumberToObject(net, "until_s", r->win.until_ms / 1e3);
    cJSON *par = ok ? cJSON_AddObjectToObject(root, "params") : NULL;
    ok = par != NULL;
#define PARAM_WRITE(name, max) ok = ok && cJSON_AddNumberToObject(par, #name, p->params.name);
    PARAMS_MAP(PARAM_WRITE)
    if (ok) out = cJSON_Print(root);
    cJSON_Delete(root);
    return out;
}

int fault_plan_from_json(struct fault_plan *p, const char *text, char *err, size_t errlen)
{
    cJSON *root = cJSON_Parse(text);
    int rv = BFT_E_OK;
    struct fault_plan np;
    if (!root || !cJSON_IsObject(root)) {
        rv = fault_err(err, errlen, BFT_E_MALFORMED, "plan: not a JSON object (near '%.20s')",
                       root ? "" : (cJSON_GetErrorPtr() ? cJSON_GetErrorPtr() : ""));
        goto out;
    }
    uint64_t n = 0;
    if (!json_uint(cJSON_GetObjectItemCaseSensitive(root, "nodes"), BFT_MAX_REPLICAS, &n) || !n) {
        rv = fault_err(err, errlen, BFT_E_INVALID, "plan: \"nodes\" must be 1..%d",
                       BFT_MAX_REPLICAS);
        goto out;
    }
    fault_plan_init(&np, (uint32_t)n, 0);
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        const char *k = it->string;
        if (strcmp(k, "nodes") == 0) continue;
        if (strcmp(k, "seed") == 0) {
            if (fault_json_seed(it, &np.seed) != BFT_E_OK)
                rv = fault_err(err, errlen, BFT_E_INVALID,
                               "plan: \"seed\" must be a whole number (or a string of one)");
        } else if (strcmp(k, "faults") == 0 || strcmp(k, "partitions") == 0) {
            rv = fault_json_specs(it, &np, k[0] == 'p', err, errlen);
        } else if (strcmp(k, "network") == 0) {
            rv = fault_json_net(it, &np.net, err, errlen);
        } else if (strcmp(k, "params") == 0) {
            rv = fault_json_params(it, &np.params, err, errlen);
        } else {
            rv = fault_err(err, errlen, BFT_E_INVALID,
                           "plan: unknown key \"%s\" (known: nodes, seed, faults, partitions, "
                           "network, params)",
                           k);
        }
        if (rv != BFT_E_OK) goto out;
    }
    rv = fault_plan_validate(&np, err, errlen);
    if (rv == BFT_E_OK) *p = np;
out:
    cJSON_Delete(root);
    return rv;
}

int fault_plan_save(const struct fault_plan *p, const char *path, char *err, size_t errlen)
{
    char *text = fault_plan_to_json(p);
    if (!text) return fault_err(err, errlen, BFT_E_NOMEM, "plan: out of memory");
    FILE *f = fopen(path, "w");
    bool ok = f && fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    if (f && fclose(f) != 0) ok = false;
    free(text);
    if (!ok) return fault_err(err, errlen, BFT_E_IO, "cannot write plan %s", path);
    return BFT_E_OK;
}

int fault_plan_load(struct fault_plan *p, const char *path, char *err, size_t errlen)
{
    char *text = fault_json_read_file(path, err, errlen);
    if (!text) return BFT_E_IO;
    char inner[256];
    int rv = fault_plan_from_json(p, text, inner, sizeof inner);
    free(text);
    if (rv != BFT_E_OK) return fault_err(err, errlen, rv, "%s: %s", path, inner);
    return BFT_E_OK;
}
