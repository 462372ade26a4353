/* bftctl keygen: one Ed25519 key pair per replica and per client, private
 * keys as PEM files (mode 0600, readable by `openssl pkey`), public keys and
 * addresses in cluster.json. With --tls also a cluster CA and one TLS
 * certificate per replica and client (docs/tls.md). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cluster.h"
#include "app/app.h"
#include "crypto/crypto.h"
#include "crypto/x509.h"
#include "tools/bftctl.h"

uint32_t ctl_default_f(int protocol, uint32_t nodes)
{
    if (protocol == BFT_PROTO_RAFT) return nodes >= 1 ? (nodes - 1) / 2 : 0;
    return nodes >= 1 ? (nodes - 1) / 3 : 0;
}

static int mkdir_one(const char *p, char *err, size_t errlen)
{
    if (mkdir(p, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", p, strerror(errno));
        return -1;
    }
    return 0;
}

/* keys/ca.crt, keys/ca.key (0600: kept so more certificates can be issued
 * later; move it off the hosts in a deployment, docs/tls.md) and one
 * certificate + key per replica and per client. */
static int keygen_tls(struct bft_cluster *c, char *err, size_t errlen)
{
    char crt[700], key[700], name[32];
    struct crypto_x509_ca *ca;
    snprintf(name, sizeof name, "bft-cluster-%016llx CA", (unsigned long long)c->cluster_id);
    if (crypto_x509_ca_create(&ca, name, err, errlen) != 0) return -1;
    int w = snprintf(c->tls_ca, sizeof c->tls_ca, "%s/ca.crt", c->keys_dir);
    if (w < 0 || (size_t)w >= sizeof c->tls_ca) {
        snprintf(err, errlen, "%s: path too long", c->keys_dir);
        crypto_x509_ca_free(ca);
        return -1;
    }
    snprintf(key, sizeof key, "%s/ca.key", c->keys_dir);
    int rv = crypto_x509_ca_write(ca, c->tls_ca, key, err, errlen);
    for (uint32_t i = 0; rv == 0 && i < c->n + c->n_clients; i++) {
        bool client = i >= c->n;
        uint32_t id = client ? i - c->n : i;
        snprintf(name, sizeof name, "%s-%u", client ? "client" : "replica", id);
        bft_cluster_tls_paths(c, client, id, crt, key, sizeof crt);
        rv = crypto_x509_issue(ca, name, crt, key, err, errlen);
    }
    crypto_x509_ca_free(ca);
    c->tls = rv == 0;
    return rv;
}

int ctl_keygen(const struct keygen_opts *o, char *err, size_t errlen)
{
    struct bft_cluster c;
    memset(&c, 0, sizeof c);
    if (mkdir_one(o->out_dir, err, errlen) != 0) return -1;
    snprintf(c.dir, sizeof c.dir, "%s", o->out_dir);
    snprintf(c.keys_dir, sizeof c.keys_dir, "%s/keys", o->out_dir);
    if (mkdir_one(c.keys_dir, err, errlen) != 0) return -1;
    uint8_t rnd[8];
    struct crypto_keypair kp;
    if (crypto_keypair_generate(&kp) != 0) {
        snprintf(err, errlen, "key generation failed");
        return -1;
    }
    memcpy(rnd, kp.pk, 8); /* random cluster id from fresh key material */
    for (int i = 0; i < 8; i++)
        c.cluster_id = (c.cluster_id << 8) | rnd[i];
    c.protocol = o->protocol;
    c.n = o->nodes;
    c.f = o->f;
    snprintf(c.app, sizeof c.app, "%s", o->app ? o->app : "orders");
    c.batch_max = o->batch_max ? o->batch_max : 64;
    c.sign = o->sign;
    c.n_clients = o->clients;
    c.clients = calloc(o->clients ? o->clients : 1, sizeof *c.clients);
    if (!c.clients) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char path[700];
    int rv = -1;
    const char *scheme = o->tls ? "tls+tcp" : "tcp";
    for (uint32_t i = 0; i < o->nodes; i++) {
        if (crypto_keypair_generate(&kp) != 0) goto out;
        c.replicas[i].id = i;
        snprintf(c.replicas[i].address, sizeof c.replicas[i].address, "%s://127.0.0.1:%u", scheme,
                 (unsigned)(o->base_port + i));
        memcpy(c.replicas[i].pk, kp.pk, CRYPTO_PK_LEN);
        bft_cluster_replica_key_path(&c, i, path, sizeof path);
        if (crypto_key_write_pem(path, &kp, err, errlen) != 0) goto out;
    }
    for (uint32_t i = 0; i < o->clients; i++) {
        if (crypto_keypair_generate(&kp) != 0) goto out;
        c.clients[i].id = i;
        snprintf(c.clients[i].address, sizeof c.clients[i].address, "%s://127.0.0.1:%u", scheme,
                 (unsigned)o->client_port);
        memcpy(c.clients[i].pk, kp.pk, CRYPTO_PK_LEN);
        bft_cluster_client_key_path(&c, i, path, sizeof path);
        if (crypto_key_write_pem(path, &kp, err, errlen) != 0) goto out;
    }
    if (o->tls && keygen_tls(&c, err, errlen) != 0) goto out;
    snprintf(path, sizeof path, "%s/cluster.json", o->out_dir);
    rv = bft_cluster_save(&c, path, err, errlen) == BFT_E_OK ? 0 : -1;
out:
    explicit_bzero(&kp, sizeof kp);
    free(c.clients);
    return rv;
}

struct keygen_args {
    struct keygen_opts o;
    uint32_t base, cport, f;
};

static int opt_app(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)o;
    if (!bft_app_for(arg)) {
        fprintf(stderr, "%s: unknown app '%s' (orders, kv)\n", prog, arg);
        return -1;
    }
    ((struct keygen_args *)ctx)->o.app = arg;
    return 0;
}

#define OFF(field) offsetof(struct keygen_args, field)
static const struct cli_opt k_opts[] = {
    {"nodes", 0, "N", CLI_U32, OFF(o.nodes), 1, BFT_MAX_REPLICAS, NULL, "replicas (required)"},
    {"out", 0, "DIR", CLI_STR, OFF(o.out_dir), 0, 0, NULL,
     "where cluster.json and keys/ go (required; created)"},
    {"clients", 0, "C", CLI_U32, OFF(o.clients), 0, BFT_MAX_CLIENTS, NULL,
     "client key pairs (default 4)"},
    {"protocol", 0, "P", CLI_FN, OFF(o.protocol), 0, 0, ctl_opt_protocol,
     "pbft (default), hotstuff or raft"},
    {"f", 0, "F", CLI_U32, OFF(f), 0, BFT_MAX_REPLICAS, NULL,
     "faults tolerated (default (n-1)/3, raft (n-1)/2)"},
    {"app", 0, "orders|kv", CLI_FN, 0, 0, 0, opt_app, "application (default orders)"},
    {"base-port", 0, "PORT", CLI_U32, OFF(base), 1024, 65000, NULL,
     "replica i at tcp://127.0.0.1:PORT+i (default 7000)"},
    {"client-port", 0, "PORT", CLI_U32, OFF(cport), 1024, 65535, NULL,
     "every client at this port (default PORT+100)"},
    {"tls", 0, NULL, CLI_FLAG, OFF(o.tls), 0, 0, NULL,
     "tls+tcp:// addresses; a cluster CA (keys/ca.crt, ca.key)\nand a certificate per replica "
     "and client (docs/tls.md)"},
};
#undef OFF

static const struct cli_spec k_spec = {
    .prog = "bftctl keygen",
    .synopsis =
        "bftctl keygen --nodes N [--clients C] --out DIR [--protocol pbft|hotstuff|raft]\n"
        "                     [--f F] [--app orders|kv] [--base-port PORT] [--client-port PORT]\n"
        "                     [--tls]",
    .intro = "Writes DIR/cluster.json and DIR/keys/{replica,client}-ID.pem. Edit the\n"
             "addresses to spread replicas over hosts. With --tls also DIR/keys/ca.{crt,key}\n"
             "and DIR/keys/{replica,client}-ID.{crt,key}.\n",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro = "Exit codes: 0 done, 2 on any error.\n",
};

int cmd_keygen(int argc, char **argv)
{
    struct keygen_args a = {
        .o = {.protocol = BFT_PROTO_PBFT, .clients = 4, .app = "orders"},
        .base = 7000,
        .f = UINT32_MAX,
    };
    struct keygen_opts *o = &a.o;
    uint64_t seen;
    enum cli_result cr = cli_parse(&k_spec, argc, argv, &a, &seen);
    if (cr != CLI_PARSED) return cr == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    if (!cli_given(&k_spec, seen, "nodes") || !o->out_dir) {
        fprintf(stderr, "bftctl keygen: --nodes and --out are required\n");
        cli_usage(&k_spec, stderr);
        return BFT_EXIT_USAGE;
    }
    o->f = a.f == UINT32_MAX ? ctl_default_f(o->protocol, o->nodes) : a.f;
    uint32_t need = o->protocol == BFT_PROTO_RAFT ? 2 * o->f + 1 : 3 * o->f + 1;
    if (o->f < 1 || o->nodes < need) {
        fprintf(stderr, "bftctl keygen: %s needs n >= %s with f >= 1; n=%u f=%u\n",
                bft_protocol_name(o->protocol), o->protocol == BFT_PROTO_RAFT ? "2f+1" : "3f+1",
                o->nodes, o->f);
        return BFT_EXIT_USAGE;
    }
    o->base_port = (uint16_t)a.base;
    o->client_port = (uint16_t)(a.cport ? a.cport : a.base + 100);
    char err[512];
    if (ctl_keygen(o, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl keygen: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    printf("wrote %s/cluster.json: %s, n=%u, f=%u, %u clients%s; keys in %s/keys\n", o->out_dir,
           bft_protocol_name(o->protocol), o->nodes, o->f, o->clients,
           o->tls ? ", TLS certificates" : "", o->out_dir);
    return BFT_EXIT_OK;
}
