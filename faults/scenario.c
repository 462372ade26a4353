/* Scenario files (bftctl cluster --scenario FILE.json, scenarios/NAME.json):
 * a fault plan plus the outcome it must have, per protocol where the
 * outcome differs (a crash-fault Raft loses safety to an equivocating
 * leader; PBFT and HotStuff must not). Schema in docs/faults.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "faults/faults_internal.h"

/* The keys of an "expect" block (docs/faults.md "Scenario schema"). Hosts
 * map each to a check of their own (bftsim --scenario, bftctl cluster). */
static const char *const expect_keys[] = {"safety", "progress", "progress_after_s"};

const char *fault_expect_key(size_t i)
{
    return i < sizeof expect_keys / sizeof *expect_keys ? expect_keys[i] : NULL;
}

static int parse_expect_key(const cJSON *it, struct fault_expect *e, const char *where, char *err,
                            size_t errlen)
{
    const char *k = it->string;
    if (strcmp(k, "safety") == 0) {
        if (cJSON_IsString(it) && strcmp(it->valuestring, "ok") == 0)
            e->safety = FAULT_SAFETY_OK;
        else if (cJSON_IsString(it) && strcmp(it->valuestring, "violated") == 0)
            e->safety = FAULT_SAFETY_VIOLATED;
        else
            return fault_err(err, errlen, BFT_E_INVALID,
                             "%s: expect.safety must be \"ok\" or \"violated\"", where);
    } else if (strcmp(k, "progress") == 0) {
        if (!cJSON_IsBool(it))
            return fault_err(err, errlen, BFT_E_INVALID,
                             "%s: expect.progress must be true or false", where);
        e->progress = cJSON_IsTrue(it);
    } else if (strcmp(k, "progress_after_s") == 0) {
        double d = cJSON_IsNumber(it) ? it->valuedouble : -1;
        if (!(d >= 0) || d * 1000 > (double)FAULT_TIME_MAX_MS)
            return fault_err(err, errlen, BFT_E_INVALID,
                             "%s: expect.progress_after_s must be seconds >= 0", where);
        e->progress_after_ms = (uint64_t)llround(d * 1000);
    } else {
        return fault_err(err, errlen, BFT_E_INVALID,
                         "%s: unknown key expect.%s (known: safety, progress, "
                         "progress_after_s)",
                         where, k);
    }
    return BFT_E_OK;
}

static int parse_expect(const cJSON *o, struct fault_expect *e, const char *where, char *err,
                        size_t errlen)
{
    if (!cJSON_IsObject(o))
        return fault_err(err, errlen, BFT_E_INVALID, "%s: \"expect\" must be an object", where);
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        int rv = parse_expect_key(it, e, where, err, errlen);
        if (rv != BFT_E_OK) return rv;
    }
    return BFT_E_OK;
}

static int parse_nodes(const cJSON *v, uint32_t *out, const char *where, char *err, size_t errlen)
{
    double d = cJSON_IsNumber(v) ? v->valuedouble : 0;
    if (!(d >= 1 && d <= BFT_MAX_REPLICAS) || floor(d) != d)
        return fault_err(err, errlen, BFT_E_INVALID, "%s: \"nodes\" must be 1..%d", where,
                         BFT_MAX_REPLICAS);
    *out = (uint32_t)d;
    return BFT_E_OK;
}

static int parse_protocols(struct fault_scenario *s, const cJSON *arr, char *err, size_t errlen)
{
    if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
        return fault_err(err, errlen, BFT_E_INVALID,
                         "scenario %s: \"protocols\" must be a non-empty array", s->name);
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        int proto = cJSON_IsString(it) ? bft_protocol_parse(it->valuestring) : -1;
        if (proto < 0)
            return fault_err(err, errlen, BFT_E_INVALID,
                             "scenario %s: unknown protocol %s (known: pbft, hotstuff, raft)",
                             s->name, cJSON_IsString(it) ? it->valuestring : "(not a string)");
        if (fault_scenario_for(s, proto))
            return fault_err(err, errlen, BFT_E_INVALID, "scenario %s: protocol %s listed twice",
                             s->name, it->valuestring);
        if (s->n_protocols >= 3)
            return fault_err(err, errlen, BFT_E_INVALID, "scenario %s: too many protocols",
                             s->name);
        s->protocols[s->n_protocols++] =
            (struct fault_scenario_protocol){.protocol = proto, .nodes = 0};
    }
    return BFT_E_OK;
}

/* "by_protocol": {"raft": {"nodes": 3, "expect": {...}}}: overrides. */
static int parse_overrides(struct fault_scenario *s, const cJSON *o, char *err, size_t errlen)
{
    if (!cJSON_IsObject(o))
        return fault_err(err, errlen, BFT_E_INVALID,
                         "scenario %s: \"by_protocol\" must be an object", s->name);
    const cJSON *it;
    cJSON_ArrayForEach(it, o)
    {
        int proto = bft_protocol_parse(it->string);
        struct fault_scenario_protocol *sp =
            proto < 0 ? NULL : (struct fault_scenario_protocol *)fault_scenario_for(s, proto);
        char where[FAULT_SCENARIO_NAME_MAX + 48];
        snprintf(where, sizeof where, "scenario %s, by_protocol.%s", s->name, it->string);
        if (!sp) return fault_err(err, errlen, BFT_E_INVALID, "%s: not in \"protocols\"", where);
        if (!cJSON_IsObject(it))
            return fault_err(err, errlen, BFT_E_INVALID, "%s: must be an object", where);
        const cJSON *f;
        cJSON_ArrayForEach(f, it)
        {
            int rv;
            if (strcmp(f->string, "nodes") == 0)
                rv = parse_nodes(f, &sp->nodes, where, err, errlen);
            else if (strcmp(f->string, "expect") == 0)
                rv = parse_expect(f, &sp->expect, where, err, errlen);
            else
                rv = fault_err(err, errlen, BFT_E_INVALID,
                               "%s: unknown key \"%s\" (known: nodes, expect)", where, f->string);
            if (rv != BFT_E_OK) return rv;
        }
    }
    return BFT_E_OK;
}

static const char *const scenario_keys[] = {
    "name",   "description", "protocols", "nodes",  "duration_s", "seed",
    "faults", "partitions",  "network",   "params", "expect",     "by_protocol",
};

static int check_keys(const cJSON *root, char *err, size_t errlen)
{
    const cJSON *it;
    cJSON_ArrayForEach(it, root)
    {
        bool known = false;
        for (size_t i = 0; i < sizeof scenario_keys / sizeof *scenario_keys; i++)
            known = known || strcmp(it->string, scenario_keys[i]) == 0;
        if (!known)
            return fault_err(err, errlen, BFT_E_INVALID,
                             "scenario: unknown key \"%s\" (see docs/faults.md)", it->string);
    }
    return BFT_E_OK;
}

/* name, description, nodes, duration_s. */
static int parse_header(struct fault_scenario *s, const cJSON *root, char *err, size_t errlen)
{
    const cJSON *name = cJSON_GetObjectItemCaseSensitive(root, "name");
    if (!cJSON_IsString(name) || !*name->valuestring || strlen(name->valuestring) >= sizeof s->name)
        return fault_err(err, errlen, BFT_E_INVALID,
                         "scenario: \"name\" must be a non-empty string under %zu characters",
                         sizeof s->name);
    strcpy(s->name, name->valuestring);
    const cJSON *desc = cJSON_GetObjectItemCaseSensitive(root, "description");
    if (desc && (!cJSON_IsString(desc) || strlen(desc->valuestring) >= sizeof s->description))
        return fault_err(err, errlen, BFT_E_INVALID,
                         "scenario %s: \"description\" must be a string under %zu characters",
                         s->name, sizeof s->description);
    if (desc) strcpy(s->description, desc->valuestring);
    int rv = parse_nodes(cJSON_GetObjectItemCaseSensitive(root, "nodes"), &s->nodes, s->name, err,
                         errlen);
    if (rv != BFT_E_OK) return rv;
    const cJSON *dur = cJSON_GetObjectItemCaseSensitive(root, "duration_s");
    double d = cJSON_IsNumber(dur) ? dur->valuedouble : 0;
    if (!(d >= 1 && d <= 86400) || floor(d) != d)
        return fault_err(err, errlen, BFT_E_INVALID,
                         "scenario %s: \"duration_s\" must be a whole number 1..86400", s->name);
    s->duration_s = (uint32_t)d;
    return BFT_E_OK;
}

/* protocols, expect and by_protocol: each protocol's size and outcome. */
static int parse_outcomes(struct fault_scenario *s, const cJSON *root, char *err, size_t errlen)
{
    int rv = parse_protocols(s, cJSON_GetObjectItemCaseSensitive(root, "protocols"), err, errlen);
    if (rv != BFT_E_OK) return rv;
    const cJSON *exp = cJSON_GetObjectItemCaseSensitive(root, "expect");
    if (!exp)
        return fault_err(err, errlen, BFT_E_INVALID, "scenario %s: \"expect\" is required",
                         s->name);
    s->expect = (struct fault_expect){.safety = FAULT_SAFETY_OK, .progress = true};
    rv = parse_expect(exp, &s->expect, s->name, err, errlen);
    if (rv != BFT_E_OK) return rv;
    for (uint32_t i = 0; i < s->n_protocols; i++) {
        s->protocols[i].nodes = s->nodes;
        s->protocols[i].expect = s->expect;
    }
    const cJSON *by = cJSON_GetObjectItemCaseSensitive(root, "by_protocol");
    if (by && (rv = parse_overrides(s, by, err, errlen)) != BFT_E_OK) return rv;
    return BFT_E_OK;
}

/* seed, faults, partitions, network, params: the plan. Specs are checked
 * against the largest cluster here, and against each protocol's own size
 * by fault_scenario_plan. */
static int parse_plan(struct fault_scenario *s, const cJSON *root, char *err, size_t errlen)
{
    uint32_t n_max = 0;
    for (uint32_t i = 0; i < s->n_protocols; i++)
        if (s->protocols[i].nodes > n_max) n_max = s->protocols[i].nodes;
    fault_plan_init(&s->plan, n_max, 1);
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(root, "seed");
    if (seed && fault_json_seed(seed, &s->plan.seed) != BFT_E_OK)
        return fault_err(err, errlen, BFT_E_INVALID, "scenario %s: \"seed\" must be a number",
                         s->name);
    s->seed_set = seed != NULL;
    char inner[256];
    const cJSON *v;
    int rv = BFT_E_OK;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "faults")) &&
        (rv = fault_json_specs(v, &s->plan, false, inner, sizeof inner)) != BFT_E_OK)
        goto bad;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "partitions")) &&
        (rv = fault_json_specs(v, &s->plan, true, inner, sizeof inner)) != BFT_E_OK)
        goto bad;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "network")) &&
        (rv = fault_json_net(v, &s->plan.net, inner, sizeof inner)) != BFT_E_OK)
        goto bad;
    if ((v = cJSON_GetObjectItemCaseSensitive(root, "params")) &&
        (rv = fault_json_params(v, &s->plan.params, inner, sizeof inner)) != BFT_E_OK)
        goto bad;
    for (uint32_t i = 0; i < s->n_protocols; i++) {
        struct fault_plan p;
        if ((rv = fault_scenario_plan(s, s->protocols[i].protocol, &p, err, errlen)) != BFT_E_OK)
            return rv;
    }
    return BFT_E_OK;
bad:
    return fault_err(err, errlen, rv, "scenario %s: %s", s->name, inner);
}

static int parse_root(struct fault_scenario *s, const cJSON *root, char *err, size_t errlen)
{
    int rv = check_keys(root, err, errlen);
    if (rv == BFT_E_OK) rv = parse_header(s, root, err, errlen);
    if (rv == BFT_E_OK) rv = parse_outcomes(s, root, err, errlen);
    if (rv == BFT_E_OK) rv = parse_plan(s, root, err, errlen);
    return rv;
}

int fault_scenario_parse(struct fault_scenario *s, const char *text, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    cJSON *root = cJSON_Parse(text);
    int rv;
    if (!root || !cJSON_IsObject(root)) {
        const char *at = root ? "" : cJSON_GetErrorPtr();
        rv = fault_err(err, errlen, BFT_E_MALFORMED, "scenario: not a JSON object (near '%.20s')",
                       at ? at : "");
    } else {
        rv = parse_root(s, root, err, errlen);
    }
    cJSON_Delete(root);
    return rv;
}

int fault_scenario_load(struct fault_scenario *s, const char *path, char *err, size_t errlen)
{
    char *text = fault_json_read_file(path, err, errlen);
    if (!text) return BFT_E_IO;
    char inner[320];
    int rv = fault_scenario_parse(s, text, inner, sizeof inner);
    free(text);
    if (rv != BFT_E_OK) return fault_err(err, errlen, rv, "%s: %s", path, inner);
    return BFT_E_OK;
}

const struct fault_scenario_protocol *fault_scenario_for(const struct fault_scenario *s,
                                                         int protocol)
{
    for (uint32_t i = 0; i < s->n_protocols; i++)
        if (s->protocols[i].protocol == protocol) return &s->protocols[i];
    return NULL;
}

int fault_scenario_plan(const struct fault_scenario *s, int protocol, struct fault_plan *out,
                        char *err, size_t errlen)
{
    const struct fault_scenario_protocol *sp = fault_scenario_for(s, protocol);
    if (!sp)
        return fault_err(err, errlen, BFT_E_NOTFOUND, "scenario %s does not list protocol %s",
                         s->name, bft_protocol_name(protocol));
    *out = s->plan;
    out->n = sp->nodes;
    char inner[256];
    int rv = fault_plan_validate(out, inner, sizeof inner);
    if (rv != BFT_E_OK)
        return fault_err(err, errlen, rv, "scenario %s, %s with %u nodes: %s", s->name,
                         bft_protocol_name(protocol), sp->nodes, inner);
    return BFT_E_OK;
}
