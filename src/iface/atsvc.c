/* ATSvc, MS-TSCH 3.2.5.2: the legacy AT scheduler interface (at.exe). */
#include "iface_internal.h"

static const struct iface_op ops[] = {
    [0] = {"NetrJobAdd", RPC_CLASS_CREATE, NULL, NULL},
    [1] = {"NetrJobDel", RPC_CLASS_DELETE, NULL, NULL},
    [2] = {"NetrJobEnum", RPC_CLASS_READ, NULL, NULL},
    [3] = {"NetrJobGetInfo", RPC_CLASS_READ, NULL, NULL},
};

const struct iface_def iface_atsvc = {
    .uuid = UUID_LIT(0x1ff70682, 0x0a51, 0x30e8, 0x07, 0x6d, 0x74, 0x0b, 0xe8, 0xce, 0xe9, 0x8b),
    .ver_major = 1,
    .ver_minor = 0,
    .name = "ATSvc",
    .service = "atsvc",
    .spec = "MS-TSCH",
    .target = true,
    .pipes = "atsvc",
    .attack = "T1053.002",
    .ops = ops,
    .n_ops = sizeof ops / sizeof ops[0],
};
