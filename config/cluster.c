/* cluster.json: load with validation, save, key file paths.
 *
 * Schema (docs/design.md "Command-line contract"; unknown keys are ignored so
 * the file can be extended without breaking older readers):
 *   cluster_id   "<16 hex digits>" (u64, big-endian digit order)
 *   protocol     "pbft" | "hotstuff" | "raft"
 *   f            >= 1; n >= 3f+1 for pbft/hotstuff (Castro & Liskov §3),
 *                n >= 2f+1 for raft (a majority of 2f+1 survives f crashes)
 *   app          "orders" | "kv"                       (default "orders")
 *   batch_max    1..BFT_BATCH_MAX_ENVELOPES             (default 64)
 *   sign         bool, raft --sign                      (default false)
 *   keys_dir     relative to the directory of cluster.json (default "keys")
 *   metrics_base string                                 (default "")
 *   tls          {"ca": FILE} (optional; docs/tls.md): FILE relative to
 *                keys_dir; then every address must be tls+tcp://, and
 *                without it none may be
 *   replicas     [{id, address, public_key, status?}], ids 0..n-1 in order;
 *                status "http://HOST:PORT" (GET /status, bftctl status)
 *   clients      [{id, address?, public_key}], ids 0..C-1 in order
 * Every problem is reported as "<path>: <where>: <what>" in err. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cluster.h"
#include "crypto/crypto.h"

#define CLUSTER_FILE_MAX (8u << 20) /* 1024 clients need ~200 KiB */
#define CLUSTER_ADDR_MAX 128        /* sizeof bft_cluster_replica.address */

static const char *const proto_names[] = {
    [BFT_PROTO_PBFT] = "pbft",
    [BFT_PROTO_HOTSTUFF] = "hotstuff",
    [BFT_PROTO_RAFT] = "raft",
};

/* Private on purpose: the wire module owns bft_protocol_parse, and the
 * config loader should not depend on it being linked. */
static int proto_parse(const char *s)
{
    for (int p = BFT_PROTO_PBFT; p <= BFT_PROTO_RAFT; p++)
        if (strcmp(s, proto_names[p]) == 0) return p;
    return -1;
}

static const char *proto_name(int p)
{
    return p >= BFT_PROTO_PBFT && p <= BFT_PROTO_RAFT ? proto_names[p] : NULL;
}

/* Everything load needs to report errors with the file name. */
struct ctx {
    const char *path;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int fail(const struct ctx *x, const char *fmt, ...)
{
    if (x->err == NULL || x->errlen == 0) return -1;
    int off = snprintf(x->err, x->errlen, "%s: ", x->path);
    if (off < 0 || (size_t)off >= x->errlen) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(x->err + off, x->errlen - (size_t)off, fmt, ap);
    va_end(ap);
    return -1;
}

/* Read the whole file, bounded. Returns a NUL-terminated malloc'd buffer. */
static char *read_file(const struct ctx *x, size_t *len)
{
    FILE *fp = fopen(x->path, "re");
    if (fp == NULL) {
        fail(x, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode))
        fail(x, "not a regular file");
    else if ((uint64_t)st.st_size > CLUSTER_FILE_MAX)
        fail(x, "larger than %u bytes", CLUSTER_FILE_MAX);
    else if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
        fail(x, "out of memory");
    else if ((*len = fread(buf, 1, (size_t)st.st_size, fp)) != (size_t)st.st_size) {
        fail(x, "read error");
        free(buf);
        buf = NULL;
    } else {
        buf[*len] = '\0';
    }
    fclose(fp);
    return buf;
}

/* Typed field accessors. `where` names the object ("" at top level, or
 * "replicas[2]."), so messages point at the exact field. */
static const cJSON *field(const cJSON *obj, const char *key)
{
    return cJSON_GetObjectItemCaseSensitive(obj, key);
}

static int get_string(const struct ctx *x, const cJSON *obj, const char *where, const char *key,
                      const char *def, size_t cap, char *out)
{
    const cJSON *it = field(obj, key);
    const char *s;
    if (it == NULL) {
        if (def == NULL) return fail(x, "%s%s: missing (string required)", where, key);
        s = def;
    } else if (!cJSON_IsString(it) || it->valuestring == NULL) {
        return fail(x, "%s%s: must be a string", where, key);
    } else {
        s = it->valuestring;
    }
    if (strlen(s) >= cap) return fail(x, "%s%s: longer than %zu characters", where, key, cap - 1);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

/* A non-negative integer within [min, max]; `has_def` makes it optional. */
static int get_uint(const struct ctx *x, const cJSON *obj, const char *where, const char *key,
                    bool has_def, uint32_t def, uint32_t min, uint32_t max, uint32_t *out)
{
    const cJSON *it = field(obj, key);
    if (it == NULL) {
        if (!has_def) return fail(x, "%s%s: missing (integer required)", where, key);
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(it)) return fail(x, "%s%s: must be an integer", where, key);
    double v = it->valuedouble;
    /* Range first so the cast below is defined; then integrality. */
    if (!(v >= (double)min && v <= (double)max))
        return fail(x, "%s%s: must be between %" PRIu32 " and %" PRIu32, where, key, min, max);
    if ((double)(uint32_t)v != v) return fail(x, "%s%s: must be an integer", where, key);
    *out = (uint32_t)v;
    return 0;
}

static int get_bool(const struct ctx *x, const cJSON *obj, const char *key, bool def, bool *out)
{
    const cJSON *it = field(obj, key);
    if (it == NULL) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(it)) return fail(x, "%s: must be true or false", key);
    *out = cJSON_IsTrue(it);
    return 0;
}

static int parse_cluster_id(const struct ctx *x, const cJSON *root, uint64_t *out)
{
    const cJSON *it = field(root, "cluster_id");
    if (it == NULL) return fail(x, "cluster_id: missing (string required)");
    if (!cJSON_IsString(it) || it->valuestring == NULL)
        return fail(x, "cluster_id: must be a string of 16 hex digits");
    uint8_t b[8];
    if (crypto_from_hex(it->valuestring, b, sizeof b) != 0)
        return fail(x, "cluster_id: must be exactly 16 hex digits, got \"%.40s\"", it->valuestring);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    *out = v;
    return 0;
}

static bool address_ok(const char *a)
{
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://", "tls+tcp://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t l = strlen(schemes[i]);
        if (strncmp(a, schemes[i], l) == 0 && a[l] != '\0') return true;
    }
    return false;
}

/* One {id, address, public_key} entry; shared by replicas and clients,
 * which have the same layout. */
static int parse_member(const struct ctx *x, const cJSON *it, const char *list, uint32_t idx,
                        bool address_required, bool tls, uint32_t *id, char *address, uint8_t *pk)
{
    char where[48];
    snprintf(where, sizeof where, "%s[%" PRIu32 "].", list, idx);
    if (!cJSON_IsObject(it)) return fail(x, "%s[%" PRIu32 "]: must be an object", list, idx);
    if (get_uint(x, it, where, "id", false, 0, 0, UINT32_MAX, id) != 0) return -1;
    if (*id != idx)
        return fail(x, "%sid: is %" PRIu32 ", expected %" PRIu32 " (ids must be 0..%s-1 in order)",
                    where, *id, idx, list[0] == 'r' ? "n" : "C");
    if (get_string(x, it, where, "address", address_required ? NULL : "", CLUSTER_ADDR_MAX,
                   address) != 0)
        return -1;
    if (address_required && address[0] == '\0') return fail(x, "%saddress: empty", where);
    /* A mix would send some traffic in the clear or never connect: with
     * "tls" every endpoint speaks tls+tcp://, without it none does. */
    bool is_tls = strncmp(address, "tls+tcp://", 10) == 0;
    if (is_tls && !tls)
        return fail(x,
                    "%saddress: \"%s\": tls+tcp:// needs \"tls\": {\"ca\": ...} in the "
                    "cluster (bftctl keygen --tls, docs/tls.md)",
                    where, address);
    if (tls && address[0] != '\0' && !is_tls)
        return fail(x, "%saddress: \"%s\": the cluster has \"tls\", so it must be tls+tcp://",
                    where, address);
    if (address[0] != '\0' && !address_ok(address))
        return fail(x,
                    "%saddress: \"%s\" must be an nng URL starting with tcp://, ipc://, "
                    "inproc:// or tls+tcp://",
                    where, address);
    const cJSON *k = field(it, "public_key");
    if (k == NULL) return fail(x, "%spublic_key: missing (string required)", where);
    if (!cJSON_IsString(k) || k->valuestring == NULL)
        return fail(x, "%spublic_key: must be a string", where);
    if (crypto_from_hex(k->valuestring, pk, CRYPTO_PK_LEN) != 0)
        return fail(x, "%spublic_key: must be exactly %d hex digits", where, 2 * CRYPTO_PK_LEN);
    return 0;
}

static const cJSON *get_array(const struct ctx *x, const cJSON *root, const char *key)
{
    const cJSON *a = field(root, key);
    if (a == NULL) {
        fail(x, "%s: missing (array required)", key);
        return NULL;
    }
    if (!cJSON_IsArray(a)) {
        fail(x, "%s: must be an array", key);
        return NULL;
    }
    return a;
}

/* replicas[i].status: optional; an http:// URL with a host and a port,
 * because bftd listens on it and bftctl status dials it. */
static int parse_status(const struct ctx *x, const cJSON *it, uint32_t idx, char *out, size_t cap)
{
    char where[48];
    snprintf(where, sizeof where, "replicas[%" PRIu32 "].", idx);
    if (get_string(x, it, where, "status", "", cap, out) != 0) return -1;
    if (out[0] == '\0') return 0;
    const char *hp = strncmp(out, "http://", 7) == 0 ? out + 7 : NULL;
    const char *colon = hp ? strrchr(hp, ':') : NULL;
    char *end = NULL;
    long port = colon ? strtol(colon + 1, &end, 10) : 0;
    if (!hp || !colon || colon == hp || port <= 0 || port > 65535 || *end != '\0')
        return fail(x, "%sstatus: \"%s\" must be http://HOST:PORT", where, out);
    return 0;
}

static int parse_replicas(const struct ctx *x, const cJSON *root, struct bft_cluster *c)
{
    const cJSON *arr = get_array(x, root, "replicas");
    if (arr == NULL) return -1;
    int n = cJSON_GetArraySize(arr);
    if (n < 1) return fail(x, "replicas: empty");
    if (n > BFT_MAX_REPLICAS)
        return fail(x, "replicas: %d replicas, at most %d supported", n, BFT_MAX_REPLICAS);
    uint32_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        struct bft_cluster_replica *r = &c->replicas[i];
        if (parse_member(x, it, "replicas", i, true, c->tls, &r->id, r->address, r->pk) != 0)
            return -1;
        if (parse_status(x, it, i, r->status, sizeof r->status) != 0) return -1;
        i++;
    }
    c->n = i;
    return 0;
}

static int parse_clients(const struct ctx *x, const cJSON *root, struct bft_cluster *c)
{
    const cJSON *arr = get_array(x, root, "clients");
    if (arr == NULL) return -1;
    int n = cJSON_GetArraySize(arr);
    if (n > BFT_MAX_CLIENTS)
        return fail(x, "clients: %d clients, at most %d supported", n, BFT_MAX_CLIENTS);
    if (n > 0) {
        c->clients = calloc((size_t)n, sizeof *c->clients);
        if (c->clients == NULL) return fail(x, "out of memory");
    }
    uint32_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, arr)
    {
        struct bft_cluster_client *cl = &c->clients[i];
        if (parse_member(x, it, "clients", i, false, c->tls, &cl->id, cl->address, cl->pk) != 0)
            return -1;
        i++;
    }
    c->n_clients = i;
    return 0;
}

/* Two endpoints on one address would make one of them unreachable (or
 * make nng_listen fail on one replica at start-up, far from the cause).
 * Clients may share an address with each other: one load-generator process
 * multiplexes many clients on one endpoint and demultiplexes replies by the
 * client id they carry. */
static int check_unique_addresses(const struct ctx *x, const struct bft_cluster *c)
{
    uint32_t total = c->n + c->n_clients;
    for (uint32_t i = 0; i < total; i++) {
        const char *a = i < c->n ? c->replicas[i].address : c->clients[i - c->n].address;
        if (a[0] == '\0') continue;
        for (uint32_t j = i + 1; j < total; j++) {
            const char *b = j < c->n ? c->replicas[j].address : c->clients[j - c->n].address;
            if (i >= c->n && j >= c->n) continue; /* client-client: shared endpoint */
            if (strcmp(a, b) == 0) return fail(x, "duplicate address \"%s\"", a);
        }
    }
    return 0;
}

/* Quorum arithmetic: PBFT and HotStuff need n >= 3f+1 so that two quorums
 * of 2f+1 intersect in an honest replica (Castro & Liskov OSDI'99 §3,
 * HotStuff PODC'19 §3); Raft needs a majority that survives f crashes,
 * n >= 2f+1 (Ongaro & Ousterhout §5). */
static int check_fault_bound(const struct ctx *x, const struct bft_cluster *c)
{
    uint32_t need = c->protocol == BFT_PROTO_RAFT ? 2 * c->f + 1 : 3 * c->f + 1;
    if (c->n < need)
        return fail(x, "%s with f=%" PRIu32 " needs at least %" PRIu32 " replicas, have %" PRIu32,
                    proto_name(c->protocol), c->f, need, c->n);
    return 0;
}

static void dir_of(const char *path, char *out, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL)
        snprintf(out, cap, ".");
    else if (slash == path)
        snprintf(out, cap, "/");
    else
        snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

/* "tls": {"ca": FILE}; FILE relative to keys_dir (where keygen --tls puts
 * it, next to the certificates it signed). */
static int parse_tls(const struct ctx *x, const cJSON *root, struct bft_cluster *c)
{
    const cJSON *t = field(root, "tls");
    if (t == NULL || cJSON_IsNull(t)) return 0;
    if (!cJSON_IsObject(t)) return fail(x, "tls: must be an object like {\"ca\": \"ca.crt\"}");
    char ca[256];
    if (get_string(x, t, "tls.", "ca", NULL, sizeof ca, ca) != 0) return -1;
    if (ca[0] == '\0') return fail(x, "tls.ca: empty");
    int w = ca[0] == '/' ? snprintf(c->tls_ca, sizeof c->tls_ca, "%s", ca)
                         : snprintf(c->tls_ca, sizeof c->tls_ca, "%s/%s", c->keys_dir, ca);
    if (w < 0 || (size_t)w >= sizeof c->tls_ca) return fail(x, "tls.ca: path too long");
    c->tls = true;
    return 0;
}

static int parse_root(const struct ctx *x, const cJSON *root, struct bft_cluster *c)
{
    char proto[16], keys[256];
    if (!cJSON_IsObject(root)) return fail(x, "top level must be a JSON object");
    if (parse_cluster_id(x, root, &c->cluster_id) != 0) return -1;
    if (get_string(x, root, "", "protocol", NULL, sizeof proto, proto) != 0) return -1;
    c->protocol = proto_parse(proto);
    if (c->protocol < 0)
        return fail(x, "protocol: unknown \"%s\" (expected pbft, hotstuff or raft)", proto);
    if (get_uint(x, root, "", "f", false, 0, 1, BFT_MAX_REPLICAS, &c->f) != 0) return -1;
    if (get_string(x, root, "", "app", "orders", sizeof c->app, c->app) != 0) return -1;
    /* Any name: bftd runs the built-in orders and kv, a program on the
     * replica API (docs/embedding.md) its own app, whose name must match. */
    bool name_ok = c->app[0] != 0;
    for (const char *p = c->app; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            name_ok = false;
    if (!name_ok)
        return fail(x, "app: \"%s\" is not a name (a-z, 0-9, '_', '-'; orders and kv are built in)",
                    c->app);
    if (get_uint(x, root, "", "batch_max", true, 64, 1, BFT_BATCH_MAX_ENVELOPES, &c->batch_max))
        return -1;
    if (get_bool(x, root, "sign", false, &c->sign) != 0) return -1;
    if (get_string(x, root, "", "keys_dir", "keys", sizeof keys, keys) != 0) return -1;
    if (keys[0] == '\0') return fail(x, "keys_dir: empty");
    int w = keys[0] == '/' ? snprintf(c->keys_dir, sizeof c->keys_dir, "%s", keys)
                           : snprintf(c->keys_dir, sizeof c->keys_dir, "%s/%s", c->dir, keys);
    if (w < 0 || (size_t)w >= sizeof c->keys_dir) return fail(x, "keys_dir: path too long");
    if (get_string(x, root, "", "metrics_base", "", sizeof c->metrics_base, c->metrics_base))
        return -1;
    if (parse_tls(x, root, c) != 0) return -1;
    if (parse_replicas(x, root, c) != 0) return -1;
    if (check_fault_bound(x, c) != 0) return -1;
    if (parse_clients(x, root, c) != 0) return -1;
    return check_unique_addresses(x, c);
}

int bft_cluster_load(struct bft_cluster *c, const char *path, char *err, size_t errlen)
{
    struct ctx x = {path, err, errlen};
    memset(c, 0, sizeof *c);
    if (err != NULL && errlen > 0) err[0] = '\0';
    if (strlen(path) >= sizeof c->path) return fail(&x, "path too long");
    snprintf(c->path, sizeof c->path, "%s", path);
    dir_of(path, c->dir, sizeof c->dir);

    size_t len = 0;
    char *text = read_file(&x, &len);
    if (text == NULL) return -1;
    const char *where = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &where, false);
    if (root == NULL) {
        size_t off = where != NULL && where >= text ? (size_t)(where - text) : 0;
        free(text);
        return fail(&x, "not valid JSON (error near byte %zu)", off);
    }
    int rv = parse_root(&x, root, c);
    cJSON_Delete(root);
    free(text);
    if (rv != 0) bft_cluster_free(c);
    return rv;
}

void bft_cluster_free(struct bft_cluster *c)
{
    free(c->clients);
    c->clients = NULL;
    c->n_clients = 0;
}

void bft_cluster_replica_key_path(const struct bft_cluster *c, uint32_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/replica-%" PRIu32 ".pem", c->keys_dir, id);
}

int bft_cluster_status_url(const struct bft_cluster *c, uint32_t id, char *out, size_t cap)
{
    if (id >= c->n || cap == 0) return -1;
    int w;
    if (c->replicas[id].status[0]) {
        w = snprintf(out, cap, "%s", c->replicas[id].status);
    } else {
        /* metrics_base "http://HOST:PORT": replica i at PORT + i. */
        const char *colon = strrchr(c->metrics_base, ':');
        long port = colon ? strtol(colon + 1, NULL, 10) : 0;
        if (!c->metrics_base[0] || !colon || port <= 0 || port + id > 65535) return -1;
        w = snprintf(out, cap, "%.*s:%ld", (int)(colon - c->metrics_base), c->metrics_base,
                     port + (long)id);
    }
    return w > 0 && (size_t)w < cap ? 0 : -1;
}

void bft_cluster_client_key_path(const struct bft_cluster *c, uint32_t id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/client-%" PRIu32 ".pem", c->keys_dir, id);
}

void bft_cluster_tls_paths(const struct bft_cluster *c, bool client, uint32_t id, char *crt,
                           char *key, size_t cap)
{
    const char *who = client ? "client" : "replica";
    snprintf(crt, cap, "%s/%s-%" PRIu32 ".crt", c->keys_dir, who, id);
    snprintf(key, cap, "%s/%s-%" PRIu32 ".key", c->keys_dir, who, id);
}

/* ------------------------------------------------------------------ */
/* Save.                                                               */
/* ------------------------------------------------------------------ */

/* keys_dir as written: relative to the directory of the target file when
 * it lies under it (so a cluster directory can be moved or copied as a
 * whole), otherwise absolute. */
static int keys_dir_for(const char *keys_dir, const char *target_dir, char *out, size_t cap)
{
    size_t dl = strlen(target_dir);
    bool root = strcmp(target_dir, "/") == 0;
    if (!root && strncmp(keys_dir, target_dir, dl) == 0 && keys_dir[dl] == '/' &&
        keys_dir[dl + 1] != '\0') {
        int w = snprintf(out, cap, "%s", keys_dir + dl + 1);
        return w >= 0 && (size_t)w < cap ? 0 : -1;
    }
    if (keys_dir[0] == '/') {
        int w = snprintf(out, cap, "%s", keys_dir);
        return w >= 0 && (size_t)w < cap ? 0 : -1;
    }
    /* Relative to the working directory: make it absolute so it still
     * names the same directory when read relative to target_dir. */
    char cwd[512];
    if (getcwd(cwd, sizeof cwd) == NULL) return -1;
    const char *rel = strncmp(keys_dir, "./", 2) == 0 ? keys_dir + 2 : keys_dir;
    int w = snprintf(out, cap, "%s/%s", cwd, rel);
    return w >= 0 && (size_t)w < cap ? 0 : -1;
}

static cJSON *member_json(uint32_t id, const char *address, const uint8_t *pk)
{
    char hex[2 * CRYPTO_PK_LEN + 1];
    crypto_to_hex(pk, CRYPTO_PK_LEN, hex);
    cJSON *o = cJSON_CreateObject();
    if (o == NULL) return NULL;
    if (cJSON_AddNumberToObject(o, "id", id) == NULL ||
        cJSON_AddStringToObject(o, "address", address) == NULL ||
        cJSON_AddStringToObject(o, "public_key", hex) == NULL) {
        cJSON_Delete(o);
        return NULL;
    }
    return o;
}

/* tls.ca as written: relative to keys_dir when it lies there (load
 * resolves it against keys_dir), otherwise as loaded. */
static const char *tls_ca_rel(const struct bft_cluster *c)
{
    size_t kl = strlen(c->keys_dir);
    if (kl && strncmp(c->tls_ca, c->keys_dir, kl) == 0 && c->tls_ca[kl] == '/' &&
        c->tls_ca[kl + 1] != '\0')
        return c->tls_ca + kl + 1;
    return c->tls_ca;
}

static cJSON *cluster_json(const struct bft_cluster *c, const char *keys_rel)
{
    char id_hex[17];
    snprintf(id_hex, sizeof id_hex, "%016" PRIx64, c->cluster_id);
    cJSON *root = cJSON_CreateObject();
    cJSON *reps = cJSON_CreateArray();
    cJSON *cls = cJSON_CreateArray();
    bool ok = root != NULL && reps != NULL && cls != NULL;
    ok = ok && cJSON_AddStringToObject(root, "cluster_id", id_hex) != NULL;
    ok = ok && cJSON_AddStringToObject(root, "protocol", proto_name(c->protocol)) != NULL;
    ok = ok && cJSON_AddNumberToObject(root, "f", c->f) != NULL;
    ok = ok && cJSON_AddStringToObject(root, "app", c->app[0] ? c->app : "orders") != NULL;
    ok = ok && cJSON_AddNumberToObject(root, "batch_max", c->batch_max) != NULL;
    ok = ok && cJSON_AddBoolToObject(root, "sign", c->sign) != NULL;
    ok = ok && cJSON_AddStringToObject(root, "keys_dir", keys_rel) != NULL;
    ok = ok && cJSON_AddStringToObject(root, "metrics_base", c->metrics_base) != NULL;
    if (ok && c->tls) {
        cJSON *t = cJSON_AddObjectToObject(root, "tls");
        ok = t != NULL && cJSON_AddStringToObject(t, "ca", tls_ca_rel(c)) != NULL;
    }
    for (uint32_t i = 0; ok && i < c->n; i++) {
        cJSON *m = member_json(c->replicas[i].id, c->replicas[i].address, c->replicas[i].pk);
        ok = m != NULL && cJSON_AddItemToArray(reps, m);
        if (ok && c->replicas[i].status[0])
            ok = cJSON_AddStringToObject(m, "status", c->replicas[i].status) != NULL;
    }
    for (uint32_t i = 0; ok && i < c->n_clients; i++) {
        cJSON *m = member_json(c->clients[i].id, c->clients[i].address, c->clients[i].pk);
        ok = m != NULL && cJSON_AddItemToArray(cls, m);
    }
    /* Once attached, the arrays belong to root. */
    if (ok && cJSON_AddItemToObject(root, "replicas", reps)) {
        reps = NULL;
        if (cJSON_AddItemToObject(root, "clients", cls)) return root;
    }
    cJSON_Delete(cls);
    cJSON_Delete(reps);
    cJSON_Delete(root);
    return NULL;
}

/* Write to <path>.tmp, fsync, rename: a crash mid-save leaves the old file
 * intact rather than a truncated config that no replica can start from. */
static int write_atomic(const struct ctx *x, const char *text)
{
    char tmp[600];
    int w = snprintf(tmp, sizeof tmp, "%s.tmp", x->path);
    if (w < 0 || (size_t)w >= sizeof tmp) return fail(x, "path too long");
    FILE *fp = fopen(tmp, "we");
    if (fp == NULL) return fail(x, "cannot create %s: %s", tmp, strerror(errno));
    bool ok =
        fputs(text, fp) >= 0 && fputc('\n', fp) != EOF && fflush(fp) == 0 && fsync(fileno(fp)) == 0;
    int saved = errno;
    if (fclose(fp) != 0 && ok) {
        ok = false;
        saved = errno;
    }
    if (ok && rename(tmp, x->path) != 0) {
        ok = false;
        saved = errno;
    }
    if (!ok) {
        unlink(tmp);
        return fail(x, "cannot write: %s", strerror(saved));
    }
    return 0;
}

int bft_cluster_save(const struct bft_cluster *c, const char *path, char *err, size_t errlen)
{
    struct ctx x = {path, err, errlen};
    if (err != NULL && errlen > 0) err[0] = '\0';
    if (proto_name(c->protocol) == NULL) return fail(&x, "protocol %d unknown", c->protocol);
    if (c->n < 1 || c->n > BFT_MAX_REPLICAS)
        return fail(&x, "%" PRIu32 " replicas (1..%d allowed)", c->n, BFT_MAX_REPLICAS);
    if (c->n_clients > BFT_MAX_CLIENTS || (c->n_clients > 0 && c->clients == NULL))
        return fail(&x, "%" PRIu32 " clients invalid", c->n_clients);
    char target_dir[512], keys_rel[512];
    dir_of(path, target_dir, sizeof target_dir);
    if (c->keys_dir[0] == '\0')
        snprintf(keys_rel, sizeof keys_rel, "keys"); /* unset: the default */
    else if (keys_dir_for(c->keys_dir, target_dir, keys_rel, sizeof keys_rel) != 0)
        return fail(&x, "keys_dir: path too long");
    cJSON *root = cluster_json(c, keys_rel);
    if (root == NULL) return fail(&x, "out of memory");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) return fail(&x, "out of memory");
    int rv = write_atomic(&x, text);
    cJSON_free(text);
    return rv;
}
