/* bftctl cluster / soak: the acknowledgement ledger against the replicas'
 * audit logs (DIR/replica-I/audit.log, one hash-chained line per accepted
 * order, bft_audit_parse). Lines that do not parse (a torn tail after
 * SIGKILL, or tampering: `bftctl audit` reports those) are skipped here. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "tools/bftctl_check.h"

int ctl_ledger_csv(const char *dir, const struct ledger *acks)
{
    char path[700];
    snprintf(path, sizeof path, "%s/ledger.csv", dir);
    return ctl_ledger_csv_write(path, acks);
}

int ctl_ledger_csv_write(const char *path, const struct ledger *acks)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fprintf(f, "client,req_no,client_order_id,order_seq\n");
    for (uint64_t i = 0; i < acks->n; i++) {
        const struct ledger_row *r = &acks->rows[i];
        fprintf(f, "%u,%u,%llu,%llu\n", r->client, r->req_no,
                (unsigned long long)r->client_order_id, (unsigned long long)r->order_seq);
    }
    return fclose(f) == 0 ? 0 : -1;
}

int ctl_ledger_csv_read(const char *path, struct ledger *acks, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[256];
    int rv = 0;
    for (uint64_t ln = 1; rv == 0 && fgets(line, sizeof line, f); ln++) { /* bounded by the file */
        unsigned client, req;
        unsigned long long coid, oseq;
        int end = 0;
        if (ln == 1 && !strncmp(line, "client,", 7)) continue; /* the header */
        if (sscanf(line, "%u,%u,%llu,%llu%n", &client, &req, &coid, &oseq, &end) != 4 ||
            strcmp(line + end, "\n") != 0) {
            snprintf(err, errlen, "%s:%llu: not client,req_no,client_order_id,order_seq", path,
                     (unsigned long long)ln);
            rv = -1;
        } else if (!ledger_add(acks, client, req, coid, oseq, 0)) {
            snprintf(err, errlen, "%s: more than %u acknowledgements", path, LEDGER_MAX_ACKS);
            rv = -1;
        }
    }
    fclose(f);
    return rv;
}

static int read_audit(const char *dir, uint32_t id, struct ledger *log, char *err, size_t errlen)
{
    char path[700];
    snprintf(path, sizeof path, "%s/replica-%u/audit.log", dir, id);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return 0; /* never accepted an order */
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[BFT_AUDIT_LINE_MAX + 8];
    struct bft_audit_entry e;
    int rv = 0;
    while (fgets(line, sizeof line, f)) { /* bounded by the file */
        if (bft_audit_parse(line, &e) != 0) continue;
        if (!ledger_add(log, e.client, 0, e.client_order_id, e.order_seq, e.seq)) {
            snprintf(err, errlen, "%s: more than %u lines", path, LEDGER_MAX_ACKS);
            rv = -1;
            break;
        }
    }
    fclose(f);
    ledger_sort(log);
    return rv;
}

int ctl_ledger_run(const char *dir, const struct ctl_replica *reps, uint32_t n,
                   const struct ledger *acks_in, struct ledger_result *out, char *err,
                   size_t errlen)
{
    memset(out, 0, sizeof *out);
    struct ledger *logs = calloc(n, sizeof *logs);
    struct ledger_replica *lr = calloc(n, sizeof *lr);
    int rv = logs && lr ? 0 : -1;
    if (rv) snprintf(err, errlen, "out of memory");
    uint32_t k = 0;
    for (uint32_t i = 0; rv == 0 && i < n; i++) {
        if (!reps[i].honest) continue;
        if (read_audit(dir, reps[i].id, &logs[k], err, errlen) != 0) {
            rv = -1;
            break;
        }
        lr[k] = (struct ledger_replica){
            .id = reps[i].id, .killed = reps[i].ever_killed, .log = &logs[k]};
        k++;
    }
    if (rv == 0) ledger_check(acks_in, lr, k, out);
    for (uint32_t i = 0; logs && i < n; i++)
        ledger_free(&logs[i]);
    free(logs);
    free(lr);
    return rv;
}
