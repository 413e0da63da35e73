#include "rpcsentry/ndr.h"

#include <string.h>

#include "rpcsentry/text.h"

/*
 * A string cut at outsz keeps its start and its end, "…" between: what an
 * attacker pushes out of a record with padding is usually the end (the real
 * binary path or arguments after thousands of blanks). s: the whole string's
 * bytes, `units` characters (UTF-16 units when wide).
 */
static void keep_the_end(const struct rd *s, uint64_t units, bool wide, bool le, char *out,
                         size_t outsz)
{
    if (outsz < 64)
        return; /* too small to hold both: the start alone */
    size_t h = (outsz - 1) / 2 - 3;
    while (h > 0 && ((unsigned char)out[h] & 0xc0) == 0x80)
        h--; /* on a character boundary */
    memcpy(out + h, "\xe2\x80\xa6", 3);
    size_t room = outsz - h - 3; /* with the NUL */
    /* as many of the last characters as could fit (one octet each), converted whole into
       a buffer with room for the widest, then their last room - 1 octets kept */
    uint64_t take = room - 1 < units ? room - 1 : units;
    struct rd t = *s;
    rd_skip(&t, (size_t)(units - take) * (wide ? 2 : 1));
    if (wide && take > 0 && (rd_peek(&t, le ? 1 : 0) & 0xfc) == 0xdc) { /* a low surrogate */
        rd_skip(&t, 2);
        take--;
    }
    char tail[3 * 4096 + 1];
    if (3 * take + 1 > sizeof tail)
        return; /* not with a cap this large: the start alone */
    bool more;
    size_t n = wide ? utf16_to_utf8(&t, (size_t)take, le, tail, sizeof tail, &more)
                    : latin1_to_utf8(&t, (size_t)take, tail, sizeof tail, &more);
    size_t from = n > room - 1 ? n - (room - 1) : 0;
    while (from < n && ((unsigned char)tail[from] & 0xc0) == 0x80)
        from++; /* on a character boundary */
    memcpy(out + h + 3, tail + from, n - from);
    out[h + 3 + n - from] = '\0';
}

void ndr_text(struct rd *s, uint64_t units, bool wide, bool le, char *out, size_t outsz,
              bool *truncated)
{
    struct rd whole = *s;
    bool cut = false;
    if (wide)
        utf16_to_utf8(s, (size_t)units, le, out, outsz, &cut);
    else
        latin1_to_utf8(s, (size_t)units, out, outsz, &cut);
    if (cut)
        keep_the_end(&whole, units, wide, le, out, outsz);
    if (truncated)
        *truncated = cut;
}

uint64_t ndr_string(struct ndr *n, bool wide, char *out, size_t outsz, bool *truncated)
{
    return ndr_string_len(n, wide, out, outsz, truncated, NULL);
}

uint64_t ndr_string_len(struct ndr *n, bool wide, char *out, size_t outsz, bool *truncated,
                        uint64_t *length)
{
    if (length)
        *length = 0;
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
    struct rd s = rd_sub(&n->c, (size_t)bytes), whole = s;
    bool cut = false;
    ndr_text(&s, actual, wide, n->le, out, outsz, &cut);
    if (truncated)
        *truncated = cut;
    if (length) { /* without the terminating NUL the count includes */
        size_t w = wide ? 2 : 1;
        struct rd last = whole;
        rd_skip(&last, actual ? (size_t)(actual - 1) * w : 0);
        bool nul = actual && rd_peek(&last, 0) == 0 && (!wide || rd_peek(&last, 1) == 0);
        *length = actual - (nul ? 1 : 0);
    }
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
