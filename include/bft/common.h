/* bft/common.h: what every public header of the bft library shares: the
 * library version, the limits a caller must respect, error codes, the
 * digest type and the protocol names. Self-contained: it includes only the
 * C standard library (docs/embedding.md "What is stable"). */
#ifndef BFT_COMMON_H
#define BFT_COMMON_H

#include <stddef.h>
#include <stdint.h>

/* Marks the functions the shared library exports; everything else is
 * compiled with hidden visibility, so it is not part of the ABI. */
#if defined(__GNUC__) || defined(__clang__)
#define BFT_API __attribute__((visibility("default")))
#else
#define BFT_API
#endif

/* Library version (semantic: a MAJOR change breaks the public API). */
#define BFT_VERSION_MAJOR 1
#define BFT_VERSION_MINOR 0
#define BFT_VERSION_PATCH 0
/* The library's own version string, e.g. "1.0.0" (may differ from the
 * headers' a program was compiled with, when the shared library is newer). */
BFT_API const char *bft_version(void);

/* Limits. */
#define BFT_MAX_REPLICAS 16
#define BFT_MAX_CLIENTS 1024
#define BFT_OP_MAX 1024    /* bytes in one client operation */
#define BFT_RESULT_MAX 256 /* bytes in one operation's result */

/* Errors: a positive enum with one string table (docs/style.md #5). */
#define BFT_ERR_MAP(X)                                                                             \
    X(OK, "ok")                                                                                    \
    X(NOMEM, "out of memory")                                                                      \
    X(INVALID, "invalid argument")                                                                 \
    X(MALFORMED, "malformed input")                                                                \
    X(FULL, "bounded queue or table full")                                                         \
    X(IO, "I/O error")                                                                             \
    X(NOTFOUND, "not found")                                                                       \
    X(AGAIN, "not possible now; try later")
#define BFT_ERR_ENUM(name, str) BFT_E_##name,
enum bft_err { BFT_ERR_MAP(BFT_ERR_ENUM) BFT_E__COUNT };
BFT_API const char *bft_strerror(int err);

/* A SHA-256 digest (of an application's state, for instance). */
typedef struct {
    uint8_t b[32];
} bft_digest;

enum bft_protocol { BFT_PROTO_PBFT = 1, BFT_PROTO_HOTSTUFF = 2, BFT_PROTO_RAFT = 3 };
BFT_API const char *bft_protocol_name(int proto);
BFT_API int bft_protocol_parse(const char *s); /* -1 if unknown */

#endif
