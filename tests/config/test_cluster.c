/* config/cluster.c: cluster.json round trip, defaults, and every validation
 * rule rejected with a message that names the problem. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/cluster.h"
#include "wire/wire.h"

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bft_test_cluster_XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_text(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    assert_true(fputs(text, fp) >= 0);
    assert_int_equal(fclose(fp), 0);
}

static void fill_pk(uint8_t *pk, uint8_t v)
{
    for (int i = 0; i < CRYPTO_PK_LEN; i++)
        pk[i] = (uint8_t)(v * 31 + i);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct bft_cluster c, back;
    memset(&c, 0, sizeof c);
    snprintf(c.dir, sizeof c.dir, "%s", tmpdir);
    snprintf(c.keys_dir, sizeof c.keys_dir, "%s/keys", tmpdir);
    c.cluster_id = 0xdeadbeef00112233ULL;
    c.protocol = BFT_PROTO_HOTSTUFF;
    c.f = 2;
    c.n = 7;
    snprintf(c.app, sizeof c.app, "kv");
    c.batch_max = 128;
    c.sign = true;
    snprintf(c.metrics_base, sizeof c.metrics_base, "http://127.0.0.1:9100");
    for (uint32_t i = 0; i < c.n; i++) {
        c.replicas[i].id = i;
        snprintf(c.replicas[i].address, sizeof c.replicas[i].address, "tcp://127.0.0.1:%u",
                 7000 + i);
        fill_pk(c.replicas[i].pk, (uint8_t)i);
    }
    snprintf(c.replicas[1].status, sizeof c.replicas[1].status, "http://10.0.0.2:9901");
    struct bft_cluster_client clients[3];
    memset(clients, 0, sizeof clients);
    c.clients = clients;
    c.n_clients = 3;
    for (uint32_t i = 0; i < c.n_clients; i++) {
        clients[i].id = i;
        if (i != 2) /* a client address is optional */
            snprintf(clients[i].address, sizeof clients[i].address, "ipc:///tmp/c%u", i);
        fill_pk(clients[i].pk, (uint8_t)(100 + i));
    }

    char path[128], err[256] = "";
    snprintf(path, sizeof path, "%s/cluster.json", tmpdir);
    assert_int_equal(bft_cluster_save(&c, path, err, sizeof err), 0);
    int rv = bft_cluster_load(&back, path, err, sizeof err);
    if (rv != 0) print_error("load: %s\n", err);
    assert_int_equal(rv, 0);
    assert_string_equal(back.path, path);
    assert_string_equal(back.dir, tmpdir);
    assert_string_equal(back.keys_dir, c.keys_dir);
    assert_true(back.cluster_id == c.cluster_id);
    assert_int_equal(back.protocol, BFT_PROTO_HOTSTUFF);
    assert_int_equal(back.f, 2);
    assert_int_equal(back.n, 7);
    assert_string_equal(back.app, "kv");
    assert_int_equal(back.batch_max, 128);
    assert_true(back.sign);
    assert_string_equal(back.metrics_base, c.metrics_base);
    /* A status address round-trips; without one, metrics_base PORT+i. */
    char url[160];
    assert_int_equal(bft_cluster_status_url(&back, 1, url, sizeof url), 0);
    assert_string_equal(url, "http://10.0.0.2:9901");
    assert_int_equal(bft_cluster_status_url(&back, 2, url, sizeof url), 0);
    assert_string_equal(url, "http://127.0.0.1:9102");
    assert_int_equal(bft_cluster_status_url(&back, 7, url, sizeof url), -1);
    back.metrics_base[0] = '\0';
    assert_int_equal(bft_cluster_status_url(&back, 2, url, sizeof url), -1);
    for (uint32_t i = 0; i < c.n; i++) {
        assert_int_equal(back.replicas[i].id, i);
        assert_string_equal(back.replicas[i].address, c.replicas[i].address);
        assert_memory_equal(back.replicas[i].pk, c.replicas[i].pk, CRYPTO_PK_LEN);
    }
    assert_int_equal(back.n_clients, 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(back.clients[i].id, i);
        assert_string_equal(back.clients[i].address, clients[i].address);
        assert_memory_equal(back.clients[i].pk, clients[i].pk, CRYPTO_PK_LEN);
    }

    /* The file says "keys", relative, and the cluster id as 16 hex digits. */
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    static char text[1 << 16];
    size_t len = fread(text, 1, sizeof text - 1, fp);
    fclose(fp);
    text[len] = '\0';
    cJSON *root = cJSON_Parse(text);
    assert_non_null(root);
    assert_string_equal(cJSON_GetObjectItem(root, "keys_dir")->valuestring, "keys");
    assert_string_equal(cJSON_GetObjectItem(root, "cluster_id")->valuestring, "deadbeef00112233");
    assert_string_equal(cJSON_GetObjectItem(root, "protocol")->valuestring, "hotstuff");
    cJSON_Delete(root);
    assert_non_null(strchr(text, '\n')); /* pretty-printed */

    char kp[600];
    bft_cluster_replica_key_path(&back, 3, kp, sizeof kp);
    char want[600];
    snprintf(want, sizeof want, "%s/keys/replica-3.pem", tmpdir);
    assert_string_equal(kp, want);
    bft_cluster_client_key_path(&back, 2, kp, sizeof kp);
    snprintf(want, sizeof want, "%s/keys/client-2.pem", tmpdir);
    assert_string_equal(kp, want);

    /* Saved elsewhere, the keys dir stays the same directory (absolute). */
    char sub[128], path2[160];
    snprintf(sub, sizeof sub, "%s/elsewhere", tmpdir);
    snprintf(path2, sizeof path2, "%s/cluster.json", sub);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", sub);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(bft_cluster_save(&back, path2, err, sizeof err), 0);
    struct bft_cluster third;
    assert_int_equal(bft_cluster_load(&third, path2, err, sizeof err), 0);
    assert_string_equal(third.keys_dir, back.keys_dir);
    assert_string_equal(third.dir, sub);
    bft_cluster_free(&third);
    bft_cluster_free(&back);
    assert_null(back.clients);
}

#define PK "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\""
#define R(i) "{\"id\":" #i ",\"address\":\"tcp://127.0.0.1:70" #i "\",\"public_key\":" PK "}"
#define R3 R(0) "," R(1) "," R(2)
#define R4 R3 "," R(3)
#define HEAD "\"cluster_id\":\"00000000000000ff\",\"f\":1,"
#define CL(i) "{\"id\":" #i ",\"address\":\"tcp://127.0.0.1:71" #i "\",\"public_key\":" PK "}"
#define CLS "\"clients\":[" CL(0) "," CL(1) "]"
#define PBFT(reps) "{" HEAD "\"protocol\":\"pbft\",\"replicas\":[" reps "]," CLS "}"

static void test_defaults_and_bounds(void **state)
{
    (void)state;
    char path[128], err[256];
    struct bft_cluster c;
    snprintf(path, sizeof path, "%s/min.json", tmpdir);
    write_text(path, PBFT(R4));
    int rv = bft_cluster_load(&c, path, err, sizeof err);
    if (rv != 0) print_error("load: %s\n", err);
    assert_int_equal(rv, 0);
    assert_string_equal(c.app, "orders");
    assert_int_equal(c.batch_max, 64);
    assert_false(c.sign);
    assert_string_equal(c.metrics_base, "");
    char want[200];
    snprintf(want, sizeof want, "%s/keys", tmpdir);
    assert_string_equal(c.keys_dir, want);
    assert_true(c.cluster_id == 0xff);
    assert_int_equal(c.protocol, BFT_PROTO_PBFT);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.n_clients, 2);
    bft_cluster_free(&c);

    /* Raft needs only 2f+1; an absolute keys_dir is kept as is. */
    write_text(path, "{" HEAD "\"protocol\":\"raft\",\"keys_dir\":\"/var/k\",\"replicas\":[" R3
                     "],\"clients\":[]}");
    rv = bft_cluster_load(&c, path, err, sizeof err);
    if (rv != 0) print_error("load: %s\n", err);
    assert_int_equal(rv, 0);
    assert_int_equal(c.n, 3);
    assert_int_equal(c.n_clients, 0);
    assert_string_equal(c.keys_dir, "/var/k");
    bft_cluster_free(&c);
}

struct bad_case {
    const char *json; /* NULL: the file does not exist */
    const char *expect;
};

static const struct bad_case bad_cases[] = {
    {NULL, "cannot open"},
    {"{\"cluster_id\": ", "not valid JSON"},
    {"", "not valid JSON"},
    {"[1,2]", "top level must be a JSON object"},
    {"{\"f\":1,\"protocol\":\"pbft\",\"replicas\":[" R4 "]," CLS "}", "cluster_id: missing"},
    {"{\"cluster_id\":255,\"f\":1,\"protocol\":\"pbft\",\"replicas\":[" R4 "]," CLS "}",
     "cluster_id: must be a string"},
    {"{\"cluster_id\":\"0000000000000ff\",\"f\":1,\"protocol\":\"pbft\",\"replicas\":[" R4 "]," CLS
     "}",
     "16 hex digits"},
    {"{\"cluster_id\":\"00000000000000fg\",\"f\":1,\"protocol\":\"pbft\",\"replicas\":[" R4 "]," CLS
     "}",
     "16 hex digits"},
    {"{" HEAD "\"replicas\":[" R4 "]," CLS "}", "protocol: missing"},
    {"{" HEAD "\"protocol\":\"paxos\",\"replicas\":[" R4 "]," CLS "}", "protocol: unknown"},
    {"{" HEAD "\"protocol\":1,\"replicas\":[" R4 "]," CLS "}", "protocol: must be a string"},
    {"{\"cluster_id\":\"00000000000000ff\",\"protocol\":\"pbft\",\"replicas\":[" R4 "]," CLS "}",
     "f: missing"},
    {"{\"cluster_id\":\"00000000000000ff\",\"f\":0,\"protocol\":\"pbft\",\"replicas\":[" R4 "]," CLS
     "}",
     "f: must be between 1"},
    {"{\"cluster_id\":\"00000000000000ff\",\"f\":\"1\",\"protocol\":\"pbft\",\"replicas\":[" R4
     "]," CLS "}",
     "f: must be an integer"},
    {"{\"cluster_id\":\"00000000000000ff\",\"f\":1.5,\"protocol\":\"pbft\",\"replicas\":[" R4
     "]," CLS "}",
     "f: must be an integer"},
    {PBFT(R3), "pbft with f=1 needs at least 4 replicas, have 3"},
    {"{\"cluster_id\":\"00000000000000ff\",\"f\":2,\"protocol\":\"hotstuff\",\"replicas\":[" R4
     "]," CLS "}",
     "hotstuff with f=2 needs at least 7"},
    {"{\"cluster_id\":\"00000000000000ff\",\"f\":2,\"protocol\":\"raft\",\"replicas\":[" R4 "]," CLS
     "}",
     "raft with f=2 needs at least 5"},
    {"{" HEAD "\"protocol\":\"pbft\"," CLS "}", "replicas: missing"},
    {"{" HEAD "\"protocol\":\"pbft\",\"replicas\":{}," CLS "}", "replicas: must be an array"},
    {"{" HEAD "\"protocol\":\"pbft\",\"replicas\":[]," CLS "}", "replicas: empty"},
    {PBFT(R(0) "," R(2) "," R(1) "," R(3)), "replicas[1].id: is 2, expected 1"},
    {PBFT(R(1) "," R(2) "," R(3) "," R(4)), "replicas[0].id: is 1, expected 0"},
    {PBFT(R4 "," R(4) "," R(5) "," R(6) "," R(7) "," R(8) "," R(9) "," R(10) "," R(11) "," R(
         12) "," R(13) "," R(14) "," R(15) "," R(16)),
     "at most 16"},
    {PBFT(R3 ",7"), "replicas[3]: must be an object"},
    {PBFT(R3 ",{\"id\":3,\"public_key\":" PK "}"), "replicas[3].address: missing"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"\",\"public_key\":" PK "}"), "replicas[3].address: empty"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"http://x:1\",\"public_key\":" PK "}"),
     "replicas[3].address: \"http://x:1\" must start with tcp://"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"tcp://\",\"public_key\":" PK "}"), "must start with tcp://"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"tls+tcp://127.0.0.1:9\",\"public_key\":" PK "}"),
     "replicas[3].address: \"tls+tcp://127.0.0.1:9\": tls+tcp:// needs \"tls\""},
    {PBFT(R3 ",{\"id\":3,\"address\":7,\"public_key\":" PK "}"),
     "replicas[3].address: must be a string"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"tcp://"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa:1\",\"public_key\":" PK "}"),
     "replicas[3].address: longer than 127"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"tcp://127.0.0.1:701\",\"public_key\":" PK "}"),
     "duplicate address \"tcp://127.0.0.1:701\""},
    {"{" HEAD "\"protocol\":\"pbft\",\"replicas\":[" R4 "],\"clients\":[{\"id\":0,\"address\":"
     "\"tcp://127.0.0.1:702\",\"public_key\":" PK "}]}",
     "duplicate address"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"ipc:///x\",\"public_key\":\"0011\"}"),
     "replicas[3].public_key: must be exactly 64 hex digits"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"ipc:///x\",\"public_key\":"
             "\"zz112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\"}"),
     "replicas[3].public_key: must be exactly 64 hex digits"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"ipc:///x\",\"public_key\":" PK "00}"), "not valid JSON"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"ipc:///x\",\"public_key\":"
             "\"00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff00\"}"),
     "replicas[3].public_key: must be exactly 64 hex digits"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"ipc:///x\"}"), "replicas[3].public_key: missing"},
    {PBFT(R3 ",{\"id\":\"3\",\"address\":\"ipc:///x\",\"public_key\":" PK "}"),
     "replicas[3].id: must be an integer"},
    {"{" HEAD "\"protocol\":\"pbft\",\"replicas\":[" R4 "]}", "clients: missing"},
    {"{" HEAD "\"protocol\":\"pbft\",\"replicas\":[" R4 "],\"clients\":[" CL(1) "]}",
     "clients[0].id: is 1, expected 0"},
    {"{" HEAD "\"protocol\":\"pbft\",\"replicas\":[" R4 "],\"clients\":[{\"id\":0,\"address\":"
     "\"udp://x\",\"public_key\":" PK "}]}",
     "clients[0].address"},
    /* Any app name loads (an embedder's own app); a non-name does not. */
    {"{" HEAD "\"protocol\":\"pbft\",\"app\":\"Bank Ledger\",\"replicas\":[" R4 "]," CLS "}",
     "app: \"Bank Ledger\" is not a name"},
    {"{" HEAD "\"protocol\":\"pbft\",\"app\":\"\",\"replicas\":[" R4 "]," CLS "}",
     "app: \"\" is not a name"},
    {"{" HEAD "\"protocol\":\"pbft\",\"batch_max\":0,\"replicas\":[" R4 "]," CLS "}",
     "batch_max: must be between 1"},
    {"{" HEAD "\"protocol\":\"pbft\",\"batch_max\":-3,\"replicas\":[" R4 "]," CLS "}",
     "batch_max: must be between 1"},
    {"{" HEAD "\"protocol\":\"pbft\",\"sign\":\"yes\",\"replicas\":[" R4 "]," CLS "}",
     "sign: must be true or false"},
    {"{" HEAD "\"protocol\":\"pbft\",\"keys_dir\":5,\"replicas\":[" R4 "]," CLS "}",
     "keys_dir: must be a string"},
    {"{" HEAD "\"protocol\":\"pbft\",\"keys_dir\":\"\",\"replicas\":[" R4 "]," CLS "}",
     "keys_dir: empty"},
    {"{" HEAD "\"protocol\":\"pbft\",\"metrics_base\":[],\"replicas\":[" R4 "]," CLS "}",
     "metrics_base: must be a string"},
    /* replicas[i].status (bftctl status): http://HOST:PORT or absent. */
    {PBFT(R3 ",{\"id\":3,\"address\":\"ipc:///r3\",\"status\":\"tcp://h:1\",\"public_key\":" PK
             "}"),
     "replicas[3].status: \"tcp://h:1\" must be http://HOST:PORT"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"ipc:///r3\",\"status\":\"http://h:0\",\"public_key\":" PK
             "}"),
     "must be http://HOST:PORT"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"ipc:///r3\",\"status\":\"http://h:80x\",\"public_key\":" PK
             "}"),
     "must be http://HOST:PORT"},
    {PBFT(R3 ",{\"id\":3,\"address\":\"ipc:///r3\",\"status\":5,\"public_key\":" PK "}"),
     "replicas[3].status: must be a string"},
};

static void test_rejects(void **state)
{
    (void)state;
    char path[128], err[256];
    for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
        snprintf(path, sizeof path, "%s/bad%zu.json", tmpdir, i);
        if (bad_cases[i].json != NULL) write_text(path, bad_cases[i].json);
        struct bft_cluster c;
        memset(err, 0, sizeof err);
        int rv = bft_cluster_load(&c, path, err, sizeof err);
        if (rv == 0 || strstr(err, bad_cases[i].expect) == NULL)
            print_error("case %zu: rv=%d err=\"%s\" expected \"%s\"\n", i, rv, err,
                        bad_cases[i].expect);
        assert_int_equal(rv, -1);
        assert_non_null(strstr(err, bad_cases[i].expect));
        assert_non_null(strstr(err, path)); /* names the file */
        assert_null(c.clients);             /* nothing leaked on failure */
    }
}

/* Client count is bounded: BFT_MAX_CLIENTS + 1 entries are refused. */
static void test_too_many_clients(void **state)
{
    (void)state;
    size_t cap = 256 + (size_t)(BFT_MAX_CLIENTS + 1) * 120 + 4096;
    char *buf = malloc(cap);
    assert_non_null(buf);
    size_t off = (size_t)snprintf(
        buf, cap, "{" HEAD "\"protocol\":\"pbft\",\"replicas\":[" R4 "],\"clients\":[");
    for (int i = 0; i <= BFT_MAX_CLIENTS; i++)
        off += (size_t)snprintf(buf + off, cap - off, "%s{\"id\":%d,\"public_key\":" PK "}",
                                i ? "," : "", i);
    snprintf(buf + off, cap - off, "]}");
    char path[128], err[256] = "";
    snprintf(path, sizeof path, "%s/many.json", tmpdir);
    write_text(path, buf);
    free(buf);
    struct bft_cluster c;
    assert_int_equal(bft_cluster_load(&c, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "at most 1024"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_defaults_and_bounds),
        cmocka_unit_test(test_rejects),
        cmocka_unit_test(test_too_many_clients),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
