#include "rpcsentry/ndr.h"

#include "rpcsentry/text.h"

uint64_t ndr_string(struct ndr *n, bool wide, char *out, size_t outsz, bool *truncated)
{
    if (outsz)
        out[0] = '\0';
    if (truncated)
        *truncated = false;
    uint64_t max = ndr_size(n), offset = ndr_size(n), actual = ndr_size(n);
    if (!ndr_ok(n))
        return 0;
    if (offset > max || actual > max - offset) {
        rd_fail(&n->c);
        return 0;
    }
    uint64_t bytes = wide ? actual * 2 : actual;
    if (bytes > rd_left(&n->c) || (wide && actual > UINT64_MAX / 2)) {
        rd_fail(&n->c);
        return 0;
    }
    struct rd s = rd_sub(&n->c, (size_t)bytes);
    if (wide)
        utf16_to_utf8(&s, (size_t)actual, n->le, out, outsz, truncated);
    else
        latin1_to_utf8(&s, (size_t)actual, out, outsz, truncated);
    return actual;
}

void ndr_skip_string(struct ndr *n, bool wide)
{
    char none[1];
    ndr_string(n, wide, none, 1, NULL);
}

bool ndr_unique_string(struct ndr *n, bool wide, char *out, size_t outsz, bool *truncated)
{
    if (outsz)
        out[0] = '\0';
    if (ndr_ptr(n) == 0)
        return false;
    ndr_string(n, wide, out, outsz, truncated);
    return ndr_ok(n);
}
