/* wire/bytes.h: the bounded little-endian reader and writer every codec
 * uses (message bodies, WAL records, snapshots, frames). Explicit
 * little-endian on every host, never a struct cast (docs/wire.md). */
#ifndef BFT_WIRE_BYTES_H
#define BFT_WIRE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* ---- Bounded reader / writer. An error is sticky: after the first
 * out-of-bounds access every get returns 0 and `err` stays set. ---- */

struct wire_wr {
    uint8_t *buf;
    size_t cap;
    size_t len;
    bool err;
};

struct wire_rd {
    const uint8_t *p;
    size_t len;
    size_t off;
    bool err;
};

static inline void wire_wr_init(struct wire_wr *w, uint8_t *buf, size_t cap)
{
    w->buf = buf;
    w->cap = cap;
    w->len = 0;
    w->err = false;
}
static inline uint8_t *wire_wr_reserve(struct wire_wr *w, size_t n)
{
    if (w->err || n > w->cap - w->len) {
        w->err = true;
        return NULL;
    }
    uint8_t *p = w->buf + w->len;
    w->len += n;
    return p;
}
static inline void wire_put_bytes(struct wire_wr *w, const void *src, size_t n)
{
    uint8_t *p = wire_wr_reserve(w, n);
    if (p && n) memcpy(p, src, n);
}
static inline void wire_put_le(struct wire_wr *w, uint64_t v, size_t n)
{
    uint8_t *p = wire_wr_reserve(w, n);
    if (!p) return;
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void wire_put_u8(struct wire_wr *w, uint8_t v)
{
    wire_put_le(w, v, 1);
}
static inline void wire_put_u16(struct wire_wr *w, uint16_t v)
{
    wire_put_le(w, v, 2);
}
static inline void wire_put_u32(struct wire_wr *w, uint32_t v)
{
    wire_put_le(w, v, 4);
}
static inline void wire_put_u64(struct wire_wr *w, uint64_t v)
{
    wire_put_le(w, v, 8);
}

static inline void wire_rd_init(struct wire_rd *r, const uint8_t *p, size_t len)
{
    r->p = p;
    r->len = len;
    r->off = 0;
    r->err = false;
}
static inline size_t wire_rd_left(const struct wire_rd *r)
{
    return r->err ? 0 : r->len - r->off;
}
static inline const uint8_t *wire_get_ptr(struct wire_rd *r, size_t n)
{
    if (r->err || n > r->len - r->off) {
        r->err = true;
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}
static inline uint64_t wire_get_le(struct wire_rd *r, size_t n)
{
    const uint8_t *p = wire_get_ptr(r, n);
    uint64_t v = 0;
    if (!p) return 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}
static inline uint8_t wire_get_u8(struct wire_rd *r)
{
    return (uint8_t)wire_get_le(r, 1);
}
static inline uint16_t wire_get_u16(struct wire_rd *r)
{
    return (uint16_t)wire_get_le(r, 2);
}
static inline uint32_t wire_get_u32(struct wire_rd *r)
{
    return (uint32_t)wire_get_le(r, 4);
}
static inline uint64_t wire_get_u64(struct wire_rd *r)
{
    return wire_get_le(r, 8);
}
static inline void wire_get_bytes(struct wire_rd *r, void *dst, size_t n)
{
    const uint8_t *p = wire_get_ptr(r, n);
    if (p && n)
        memcpy(dst, p, n);
    else if (n)
        memset(dst, 0, n);
}

static inline void wire_le_store(uint8_t *p, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint64_t wire_le_load(const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

#endif
