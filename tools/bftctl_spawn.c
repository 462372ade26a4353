/* bftctl cluster: starting processes. Free ports for a cluster on
 * 127.0.0.1, the bftd binary next to bftctl, and one bftd per replica
 * that dies with bftctl. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "tools/bftctl_run.h"

static bool port_free(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* Lowest port the kernel hands out to outgoing connections: listening
 * ports are picked below it, or a dialer elsewhere on the machine can take
 * one between our check and bftd's listen ("Address in use" at start). */
static unsigned ephemeral_low(void)
{
    unsigned lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%u %u", &lo, &hi) != 2) lo = 32768;
        fclose(f);
    }
    return lo;
}

/* A base port with n replica ports, their status ports and the client
 * port free. */
uint16_t ctl_pick_ports(uint32_t n)
{
    srand((unsigned)(getpid() ^ time(NULL)));
    unsigned lo = ephemeral_low();
    unsigned bases = lo > 10000 + 100 ? (lo - 10000) / 100 - 1 : 0;
    if (bases == 0) bases = 400; /* odd kernel setting: the old range */
    for (int tries = 0; tries < 200; tries++) {
        uint16_t base = (uint16_t)(10000 + (rand() % bases) * 100);
        bool ok = port_free((uint16_t)(base + 99));
        for (uint32_t i = 0; ok && i < n; i++)
            ok = port_free((uint16_t)(base + i)) &&
                 port_free((uint16_t)(base + CTL_STATUS_PORT_OFFSET + i));
        if (ok) return base;
    }
    return 0;
}

void ctl_self_dir(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(out, cap, ".");
        return;
    }
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(out, cap, "%s", exe);
}

void ctl_child_dies_with(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(BFT_EXIT_FAIL); /* it died before prctl */
}

pid_t ctl_spawn_replica(const struct ctl_run *run, uint32_t id, bool fresh)
{
    char idbuf[16], cfg[700], logp[700], buf[CTL_PLAN_ARGS][700];
    const char *argv[CTL_PLAN_ARGV + 8];
    snprintf(idbuf, sizeof idbuf, "%u", id);
    snprintf(cfg, sizeof cfg, "%s/cluster.json", run->dir);
    snprintf(logp, sizeof logp, "%s/replica-%u.log", run->dir, id);
    fflush(stdout); /* or the child prints our buffer again */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    ctl_child_dies_with(parent);
    FILE *lf = freopen(logp, "a", stderr);
    (void)lf;
    if (!freopen("/dev/null", "w", stdout)) _exit(BFT_EXIT_EXEC_FAILED);
    int a = 0;
    argv[a++] = "bftd";
    argv[a++] = "--config";
    argv[a++] = cfg;
    argv[a++] = "--id";
    argv[a++] = idbuf;
    argv[a++] = "-v";
    if (fresh) argv[a++] = "--fresh";
    ctl_plan_args(run, id, 0, argv + a, buf);
    execv(run->bftd, (char *const *)argv);
    fprintf(stderr, "exec %s: %s\n", run->bftd, strerror(errno));
    _exit(BFT_EXIT_EXEC_FAILED);
}
