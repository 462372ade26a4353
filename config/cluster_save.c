/* cluster.json: save (atomically: a temp file, fsync, rename). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/cluster.h"
#include "config/cluster_internal.h"
#include "crypto/crypto.h"

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
    ok = ok && cJSON_AddStringToObject(root, "protocol", cluster_proto_name(c->protocol)) != NULL;
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
static int write_atomic(const struct cluster_ctx *x, const char *text)
{
    char tmp[600];
    int w = snprintf(tmp, sizeof tmp, "%s.tmp", x->path);
    if (w < 0 || (size_t)w >= sizeof tmp) return cluster_fail(x, "path too long");
    FILE *fp = fopen(tmp, "we");
    if (fp == NULL) return cluster_fail(x, "cannot create %s: %s", tmp, strerror(errno));
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
        return cluster_fail(x, "cannot write: %s", strerror(saved));
    }
    return 0;
}

int bft_cluster_save(const struct bft_cluster *c, const char *path, char *err, size_t errlen)
{
    struct cluster_ctx x = {path, err, errlen};
    if (err != NULL && errlen > 0) err[0] = '\0';
    if (cluster_proto_name(c->protocol) == NULL)
        return cluster_fail(&x, "protocol %d unknown", c->protocol);
    if (c->n < 1 || c->n > BFT_MAX_REPLICAS)
        return cluster_fail(&x, "%" PRIu32 " replicas (1..%d allowed)", c->n, BFT_MAX_REPLICAS);
    if (c->n_clients > BFT_MAX_CLIENTS || (c->n_clients > 0 && c->clients == NULL))
        return cluster_fail(&x, "%" PRIu32 " clients invalid", c->n_clients);
    char target_dir[512], keys_rel[512];
    cluster_dir_of(path, target_dir, sizeof target_dir);
    if (c->keys_dir[0] == '\0')
        snprintf(keys_rel, sizeof keys_rel, "keys"); /* unset: the default */
    else if (keys_dir_for(c->keys_dir, target_dir, keys_rel, sizeof keys_rel) != 0)
        return cluster_fail(&x, "keys_dir: path too long");
    cJSON *root = cluster_json(c, keys_rel);
    if (root == NULL) return cluster_fail(&x, "out of memory");
    char *text = cJSON_Print(root);
    cJSON_Delete(root);
    if (text == NULL) return cluster_fail(&x, "out of memory");
    int rv = write_atomic(&x, text);
    cJSON_free(text);
    return rv;
}
