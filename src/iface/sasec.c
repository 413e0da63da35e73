/* SASec, MS-TSCH 3.2.5.3: account information of scheduled jobs. */
#include "iface_internal.h"

static const struct iface_op ops[] = {
    [0] = {"SASetAccountInformation", RPC_CLASS_MODIFY, NULL, NULL},
    [1] = {"SASetNSAccountInformation", RPC_CLASS_MODIFY, NULL, NULL},
    [2] = {"SAGetNSAccountInformation", RPC_CLASS_READ, NULL, NULL},
    [3] = {"SAGetAccountInformation", RPC_CLASS_READ, NULL, NULL},
};

const struct iface_def iface_sasec = {
    .uuid = UUID_LIT(0x378e52b0, 0xc0a9, 0x11cf, 0x82, 0x2d, 0x00, 0xaa, 0x00, 0x51, 0xe4, 0x0f),
    .ver_major = 1,
    .ver_minor = 0,
    .name = "SASec",
    .service = "sasec",
    .spec = "MS-TSCH",
    .target = true,
    .pipes = "atsvc",
    .attack = "T1053.005",
    .ops = ops,
    .n_ops = sizeof ops / sizeof ops[0],
};
