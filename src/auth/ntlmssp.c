#include "rpcsentry/ntlmssp.h"

#include "auth_internal.h"

#include <string.h>

#include "rpcsentry/cursor.h"
#include "rpcsentry/text.h"

#define NTLM_NEGOTIATE_UNICODE 0x00000001u

static const uint8_t sig[8] = {'N', 'T', 'L', 'M', 'S', 'S', 'P', 0};

/* Reads a security buffer {len, maxlen, offset} and converts the string it points at. */
static void read_field(const struct rd *msg, size_t field_off, bool unicode, char *out,
                       size_t outsz)
{
    struct rd c = *msg;
    rd_seek(&c, field_off);
    uint16_t len = rd_u16le(&c);
    rd_skip(&c, 2);
    uint32_t off = rd_u32le(&c);
    out[0] = '\0';
    if (!rd_ok(&c) || len == 0)
        return;
    struct rd s = *msg;
    rd_seek(&s, off);
    struct rd str = rd_sub(&s, len);
    if (!rd_ok(&str))
        return;
    if (unicode)
        utf16le_to_utf8(&str, len / 2, out, outsz, NULL);
    else
        latin1_to_utf8(&str, len, out, outsz, NULL);
}

enum ntlmssp_type ntlmssp_parse(const uint8_t *blob, size_t len, struct rpc_identity *id)
{
    if (id)
        memset(id, 0, sizeof *id);
    if (!blob || len < sizeof sig + 4)
        return NTLMSSP_NONE;
    /* SPNEGO and GSS-API wrap the message; the signature finds it either way. */
    size_t at = len;
    for (size_t i = 0; i + sizeof sig + 4 <= len; i++)
        if (blob[i] == 'N' && memcmp(blob + i, sig, sizeof sig) == 0) {
            at = i;
            break;
        }
    if (at == len)
        return NTLMSSP_NONE;
    struct rd all = rd_init(blob, len);
    rd_skip(&all, at);
    struct rd msg = rd_sub(&all, len - at);
    rd_skip(&msg, sizeof sig);
    uint32_t type = rd_u32le(&msg);
    if (!rd_ok(&msg) || type < 1 || type > 3)
        return NTLMSSP_NONE;
    if (type != NTLMSSP_AUTHENTICATE || !id)
        return (enum ntlmssp_type)type;

    struct rd f = msg;
    rd_seek(&f, 60);
    uint32_t flags = rd_u32le(&f);
    /* without a flags field (very old clients) the strings are Unicode in practice */
    bool unicode = rd_ok(&f) ? (flags & NTLM_NEGOTIATE_UNICODE) != 0 : true;
    msg.off = 0;
    read_field(&msg, 28, unicode, id->domain, sizeof id->domain);
    read_field(&msg, 36, unicode, id->user, sizeof id->user);
    read_field(&msg, 44, unicode, id->host, sizeof id->host);
    id->valid = true; /* an empty user is an anonymous logon, still worth reporting */
    return NTLMSSP_AUTHENTICATE;
}

/* A security buffer {len, maxlen, offset} of msg at field_off, as a slice of msg. */
static const uint8_t *slice_field(const struct rd *msg, size_t field_off, size_t *len)
{
    struct rd c = *msg;
    rd_seek(&c, field_off);
    uint16_t n = rd_u16le(&c);
    rd_skip(&c, 2);
    uint32_t off = rd_u32le(&c);
    *len = 0;
    if (!rd_ok(&c) || n == 0)
        return NULL;
    struct rd s = *msg;
    rd_seek(&s, off);
    const uint8_t *p = rd_take(&s, n);
    if (p)
        *len = n;
    return p;
}

enum ntlmssp_type ntlmssp_parse_msg(const uint8_t *blob, size_t len, struct ntlmssp_msg *m)
{
    memset(m, 0, sizeof *m);
    enum ntlmssp_type t = ntlmssp_parse(blob, len, NULL);
    if (t == NTLMSSP_NONE)
        return t;
    size_t at = 0;
    while (at + sizeof sig <= len && memcmp(blob + at, sig, sizeof sig) != 0)
        at++; /* ntlmssp_parse found it, so this stops on it */
    struct rd all = rd_init(blob, len);
    rd_skip(&all, at);
    struct rd msg = rd_sub(&all, len - at);
    struct rd c = msg;
    m->type = t;
    if (t == NTLMSSP_NEGOTIATE) {
        rd_seek(&c, 12);
        m->flags = rd_u32le(&c);
    } else if (t == NTLMSSP_CHALLENGE) {
        rd_seek(&c, 20);
        m->flags = rd_u32le(&c);
        rd_bytes(&c, m->server_challenge, 8);
    } else {
        rd_seek(&c, 60);
        m->flags = rd_u32le(&c);
        if (!rd_ok(&c))
            m->flags = 0; /* very old clients: no flags field */
        m->lm = slice_field(&msg, 12, &m->lm_len);
        m->nt = slice_field(&msg, 20, &m->nt_len);
        m->domain = slice_field(&msg, 28, &m->domain_len);
        m->user = slice_field(&msg, 36, &m->user_len);
        m->session_key = slice_field(&msg, 52, &m->session_key_len);
        m->unicode = m->flags ? (m->flags & NTLMSSP_F_UNICODE) != 0 : true;
        return t;
    }
    if (!rd_ok(&c)) {
        m->type = NTLMSSP_NONE;
        return NTLMSSP_NONE;
    }
    return t;
}

bool spnego_has_mic(const uint8_t *v, size_t len)
{
    struct rd c = rd_init(v, len), t, seq, f;
    uint8_t tag;
    if (!der_expect(&c, 0xa1, &t) || !der_expect(&t, 0x30, &seq))
        return false;
    while (rd_left(&seq) > 0) {
        if (!der_next(&seq, &tag, &f))
            return false;
        if (tag == 0xa3)
            return true;
    }
    return false;
}
