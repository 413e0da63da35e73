/* ITaskSchedulerService, MS-TSCH 3.2.5.4: the task scheduler's modern RPC interface. */
#include "iface_internal.h"

static const struct iface_op ops[] = {
    [0] = {"SchRpcHighestVersion", RPC_CLASS_OTHER, NULL, NULL},
    [1] = {"SchRpcRegisterTask", RPC_CLASS_CREATE, NULL, NULL},
    [2] = {"SchRpcRetrieveTask", RPC_CLASS_READ, NULL, NULL},
    [3] = {"SchRpcCreateFolder", RPC_CLASS_CREATE, NULL, NULL},
    [4] = {"SchRpcSetSecurity", RPC_CLASS_MODIFY, NULL, NULL},
    [5] = {"SchRpcGetSecurity", RPC_CLASS_READ, NULL, NULL},
    [6] = {"SchRpcEnumFolders", RPC_CLASS_READ, NULL, NULL},
    [7] = {"SchRpcEnumTasks", RPC_CLASS_READ, NULL, NULL},
    [8] = {"SchRpcEnumInstances", RPC_CLASS_READ, NULL, NULL},
    [9] = {"SchRpcGetInstanceInfo", RPC_CLASS_READ, NULL, NULL},
    [10] = {"SchRpcStopInstance", RPC_CLASS_EXECUTE, NULL, NULL},
    [11] = {"SchRpcStop", RPC_CLASS_EXECUTE, NULL, NULL},
    [12] = {"SchRpcRun", RPC_CLASS_EXECUTE, NULL, NULL},
    [13] = {"SchRpcDelete", RPC_CLASS_DELETE, NULL, NULL},
    [14] = {"SchRpcRename", RPC_CLASS_MODIFY, NULL, NULL},
    [15] = {"SchRpcScheduledRuntimes", RPC_CLASS_READ, NULL, NULL},
    [16] = {"SchRpcGetLastRunInfo", RPC_CLASS_READ, NULL, NULL},
    [17] = {"SchRpcGetTaskInfo", RPC_CLASS_READ, NULL, NULL},
    [18] = {"SchRpcGetNumberOfMissedRuns", RPC_CLASS_READ, NULL, NULL},
    [19] = {"SchRpcEnableTask", RPC_CLASS_MODIFY, NULL, NULL},
};

const struct iface_def iface_tsch = {
    .uuid = UUID_LIT(0x86d35949, 0x83c9, 0x4044, 0xb4, 0x24, 0xdb, 0x36, 0x32, 0x31, 0xfd, 0x0c),
    .ver_major = 1,
    .ver_minor = 0,
    .name = "ITaskSchedulerService",
    .service = "ITaskSchedulerService",
    .spec = "MS-TSCH",
    .target = true,
    .pipes = "atsvc",
    .attack = "T1053.005",
    .ops = ops,
    .n_ops = sizeof ops / sizeof ops[0],
};
