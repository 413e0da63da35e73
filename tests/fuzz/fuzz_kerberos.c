/*
 * Kerberos messages and wrap tokens on arbitrary bytes (src/auth/kerberos.c).
 * The input is a GSS token for krb_find; an AP-REQ found is opened with a
 * store holding one key of each enctype the lab uses, an AP-REP with a
 * session of fixed keys. Then the input is read as a sealed DCE/RPC
 * fragment: [token length u8][token][24-byte header, sealed bytes, 8-byte
 * sec_trailer], unwrapped with those keys: on success the sealed bytes must
 * have been replaced in place, never read or written outside the buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "rpcsentry/kerberos.h"
#include "rpcsentry/keys.h"

static struct keystore *store(void)
{
    static struct keystore *ks;
    if (ks)
        return ks;
    char err[256];
    static const uint8_t k32[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                    17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31};
    if (!keys_crypto_init(err, sizeof err) || !(ks = keys_new()) ||
        !keys_add_krb5(ks, "host/a@B", 2, 18, k32, 32) ||
        !keys_add_krb5(ks, "host/a@B", 2, 17, k32, 16) ||
        !keys_add_krb5(ks, "host/a@B", 2, 23, k32, 16))
        abort();
    return ks;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct keystore *ks = store();
    const uint8_t *msg;
    size_t mlen;
    struct krb_session s;
    memset(&s, 0, sizeof s);
    switch (krb_find(data, size, &msg, &mlen)) {
    case KRB_MSG_AP_REQ:
        if (msg < data || msg + mlen > data + size)
            abort();
        krb_accept_ap_req(ks, msg, mlen, &s);
        break;
    case KRB_MSG_AP_REP:
        s.ticket = (struct krb_key){18, 32, {7}, NULL};
        krb_take_ap_rep(&s, msg, mlen);
        break;
    default: break;
    }
    krb_session_wipe(&s);

    if (size < 1 + 32)
        return 0;
    size_t tlen = data[0];
    if (1 + tlen + 32 > size)
        return 0;
    size_t plen = size - 1 - tlen, sealed = plen - 32;
    uint8_t *tok = malloc(tlen ? tlen : 1), *pdu = malloc(plen);
    if (!tok || !pdu)
        abort();
    memcpy(tok, data + 1, tlen);
    memcpy(pdu, data + 1 + tlen, plen);
    s.ticket = (struct krb_key){18, 32, {9}, NULL};
    s.initiator = (struct krb_key){23, 16, {5}, NULL};
    s.acceptor = (struct krb_key){17, 16, {3}, NULL};
    struct krb_dce_pdu p = {pdu, 24, sealed, tok, tlen, (data[0] & 1) != 0};
    krb_unwrap_dce(&s, &p);
    krb_session_wipe(&s);
    free(tok);
    free(pdu);
    return 0;
}
