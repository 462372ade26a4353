/* bftctl keygen: one Ed25519 key pair per replica and per client, private
 * keys as PEM files (mode 0600, readable by `openssl pkey`), public keys and
 * addresses in cluster.json. With --tls also a cluster CA and one TLS
 * certificate per replica and client (docs/tls.md). */
#include <ctype.h>
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
    const char *scheme = ctl_url_scheme(o->tls, o->transport);
    for (uint32_t i = 0; i < o->nodes; i++) {
        if (crypto_keypair_generate(&kp) != 0) goto out;
        c.replicas[i].id = i;
        const char *host = o->hosts[i] ? o->hosts[i] : "127.0.0.1";
        snprintf(c.replicas[i].address, sizeof c.replicas[i].address, "%s://%s:%u", scheme, host,
                 (unsigned)(o->base_port + i));
        if (o->status_port)
            snprintf(c.replicas[i].status, sizeof c.replicas[i].status, "http://%s:%u", host,
                     (unsigned)(o->status_port + i));
        memcpy(c.replicas[i].pk, kp.pk, CRYPTO_PK_LEN);
        bft_cluster_replica_key_path(&c, i, path, sizeof path);
        if (crypto_key_write_pem(path, &kp, err, errlen) != 0) goto out;
    }
    for (uint32_t i = 0; i < o->clients; i++) {
        if (crypto_keypair_generate(&kp) != 0) goto out;
        c.clients[i].id = i;
        snprintf(c.clients[i].address, sizeof c.clients[i].address, "%s://%s:%u", scheme,
                 o->client_host ? o->client_host : "127.0.0.1", (unsigned)o->client_port);
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
    uint32_t base, cport, f, sport;
    char hosts_buf[BFT_MAX_REPLICAS * 64];
    uint32_t n_hosts;
};

/* A host name or IPv4 address as it goes into tcp://HOST:PORT: letters,
 * digits, '.', '-' (an IPv6 literal would need brackets; not supported). */
static bool host_ok(const char *h)
{
    if (!*h || strlen(h) > 63) return false;
    for (const char *p = h; *p; p++)
        if (!(isalnum((unsigned char)*p) || *p == '.' || *p == '-')) return false;
    return true;
}

/* --hosts H0,H1,...: one host per replica, in id order. */
static int opt_hosts(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)o;
    struct keygen_args *a = ctx;
    if (strlen(arg) >= sizeof a->hosts_buf) {
        fprintf(stderr, "%s: --hosts: too long\n", prog);
        return -1;
    }
    memcpy(a->hosts_buf, arg, strlen(arg) + 1);
    a->n_hosts = 0;
    for (char *save = NULL, *h = strtok_r(a->hosts_buf, ",", &save); h;
         h = strtok_r(NULL, ",", &save)) {
        if (a->n_hosts == BFT_MAX_REPLICAS || !host_ok(h)) {
            fprintf(stderr, "%s: --hosts: '%s' is not a host name or IPv4 address%s\n", prog, h,
                    a->n_hosts == BFT_MAX_REPLICAS ? " (too many hosts)" : "");
            return -1;
        }
        a->o.hosts[a->n_hosts++] = h;
    }
    return 0;
}

static int opt_client_host(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)o;
    if (!host_ok(arg)) {
        fprintf(stderr, "%s: --client-host: '%s' is not a host name or IPv4 address\n", prog, arg);
        return -1;
    }
    ((struct keygen_args *)ctx)->o.client_host = arg;
    return 0;
}

static int opt_app(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)o;
    /* orders and kv are built into bftd; any other name is an app run
     * through the replica API (docs/embedding.md), checked against its
     * bft_app_ops name when the replica starts. */
    bool ok = *arg && strlen(arg) < 16;
    for (const char *p = arg; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
            ok = false;
    if (!ok) {
        fprintf(stderr,
                "%s: app '%s' is not a name (1-15 of a-z, 0-9, '_', '-'; built in: orders, kv)\n",
                prog, arg);
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
    {"app", 0, "NAME", CLI_FN, 0, 0, 0, opt_app,
     "application: orders (default) or kv, built into bftd, or\n"
     "the name of your own app (docs/embedding.md)"},
    {"base-port", 0, "PORT", CLI_U32, OFF(base), 1024, 65000, NULL,
     "replica i at tcp://127.0.0.1:PORT+i (default 7000)"},
    {"client-port", 0, "PORT", CLI_U32, OFF(cport), 1024, 65535, NULL,
     "every client at this port (default PORT+100)"},
    {"hosts", 0, "H0,H1,...", CLI_FN, 0, 0, 0, opt_hosts,
     "replica i on host Hi (one per replica; default 127.0.0.1)"},
    {"client-host", 0, "HOST", CLI_FN, 0, 0, 0, opt_client_host,
     "where the clients listen for replies (default 127.0.0.1)"},
    {"status-port", 0, "PORT", CLI_U32, OFF(sport), 0, 65000, NULL,
     "replica i serves GET /status at http://Hi:PORT+i\n(default base port + 70; 0: none)"},
    {"tls", 0, NULL, CLI_FLAG, OFF(o.tls), 0, 0, NULL,
     "tls+tcp:// addresses; a cluster CA (keys/ca.crt, ca.key)\nand a certificate per replica "
     "and client (docs/tls.md)"},
    {"transport", 0, "direct|nng", CLI_FN, OFF(o.transport), 0, 0, ctl_opt_transport,
     "direct (default): tcp+direct:// addresses, no I/O threads\nbetween the wire and a "
     "replica's loop; nng: tcp://\n(docs/design.md \"Transport\"); --tls is always nng"},
};
#undef OFF

static const struct cli_spec k_spec = {
    .prog = "bftctl keygen",
    .synopsis =
        "bftctl keygen --nodes N [--clients C] --out DIR [--protocol pbft|hotstuff|raft]\n"
        "                     [--f F] [--app NAME] [--base-port PORT] [--client-port PORT]\n"
        "                     [--hosts H0,H1,...] [--client-host HOST] [--status-port PORT] "
        "[--tls]\n                     [--transport direct|nng]",
    .intro = "Writes DIR/cluster.json and DIR/keys/{replica,client}-ID.pem. Replica i\n"
             "listens on tcp://Hi:PORT+i and serves its status on http://Hi:SPORT+i\n"
             "(docs/deploy.md: which file goes to which host). With --tls also\n"
             "DIR/keys/ca.{crt,key} and DIR/keys/{replica,client}-ID.{crt,key}, and\n"
             "tls+tcp:// addresses (docs/tls.md).\n",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro = "Exit codes: 0 done, 2 on any error.\n",
};

/* Endpoint k of the cluster: replica k (PORT+k), the status page of
 * replica k-n (SPORT+k-n), or the clients' port (k = 2n); port 0: none. */
static void endpoint(const struct keygen_opts *o, uint32_t k, const char **host, uint32_t *port)
{
    uint32_t n = o->nodes;
    if (k < 2 * n) {
        uint32_t i = k < n ? k : k - n;
        *host = o->hosts[i] ? o->hosts[i] : "127.0.0.1";
        *port = k < n ? o->base_port + i : o->status_port ? o->status_port + i : 0;
    } else {
        *host = o->client_host ? o->client_host : "127.0.0.1";
        *port = o->clients ? o->client_port : 0;
    }
}

/* Two listeners on one host and port would fail at start, far from the
 * cause. */
static int check_ports(const struct keygen_opts *o)
{
    uint32_t total = 2 * o->nodes + 1;
    for (uint32_t a = 0; a < total; a++) {
        for (uint32_t b = a + 1; b < total; b++) {
            const char *ha, *hb;
            uint32_t pa, pb;
            endpoint(o, a, &ha, &pa);
            endpoint(o, b, &hb, &pb);
            if (pa && pa == pb && !strcmp(ha, hb)) {
                fprintf(stderr,
                        "bftctl keygen: %s:%u would be used twice (replicas at --base-port+i, "
                        "status at --status-port+i, clients at --client-port)\n",
                        ha, pa);
                return -1;
            }
        }
    }
    return 0;
}

int cmd_keygen(int argc, char **argv)
{
    struct keygen_args a = {
        .o = {.protocol = BFT_PROTO_PBFT, .clients = 4, .app = "orders"},
        .base = 7000,
        .f = UINT32_MAX,
        .sport = UINT32_MAX,
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
    if (ctl_check_transport("bftctl keygen", o->tls, o->transport) != 0) return BFT_EXIT_USAGE;
    if (a.n_hosts && a.n_hosts != o->nodes) {
        fprintf(stderr, "bftctl keygen: --hosts names %u hosts for %u replicas\n", a.n_hosts,
                o->nodes);
        return BFT_EXIT_USAGE;
    }
    if (a.base + o->nodes - 1 > 65535 ||
        (a.sport != UINT32_MAX && a.sport && a.sport + o->nodes - 1 > 65535)) {
        fprintf(stderr, "bftctl keygen: ports past 65535 for %u replicas\n", o->nodes);
        return BFT_EXIT_USAGE;
    }
    o->status_port = (uint16_t)(a.sport == UINT32_MAX ? a.base + CTL_STATUS_PORT_OFFSET : a.sport);
    o->base_port = (uint16_t)a.base;
    o->client_port = (uint16_t)(a.cport ? a.cport : a.base + 100);
    if (check_ports(o) != 0) return BFT_EXIT_USAGE;
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
