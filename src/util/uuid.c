#include "rpcsentry/uuid.h"

#include <stdio.h>

/* Positions of the first three fields, which drep decides the order of. */
static void swap_fields(uint8_t b[16])
{
    uint8_t t;
    t = b[0], b[0] = b[3], b[3] = t;
    t = b[1], b[1] = b[2], b[2] = t;
    t = b[4], b[4] = b[5], b[5] = t;
    t = b[6], b[6] = b[7], b[7] = t;
}

struct uuid rd_uuid(struct rd *c, bool le)
{
    struct uuid u;
    rd_bytes(c, u.b, 16);
    if (le)
        swap_fields(u.b);
    return u;
}

void uuid_to_wire_le(const struct uuid *u, uint8_t out[16])
{
    memcpy(out, u->b, 16);
    swap_fields(out);
}

void uuid_fmt(const struct uuid *u, char out[UUID_STR_LEN])
{
    static const char hex[] = "0123456789abcdef";
    size_t o = 0;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[u->b[i] >> 4];
        out[o++] = hex[u->b[i] & 15];
    }
    out[o] = '\0';
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

bool uuid_parse(const char *s, struct uuid *out)
{
    int n = 0;
    for (size_t i = 0; i < 36; i++) {
        if (s[i] == '\0')
            return false;
        if (i == 8 || i == 13 || i == 18 || i == 23) {
            if (s[i] != '-')
                return false;
            continue;
        }
        int hi = hexval(s[i]), lo = hexval(s[i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out->b[n++] = (uint8_t)(hi << 4 | lo);
        i++;
    }
    return s[36] == '\0' && n == 16;
}
