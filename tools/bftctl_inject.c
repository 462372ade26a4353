/* An outsider (not a replica, no replica key) throws bad input at every
 * replica's listening address: frames of random bytes, and well-formed
 * PREPAREs that claim to come from replica 0 but carry a random signature.
 * Replicas must count them (malformed, bad_signature) and keep committing.
 * On a TLS cluster the outsider trusts the cluster CA (its certificate is
 * public) but holds no certificate of it: it presents one named "replica-0"
 * from a CA it made itself. Replicas must refuse it at the handshake and
 * count it (tls_refused, docs/tls.md); none of its frames may reach them. */
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "config/cluster.h"
#include "crypto/x509.h"
#include "net/net.h"
#include "tools/bftctl.h"

#define INJECT_EACH 20

/* A send-only transport; under TLS with a forged identity made in a
 * private temporary directory (removed before returning). */
static int open_outsider(const struct bft_cluster *cl, struct net_transport **t, char *err,
                         size_t errlen)
{
    if (!cl->tls) return net_open(t, NULL, err, errlen);
    char dir[] = "/tmp/bft-rogue-XXXXXX", crt[64], key[64];
    if (!mkdtemp(dir)) {
        snprintf(err, errlen, "mkdtemp: rogue certificate directory");
        return -1;
    }
    snprintf(crt, sizeof crt, "%s/rogue.crt", dir);
    snprintf(key, sizeof key, "%s/rogue.key", dir);
    struct crypto_x509_ca *ca;
    int rv = crypto_x509_ca_create(&ca, "rogue CA", err, errlen);
    if (rv == 0) {
        rv = crypto_x509_issue(ca, "replica-0", crt, key, err, errlen);
        crypto_x509_ca_free(ca);
    }
    struct net_tls_files f = {.ca_file = cl->tls_ca, .cert_file = crt, .key_file = key};
    if (rv == 0) rv = net_open_tls(t, NULL, &f, err, errlen); /* files are read here */
    unlink(crt);
    unlink(key);
    rmdir(dir);
    return rv;
}

int ctl_inject(const struct bft_cluster *cl, bool junk, bool badsig, char *err, size_t errlen)
{
    struct net_transport *t;
    if (open_outsider(cl, &t, err, errlen) != 0) return -1;
    for (uint32_t i = 0; i < cl->n; i++) {
        char name[32];
        snprintf(name, sizeof name, "replica-%u", i);
        if (net_add_peer_named(t, i, cl->replicas[i].address, name, err, errlen) != 0) {
            net_abandon(t);
            return -1;
        }
    }
    /* Let the dialers connect. Under TLS wait until every replica has
     * refused us at least once before sending: a refused nng PUSH socket
     * may crash on send (docs/tls.md "Rotation and limits"), and each
     * replica should have seen us first. */
    usleep(cl->tls ? 500000 : 100000);
    uint8_t buf[512];
    for (uint32_t i = 0; i < cl->n; i++) {
        for (int k = 0; junk && k < INJECT_EACH; k++) {
            size_t len = 16 + randombytes_uniform(400);
            randombytes_buf(buf, len);
            net_send_raw(t, i, buf, len);
        }
        for (int k = 0; badsig && k < INJECT_EACH; k++) {
            struct bft_msg m = {0};
            m.type = BFT_MSG_PREPARE;
            m.sender = i == 0 ? 1 : 0;
            m.cluster_id = cl->cluster_id;
            m.view = 0;
            m.seq = 1 + (uint64_t)k;
            randombytes_buf(m.digest.b, sizeof m.digest.b);
            randombytes_buf(m.sig, sizeof m.sig);
            size_t len = bft_msg_encode(&m, buf, sizeof buf);
            if (len) net_send(t, i, buf, len);
        }
    }
    /* Until everything queued has left (nng sends in the background; the
     * direct transport only inside our calls), at most 1 s. */
    for (int turn = 0; turn < 100; turn++) {
        net_flush(t);
        struct net_peer_stats st;
        net_total_stats(t, &st);
        if (st.queued_bytes == 0 && turn >= 20) break; /* and 200 ms for nng's own queue */
        usleep(10000);
    }
    net_abandon(t); /* this process exits next: see net_abandon */
    return 0;
}

struct inject_opts {
    const char *cfg;
    bool junk, badsig;
};

static int opt_what(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    struct inject_opts *io = ctx;
    return ctl_parse_inject(prog, o->name, arg, &io->junk, &io->badsig);
}

static const struct cli_opt k_opts[] = {
    {"config", 0, "PATH", CLI_STR, offsetof(struct inject_opts, cfg), 0, 0, NULL,
     "cluster.json (required)"},
    {"what", 0, "junk,badsig", CLI_FN, 0, 0, 0, opt_what, "what to send (default both)"},
};
static const struct cli_spec k_spec = {
    .prog = "bftctl inject",
    .synopsis = "bftctl inject --config DIR/cluster.json [--what junk,badsig]",
    .intro = "An outsider sends junk frames and badly signed messages to every replica.\n"
             "On a TLS cluster it presents a \"replica-0\" certificate from a CA of its own:\n"
             "replicas refuse it and count it in tls_refused (docs/tls.md).\n",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro = "Exit codes: 0 sent, 1 transport error, 2 usage.\n",
};

int cmd_inject(int argc, char **argv)
{
    struct inject_opts o = {0};
    enum cli_result cr = cli_parse(&k_spec, argc, argv, &o, NULL);
    if (cr != CLI_PARSED) return cr == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    if (!o.cfg) {
        fprintf(stderr, "bftctl inject: --config is required\n");
        cli_usage(&k_spec, stderr);
        return BFT_EXIT_USAGE;
    }
    const char *cfg = o.cfg;
    bool junk = o.junk, badsig = o.badsig;
    if (!junk && !badsig) junk = badsig = true;
    struct bft_cluster cl;
    char err[512];
    if (bft_cluster_load(&cl, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl inject: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    int rv = ctl_inject(&cl, junk, badsig, err, sizeof err);
    if (rv != 0) fprintf(stderr, "bftctl inject: %s\n", err);
    bft_cluster_free(&cl);
    return rv == 0 ? BFT_EXIT_OK : BFT_EXIT_FAIL;
}
