/* Names for every enum in wire/wire.h and bft/common.h, generated from the X-macro tables there so
 * a new code cannot be added without its string (docs/style.md #5, after
 * canonical/raft's ERR_CODE_TO_STRING_MAP). */
#include <string.h>

#include "wire/wire.h"

#define BFT_STR2(x) #x
#define BFT_STR(x) BFT_STR2(x)
const char *bft_version(void)
{
    return BFT_STR(BFT_VERSION_MAJOR) "." BFT_STR(BFT_VERSION_MINOR) "." BFT_STR(BFT_VERSION_PATCH);
}

const char *bft_strerror(int err)
{
#define BFT_ERR_STR(name, str) [BFT_E_##name] = str,
    static const char *const names[BFT_E__COUNT] = {BFT_ERR_MAP(BFT_ERR_STR)};
#undef BFT_ERR_STR
    if (err < 0 || err >= BFT_E__COUNT) return "unknown error";
    return names[err];
}

const char *bft_reject_name(int reason)
{
#define BFT_REJECT_STR(name, str) [BFT_REJECT_##name] = str,
    static const char *const names[BFT_REJECT__COUNT] = {BFT_REJECT_MAP(BFT_REJECT_STR)};
#undef BFT_REJECT_STR
    if (reason < BFT_REJECT__FIRST || reason >= BFT_REJECT__COUNT) return "unknown";
    return names[reason];
}

/* Protocol names are the command-line spelling (--protocol pbft|hotstuff|raft). */
static const struct {
    int proto;
    const char *name;
} protocols[] = {
    {BFT_PROTO_PBFT, "pbft"},
    {BFT_PROTO_HOTSTUFF, "hotstuff"},
    {BFT_PROTO_RAFT, "raft"},
};

const char *bft_protocol_name(int proto)
{
    for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
        if (protocols[i].proto == proto) return protocols[i].name;
    return "unknown";
}

int bft_protocol_parse(const char *s)
{
    if (!s) return -1;
    for (size_t i = 0; i < sizeof(protocols) / sizeof(protocols[0]); i++)
        if (strcmp(protocols[i].name, s) == 0) return protocols[i].proto;
    return -1;
}

/* Message type values are sparse (1..53), so the table is indexed by the
 * wire byte directly: 256 entries, NULL where no type is defined. */
#define BFT_MSG_TYPE_STR(name, val, str) [val] = str,
static const char *const msg_type_names[256] = {BFT_MSG_TYPE_MAP(BFT_MSG_TYPE_STR)};
#undef BFT_MSG_TYPE_STR

const char *bft_msg_type_name(int type)
{
    if (type < 0 || type > 255) return NULL;
    return msg_type_names[type];
}

bool bft_msg_type_valid(int type)
{
    return bft_msg_type_name(type) != NULL;
}

/* Only the request envelope comes from clients; everything else is a
 * replica's message, and a client id may never pose as a replica. */
bool bft_msg_from_client(int type)
{
    return type == BFT_MSG_REQUEST;
}
