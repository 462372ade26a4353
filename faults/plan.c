/* The fault plan: parsing the command-line specs (docs/design.md "Command-line
 * contract": --fault ID:BEHAVIOUR[@T0[-T1]], --partition 'A,B|C,D@T0-T1',
 * --partition 'A>B,C@T0-T1') into one bounded struct, and the queries hosts
 * make of it. Every malformed spec is refused with a message that quotes
 * the offending text; nothing is half-added. */
#include <stdlib.h>
#include <string.h>

#include "faults/faults_internal.h"

#define FAULT_BEHAVIOUR_STR(name, str) [FAULT_##name] = str,
static const char *const behaviour_names[FAULT__COUNT] = {FAULT_BEHAVIOUR_MAP(FAULT_BEHAVIOUR_STR)};

const char *fault_behaviour_name(int b)
{
    if (b <= FAULT_NONE || b >= FAULT__COUNT) return NULL;
    return behaviour_names[b];
}

int fault_behaviour_parse(const char *s)
{
    for (int b = FAULT_NONE + 1; b < FAULT__COUNT; b++)
        if (strcmp(s, behaviour_names[b]) == 0) return b;
    return -1;
}

void fault_plan_init(struct fault_plan *p, uint32_t n, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->n = n;
    p->seed = seed;
    p->net.win.until_ms = FAULT_FOREVER;
}

/* ---- lexical helpers over (s, len) slices ---- */

static void trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t'))
        (*s)++, (*len)--;
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t'))
        (*len)--;
}

static bool slice_eq(const char *s, size_t len, const char *lit)
{
    return strlen(lit) == len && memcmp(s, lit, len) == 0;
}

/* A time: "2", "2.5" (seconds, up to ms precision), "2500ms", "3s". */
static bool parse_time(const char *s, size_t len, uint64_t *ms)
{
    trim(&s, &len);
    uint64_t unit = 1000; /* seconds by default */
    if (len > 2 && slice_eq(s + len - 2, 2, "ms")) {
        unit = 1;
        len -= 2;
    } else if (len > 1 && s[len - 1] == 's') {
        len -= 1;
    }
    if (len == 0) return false;
    uint64_t whole = 0, frac = 0, frac_div = 1;
    size_t i = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        whole = whole * 10 + (uint64_t)(s[i] - '0');
        if (whole > FAULT_TIME_MAX_MS) return false;
    }
    if (i == 0) return false;
    if (i < len && s[i] == '.') {
        if (unit == 1) return false; /* no fractions of a millisecond */
        size_t start = ++i;
        for (; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            if (frac_div == 1000) return false; /* finer than 1 ms */
            frac = frac * 10 + (uint64_t)(s[i] - '0');
            frac_div *= 10;
        }
        if (i == start) return false;
    }
    if (i != len) return false;
    uint64_t v = whole * unit + frac * (unit / frac_div);
    if (v > FAULT_TIME_MAX_MS) return false;
    *ms = v;
    return true;
}

/* "T0" or "T0-T1" after '@'. */
static int parse_window(const char *what, const char *spec, const char *s, size_t len,
                        struct fault_window *w, char *err, size_t errlen)
{
    const char *dash = memchr(s, '-', len);
    size_t l0 = dash ? (size_t)(dash - s) : len;
    if (!parse_time(s, l0, &w->from_ms))
        return fault_err(err, errlen, BFT_E_INVALID,
                         "%s '%s': bad start time '%.*s' (seconds like 2 or 2.5, or 1500ms)", what,
                         spec, (int)l0, s);
    w->until_ms = FAULT_FOREVER;
    if (!dash) return BFT_E_OK;
    size_t l1 = len - l0 - 1;
    if (!parse_time(dash + 1, l1, &w->until_ms))
        return fault_err(err, errlen, BFT_E_INVALID,
                         "%s '%s': bad end time '%.*s' (seconds like 8 or 8.5, or 8000ms)", what,
                         spec, (int)l1, dash + 1);
    if (w->until_ms <= w->from_ms)
        return fault_err(err, errlen, BFT_E_INVALID,
                         "%s '%s': window end '%.*s' is not after its start '%.*s'", what, spec,
                         (int)l1, dash + 1, (int)l0, s);
    return BFT_E_OK;
}

static int parse_id(const char *what, const char *spec, const char *s, size_t len, uint32_t n,
                    uint32_t *id, char *err, size_t errlen)
{
    trim(&s, &len);
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9' && v < 1000000; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    if (len == 0 || i != len)
        return fault_err(err, errlen, BFT_E_INVALID, "%s '%s': replica id '%.*s' is not a number",
                         what, spec, (int)len, s);
    if (v >= n || v >= BFT_MAX_REPLICAS)
        return fault_err(err, errlen, BFT_E_INVALID,
                         "%s '%s': replica %llu does not exist (nodes: %u, ids 0..%u)", what, spec,
                         (unsigned long long)v, n, n ? n - 1 : 0);
    *id = (uint32_t)v;
    return BFT_E_OK;
}

/* "0,1,2" -> mask; ids distinct, within n, list non-empty. */
static int parse_id_list(const char *what, const char *spec, const char *s, size_t len, uint32_t n,
                         uint32_t *mask, char *err, size_t errlen)
{
    *mask = 0;
    trim(&s, &len);
    if (len == 0)
        return fault_err(err, errlen, BFT_E_INVALID, "%s '%s': empty replica group", what, spec);
    while (len) {
        const char *comma = memchr(s, ',', len);
        size_t l = comma ? (size_t)(comma - s) : len;
        uint32_t id;
        int rv = parse_id(what, spec, s, l, n, &id, err, errlen);
        if (rv != BFT_E_OK) return rv;
        if (*mask & (1u << id))
            return fault_err(err, errlen, BFT_E_INVALID, "%s '%s': replica %u is listed twice",
                             what, spec, id);
        *mask |= 1u << id;
        if (!comma) break;
        s = comma + 1;
        len -= l + 1;
        if (len == 0)
            return fault_err(err, errlen, BFT_E_INVALID, "%s '%s': trailing comma", what, spec);
    }
    return BFT_E_OK;
}

/* Split "BODY@WINDOW" and parse the window (whole run if absent). */
static int split_window(const char *what, const char *spec, size_t *body_len,
                        struct fault_window *w, char *err, size_t errlen)
{
    size_t len = strlen(spec);
    const char *at = strchr(spec, '@');
    w->from_ms = 0;
    w->until_ms = FAULT_FOREVER;
    *body_len = at ? (size_t)(at - spec) : len;
    if (!at) return BFT_E_OK;
    if (strchr(at + 1, '@'))
        return fault_err(err, errlen, BFT_E_INVALID, "%s '%s': more than one '@'", what, spec);
    return parse_window(what, spec, at + 1, len - *body_len - 1, w, err, errlen);
}

static int check_spec(const char *what, const char *spec, char *err, size_t errlen)
{
    if (!spec || !*spec) return fault_err(err, errlen, BFT_E_INVALID, "%s: empty spec", what);
    if (strlen(spec) >= FAULT_SPEC_MAX)
        return fault_err(err, errlen, BFT_E_INVALID, "%s '%.40s...': longer than %d characters",
                         what, spec, FAULT_SPEC_MAX - 1);
    return BFT_E_OK;
}

/* ---- --fault ---- */

static int parse_fault(const struct fault_plan *p, const char *spec, struct fault_entry *e,
                       char *err, size_t errlen)
{
    const char *what = "fault";
    int rv = check_spec(what, spec, err, errlen);
    if (rv != BFT_E_OK) return rv;
    size_t body;
    rv = split_window(what, spec, &body, &e->win, err, errlen);
    if (rv != BFT_E_OK) return rv;
    const char *colon = memchr(spec, ':', body);
    if (!colon)
        return fault_err(err, errlen, BFT_E_INVALID,
                         "fault '%s': expected ID:BEHAVIOUR[@T0[-T1]], e.g. 0:equivocate@2", spec);
    rv = parse_id(what, spec, spec, (size_t)(colon - spec), p->n, &e->replica, err, errlen);
    if (rv != BFT_E_OK) return rv;
    const char *b = colon + 1;
    size_t blen = body - (size_t)(b - spec);
    trim(&b, &blen);
    char name[32];
    if (blen == 0 || blen >= sizeof name)
        return fault_err(err, errlen, BFT_E_INVALID, "fault '%s': missing behaviour", spec);
    memcpy(name, b, blen);
    name[blen] = '\0';
    e->behaviour = fault_behaviour_parse(name);
    if (e->behaviour < 0) {
        char known[256] = "";
        for (int i = FAULT_NONE + 1; i < FAULT__COUNT; i++) {
            strncat(known, behaviour_names[i], sizeof known - strlen(known) - 1);
            if (i + 1 < FAULT__COUNT) strncat(known, ", ", sizeof known - strlen(known) - 1);
        }
        return fault_err(err, errlen, BFT_E_INVALID,
                         "fault '%s': unknown behaviour '%s' (known: %s)", spec, name, known);
    }
    return BFT_E_OK;
}

int fault_plan_add_fault(struct fault_plan *p, const char *spec, char *err, size_t errlen)
{
    if (p->n_faults >= FAULT_MAX_FAULTS)
        return fault_err(err, errlen, BFT_E_FULL, "fault '%s': too many faults (at most %d)",
                         spec ? spec : "", FAULT_MAX_FAULTS);
    struct fault_entry e;
    int rv = parse_fault(p, spec, &e, err, errlen);
    if (rv != BFT_E_OK) return rv;
    p->fault[p->n_faults++] = e;
    return BFT_E_OK;
}

/* ---- --partition ---- */

static int parse_partition(const struct fault_plan *p, const char *spec, struct fault_partition *pt,
                           char *err, size_t errlen)
{
    const char *what = "partition";
    int rv = check_spec(what, spec, err, errlen);
    if (rv != BFT_E_OK) return rv;
    memset(pt, 0, sizeof *pt);
    size_t body;
    rv = split_window(what, spec, &body, &pt->win, err, errlen);
    if (rv != BFT_E_OK) return rv;
    const char *gt = memchr(spec, '>', body);
    const char *bar = memchr(spec, '|', body);
    if (gt && bar)
        return fault_err(err, errlen, BFT_E_INVALID,
                         "partition '%s': use either 'A,B|C,D' (symmetric) or 'A>B,C' "
                         "(asymmetric), not both",
                         spec);
    if (gt) {
        pt->asym = true;
        pt->n_groups = 2;
        if (memchr(gt + 1, '>', body - (size_t)(gt + 1 - spec)))
            return fault_err(err, errlen, BFT_E_INVALID, "partition '%s': more than one '>'", spec);
        rv = parse_id_list(what, spec, spec, (size_t)(gt - spec), p->n, &pt->group[0], err, errlen);
        if (rv == BFT_E_OK)
            rv = parse_id_list(what, spec, gt + 1, body - (size_t)(gt + 1 - spec), p->n,
                               &pt->group[1], err, errlen);
        if (rv != BFT_E_OK) return rv;
        if (pt->group[0] & pt->group[1])
            return fault_err(err, errlen, BFT_E_INVALID,
                             "partition '%s': a replica is on both sides of '>'", spec);
        return BFT_E_OK;
    }
    if (!bar)
        return fault_err(err, errlen, BFT_E_INVALID,
                         "partition '%s': expected 'A,B|C,D[@T0-T1]' or 'A>B,C[@T0-T1]'", spec);
    const char *s = spec;
    size_t left = body;
    uint32_t all = 0;
    while (true) {
        const char *sep = memchr(s, '|', left);
        size_t l = sep ? (size_t)(sep - s) : left;
        if (pt->n_groups >= FAULT_MAX_GROUPS)
            return fault_err(err, errlen, BFT_E_INVALID, "partition '%s': more than %d groups",
                             spec, FAULT_MAX_GROUPS);
        uint32_t mask;
        rv = parse_id_list(what, spec, s, l, p->n, &mask, err, errlen);
        if (rv != BFT_E_OK) return rv;
        if (all & mask)
            return fault_err(err, errlen, BFT_E_INVALID,
                             "partition '%s': a replica is in two groups", spec);
        all |= mask;
        pt->group[pt->n_groups++] = mask;
        if (!sep) break;
        s = sep + 1;
        left -= l + 1;
    }
    return BFT_E_OK;
}

int fault_plan_add_partition(struct fault_plan *p, const char *spec, char *err, size_t errlen)
{
    if (p->n_partitions >= FAULT_MAX_PARTITIONS)
        return fault_err(err, errlen, BFT_E_FULL,
                         "partition '%s': too many partitions (at most %d)", spec ? spec : "",
                         FAULT_MAX_PARTITIONS);
    struct fault_partition pt;
    int rv = parse_partition(p, spec, &pt, err, errlen);
    if (rv != BFT_E_OK) return rv;
    p->partition[p->n_partitions++] = pt;
    return BFT_E_OK;
}

/* ---- network rates ---- */

static bool parse_prob(const char *s, size_t len, uint32_t *ppm)
{
    char buf[32];
    trim(&s, &len);
    if (len == 0 || len >= sizeof buf) return false;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    double d = strtod(buf, &end);
    if (*end != '\0' || !(d >= 0.0 && d <= 1.0)) return false;
    *ppm = (uint32_t)(d * 1e6 + 0.5);
    return true;
}

static bool parse_ms(const char *s, size_t len, uint32_t *ms)
{
    trim(&s, &len);
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && s[i] >= '0' && s[i] <= '9' && v <= 3600000; i++)
        v = v * 10 + (uint64_t)(s[i] - '0');
    if (len == 0 || i != len || v > 3600000) return false;
    *ms = (uint32_t)v;
    return true;
}

int fault_plan_set_net(struct fault_plan *p, const char *spec, char *err, size_t errlen)
{
    const char *what = "network";
    int rv = check_spec(what, spec, err, errlen);
    if (rv != BFT_E_OK) return rv;
    struct fault_net_rates r = {0};
    size_t body;
    rv = split_window(what, spec, &body, &r.win, err, errlen);
    if (rv != BFT_E_OK) return rv;
    const char *s = spec;
    size_t left = body;
    while (left) {
        const char *comma = memchr(s, ',', left);
        size_t l = comma ? (size_t)(comma - s) : left;
        const char *eq = memchr(s, '=', l);
        if (!eq)
            return fault_err(err, errlen, BFT_E_INVALID, "network '%s': '%.*s' is not KEY=VALUE",
                             spec, (int)l, s);
        const char *k = s, *v = eq + 1;
        size_t kl = (size_t)(eq - s), vl = l - kl - 1;
        trim(&k, &kl);
        uint32_t *prob = slice_eq(k, kl, "drop")        ? &r.drop_ppm
                         : slice_eq(k, kl, "duplicate") ? &r.duplicate_ppm
                         : slice_eq(k, kl, "reorder")   ? &r.reorder_ppm
                                                        : NULL;
        uint32_t *ms = slice_eq(k, kl, "delay_ms")     ? &r.delay_ms
                       : slice_eq(k, kl, "jitter_ms")  ? &r.jitter_ms
                       : slice_eq(k, kl, "reorder_ms") ? &r.reorder_ms
                                                       : NULL;
        if (prob) {
            if (!parse_prob(v, vl, prob))
                return fault_err(err, errlen, BFT_E_INVALID,
                                 "network '%s': %.*s='%.*s' is not a probability in [0, 1]", spec,
                                 (int)kl, k, (int)vl, v);
        } else if (ms) {
            if (!parse_ms(v, vl, ms))
                return fault_err(err, errlen, BFT_E_INVALID,
                                 "network '%s': %.*s='%.*s' is not a whole number of ms (at most "
                                 "3600000)",
                                 spec, (int)kl, k, (int)vl, v);
        } else {
            return fault_err(err, errlen, BFT_E_INVALID,
                             "network '%s': unknown key '%.*s' (known: drop, duplicate, "
                             "reorder, delay_ms, jitter_ms, reorder_ms)",
                             spec, (int)kl, k);
        }
        if (!comma) break;
        s = comma + 1;
        left -= l + 1;
    }
    p->net = r;
    return BFT_E_OK;
}

/* ---- validation ---- */

static int check_window(const char *what, const struct fault_window *w, char *err, size_t errlen)
{
    if (w->until_ms <= w->from_ms ||
        (w->until_ms != FAULT_FOREVER && w->until_ms > FAULT_TIME_MAX_MS))
        return fault_err(err, errlen, BFT_E_INVALID, "%s: bad window [%llu, %llu) ms", what,
                         (unsigned long long)w->from_ms, (unsigned long long)w->until_ms);
    return BFT_E_OK;
}

int fault_plan_validate(const struct fault_plan *p, char *err, size_t errlen)
{
    char what[FAULT_SPEC_MAX + 16], spec[FAULT_SPEC_MAX];
    if (p->n == 0 || p->n > BFT_MAX_REPLICAS)
        return fault_err(err, errlen, BFT_E_INVALID, "plan: nodes %u out of range 1..%d", p->n,
                         BFT_MAX_REPLICAS);
    if (p->n_faults > FAULT_MAX_FAULTS || p->n_partitions > FAULT_MAX_PARTITIONS)
        return fault_err(err, errlen, BFT_E_INVALID, "plan: too many entries");
    uint32_t all = (uint32_t)((1ull << p->n) - 1);
    for (uint32_t i = 0; i < p->n_faults; i++) {
        const struct fault_entry *e = &p->fault[i];
        fault_entry_format(e, spec, sizeof spec);
        snprintf(what, sizeof what, "fault '%s'", spec);
        if (e->replica >= p->n)
            return fault_err(err, errlen, BFT_E_INVALID,
                             "%s: replica %u does not exist (nodes: %u, ids 0..%u)", what,
                             e->replica, p->n, p->n - 1);
        if (!fault_behaviour_name(e->behaviour))
            return fault_err(err, errlen, BFT_E_INVALID, "%s: unknown behaviour %d", what,
                             e->behaviour);
        int rv = check_window(what, &e->win, err, errlen);
        if (rv != BFT_E_OK) return rv;
    }
    for (uint32_t i = 0; i < p->n_partitions; i++) {
        const struct fault_partition *pt = &p->partition[i];
        fault_partition_format(pt, spec, sizeof spec);
        snprintf(what, sizeof what, "partition '%s'", spec);
        if (pt->n_groups < 2 || pt->n_groups > FAULT_MAX_GROUPS || (pt->asym && pt->n_groups != 2))
            return fault_err(err, errlen, BFT_E_INVALID, "%s: needs two groups or sides", what);
        uint32_t seen = 0;
        for (uint32_t g = 0; g < pt->n_groups; g++) {
            if (pt->group[g] == 0 || (pt->group[g] & ~all))
                return fault_err(err, errlen, BFT_E_INVALID,
                                 "%s: a group is empty or names a replica >= %u", what, p->n);
            if (seen & pt->group[g])
                return fault_err(err, errlen, BFT_E_INVALID, "%s: groups overlap", what);
            seen |= pt->group[g];
        }
        int rv = check_window(what, &pt->win, err, errlen);
        if (rv != BFT_E_OK) return rv;
    }
    const struct fault_net_rates *r = &p->net;
    if (r->drop_ppm > 1000000 || r->duplicate_ppm > 1000000 || r->reorder_ppm > 1000000)
        return fault_err(err, errlen, BFT_E_INVALID, "network: a rate is above 1");
    return check_window("network", &r->win, err, errlen);
}
