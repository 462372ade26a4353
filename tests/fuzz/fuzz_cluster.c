/* Target fuzz_cluster: loading cluster.json (bft_cluster_load) from the
 * input bytes written to a file. A file that loads must save and load
 * back to the same configuration.
 *
 * The files go to /dev/shm when it is there: bft_cluster_save fsyncs, and
 * an fsync to a disk file system per input that loads would dominate. They
 * are overwritten by the next input (fopen "wb" truncates, save renames
 * over) and removed at exit: an unlink per input took a sixth of the time.
 */
#include <stdio.h>
#include <unistd.h>

#include "config/cluster.h"
#include "tests/fuzz/fuzz_common.h"

static char path[64], path2[64];

static void remove_files(void)
{
    unlink(path);
    unlink(path2);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof path, "%s/bft-fuzz-cluster.%d.json", dir, (int)getpid());
        snprintf(path2, sizeof path2, "%s/bft-fuzz-cluster2.%d.json", dir, (int)getpid());
        atexit(remove_files);
    }
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (fwrite(data, 1, size, f) != size) abort();
    fclose(f);
    struct bft_cluster c, d;
    char err[512];
    memset(&c, 0, sizeof c);
    if (bft_cluster_load(&c, path, err, sizeof err) == BFT_E_OK) {
        if (bft_cluster_save(&c, path2, err, sizeof err) == BFT_E_OK) {
            memset(&d, 0, sizeof d);
            if (bft_cluster_load(&d, path2, err, sizeof err) != BFT_E_OK) {
                fprintf(stderr, "saved cluster.json does not load: %s\n", err);
                abort();
            }
            if (d.n != c.n || d.f != c.f || d.protocol != c.protocol ||
                d.cluster_id != c.cluster_id || d.n_clients != c.n_clients || d.tls != c.tls ||
                memcmp(d.replicas, c.replicas, sizeof c.replicas) != 0) {
                fprintf(stderr, "cluster.json round trip differs\n");
                abort();
            }
            bft_cluster_free(&d);
        }
        char kp[1200];
        bft_cluster_replica_key_path(&c, 0, kp, sizeof kp);
        bft_cluster_client_key_path(&c, 0, kp, sizeof kp);
        bft_cluster_free(&c);
    }
    return 0;
}
