/* bftctl cluster: the fault plan every bftd applies (--fault, --partition,
 * --net/--drop/..., --scenario), twins as second bftd processes, and the
 * scenario verdict (expected vs observed). docs/faults.md. */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <signal.h>
#include <sys/wait.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tools/bftctl_run.h"

static uint64_t scale_ms(uint64_t t, double k)
{
    return t == FAULT_FOREVER ? t : (uint64_t)llround((double)t * k);
}

static void scale_window(struct fault_window *w, double k)
{
    w->from_ms = scale_ms(w->from_ms, k);
    w->until_ms = scale_ms(w->until_ms, k);
}

/* Behaviours that only hurt Raft from the leader's seat. */
static bool wants_leader(int b)
{
    return b == FAULT_EQUIVOCATE || b == FAULT_TWIN || b == FAULT_FORGE || b == FAULT_STALE ||
           b == FAULT_REPLAY || b == FAULT_BYZZFUZZ;
}

static int load_scenario(struct ctl_run *run, struct fault_plan *sp)
{
    static struct fault_scenario sc; /* 1 KiB description + a plan: not on the stack */
    char err[512];
    if (fault_scenario_load(&sc, run->scenario_path, err, sizeof err) != BFT_E_OK) {
        fprintf(stderr, "bftctl cluster: --scenario: %s\n", err);
        return -1;
    }
    const struct fault_scenario_protocol *sp_proto = fault_scenario_for(&sc, run->protocol);
    if (!sp_proto) {
        fprintf(stderr, "bftctl cluster: scenario '%s' does not list protocol %s\n", sc.name,
                bft_protocol_name(run->protocol));
        return -1;
    }
    if (!run->nodes_set) run->nodes = sp_proto->nodes;
    if (fault_scenario_plan(&sc, run->protocol, sp, err, sizeof err) != BFT_E_OK) {
        fprintf(stderr, "bftctl cluster: scenario '%s': %s\n", sc.name, err);
        return -1;
    }
    sp->n = run->nodes;
    if (fault_plan_validate(sp, err, sizeof err) != BFT_E_OK) {
        fprintf(stderr, "bftctl cluster: scenario '%s' with --nodes %u: %s\n", sc.name, run->nodes,
                err);
        return -1;
    }
    run->expect = sp_proto->expect;
    run->have_expect = true;
    snprintf(run->scenario_name, sizeof run->scenario_name, "%s", sc.name);
    /* --duration compresses (or stretches) the scenario's whole timeline,
     * so the short versions in make test keep its shape. */
    double k = 1.0;
    if (run->duration_set)
        k = run->duration_s / sc.duration_s;
    else
        run->duration_s = sc.duration_s;
    for (uint32_t i = 0; i < sp->n_faults; i++)
        scale_window(&sp->fault[i].win, k);
    for (uint32_t i = 0; i < sp->n_partitions; i++)
        scale_window(&sp->partition[i].win, k);
    scale_window(&sp->net.win, k);
    run->expect.progress_after_ms = scale_ms(run->expect.progress_after_ms, k);
    return 0;
}

static void add_ctl_fault(struct ctl_run *run, const struct fault_entry *e)
{
    if (run->n_faults == CTL_MAX_FAULTS) return;
    struct ctl_fault *f = &run->faults[run->n_faults++];
    memset(f, 0, sizeof *f);
    f->replica = e->replica;
    snprintf(f->behaviour, sizeof f->behaviour, "%s", fault_behaviour_name(e->behaviour));
    f->t0 = (double)e->win.from_ms / 1000.0;
    f->t1 = e->win.until_ms == FAULT_FOREVER ? -1 : (double)e->win.until_ms / 1000.0;
}

int ctl_build_plan(struct ctl_run *run)
{
    char err[512];
    struct fault_plan *p = &run->plan;
    run->head_start = -1;
    if (run->scenario_path) {
        struct fault_plan sp;
        if (load_scenario(run, &sp) != 0) return -1;
        *p = sp;
        /* The scenario's crash entries are bftctl's (kill / restart). */
        uint32_t k = 0;
        for (uint32_t i = 0; i < p->n_faults; i++) {
            add_ctl_fault(run, &p->fault[i]);
            if (p->fault[i].behaviour != FAULT_CRASH) p->fault[k++] = p->fault[i];
        }
        p->n_faults = k;
    } else {
        fault_plan_init(p, run->nodes, (uint64_t)time(NULL));
    }
    for (uint32_t i = 0; i < run->n_fault_args_plan; i++) {
        if (fault_plan_add_fault(p, run->plan_fault_args[i], err, sizeof err) != BFT_E_OK) {
            fprintf(stderr, "bftctl cluster: %s\n", err);
            return -1;
        }
    }
    for (uint32_t i = 0; i < run->n_partitions; i++) {
        if (fault_plan_add_partition(p, run->partition_args[i], err, sizeof err) != BFT_E_OK) {
            fprintf(stderr, "bftctl cluster: %s\n", err);
            return -1;
        }
    }
    char net[FAULT_SPEC_MAX] = "";
    if (run->net_arg) snprintf(net, sizeof net, "%s", run->net_arg);
    size_t off = strlen(net);
    const struct {
        const char *key;
        double v;
    } rates[] = {{"drop", run->drop},
                 {"duplicate", run->duplicate},
                 {"reorder", run->reorder},
                 {"delay_ms", run->delay_ms}};
    for (size_t i = 0; i < sizeof rates / sizeof *rates; i++)
        if (rates[i].v >= 0 && off < sizeof net)
            off += (size_t)snprintf(net + off, sizeof net - off, "%s%s=%g", off ? "," : "",
                                    rates[i].key, rates[i].v);
    if (net[0] && fault_plan_set_net(p, net, err, sizeof err) != BFT_E_OK) {
        fprintf(stderr, "bftctl cluster: %s\n", err);
        return -1;
    }
    /* Twins: a second process with the same id and key from T0 to T1 (a
     * clone: bftctl copies the replica's WAL to it at T0); the two sides of
     * the split are two partitions (Twins §3), so the honest peers of
     * different sides are cut from each other too. */
    uint32_t n_plan = p->n_faults;
    for (uint32_t i = 0; i < n_plan; i++) {
        struct fault_entry *e = &p->fault[i];
        if (e->behaviour != FAULT_TWIN) continue;
        if (run->twin[e->replica]) continue;
        run->twin[e->replica] = true;
        uint32_t s0, s1;
        fault_twin_split(run->nodes, e->replica, &s0, &s1);
        if (s0 && s1 && p->n_partitions < FAULT_MAX_PARTITIONS)
            p->partition[p->n_partitions++] =
                (struct fault_partition){.n_groups = 2, .group = {s0, s1}, .win = e->win};
    }
    if (fault_plan_validate(p, err, sizeof err) != BFT_E_OK) {
        fprintf(stderr, "bftctl cluster: %s\n", err);
        return -1;
    }
    for (uint32_t i = 0; i < p->n_faults; i++)
        if (run->protocol == BFT_PROTO_RAFT && run->head_start < 0 &&
            wants_leader(p->fault[i].behaviour))
            run->head_start = (int)p->fault[i].replica;
    run->have_plan = p->n_faults || p->n_partitions || p->net.drop_ppm || p->net.duplicate_ppm ||
                     p->net.reorder_ppm || p->net.delay_ms || p->net.jitter_ms;
    return 0;
}

int ctl_write_plan(struct ctl_run *run)
{
    if (!run->have_plan) return 0;
    char path[700], err[512];
    snprintf(path, sizeof path, "%s/plan.json", run->dir);
    if (fault_plan_save(&run->plan, path, err, sizeof err) != BFT_E_OK) {
        fprintf(stderr, "bftctl cluster: %s\n", err);
        return -1;
    }
    return 0;
}

static void twin_url(const struct ctl_run *run, uint32_t id, char *out, size_t cap)
{
    /* A twin is replica `id` again: same certificate, same scheme. */
    snprintf(out, cap, "%s://127.0.0.1:%u", ctl_url_scheme(run->tls, run->transport),
             (unsigned)run->twin_port[id]);
}

void ctl_plan_args(const struct ctl_run *run, uint32_t id, int instance, const char **argv,
                   char buf[CTL_PLAN_ARGS][700])
{
    int a = 0, b = 0;
    if (run->have_plan) {
        snprintf(buf[b], 700, "%s/plan.json", run->dir);
        argv[a++] = "--plan";
        argv[a++] = buf[b++];
        snprintf(buf[b], 700, "%llu", (unsigned long long)run->plan_start_ms);
        argv[a++] = "--plan-start-ms";
        argv[a++] = buf[b++];
    }
    if (run->twin[id]) {
        argv[a++] = "--twin-instance";
        argv[a++] = instance ? "1" : "0";
        if (instance) {
            twin_url(run, id, buf[b], 700);
            argv[a++] = "--listen";
            argv[a++] = buf[b++];
            snprintf(buf[b], 700, "%s/replica-%u-twin", run->dir, id);
            argv[a++] = "--data-dir";
            argv[a++] = buf[b++];
        }
    }
    /* A peer on side 1 of a twin talks to the twin's second instance while
     * the twin window is open. */
    for (uint32_t t = 0; t < run->nodes && b < CTL_PLAN_ARGS && a < CTL_PLAN_ARGV - 3; t++) {
        if (!run->twin[t] || t == id || fault_twin_side_of(run->nodes, t, id) != 1) continue;
        char url[64];
        twin_url(run, t, url, sizeof url);
        snprintf(buf[b], 700, "%u=%s", t, url);
        argv[a++] = "--twin-peer";
        argv[a++] = buf[b++];
    }
    argv[a] = NULL;
}

/* The clone's disk: a copy of the replica's storage as it is now: every
 * WAL segment and snapshot file (docs/storage.md; a torn tail is what a
 * crash leaves too: replay stops there). The audit log is not copied:
 * the twin keeps its own. */
static void copy_file(const char *from, const char *to)
{
    FILE *in = fopen(from, "rb"), *out = in ? fopen(to, "wb") : NULL;
    char buf[65536];
    size_t n;
    while (in && out && (n = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, n, out) != n) break;
    if (in) fclose(in);
    if (out) fclose(out);
}

static void copy_wal(const struct ctl_run *run, uint32_t id)
{
    char src[700], dir[700], from[1000], to[1000];
    snprintf(src, sizeof src, "%s/replica-%u", run->dir, id);
    snprintf(dir, sizeof dir, "%s/replica-%u-twin", run->dir, id);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return;
    DIR *d = opendir(src);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        const char *nm = e->d_name;
        bool storage = !strcmp(nm, "wal") || !strncmp(nm, "wal-", 4) || !strncmp(nm, "snap-", 5);
        if (!storage || strstr(nm, ".tmp")) continue;
        snprintf(from, sizeof from, "%s/%s", src, nm);
        snprintf(to, sizeof to, "%s/%s", dir, nm);
        copy_file(from, to);
    }
    closedir(d);
}

pid_t ctl_spawn_twin(const struct ctl_run *run, uint32_t id)
{
    copy_wal(run, id);
    char idbuf[16], cfg[700], logp[700], buf[CTL_PLAN_ARGS][700];
    const char *argv[CTL_PLAN_ARGV + 8];
    snprintf(idbuf, sizeof idbuf, "%u", id);
    snprintf(cfg, sizeof cfg, "%s/cluster.json", run->dir);
    snprintf(logp, sizeof logp, "%s/replica-%u-twin.log", run->dir, id);
    int a = 0;
    argv[a++] = "bftd";
    argv[a++] = "--config";
    argv[a++] = cfg;
    argv[a++] = "--id";
    argv[a++] = idbuf;
    argv[a++] = "-v";
    ctl_plan_args(run, id, 1, argv + a, buf);
    fflush(stdout); /* or the child prints our buffer again */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    ctl_child_dies_with(parent);
    if (!freopen(logp, "a", stderr) || !freopen("/dev/null", "w", stdout))
        _exit(BFT_EXIT_EXEC_FAILED);
    execv(run->bftd, (char *const *)argv);
    fprintf(stderr, "exec %s: %s\n", run->bftd, strerror(errno));
    _exit(BFT_EXIT_EXEC_FAILED);
}

int ctl_scenario_verdict(const struct ctl_run *run, bool safe, int rc)
{
    const struct load_result *L = run->load;
    uint32_t from = (uint32_t)ceil((double)run->expect.progress_after_ms / 1000.0);
    uint64_t after = 0;
    for (uint32_t s = from; s < L->seconds; s++)
        after += L->per_second[s];
    bool want_safe = run->expect.safety == FAULT_SAFETY_OK;
    bool progressed = after > 0;
    printf("scenario %s (%s, %u nodes):\n", run->scenario_name, bft_protocol_name(run->protocol),
           run->nodes);
    printf("  expected  safety %-8s  progress after %.1f s: %s\n", want_safe ? "ok" : "violated",
           run->expect.progress_after_ms / 1000.0, run->expect.progress ? "yes" : "no");
    printf("  observed  safety %-8s  progress after %.1f s: %s (%llu ops)\n",
           safe ? "ok" : "violated", run->expect.progress_after_ms / 1000.0,
           progressed ? "yes" : "no", (unsigned long long)after);
    if (rc == BFT_EXIT_USAGE || rc == BFT_EXIT_FAIL) return rc;
    /* Raft loses safety only if the liar ends up leading; a "violated"
     * expectation is about what the protocol allows, so safety "ok" there
     * with a liar that never led is reported, not hidden. */
    if (safe != want_safe) {
        printf("scenario: NOT MATCHED (safety)\n");
        return BFT_EXIT_UNSAFE;
    }
    /* When safety is expected to break, progress is not part of the claim. */
    if (want_safe && progressed != run->expect.progress) {
        printf("scenario: NOT MATCHED (progress)\n");
        return BFT_EXIT_NO_PROGRESS;
    }
    printf("scenario: matched\n");
    return BFT_EXIT_OK;
}

static uint64_t now_realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Replica id's own view of whether it leads (its stats.json). A live bftd
 * rewrites it every 200 ms: a file older than 1 s is from a previous
 * incarnation (killed, or restarted and not yet running) and says nothing. */
static bool reports_leader(const struct ctl_run *run, uint32_t id)
{
    char path[700], buf[8192];
    snprintf(path, sizeof path, "%s/replica-%u/stats.json", run->dir, id);
    struct stat st;
    if (stat(path, &st) != 0) return false;
    uint64_t mtime_ms =
        (uint64_t)st.st_mtim.tv_sec * 1000u + (uint64_t)st.st_mtim.tv_nsec / 1000000u;
    if (mtime_ms + 1000 < now_realtime_ms()) return false;
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    cJSON *o = cJSON_Parse(buf);
    bool yes = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "is_leader"));
    cJSON_Delete(o);
    return yes;
}

int ctl_current_leader(const struct ctl_run *run)
{
    for (uint32_t i = 0; i < run->nodes; i++)
        if (run->reps[i].pid > 0 && reports_leader(run, i)) return (int)i;
    return -1;
}

void ctl_settle_leader(struct ctl_run *run)
{
    uint32_t liar = (uint32_t)run->head_start;
    while (now_realtime_ms() + 400 < run->plan_start_ms) {
        usleep(100000);
        if (reports_leader(run, liar)) {
            run->liar_leads = true;
            return;
        }
        for (uint32_t i = 0; i < run->nodes; i++) {
            if (i == liar || !reports_leader(run, i) || run->reps[i].pid <= 0) continue;
            /* An honest crash and restart (Raft tolerates it): the others
             * elect again, and the liar may win this time. */
            kill(run->reps[i].pid, SIGKILL);
            waitpid(run->reps[i].pid, NULL, 0);
            char path[700];
            snprintf(path, sizeof path, "%s/replica-%u/stats.json", run->dir, i);
            unlink(path);
            /* Down long enough for the two others to elect between them. */
            usleep(1200000);
            run->reps[i].pid = ctl_spawn_replica(run, i, false);
            run->leader_bounces++;
            if (!run->quiet)
                printf("  raft: replica %u leads, not the liar %u: restarted it (%u)\n", i, liar,
                       run->leader_bounces);
            break;
        }
    }
}
