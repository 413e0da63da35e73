/* Names of the return codes the watched operations give: Win32 errors (svcctl,
 * ATSvc), HRESULTs (the task scheduler) and a few NTSTATUS values. */
#include "iface_internal.h"

const char *iface_status_name(uint32_t code)
{
    static const struct {
        uint32_t code;
        const char *name;
    } t[] = {
        {0x00000000, "ERROR_SUCCESS"},
        {0x00000002, "ERROR_FILE_NOT_FOUND"},
        {0x00000003, "ERROR_PATH_NOT_FOUND"},
        {0x00000005, "ERROR_ACCESS_DENIED"},
        {0x00000006, "ERROR_INVALID_HANDLE"},
        {0x00000057, "ERROR_INVALID_PARAMETER"},
        {0x0000007b, "ERROR_INVALID_NAME"},
        {0x000000b7, "ERROR_ALREADY_EXISTS"},
        {0x00000421, "ERROR_INVALID_SERVICE_ACCOUNT"},
        {0x00000424, "ERROR_SERVICE_DOES_NOT_EXIST"},
        {0x0000041b, "ERROR_DEPENDENT_SERVICES_RUNNING"},
        {0x0000041c, "ERROR_INVALID_SERVICE_CONTROL"},
        {0x0000041d, "ERROR_SERVICE_REQUEST_TIMEOUT"},
        {0x0000041e, "ERROR_SERVICE_NO_THREAD"},
        {0x0000041f, "ERROR_SERVICE_DATABASE_LOCKED"},
        {0x00000420, "ERROR_SERVICE_ALREADY_RUNNING"},
        {0x00000422, "ERROR_SERVICE_DISABLED"},
        {0x00000426, "ERROR_SERVICE_NOT_ACTIVE"},
        {0x00000429, "ERROR_SERVICE_LOGON_FAILED"},
        {0x00000430, "ERROR_SERVICE_MARKED_FOR_DELETE"},
        {0x00000431, "ERROR_SERVICE_EXISTS"},
        {0x00000436, "ERROR_DUPLICATE_SERVICE_NAME"},
        {0x0000045b, "ERROR_SHUTDOWN_IN_PROGRESS"},
        {0x00000423, "ERROR_SERVICE_DEPENDENCY_FAIL"},
        {0x16c9a0d6, "EPT_S_NOT_REGISTERED"},
        {0x16c9a0d8, "EPT_S_CANT_PERFORM_OP"},
        {0x80070002, "E_FILE_NOT_FOUND"},
        {0x80070005, "E_ACCESSDENIED"},
        {0x80070057, "E_INVALIDARG"},
        {0x800700b7, "E_ALREADY_EXISTS"},
        {0x80041309, "SCHED_E_TRIGGER_NOT_FOUND"},
        {0x8004130f, "SCHED_E_ACCOUNT_INFORMATION_NOT_SET"},
        {0x80041310, "SCHED_E_UNSUPPORTED_ACCOUNT_OPTION"},
        {0x80041311, "SCHED_E_SERVICE_NOT_RUNNING"},
        {0x80041316, "SCHED_E_UNEXPECTEDNODE"},
        {0x80041318, "SCHED_E_INVALIDVALUE"},
        {0x80041319, "SCHED_E_MISSINGNODE"},
        {0x8004131a, "SCHED_E_MALFORMEDXML"},
        {0x8004131c, "SCHED_E_TOO_MANY_NODES"},
        {0x80041320, "SCHED_E_TASK_DISABLED"},
        {0x80041326, "SCHED_E_TASK_NOT_READY"},
        {0xc0000022, "STATUS_ACCESS_DENIED"},
        {0xc0000034, "STATUS_OBJECT_NAME_NOT_FOUND"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        if (t[i].code == code)
            return t[i].name;
    return NULL;
}
