/* Driving the Raft cluster of test_raft_fixture.h (included by it):
 * delivery in the global order, timers, partitions, crash and restart,
 * client requests, and the usual steps (boot, elect, heartbeat). */
#ifndef TEST_RAFT_DRIVE_H
#define TEST_RAFT_DRIVE_H

/* ---- delivery ---- */

/* Deliver the front packet of the global FIFO (the front of its link). */
FX_FN void fx_deliver_front(struct fx *fx)
{
    struct fx_msg m = *fx_peek(fx, 0);
    fx->head = (fx->head + 1) % FX_MAX_MSGS;
    fx->len--;
    fx->on_link[m.from][m.to]--;
    /* The fixture's link holds what this FIFO says, this packet first. */
    assert_int_equal(cf_queued(fx->cf, m.from, m.to), fx->on_link[m.from][m.to] + 1);
    assert_int_equal(cf_deliver(fx->cf, m.from, m.to, 1), 1);
    free(m.buf);
    fx_sync(fx);
}

/* Deliver queued messages (and whatever they cause) until quiet or until
 * `max` deliveries. Returns the number delivered. */
FX_FN size_t fx_run(struct fx *fx, size_t max)
{
    size_t k = 0;
    for (; fx->len && k < max; k++)
        fx_deliver_front(fx);
    return k;
}

/* Deliver only messages whose type is in `types` (bit per type below 64);
 * the rest are dropped. */
FX_FN void fx_run_only(struct fx *fx, uint64_t types)
{
    fx->only = true;
    fx->only_types = types;
    while (fx->len)
        fx_deliver_front(fx);
    fx->only = false;
}
#define FX_T(type) (1ull << (type))

/* Deliver bytes from `m->from` to `m->to` now, outside the FIFO (a late
 * or replayed packet), unless either is down or a partition cuts them. */
FX_FN void fx_deliver_one(struct fx *fx, const struct fx_msg *m)
{
    if (!cf_is_down(fx->cf, m->from)) cf_receive(fx->cf, m->from, m->to, m->buf, m->len);
    fx_sync(fx);
}

FX_FN void fx_drop_all(struct fx *fx)
{
    for (uint32_t a = 0; a < fx->n; a++)
        for (uint32_t b = 0; b < fx->n; b++)
            assert_int_equal(cf_drop(fx->cf, a, b), fx->on_link[a][b]);
    fx_forget_queue(fx);
    fx_sync(fx);
}

/* Cut the nodes in mask_a off from the others (both ways). */
FX_FN void fx_partition(struct fx *fx, uint32_t mask_a)
{
    for (uint32_t a = 0; a < fx->n; a++)
        for (uint32_t b = 0; b < fx->n; b++)
            fx->cut[a][b] = ((mask_a >> a) & 1) != ((mask_a >> b) & 1);
}

FX_FN void fx_heal(struct fx *fx)
{
    memset(fx->cut, 0, sizeof fx->cut);
}

/* ---- timers and status ---- */

FX_FN bool fx_fire(struct fx *fx, uint32_t i, uint32_t t)
{
    bool fired = cf_fire(fx->cf, i, t);
    fx_sync(fx);
    return fired;
}

FX_FN struct bft_core_status fx_status(struct fx *fx, uint32_t i)
{
    struct bft_core_status st;
    assert_true(cf_status(fx->cf, i, &st));
    return st;
}

FX_FN int fx_leader(struct fx *fx)
{
    int l = -1;
    for (uint32_t i = 0; i < fx->n; i++) {
        if (cf_is_down(fx->cf, i)) continue;
        if (fx_status(fx, i).is_leader) {
            assert_int_equal(l, -1);
            l = (int)i;
        }
    }
    return l;
}

/* ---- crash and restart ---- */

/* Crash: the process is gone (its WAL stays); the fixture drops what is
 * queued to and from it, and so does the global FIFO. */
FX_FN void fx_crash(struct fx *fx, uint32_t i)
{
    fx_sync(fx);
    assert_int_equal(cf_crash(fx->cf, i), BFT_E_OK);
    size_t kept = 0;
    for (size_t k = 0; k < fx->len; k++) {
        struct fx_msg m = *fx_peek(fx, k);
        if (m.from == i || m.to == i) {
            fx->on_link[m.from][m.to]--;
            free(m.buf);
            continue;
        }
        fx->q[(fx->head + kept++) % FX_MAX_MSGS] = m;
    }
    fx->len = kept;
    fx->node[i].executed = 0; /* the application's memory is gone */
}

FX_FN void fx_restart_from(struct fx *fx, uint32_t i, bool keep_wal, bool keep_snapshots)
{
    struct fx_node *nd = &fx->node[i];
    if (!keep_wal || !keep_snapshots)
        assert_int_equal(cf_lose_disk(fx->cf, i, !keep_wal), BFT_E_OK);
    if (keep_wal)
        assert_false(nd->wal_short); /* its scripted past would be cut short */
    else
        nd->wal_short = false;
    assert_int_equal(cf_restart(fx->cf, i), BFT_E_OK);
    fx_sync(fx);
}

/* Restart: a new core replays the WAL (or none: a lost disk). Snapshot
 * files are lost either way (see the top of test_raft_fixture.h). */
FX_FN void fx_restart(struct fx *fx, uint32_t i, bool keep_wal)
{
    fx_restart_from(fx, i, keep_wal, false);
}

/* Restart with the whole disk: the WAL and the snapshot files. */
FX_FN void fx_restart_keep_snapshots(struct fx *fx, uint32_t i)
{
    fx_restart_from(fx, i, true, true);
}

/* ---- steps ---- */

/* Start every node (first timer) and let the disk-loss probes settle.
 * Nodes that start from a WAL refuse votes for one election timeout
 * (raft_start, diss. §6.4.1); booting lets that timeout pass. */
FX_FN void fx_boot(struct fx *fx)
{
    for (uint32_t i = 0; i < fx->n; i++)
        fx_fire(fx, i, RAFT_TIMER_START);
    fx_run(fx, 100000);
    for (uint32_t i = 0; i < fx->n; i++)
        fx_fire(fx, i, RAFT_TIMER_STICKY);
}

/* Elect node i: fire its election timer and deliver everything. */
FX_FN void fx_elect(struct fx *fx, uint32_t i)
{
    assert_true(fx_fire(fx, i, RAFT_TIMER_ELECTION));
    fx_run(fx, 100000);
}

/* Fire node i's heartbeat timer and deliver. */
FX_FN void fx_heartbeat(struct fx *fx, uint32_t i)
{
    assert_true(fx_fire(fx, i, RAFT_TIMER_HEARTBEAT));
    fx_run(fx, 100000);
}

/* ---- client requests ---- */

/* A client REQUEST (one op) encoded as a client of cluster `cluster`
 * would send it (unsigned: the Raft core verifies no client signature). */
FX_FN size_t fx_request(uint8_t *buf, size_t cap, uint64_t cluster, uint32_t client,
                        uint64_t req_no, bool readonly)
{
    uint8_t body[4 + 2 + 8];
    wire_le_store(body, 1, 2);
    body[2] = readonly ? BFT_REQ_READONLY : 0;
    body[3] = 0;
    wire_le_store(body + 4, 8, 2);
    wire_le_store(body + 6, req_no * 31 + client, 8);
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = client,
                        .cluster_id = cluster,
                        .seq = req_no,
                        .body = body,
                        .body_len = sizeof body};
    size_t len = bft_msg_encode(&m, buf, cap);
    assert_true(len > 0);
    return len;
}

/* Hand an encoded client request (or read, by its flags) straight to
 * node i's core, as the node does with one it has not executed. */
FX_FN void fx_submit_raw(struct fx *fx, uint32_t i, const uint8_t *buf, size_t len)
{
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(buf, len, &m), BFT_E_OK);
    struct bft_core *c = fx_core(fx, i);
    assert_non_null(c);
    if (bft_req_flags(&m) & BFT_REQ_READONLY)
        bft_raft_ops.on_read(c, &m);
    else
        bft_raft_ops.on_request(c, &m);
    fx_sync(fx);
}

/* Hand a client request (or read) straight to node i. */
FX_FN void fx_submit(struct fx *fx, uint32_t i, uint32_t client, uint64_t req_no, bool readonly)
{
    uint8_t buf[256];
    size_t len = fx_request(buf, sizeof buf, fx_cluster(fx), client, req_no, readonly);
    fx_submit_raw(fx, i, buf, len);
}

#endif
