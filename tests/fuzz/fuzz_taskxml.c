/* The task XML reader on arbitrary bytes. */
#include <stdlib.h>

#include "../../src/iface/taskxml.h"
#include "rpcsentry/args.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rpc_args *a = args_new(NULL);
    if (!a)
        return 0;
    taskxml_parse((const char *)data, size, a, 0);
    /* every string the reader stored must be terminated inside the arena */
    for (uint16_t i = 0; i < a->n; i++)
        if (a->node[i].type == ARG_STR && a->node[i].off + a->node[i].len >= ARGS_ARENA)
            abort();
    args_free(NULL, a);
    return 0;
}
