/* Private to bftctl cluster: the state of one run. */
#ifndef BFT_TOOLS_BFTCTL_RUN_H
#define BFT_TOOLS_BFTCTL_RUN_H

#include <limits.h>

#include "tools/bftctl_check.h"

struct ctl_run {
    int protocol;
    uint32_t nodes, clients, batch, envelope, outstanding, payload;
    double duration_s;
    bool sign, quiet, inject_junk, inject_badsig, injected;
    pid_t inject_pid;
    uint16_t base_port;
    char app[16];
    const char *dir_arg, *json_path;
    const char *fault_args[CTL_MAX_FAULTS];
    struct ctl_fault faults[CTL_MAX_FAULTS];
    uint32_t n_faults;
    char dir[600];
    char bftd[PATH_MAX];
    struct bft_cluster cl;
    struct ctl_replica *reps;
    struct load_result *load;
};

pid_t ctl_spawn_replica(const struct ctl_run *run, uint32_t id, bool fresh);
/* Print the summary, write --json, return the exit code. */
int ctl_report(struct ctl_run *run);

#endif
