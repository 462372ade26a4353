/* An outsider (not a replica, no replica key) throws bad input at every
 * replica's listening address: frames of random bytes, and well-formed
 * PREPAREs that claim to come from replica 0 but carry a random signature.
 * Replicas must count them (malformed, bad_signature) and keep committing. */
#include <sodium.h>
#include <string.h>
#include <unistd.h>

#include "net/net.h"
#include "tools/bftctl.h"

#define INJECT_EACH 20

int ctl_inject(const struct bft_cluster *cl, bool junk, bool badsig, char *err, size_t errlen)
{
    struct net_transport *t;
    if (net_open(&t, NULL, err, errlen) != 0) return -1;
    for (uint32_t i = 0; i < cl->n; i++)
        if (net_add_peer(t, i, cl->replicas[i].address, err, errlen) != 0) {
            net_close(t);
            return -1;
        }
    usleep(100000); /* let the dialers connect */
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
            randombytes_buf(m.digest.b, 32);
            randombytes_buf(m.sig, sizeof m.sig);
            size_t len = bft_msg_encode(&m, buf, sizeof buf);
            if (len) net_send(t, i, buf, len);
        }
    }
    net_flush(t);
    usleep(200000); /* nng sends in the background */
    net_close(t);
    return 0;
}
