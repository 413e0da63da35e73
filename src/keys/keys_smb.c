/*
 * --smb-keys files: SMB 3 session keys given by the operator, one session a
 * line, as Wireshark's smb2_seskey_list (include/rpcsentry/keys.h).
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "keys_internal.h"

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* An even number of hex digits, at most cap bytes, into out; -1 on anything else. */
static int parse_hex(const char *s, uint8_t *out, size_t cap)
{
    size_t len = strlen(s);
    if (len % 2 || len / 2 > cap)
        return -1;
    for (size_t i = 0; i < len / 2; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return (int)(len / 2);
}

/* The session id: 16 hex digits, its bytes as on the wire (Wireshark's form), or 0x and
 * up to 16 digits read as a number (tshark's smb2.sesid). */
static bool parse_session_id(const char *s, uint64_t *id)
{
    uint8_t b[8];
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        size_t len = strlen(s + 2);
        if (!len || len > 16)
            return false;
        uint64_t v = 0;
        for (size_t i = 0; i < len; i++) {
            int d = hexval((unsigned char)s[2 + i]);
            if (d < 0)
                return false;
            v = v << 4 | (uint64_t)d;
        }
        *id = v;
        return true;
    }
    if (strlen(s) != 16 || parse_hex(s, b, 8) != 8)
        return false;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | b[i];
    *id = v;
    return true;
}

/* One line into k; NULL, or why it is malformed (never quoting it). */
static const char *parse_line(char *line, struct keys_smb3 *k)
{
    char *f[5];
    size_t nf = 0;
    for (char *p = line;;) {
        if (nf == sizeof f / sizeof f[0])
            return "too many ':' fields";
        f[nf++] = keys_trim(p);
        char *c = strchr(p, ':');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    /* trim ran before each cut: trim the fields again now that they end */
    for (size_t i = 0; i < nf; i++)
        f[i] = keys_trim(f[i]);
    if (nf != 2 && nf != 4)
        return "expected SESSIONID:SESSIONKEY or SESSIONID:SESSIONKEY:S2CKEY:C2SKEY";
    memset(k, 0, sizeof *k);
    if (!parse_session_id(f[0], &k->session_id))
        return "the session id is not 16 hex digits (or 0x and a number)";
    int n = parse_hex(f[1], k->session_key, sizeof k->session_key);
    if (n < 16)
        return "the session key is not 16 to 32 bytes of hex";
    k->session_key_len = (uint8_t)n;
    if (nf == 4 && (f[2][0] || f[3][0])) {
        int a = parse_hex(f[2], k->s2c, sizeof k->s2c);
        int b = parse_hex(f[3], k->c2s, sizeof k->c2s);
        if ((a != 16 && a != 32) || a != b)
            return "the direction keys are not both 16 or both 32 bytes of hex";
        k->dir_len = (uint8_t)a;
    }
    return NULL;
}

/* One --smb-keys line: parsed, then added; the reason it is not, or NULL. */
static const char *smb_line(struct keystore *ks, char *line)
{
    struct keys_smb3 k;
    const char *why = parse_line(line, &k);
    if (!why && !keys_add_smb3(ks, &k))
        why = "out of memory";
    explicit_bzero(&k, sizeof k);
    return why;
}

bool keys_load_smb(struct keystore *ks, const char *path, char *err, size_t errlen)
{
    return keys_read_lines(ks, path, smb_line, err, errlen);
}
