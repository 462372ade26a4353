/* cluster.json: load with validation (cluster_save.c writes it,
 * cluster_paths.c derives key, certificate and status paths from it).
 *
 * Schema (docs/design.md "Command-line contract"; unknown keys are ignored so
 * the file can be extended without breaking older readers):
 *   cluster_id   "<16 hex digits>" (u64, big-endian digit order)
 *   protocol     "pbft" | "hotstuff" | "raft"
 *   f            >= 1; n >= 3f+1 for pbft/hotstuff (Castro & Liskov §3),
 *                n >= 2f+1 for raft (a majority of 2f+1 survives f crashes)
 *   app          a name: orders, kv (built in) or an embedder's (default "orders")
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
#include "config/cluster_internal.h"
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

const char *cluster_proto_name(int p)
{
    return p >= BFT_PROTO_PBFT && p <= BFT_PROTO_RAFT ? proto_names[p] : NULL;
}

int cluster_fail(const struct cluster_ctx *x, const char *fmt, ...)
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
static char *read_file(const struct cluster_ctx *x, size_t *len)
{
    FILE *fp = fopen(x->path, "re");
    if (fp == NULL) {
        cluster_fail(x, "cannot open: %s", strerror(errno));
        return NULL;
    }
    struct stat st;
    char *buf = NULL;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode))
        cluster_fail(x, "not a regular file");
    else if ((uint64_t)st.st_size > CLUSTER_FILE_MAX)
        cluster_fail(x, "larger than %u bytes", CLUSTER_FILE_MAX);
    else if ((buf = malloc((size_t)st.st_size + 1)) == NULL)
        cluster_fail(x, "out of memory");
    else if ((*len = fread(buf, 1, (size_t)st.st_size, fp)) != (size_t)st.st_size) {
        cluster_fail(x, "read error");
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

static int get_string(const struct cluster_ctx *x, const cJSON *obj, const char *where,
                      const char *key, const char *def, size_t cap, char *out)
{
    const cJSON *it = field(obj, key);
    const char *s;
    if (it == NULL) {
        if (def == NULL) return cluster_fail(x, "%s%s: missing (string required)", where, key);
        s = def;
    } else if (!cJSON_IsString(it) || it->valuestring == NULL) {
        return cluster_fail(x, "%s%s: must be a string", where, key);
    } else {
        s = it->valuestring;
    }
    if (strlen(s) >= cap)
        return cluster_fail(x, "%s%s: longer than %zu characters", where, key, cap - 1);
    memcpy(out, s, strlen(s) + 1);
    return 0;
}

/* A non-negative integer within [min, max]; `has_def` makes it optional. */
static int get_uint(const struct cluster_ctx *x, const cJSON *obj, const char *where,
                    const char *key, bool has_def, uint32_t def, uint32_t min, uint32_t max,
                    uint32_t *out)
{
    const cJSON *it = field(obj, key);
    if (it == NULL) {
        if (!has_def) return cluster_fail(x, "%s%s: missing (integer required)", where, key);
        *out = def;
        return 0;
    }
    if (!cJSON_IsNumber(it)) return cluster_fail(x, "%s%s: must be an integer", where, key);
    double v = it->valuedouble;
    /* Range first so the cast below is defined; then integrality. */
    if (!(v >= (double)min && v <= (double)max))
        return cluster_fail(x, "%s%s: must be between %" PRIu32 " and %" PRIu32, where, key, min,
                            max);
    if ((double)(uint32_t)v != v) return cluster_fail(x, "%s%s: must be an integer", where, key);
    *out = (uint32_t)v;
    return 0;
}

static int get_bool(const struct cluster_ctx *x, const cJSON *obj, const char *key, bool def,
                    bool *out)
{
    const cJSON *it = field(obj, key);
    if (it == NULL) {
        *out = def;
        return 0;
    }
    if (!cJSON_IsBool(it)) return cluster_fail(x, "%s: must be true or false", key);
    *out = cJSON_IsTrue(it);
    return 0;
}

static int parse_cluster_id(const struct cluster_ctx *x, const cJSON *root, uint64_t *out)
{
    const cJSON *it = field(root, "cluster_id");
    if (it == NULL) return cluster_fail(x, "cluster_id: missing (string required)");
    if (!cJSON_IsString(it) || it->valuestring == NULL)
        return cluster_fail(x, "cluster_id: must be a string of 16 hex digits");
    uint8_t b[8];
    if (crypto_from_hex(it->valuestring, b, sizeof b) != 0)
        return cluster_fail(x, "cluster_id: must be exactly 16 hex digits, got \"%.40s\"",
                            it->valuestring);
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | b[i];
    *out = v;
    return 0;
}

static bool address_ok(const char *a)
{
    static const char *const schemes[] = {"tcp://", "ipc://", "inproc://", "tls+tcp://",
                                          "tcp+direct://"};
    for (size_t i = 0; i < sizeof schemes / sizeof schemes[0]; i++) {
        size_t l = strlen(schemes[i]);
        if (strncmp(a, schemes[i], l) == 0 && a[l] != '\0') return true;
    }
    return false;
}

/* One {id, address, public_key} entry; shared by replicas and clients,
 * which have the same layout. */
static int parse_member(const struct cluster_ctx *x, const cJSON *it, const char *list,
                        uint32_t idx, bool address_required, bool tls, uint32_t *id, char *address,
                        uint8_t *pk)
{
    char where[48];
    snprintf(where, sizeof where, "%s[%" PRIu32 "].", list, idx);
    if (!cJSON_IsObject(it))
        return cluster_fail(x, "%s[%" PRIu32 "]: must be an object", list, idx);
    if (get_uint(x, it, where, "id", false, 0, 0, UINT32_MAX, id) != 0) return -1;
    if (*id != idx)
        return cluster_fail(
            x, "%sid: is %" PRIu32 ", expected %" PRIu32 " (ids must be 0..%s-1 in order)", where,
            *id, idx, list[0] == 'r' ? "n" : "C");
    if (get_string(x, it, where, "address", address_required ? NULL : "", CLUSTER_ADDR_MAX,
                   address) != 0)
        return -1;
    if (address_required && address[0] == '\0') return cluster_fail(x, "%saddress: empty", where);
    /* A mix would send some traffic in the clear or never connect: with
     * "tls" every endpoint speaks tls+tcp://, without it none does. */
    bool is_tls = strncmp(address, "tls+tcp://", 10) == 0;
    if (is_tls && !tls)
        return cluster_fail(x,
                            "%saddress: \"%s\": tls+tcp:// needs \"tls\": {\"ca\": ...} in the "
                            "cluster (bftctl keygen --tls, docs/tls.md)",
                            where, address);
    if (tls && address[0] != '\0' && !is_tls)
        return cluster_fail(x,
                            "%saddress: \"%s\": the cluster has \"tls\", so it must be tls+tcp://",
                            where, address);
    if (address[0] != '\0' && !address_ok(address))
        return cluster_fail(x,
                            "%saddress: \"%s\" must start with tcp://, ipc://, inproc://, "
                            "tls+tcp:// (nng) or tcp+direct:// (net/direct.h)",
                            where, address);
    const cJSON *k = field(it, "public_key");
    if (k == NULL) return cluster_fail(x, "%spublic_key: missing (string required)", where);
    if (!cJSON_IsString(k) || k->valuestring == NULL)
        return cluster_fail(x, "%spublic_key: must be a string", where);
    if (crypto_from_hex(k->valuestring, pk, CRYPTO_PK_LEN) != 0)
        return cluster_fail(x, "%spublic_key: must be exactly %d hex digits", where,
                            2 * CRYPTO_PK_LEN);
    return 0;
}

static const cJSON *get_array(const struct cluster_ctx *x, const cJSON *root, const char *key)
{
    const cJSON *a = field(root, key);
    if (a == NULL) {
        cluster_fail(x, "%s: missing (array required)", key);
        return NULL;
    }
    if (!cJSON_IsArray(a)) {
        cluster_fail(x, "%s: must be an array", key);
        return NULL;
    }
    return a;
}

/* replicas[i].status: optional; an http:// URL with a host and a port,
 * because bftd listens on it and bftctl status dials it. */
static int parse_status(const struct cluster_ctx *x, const cJSON *it, uint32_t idx, char *out,
                        size_t cap)
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
        return cluster_fail(x, "%sstatus: \"%s\" must be http://HOST:PORT", where, out);
    return 0;
}

static int parse_replicas(const struct cluster_ctx *x, const cJSON *root, struct bft_cluster *c)
{
    const cJSON *arr = get_array(x, root, "replicas");
    if (arr == NULL) return -1;
    int n = cJSON_GetArraySize(arr);
    if (n < 1) return cluster_fail(x, "replicas: empty");
    if (n > BFT_MAX_REPLICAS)
        return cluster_fail(x, "replicas: %d replicas, at most %d supported", n, BFT_MAX_REPLICAS);
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

static int parse_clients(const struct cluster_ctx *x, const cJSON *root, struct bft_cluster *c)
{
    const cJSON *arr = get_array(x, root, "clients");
    if (arr == NULL) return -1;
    int n = cJSON_GetArraySize(arr);
    if (n > BFT_MAX_CLIENTS)
        return cluster_fail(x, "clients: %d clients, at most %d supported", n, BFT_MAX_CLIENTS);
    if (n > 0) {
        c->clients = calloc((size_t)n, sizeof *c->clients);
        if (c->clients == NULL) return cluster_fail(x, "out of memory");
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
static int check_unique_addresses(const struct cluster_ctx *x, const struct bft_cluster *c)
{
    uint32_t total = c->n + c->n_clients;
    for (uint32_t i = 0; i < total; i++) {
        const char *a = i < c->n ? c->replicas[i].address : c->clients[i - c->n].address;
        if (a[0] == '\0') continue;
        for (uint32_t j = i + 1; j < total; j++) {
            const char *b = j < c->n ? c->replicas[j].address : c->clients[j - c->n].address;
            if (i >= c->n && j >= c->n) continue; /* client-client: shared endpoint */
            if (strcmp(a, b) == 0) return cluster_fail(x, "duplicate address \"%s\"", a);
        }
    }
    return 0;
}

/* Quorum arithmetic: PBFT and HotStuff need n >= 3f+1 so that two quorums
 * of 2f+1 intersect in an honest replica (Castro & Liskov OSDI'99 §3,
 * HotStuff PODC'19 §3); Raft needs a majority that survives f crashes,
 * n >= 2f+1 (Ongaro & Ousterhout §5). */
static int check_fault_bound(const struct cluster_ctx *x, const struct bft_cluster *c)
{
    uint32_t need = c->protocol == BFT_PROTO_RAFT ? 2 * c->f + 1 : 3 * c->f + 1;
    if (c->n < need)
        return cluster_fail(
            x, "%s with f=%" PRIu32 " needs at least %" PRIu32 " replicas, have %" PRIu32,
            cluster_proto_name(c->protocol), c->f, need, c->n);
    return 0;
}

void cluster_dir_of(const char *path, char *out, size_t cap)
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
static int parse_tls(const struct cluster_ctx *x, const cJSON *root, struct bft_cluster *c)
{
    const cJSON *t = field(root, "tls");
    if (t == NULL || cJSON_IsNull(t)) return 0;
    if (!cJSON_IsObject(t))
        return cluster_fail(x, "tls: must be an object like {\"ca\": \"ca.crt\"}");
    char ca[256];
    if (get_string(x, t, "tls.", "ca", NULL, sizeof ca, ca) != 0) return -1;
    if (ca[0] == '\0') return cluster_fail(x, "tls.ca: empty");
    int w = ca[0] == '/' ? snprintf(c->tls_ca, sizeof c->tls_ca, "%s", ca)
                         : snprintf(c->tls_ca, sizeof c->tls_ca, "%s/%s", c->keys_dir, ca);
    if (w < 0 || (size_t)w >= sizeof c->tls_ca) return cluster_fail(x, "tls.ca: path too long");
    c->tls = true;
    return 0;
}

static int parse_root(const struct cluster_ctx *x, const cJSON *root, struct bft_cluster *c)
{
    char proto[16], keys[256];
    if (!cJSON_IsObject(root)) return cluster_fail(x, "top level must be a JSON object");
    if (parse_cluster_id(x, root, &c->cluster_id) != 0) return -1;
    if (get_string(x, root, "", "protocol", NULL, sizeof proto, proto) != 0) return -1;
    c->protocol = proto_parse(proto);
    if (c->protocol < 0)
        return cluster_fail(x, "protocol: unknown \"%s\" (expected pbft, hotstuff or raft)", proto);
    if (get_uint(x, root, "", "f", false, 0, 1, BFT_MAX_REPLICAS, &c->f) != 0) return -1;
    if (get_string(x, root, "", "app", "orders", sizeof c->app, c->app) != 0) return -1;
    /* Any name: bftd runs the built-in orders and kv, a program on the
     * replica API (docs/embedding.md) its own app, whose name must match. */
    bool name_ok = c->app[0] != 0;
    for (const char *p = c->app; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            name_ok = false;
    if (!name_ok)
        return cluster_fail(
            x, "app: \"%s\" is not a name (a-z, 0-9, '_', '-'; orders and kv are built in)",
            c->app);
    if (get_uint(x, root, "", "batch_max", true, 64, 1, BFT_BATCH_MAX_ENVELOPES, &c->batch_max))
        return -1;
    if (get_bool(x, root, "sign", false, &c->sign) != 0) return -1;
    if (get_string(x, root, "", "keys_dir", "keys", sizeof keys, keys) != 0) return -1;
    if (keys[0] == '\0') return cluster_fail(x, "keys_dir: empty");
    int w = keys[0] == '/' ? snprintf(c->keys_dir, sizeof c->keys_dir, "%s", keys)
                           : snprintf(c->keys_dir, sizeof c->keys_dir, "%s/%s", c->dir, keys);
    if (w < 0 || (size_t)w >= sizeof c->keys_dir) return cluster_fail(x, "keys_dir: path too long");
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
    struct cluster_ctx x = {path, err, errlen};
    memset(c, 0, sizeof *c);
    if (err != NULL && errlen > 0) err[0] = '\0';
    if (strlen(path) >= sizeof c->path) return cluster_fail(&x, "path too long");
    snprintf(c->path, sizeof c->path, "%s", path);
    cluster_dir_of(path, c->dir, sizeof c->dir);

    size_t len = 0;
    char *text = read_file(&x, &len);
    if (text == NULL) return -1;
    const char *where = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(text, len, &where, false);
    if (root == NULL) {
        size_t off = where != NULL && where >= text ? (size_t)(where - text) : 0;
        free(text);
        return cluster_fail(&x, "not valid JSON (error near byte %zu)", off);
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
