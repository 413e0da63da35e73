/*
 * The task definition XML of MS-TSCH (SchRpcRegisterTask): a strict,
 * bounded reader that pulls out what an analyst asks first: the actions
 * (Exec command, arguments, working directory; COM handlers), the
 * principal, the triggers, and whether the task is hidden.
 */
#ifndef RPCSENTRY_TASKXML_H
#define RPCSENTRY_TASKXML_H

#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/args.h"

enum taskxml_status {
    TASKXML_OK,
    TASKXML_MALFORMED, /* not well-formed: unclosed tags, bad names, ... */
    TASKXML_DOCTYPE,   /* a DTD: refused (no entity definitions are honoured) */
    TASKXML_TOO_DEEP,
};

/* Reads xml (UTF-8, len bytes) and adds a "task" object under parent. */
enum taskxml_status taskxml_parse(const char *xml, size_t len, struct rpc_args *a, uint16_t parent);

#endif
