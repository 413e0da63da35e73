/* The endpoint mapper, C706 appendix O / MS-RPCE 2.2.1.2: where interfaces listen. */
#include "iface_internal.h"

static const struct iface_op ops[] = {
    [0] = {"ept_insert", RPC_CLASS_OTHER, NULL, NULL},
    [1] = {"ept_delete", RPC_CLASS_OTHER, NULL, NULL},
    [2] = {"ept_lookup", RPC_CLASS_READ, NULL, NULL},
    [3] = {"ept_map", RPC_CLASS_READ, NULL, NULL},
    [4] = {"ept_lookup_handle_free", RPC_CLASS_OTHER, NULL, NULL},
    [5] = {"ept_inq_object", RPC_CLASS_READ, NULL, NULL},
    [6] = {"ept_mgmt_delete", RPC_CLASS_OTHER, NULL, NULL},
};

const struct iface_def iface_epm = {
    .uuid = UUID_LIT(0xe1af8308, 0x5d1f, 0x11c9, 0x91, 0xa4, 0x08, 0x00, 0x2b, 0x14, 0xa0, 0xfa),
    .ver_major = 3,
    .ver_minor = 0,
    .name = "epm",
    .service = "epmapper",
    .spec = "C706",
    .target = false,
    .pipes = "epmapper",
    .attack = NULL,
    .ops = ops,
    .n_ops = sizeof ops / sizeof ops[0],
};
