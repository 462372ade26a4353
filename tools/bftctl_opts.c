/* Option parsers shared by bftctl's commands (tables in tools/cli.h). */
#include <string.h>

#include "net/direct.h"
#include "tools/bftctl.h"

int ctl_opt_protocol(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    int p = bft_protocol_parse(arg);
    if (p < 0) {
        fprintf(stderr, "%s: unknown protocol '%s' (pbft, hotstuff, raft)\n", prog, arg);
        return -1;
    }
    *(int *)((char *)ctx + o->off) = p;
    return 0;
}

int ctl_opt_transport(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    int t = !strcmp(arg, "direct") ? CTL_TRANSPORT_DIRECT
            : !strcmp(arg, "nng")  ? CTL_TRANSPORT_NNG
                                   : -1;
    if (t < 0) {
        fprintf(stderr, "%s: --transport takes direct or nng, got '%s'\n", prog, arg);
        return -1;
    }
    *(int *)((char *)ctx + o->off) = t;
    return 0;
}

const char *ctl_url_scheme(bool tls, int transport)
{
    return tls ? "tls+tcp" : transport == CTL_TRANSPORT_NNG ? "tcp" : "tcp+direct";
}

const char *ctl_transport_name(const struct bft_cluster *cl)
{
    if (cl->tls) return "nng-tls";
    if (cl->n && net_url_is_direct(cl->replicas[0].address)) return "direct";
    return "nng";
}

int ctl_check_transport(const char *prog, bool tls, int transport)
{
    if (tls && transport == CTL_TRANSPORT_DIRECT) {
        fprintf(stderr, "%s: --tls runs over nng (tls+tcp://); --transport direct has no TLS\n",
                prog);
        return -1;
    }
    return 0;
}

int ctl_parse_inject(const char *prog, const char *flag, const char *arg, bool *junk, bool *badsig)
{
    char buf[64];
    if (snprintf(buf, sizeof buf, "%s", arg) >= (int)sizeof buf) {
        fprintf(stderr, "%s: --%s takes junk and/or badsig, got '%s'\n", prog, flag, arg);
        return -1;
    }
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (!strcmp(t, "junk"))
            *junk = true;
        else if (!strcmp(t, "badsig"))
            *badsig = true;
        else {
            fprintf(stderr, "%s: --%s takes junk and/or badsig, got '%s'\n", prog, flag, t);
            return -1;
        }
    }
    return 0;
}
