/* Frames: the unit one nng message carries (layout in net/net.h).
 *
 * Building is for our own messages, so a limit we break is a caller error
 * reported by -1. Parsing is for peer input, so nothing in it is trusted:
 * net_frame_check walks the whole frame before net_frame_next yields the
 * first message, and a frame that does not add up exactly is dropped whole
 * (docs/design.md: "unknown versions refused, maximum frame size enforced").
 */
#include "net/net.h"

#include <assert.h>

#define NET_MSG_LEN_BYTES 4 /* u32 length prefix of each message */

_Static_assert(NET_FRAME_HDR_LEN == 4 + 1 + 1 + 2 + 4, "frame header layout");
_Static_assert(NET_FRAME_MAX_MSGS <= UINT16_MAX, "count is a u16");
_Static_assert(NET_FRAME_MAX <= UINT32_MAX, "body_len is a u32");
_Static_assert(NET_MSG_MAX + NET_MSG_LEN_BYTES + NET_FRAME_HDR_LEN <= NET_FRAME_MAX,
               "a largest message must fit in one frame");

void net_frame_init(struct net_frame *f, uint8_t *buf, size_t cap)
{
    assert(buf != NULL && cap >= NET_FRAME_HDR_LEN);
    f->buf = buf;
    f->cap = cap;
    f->len = NET_FRAME_HDR_LEN;
    f->count = 0;
}

int net_frame_add(struct net_frame *f, const uint8_t *msg, size_t len)
{
    assert(f->len >= NET_FRAME_HDR_LEN && f->len <= f->cap);
    /* Empty messages are refused because the parser refuses them. */
    if (len == 0 || len > NET_MSG_MAX || f->count >= NET_FRAME_MAX_MSGS) return -1;
    size_t need = NET_MSG_LEN_BYTES + len;
    size_t limit = f->cap < NET_FRAME_MAX ? f->cap : NET_FRAME_MAX;
    if (need > limit - f->len) return -1;
    wire_le_store(f->buf + f->len, len, NET_MSG_LEN_BYTES);
    memcpy(f->buf + f->len + NET_MSG_LEN_BYTES, msg, len);
    f->len += need;
    f->count++;
    return 0;
}

size_t net_frame_finish(struct net_frame *f)
{
    /* An empty frame would be rejected by every receiver: sending one is a
     * bug on our side, not peer input. */
    assert(f->count > 0 && f->len <= NET_FRAME_MAX);
    uint8_t *h = f->buf;
    wire_le_store(h, NET_FRAME_MAGIC, 4);
    h[4] = NET_FRAME_VERSION;
    h[5] = 0; /* flags */
    wire_le_store(h + 6, f->count, 2);
    wire_le_store(h + 8, f->len - NET_FRAME_HDR_LEN, 4);
    return f->len;
}

static enum net_frame_err check_header(const uint8_t *frame, size_t len, uint16_t *count)
{
    if (len < NET_FRAME_HDR_LEN) return NET_FRAME_SHORT;
    if (wire_le_load(frame, 4) != NET_FRAME_MAGIC) return NET_FRAME_BAD_MAGIC;
    if (frame[4] != NET_FRAME_VERSION) return NET_FRAME_BAD_VERSION;
    if (frame[5] != 0) return NET_FRAME_BAD_FLAGS;
    if (len > NET_FRAME_MAX) return NET_FRAME_TOO_BIG;
    *count = (uint16_t)wire_le_load(frame + 6, 2);
    if (*count == 0 || *count > NET_FRAME_MAX_MSGS) return NET_FRAME_BAD_COUNT;
    if (wire_le_load(frame + 8, 4) != len - NET_FRAME_HDR_LEN) return NET_FRAME_BAD_LENGTH;
    return NET_FRAME_OK;
}

enum net_frame_err net_frame_check(const uint8_t *frame, size_t len, struct net_frame_iter *it)
{
    /* Until the frame is known good the iterator yields nothing, so a
     * caller that ignores the return value still processes no message. */
    it->p = frame;
    it->len = 0;
    it->off = NET_FRAME_HDR_LEN;
    it->left = 0;

    uint16_t count = 0;
    enum net_frame_err e = check_header(frame, len, &count);
    if (e != NET_FRAME_OK) return e;

    size_t off = NET_FRAME_HDR_LEN;
    for (uint16_t i = 0; i < count; i++) {
        if (len - off < NET_MSG_LEN_BYTES) return NET_FRAME_BAD_LENGTH;
        size_t m = (size_t)wire_le_load(frame + off, NET_MSG_LEN_BYTES);
        off += NET_MSG_LEN_BYTES;
        if (m == 0 || m > NET_MSG_MAX || m > len - off) return NET_FRAME_BAD_LENGTH;
        off += m;
    }
    if (off != len) return NET_FRAME_BAD_LENGTH; /* trailing bytes */

    it->len = len;
    it->left = count;
    return NET_FRAME_OK;
}

bool net_frame_next(struct net_frame_iter *it, const uint8_t **msg, size_t *len)
{
    if (it->left == 0) return false;
    /* net_frame_check proved every prefix and body lies inside the frame. */
    assert(it->len - it->off >= NET_MSG_LEN_BYTES);
    size_t m = (size_t)wire_le_load(it->p + it->off, NET_MSG_LEN_BYTES);
    it->off += NET_MSG_LEN_BYTES;
    assert(m > 0 && m <= it->len - it->off);
    *msg = it->p + it->off;
    *len = m;
    it->off += m;
    it->left--;
    return true;
}

#define NET_FRAME_ERR_MAP(X)                                                                       \
    X(NET_FRAME_OK, "ok")                                                                          \
    X(NET_FRAME_SHORT, "frame shorter than its header")                                            \
    X(NET_FRAME_BAD_MAGIC, "bad frame magic")                                                      \
    X(NET_FRAME_BAD_VERSION, "unsupported frame version")                                          \
    X(NET_FRAME_BAD_FLAGS, "unknown frame flags")                                                  \
    X(NET_FRAME_TOO_BIG, "frame larger than NET_FRAME_MAX")                                        \
    X(NET_FRAME_BAD_COUNT, "frame message count is 0 or too large")                                \
    X(NET_FRAME_BAD_LENGTH, "frame lengths do not add up")

const char *net_frame_strerror(enum net_frame_err e)
{
    switch (e) {
#define NET_FRAME_ERR_CASE(code, text)                                                             \
    case code:                                                                                     \
        return text;
        NET_FRAME_ERR_MAP(NET_FRAME_ERR_CASE)
#undef NET_FRAME_ERR_CASE
    }
    return "unknown frame error";
}
