/* bftctl keygen: one Ed25519 key pair per replica and per client, private
 * keys as PEM files (mode 0600, readable by `openssl pkey`), public keys and
 * addresses in cluster.json. */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cluster.h"
#include "app/app.h"
#include "crypto/crypto.h"
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
    for (uint32_t i = 0; i < o->nodes; i++) {
        if (crypto_keypair_generate(&kp) != 0) goto out;
        c.replicas[i].id = i;
        snprintf(c.replicas[i].address, sizeof c.replicas[i].address, "tcp://127.0.0.1:%u",
                 (unsigned)(o->base_port + i));
        memcpy(c.replicas[i].pk, kp.pk, CRYPTO_PK_LEN);
        bft_cluster_replica_key_path(&c, i, path, sizeof path);
        if (crypto_key_write_pem(path, &kp, err, errlen) != 0) goto out;
    }
    for (uint32_t i = 0; i < o->clients; i++) {
        if (crypto_keypair_generate(&kp) != 0) goto out;
        c.clients[i].id = i;
        snprintf(c.clients[i].address, sizeof c.clients[i].address, "tcp://127.0.0.1:%u",
                 (unsigned)o->client_port);
        memcpy(c.clients[i].pk, kp.pk, CRYPTO_PK_LEN);
        bft_cluster_client_key_path(&c, i, path, sizeof path);
        if (crypto_key_write_pem(path, &kp, err, errlen) != 0) goto out;
    }
    snprintf(path, sizeof path, "%s/cluster.json", o->out_dir);
    rv = bft_cluster_save(&c, path, err, errlen) == BFT_E_OK ? 0 : -1;
out:
    explicit_bzero(&kp, sizeof kp);
    free(c.clients);
    return rv;
}

static void usage(FILE *f)
{
    fprintf(
        f,
        "usage: bftctl keygen --nodes N [--clients C] --out DIR [--protocol pbft|hotstuff|raft]\n"
        "                     [--f F] [--app orders|kv] [--base-port PORT] [--client-port PORT]\n"
        "Writes DIR/cluster.json and DIR/keys/{replica,client}-ID.pem.\n"
        "Replicas listen on tcp://127.0.0.1:PORT+i (default PORT 7000); clients on\n"
        "--client-port (default PORT+100). Edit the addresses to spread replicas over hosts.\n");
}

static int parse_num(const char *flag, const char *s, uint32_t lo, uint32_t hi, uint32_t *out)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || !*s || *end || errno || v < (long)lo || v > (long)hi) {
        fprintf(stderr, "bftctl keygen: %s needs an integer in [%u, %u], got '%s'\n", flag, lo, hi,
                s ? s : "");
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

int cmd_keygen(int argc, char **argv)
{
    struct keygen_opts o = {.protocol = BFT_PROTO_PBFT, .clients = 4, .app = "orders"};
    uint32_t base = 7000, cport = 0, f = UINT32_MAX;
    bool have_nodes = false;
    static const struct option lo[] = {{"nodes", 1, 0, 'n'},     {"clients", 1, 0, 'c'},
                                       {"out", 1, 0, 'o'},       {"protocol", 1, 0, 'p'},
                                       {"f", 1, 0, 'f'},         {"app", 1, 0, 'a'},
                                       {"base-port", 1, 0, 'b'}, {"client-port", 1, 0, 'C'},
                                       {"help", 0, 0, 'h'},      {0, 0, 0, 0}};
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'n':
            if (parse_num("--nodes", optarg, 1, BFT_MAX_REPLICAS, &o.nodes)) return BFT_EXIT_USAGE;
            have_nodes = true;
            break;
        case 'c':
            if (parse_num("--clients", optarg, 0, BFT_MAX_CLIENTS, &o.clients)) return BFT_EXIT_USAGE;
            break;
        case 'o':
            o.out_dir = optarg;
            break;
        case 'p':
            o.protocol = bft_protocol_parse(optarg);
            if (o.protocol < 0) {
                fprintf(stderr, "bftctl keygen: unknown protocol '%s' (pbft, hotstuff, raft)\n",
                        optarg);
                return BFT_EXIT_USAGE;
            }
            break;
        case 'f':
            if (parse_num("--f", optarg, 0, BFT_MAX_REPLICAS, &f)) return BFT_EXIT_USAGE;
            break;
        case 'a':
            if (!bft_app_for(optarg)) {
                fprintf(stderr, "bftctl keygen: unknown app '%s' (orders, kv)\n", optarg);
                return BFT_EXIT_USAGE;
            }
            o.app = optarg;
            break;
        case 'b':
            if (parse_num("--base-port", optarg, 1024, 65000, &base)) return BFT_EXIT_USAGE;
            break;
        case 'C':
            if (parse_num("--client-port", optarg, 1024, 65535, &cport)) return BFT_EXIT_USAGE;
            break;
        case 'h':
            usage(stdout);
            return BFT_EXIT_OK;
        default:
            fprintf(stderr, "bftctl keygen: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return BFT_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bftctl keygen: unexpected argument '%s'\n", argv[optind]);
        return BFT_EXIT_USAGE;
    }
    if (!have_nodes || !o.out_dir) {
        fprintf(stderr, "bftctl keygen: --nodes and --out are required\n");
        usage(stderr);
        return BFT_EXIT_USAGE;
    }
    o.f = f == UINT32_MAX ? ctl_default_f(o.protocol, o.nodes) : f;
    uint32_t need = o.protocol == BFT_PROTO_RAFT ? 2 * o.f + 1 : 3 * o.f + 1;
    if (o.f < 1 || o.nodes < need) {
        fprintf(stderr, "bftctl keygen: %s needs n >= %s with f >= 1; n=%u f=%u\n",
                bft_protocol_name(o.protocol), o.protocol == BFT_PROTO_RAFT ? "2f+1" : "3f+1",
                o.nodes, o.f);
        return BFT_EXIT_USAGE;
    }
    o.base_port = (uint16_t)base;
    o.client_port = (uint16_t)(cport ? cport : base + 100);
    char err[512];
    if (ctl_keygen(&o, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl keygen: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    printf("wrote %s/cluster.json: %s, n=%u, f=%u, %u clients; keys in %s/keys\n", o.out_dir,
           bft_protocol_name(o.protocol), o.nodes, o.f, o.clients, o.out_dir);
    return BFT_EXIT_OK;
}
