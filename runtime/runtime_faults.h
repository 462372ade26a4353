/* bftd's fault plan (docs/faults.md "How hosts use it"): a Byzantine
 * replica's outgoing messages go through its fault actor, and every send
 * to a replica or client meets the plan's network filter (partitions cut
 * only replica links; rates everywhere), with a bounded delay queue. */
#ifndef BFT_RUNTIME_FAULTS_H
#define BFT_RUNTIME_FAULTS_H

#include <stdio.h>

#include "faults/faults.h"

/* Puts one message on the transport: dest is a replica id, or
 * FAULT_CLIENT | client, possibly with FAULT_RAW_FRAME. */
typedef void (*rt_xmit_fn)(void *ctx, uint32_t dest, const uint8_t *msg, size_t len);

struct rt_faults_config {
    const char *plan_path;
    uint64_t start_realtime_ms; /* the run's T=0, shared by every process */
    int twin_instance;          /* -1: not a twin; 0/1: instance of a twin replica */
    int protocol;
    uint32_t n, f, self;
    uint64_t cluster_id;
    uint32_t request_timeout_ms;
    struct crypto_keypair key;
    rt_xmit_fn xmit;
    void *ctx;
};

struct rt_faults;
int rt_faults_open(struct rt_faults **out, const struct rt_faults_config *c, char *err,
                   size_t errlen);
void rt_faults_close(struct rt_faults *f);
/* One outgoing message from the node. */
void rt_faults_send(struct rt_faults *f, uint32_t dest, const uint8_t *msg, size_t len);
/* Tick traffic and due delayed sends; call every loop iteration. */
void rt_faults_poll(struct rt_faults *f);
/* Milliseconds until rt_faults_poll has work (<= 10 with an actor). */
int rt_faults_wait_ms(const struct rt_faults *f);
/* Is replica id's twin window open now? */
bool rt_faults_twin_active(const struct rt_faults *f, uint32_t id);
/* `, "byzantine": ..., "fault_actor": {...}, "fault_net": {...}` */
void rt_faults_stats_json(const struct rt_faults *f, FILE *out);

#endif
