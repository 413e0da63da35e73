/* NTLMSSP (raw or inside SPNEGO) on arbitrary bytes; the names read must be terminated. */
#include <stdlib.h>
#include <string.h>

#include "rpcsentry/ntlmssp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct rpc_identity id;
    ntlmssp_parse(data, size, &id);
    if (memchr(id.user, 0, sizeof id.user) == NULL ||
        memchr(id.domain, 0, sizeof id.domain) == NULL ||
        memchr(id.host, 0, sizeof id.host) == NULL)
        abort();
    return 0;
}
