/*
 * src/auth/kerberos.c on messages built here from RFC 4120's ASN.1 (DER by
 * hand, every cipher MIT krb5's, with keys of our choosing): an AP-REQ's
 * ticket and authenticator opened with the store's key, an AP-REP's subkey
 * taken, RFC 4121 wrap tokens laid out in a DCE/RPC PDU as MS-KILE 3.4.5.4.1
 * has it (with and without header signing, EC 0 and EC 12) unwrapped; a
 * wrong key, a missing enctype, a flipped byte, the other direction and every
 * truncation of the messages refused without a crash. Also the library's
 * aes128-cts-hmac-sha256-128 profile on RFC 8009's published vector, the
 * enctype the store may hold keys of.
 */
#include <krb5.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "rpcsentry/kerberos.h"
#include "rpcsentry/keys.h"

#define AES256 18
#define AES128_SHA256 19

struct der {
    uint8_t b[4096];
    size_t n;
};

static void put(struct der *d, const void *p, size_t n)
{
    if (d->n + n <= sizeof d->b) {
        memcpy(d->b + d->n, p, n);
        d->n += n;
    }
}

/* tag, length, then the contents of inner */
static void tlv(struct der *out, uint8_t tag, const struct der *inner)
{
    uint8_t h[4] = {tag};
    size_t hn = 2;
    if (inner->n < 0x80) {
        h[1] = (uint8_t)inner->n;
    } else if (inner->n < 0x100) {
        h[1] = 0x81, h[2] = (uint8_t)inner->n, hn = 3;
    } else {
        h[1] = 0x82, h[2] = (uint8_t)(inner->n >> 8), h[3] = (uint8_t)inner->n, hn = 4;
    }
    put(out, h, hn);
    put(out, inner->b, inner->n);
}

static void raw(struct der *out, uint8_t tag, const void *p, size_t n)
{
    struct der t = {.n = 0};
    put(&t, p, n);
    tlv(out, tag, &t);
}

/* [n] EXPLICIT INTEGER v */
static void int_field(struct der *out, unsigned n, long v)
{
    uint8_t b[4] = {(uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v};
    size_t i = 0;
    while (i < 3 && b[i] == 0 && !(b[i + 1] & 0x80))
        i++;
    struct der t = {.n = 0};
    raw(&t, 0x02, b + i, 4 - i);
    tlv(out, (uint8_t)(0xa0 | n), &t);
}

static void str_field(struct der *out, unsigned n, const char *s)
{
    struct der t = {.n = 0};
    raw(&t, 0x1b, s, strlen(s));
    tlv(out, (uint8_t)(0xa0 | n), &t);
}

static void name_field(struct der *out, unsigned n, const char *a, const char *b)
{
    struct der names = {.n = 0}, seq = {.n = 0}, pn = {.n = 0}, f = {.n = 0};
    raw(&names, 0x1b, a, strlen(a));
    if (b)
        raw(&names, 0x1b, b, strlen(b));
    int_field(&pn, 0, 1);
    tlv(&seq, 0x30, &names);
    tlv(&pn, 0xa1, &seq);
    tlv(&f, 0x30, &pn);
    tlv(out, (uint8_t)(0xa0 | n), &f);
}

static void key_field(struct der *out, unsigned n, int32_t enctype, const uint8_t *k, size_t len)
{
    struct der ek = {.n = 0}, v = {.n = 0}, s = {.n = 0};
    int_field(&ek, 0, enctype);
    raw(&v, 0x04, k, len);
    tlv(&ek, 0xa1, &v);
    tlv(&s, 0x30, &ek);
    tlv(out, (uint8_t)(0xa0 | n), &s);
}

/* [n] EncryptedData of plain under key/usage */
static bool enc_field(struct der *out, unsigned n, int32_t enctype, const uint8_t *key, size_t klen,
                      krb5_keyusage usage, const struct der *plain, int kvno)
{
    krb5_keyblock kb = {KV5M_KEYBLOCK, enctype, (unsigned)klen, (krb5_octet *)key};
    size_t clen = 0;
    if (krb5_c_encrypt_length(NULL, enctype, plain->n, &clen) || clen > 4096)
        return false;
    uint8_t *c = malloc(clen);
    krb5_data in = {KV5M_DATA, (unsigned)plain->n, (char *)plain->b};
    krb5_enc_data ed = {KV5M_ENC_DATA, enctype, 0, {KV5M_DATA, (unsigned)clen, (char *)c}};
    bool ok = c && krb5_c_encrypt(NULL, &kb, usage, NULL, &in, &ed) == 0;
    if (ok) {
        struct der e = {.n = 0}, v = {.n = 0}, s = {.n = 0};
        int_field(&e, 0, enctype);
        if (kvno >= 0)
            int_field(&e, 1, kvno);
        raw(&v, 0x04, c, ed.ciphertext.length);
        tlv(&e, 0xa2, &v);
        tlv(&s, 0x30, &e);
        tlv(out, (uint8_t)(0xa0 | n), &s);
    }
    free(c);
    return ok;
}

/* [APPLICATION app] SEQUENCE { fields } */
static void app_seq(struct der *out, uint8_t app, const struct der *fields)
{
    struct der s = {.n = 0};
    tlv(&s, 0x30, fields);
    tlv(out, app, &s);
}

static const uint8_t service_key[32] = {
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
    0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f};
static const uint8_t session_key[32] = {
    0x5e, 0x55, 0x10, 0x4e, 0x6b, 0x65, 0x79, 0x21, 0x5e, 0x55, 0x10, 0x4e, 0x6b, 0x65, 0x79, 0x21,
    0x5e, 0x55, 0x10, 0x4e, 0x6b, 0x65, 0x79, 0x21, 0x5e, 0x55, 0x10, 0x4e, 0x6b, 0x65, 0x79, 0x21};
static const uint8_t init_subkey[32] = {
    0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa1, 0xa2, 0xa2, 0xa2, 0xa2, 0xa2, 0xa2, 0xa2, 0xa2,
    0xa3, 0xa3, 0xa3, 0xa3, 0xa3, 0xa3, 0xa3, 0xa3, 0xa4, 0xa4, 0xa4, 0xa4, 0xa4, 0xa4, 0xa4, 0xa4};
static const uint8_t acc_subkey[32] = {
    0xc5, 0x01, 0xc5, 0x02, 0xc5, 0x03, 0xc5, 0x04, 0xc5, 0x05, 0xc5, 0x06, 0xc5, 0x07, 0xc5, 0x08,
    0xc5, 0x09, 0xc5, 0x0a, 0xc5, 0x0b, 0xc5, 0x0c, 0xc5, 0x0d, 0xc5, 0x0e, 0xc5, 0x0f, 0xc5, 0x10};

/* An AP-REQ for host/srv.example.org@EXAMPLE.ORG from alice@EXAMPLE.ORG, GSS-framed in SPNEGO */
static bool build_ap_req(struct der *out, const uint8_t *skey, bool spnego)
{
    static const uint8_t flags[] = {0x00, 0x40, 0x81, 0x00, 0x00};
    struct der etp = {.n = 0}, etp_app = {.n = 0}, f = {.n = 0};
    raw(&f, 0x03, flags, sizeof flags);
    tlv(&etp, 0xa0, &f);
    key_field(&etp, 1, AES256, session_key, 32);
    str_field(&etp, 2, "EXAMPLE.ORG");
    name_field(&etp, 3, "alice", NULL);
    app_seq(&etp_app, 0x63, &etp);
    struct der tkt = {.n = 0}, tkt_app = {.n = 0};
    int_field(&tkt, 0, 5);
    str_field(&tkt, 1, "EXAMPLE.ORG");
    name_field(&tkt, 2, "host", "srv.example.org");
    if (!enc_field(&tkt, 3, AES256, skey, 32, 2, &etp_app, 3))
        return false;
    app_seq(&tkt_app, 0x61, &tkt);
    struct der au = {.n = 0}, au_app = {.n = 0};
    int_field(&au, 0, 5);
    str_field(&au, 1, "EXAMPLE.ORG");
    name_field(&au, 2, "alice", NULL);
    int_field(&au, 4, 123456);
    str_field(&au, 5, "20261202030000Z"); /* a GeneralizedTime is 0x18; unread */
    key_field(&au, 6, AES256, init_subkey, 32);
    int_field(&au, 7, 42);
    app_seq(&au_app, 0x62, &au);
    struct der req = {.n = 0}, req_app = {.n = 0}, opts = {.n = 0}, t3 = {.n = 0};
    static const uint8_t ap_opts[] = {0x00, 0x20, 0x00, 0x00, 0x00}; /* mutual-required */
    int_field(&req, 0, 5);
    int_field(&req, 1, 14);
    raw(&opts, 0x03, ap_opts, sizeof ap_opts);
    tlv(&req, 0xa2, &opts);
    put(&t3, tkt_app.b, tkt_app.n);
    tlv(&req, 0xa3, &t3);
    if (!enc_field(&req, 4, AES256, session_key, 32, 11, &au_app, -1))
        return false;
    app_seq(&req_app, 0x6e, &req);
    if (!spnego) {
        *out = req_app;
        return true;
    }
    /* GSS framing with the krb5 OID and TOK_ID 01 00, in negTokenInit's mechToken [2] */
    static const uint8_t krb5_oid[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
    static const uint8_t spnego_oid[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};
    struct der gss = {.n = 0}, gss_app = {.n = 0}, mt = {.n = 0}, mtf = {.n = 0};
    raw(&gss, 0x06, krb5_oid, sizeof krb5_oid);
    put(&gss, "\x01\x00", 2);
    put(&gss, req_app.b, req_app.n);
    tlv(&gss_app, 0x60, &gss);
    raw(&mt, 0x04, gss_app.b, gss_app.n);
    tlv(&mtf, 0xa2, &mt);
    struct der init = {.n = 0}, init_seq = {.n = 0}, tok = {.n = 0};
    tlv(&init_seq, 0x30, &mtf);
    tlv(&init, 0xa0, &init_seq);
    raw(&tok, 0x06, spnego_oid, sizeof spnego_oid);
    put(&tok, init.b, init.n);
    out->n = 0;
    tlv(out, 0x60, &tok);
    return true;
}

static bool build_ap_rep(struct der *out)
{
    struct der part = {.n = 0}, part_app = {.n = 0}, rep = {.n = 0};
    str_field(&part, 0, "20261202030000Z");
    int_field(&part, 1, 123456);
    key_field(&part, 2, AES256, acc_subkey, 32);
    int_field(&part, 3, 77);
    app_seq(&part_app, 0x7b, &part);
    int_field(&rep, 0, 5);
    int_field(&rep, 1, 15);
    if (!enc_field(&rep, 2, AES256, session_key, 32, 12, &part_app, -1))
        return false;
    out->n = 0;
    app_seq(out, 0x6f, &rep);
    return true;
}

static struct keystore *store_with(const uint8_t *key, int32_t enctype)
{
    char err[256];
    if (!keys_crypto_init(err, sizeof err))
        return NULL;
    struct keystore *ks = keys_new();
    if (ks)
        keys_add_krb5(ks, "host/srv.example.org@EXAMPLE.ORG", 3, enctype, key, 32);
    return ks;
}

TEST(krb_ap_req_and_ap_rep_opened)
{
    struct der tok;
    CHECK(build_ap_req(&tok, service_key, true));
    const uint8_t *msg;
    size_t mlen;
    CHECK_EQ(krb_find(tok.b, tok.n, &msg, &mlen), KRB_MSG_AP_REQ);
    CHECK_EQ(msg[0], 0x6e);
    struct keystore *ks = store_with(service_key, AES256);
    struct krb_session s = {0};
    CHECK(krb_accept_ap_req(ks, msg, mlen, &s) == NULL);
    CHECK_STR(s.client, "alice");
    CHECK_STR(s.realm, "EXAMPLE.ORG");
    CHECK_STR(s.server, "host/srv.example.org@EXAMPLE.ORG");
    CHECK_EQ(s.ticket.enctype, AES256);
    CHECK(memcmp(s.ticket.bytes, session_key, 32) == 0);
    CHECK(s.initiator.len == 32 && memcmp(s.initiator.bytes, init_subkey, 32) == 0);
    CHECK_EQ(s.acceptor.enctype, 0);

    struct der rep;
    CHECK(build_ap_rep(&rep));
    CHECK_EQ(krb_find(rep.b, rep.n, &msg, &mlen), KRB_MSG_AP_REP);
    CHECK(krb_take_ap_rep(&s, msg, mlen) == NULL);
    CHECK(s.acceptor.len == 32 && memcmp(s.acceptor.bytes, acc_subkey, 32) == 0);
    krb_session_wipe(&s);
    keys_free(ks);
}

TEST(krb_wrong_key_no_key_and_truncations)
{
    struct der tok;
    uint8_t other[32];
    memcpy(other, service_key, 32);
    other[31] ^= 1;
    CHECK(build_ap_req(&tok, service_key, false));
    struct keystore *wrong = store_with(other, AES256), *rc4 = store_with(service_key, 23);
    struct krb_session s = {0};
    CHECK_STR(krb_accept_ap_req(wrong, tok.b, tok.n, &s), "wrong key");
    CHECK_EQ(s.ticket.enctype, 0); /* wiped */
    CHECK_STR(krb_accept_ap_req(rc4, tok.b, tok.n, &s), "no key");
    struct keystore *ks = store_with(service_key, AES256);
    /* every prefix of the message: refused, never read past its end (ASan watches) */
    for (size_t n = 0; n < tok.n; n++) {
        uint8_t *cut = malloc(n ? n : 1);
        memcpy(cut, tok.b, n);
        const char *why = krb_accept_ap_req(ks, cut, n, &s);
        CHECK(why != NULL);
        const uint8_t *m;
        size_t ml;
        krb_find(cut, n, &m, &ml);
        free(cut);
    }
    keys_free(wrong);
    keys_free(rc4);
    keys_free(ks);
}

TEST(krb_find_token_forms)
{
    const uint8_t *m;
    size_t ml;
    /* NTLMSSP inside SPNEGO's negTokenResp: no Kerberos message */
    static const uint8_t resp_ntlm[] = {0xa1, 0x12, 0x30, 0x10, 0xa2, 0x0e, 0x04, 0x0c, 'N', 'T',
                                        'L',  'M',  'S',  'S',  'P',  0,    2,    0,    0,   0};
    CHECK_EQ(krb_find(resp_ntlm, sizeof resp_ntlm, &m, &ml), KRB_MSG_NONE);
    /* a bare negTokenResp (accept-completed, no token) */
    static const uint8_t done[] = {0xa1, 0x07, 0x30, 0x05, 0xa0, 0x03, 0x0a, 0x01, 0x00};
    CHECK_EQ(krb_find(done, sizeof done, &m, &ml), KRB_MSG_NONE);
    /* an AP-REP in negTokenResp's responseToken */
    struct der rep, r2 = {.n = 0}, f = {.n = 0}, seq = {.n = 0}, resp = {.n = 0};
    CHECK(build_ap_rep(&rep));
    raw(&r2, 0x04, rep.b, rep.n);
    tlv(&f, 0xa2, &r2);
    tlv(&seq, 0x30, &f);
    tlv(&resp, 0xa1, &seq);
    CHECK_EQ(krb_find(resp.b, resp.n, &m, &ml), KRB_MSG_AP_REP);
    CHECK_EQ(ml, rep.n);
    /* nesting deeper than any real token: refused */
    struct der deep = {.n = 0};
    put(&deep, rep.b, rep.n);
    for (int i = 0; i < 12; i++) {
        struct der o = {.n = 0}, t = {.n = 0}, sq = {.n = 0}, w = {.n = 0};
        raw(&o, 0x04, deep.b, deep.n);
        tlv(&t, 0xa2, &o);
        tlv(&sq, 0x30, &t);
        tlv(&w, 0xa1, &sq);
        deep = w;
    }
    CHECK_EQ(krb_find(deep.b, deep.n, &m, &ml), KRB_MSG_NONE);
}

/*
 * A sealed request as a DCE-style initiator writes it: 24-byte request header, stub, sec_trailer;
 * the token header, then the rotated part of confounder | stub | filler | header copy | checksum.
 */
struct sealed {
    uint8_t pdu[512];
    uint8_t token[128];
    size_t stub_len, token_len;
};

/* the enctype and key length of the wrap tests' keys */
static int32_t wrap_etype = AES256;
static unsigned wrap_klen = 32;

static bool seal_cfx(struct sealed *out, const uint8_t *stub, size_t n, size_t ec, bool hdr_sign,
                     const uint8_t *key)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < 24; i++)
        out->pdu[i] = (uint8_t)(0x50 + i); /* stands for the PDU header */
    memcpy(out->pdu + 24, stub, n);
    memcpy(out->pdu + 24 + n, "\x10\x06\x00\x00\x01\x00\x00\x00", 8); /* sec_trailer */
    uint8_t hdr[16] = {0x05, 0x04, 0x06, 0xff, 0, (uint8_t)ec, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9};
    unsigned hl = 0, tl = 0;
    krb5_c_crypto_length(NULL, wrap_etype, KRB5_CRYPTO_TYPE_HEADER, &hl);
    krb5_c_crypto_length(NULL, wrap_etype, KRB5_CRYPTO_TYPE_TRAILER, &tl);
    uint8_t conf[32], data[256], tail[64], mac[32];
    memcpy(data, stub, n);
    memset(tail, 0xff, ec);
    memcpy(tail + ec, hdr, 16); /* the copy: RRC 0 */
    krb5_keyblock kb = {KV5M_KEYBLOCK, wrap_etype, wrap_klen, (krb5_octet *)key};
    krb5_crypto_iov iov[6];
    size_t k = 0;
#define V(t, p, l)                                                                                 \
    iov[k++] = (krb5_crypto_iov)                                                                   \
    {                                                                                              \
        (t),                                                                                       \
        {                                                                                          \
            KV5M_DATA, (unsigned)(l), (char *)(p)                                                  \
        }                                                                                          \
    }
    V(KRB5_CRYPTO_TYPE_HEADER, conf, hl);
    if (hdr_sign)
        V(KRB5_CRYPTO_TYPE_SIGN_ONLY, out->pdu, 24);
    V(KRB5_CRYPTO_TYPE_DATA, data, n);
    if (hdr_sign)
        V(KRB5_CRYPTO_TYPE_SIGN_ONLY, out->pdu + 24 + n, 8);
    V(KRB5_CRYPTO_TYPE_DATA, tail, ec + 16);
    V(KRB5_CRYPTO_TYPE_TRAILER, mac, tl);
#undef V
    if (krb5_c_encrypt_iov(NULL, &kb, 24, NULL, iov, k))
        return false;
    /* the wrapped stream and its rotation right by RRC + EC (RRC 28 = 16 + 12) */
    uint8_t stream[512];
    size_t sl = 0;
    memcpy(stream + sl, conf, hl), sl += hl;
    memcpy(stream + sl, data, n), sl += n;
    memcpy(stream + sl, tail, ec + 16), sl += ec + 16;
    memcpy(stream + sl, mac, tl), sl += tl;
    size_t rrc = 16 + tl, rot = rrc + ec;
    uint8_t rotated[512];
    for (size_t i = 0; i < sl; i++)
        rotated[(i + rot) % sl] = stream[i];
    hdr[7] = (uint8_t)rrc;
    memcpy(out->token, hdr, 16);
    size_t head = sl - n; /* what the token carries of the stream */
    memcpy(out->token + 16, rotated, head);
    memcpy(out->pdu + 24, rotated + head, n);
    out->token_len = 16 + head;
    out->stub_len = n;
    return true;
}

static struct krb_session session_for_wrap(void)
{
    struct krb_session s = {0};
    memset(&s, 0, sizeof s);
    s.ticket = (struct krb_key){wrap_etype, (uint8_t)wrap_klen, {0}, NULL};
    memcpy(s.ticket.bytes, session_key, wrap_klen);
    s.acceptor = (struct krb_key){wrap_etype, (uint8_t)wrap_klen, {0}, NULL};
    memcpy(s.acceptor.bytes, acc_subkey, wrap_klen);
    return s;
}

TEST(krb_cfx_unwrap_other_enctypes)
{
    /* aes128-cts-hmac-sha1-96, and RFC 8009's two (a 16- and a 24-byte checksum: RRC 32, 40) */
    static const struct {
        int32_t etype;
        unsigned klen;
    } types[] = {{17, 16}, {19, 16}, {20, 32}};
    uint8_t stub[32];
    for (size_t i = 0; i < sizeof stub; i++)
        stub[i] = (uint8_t)(0x30 + i);
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        wrap_etype = types[t].etype;
        wrap_klen = types[t].klen;
        struct krb_session s = session_for_wrap();
        for (int hs = 0; hs < 2; hs++) {
            struct sealed w;
            CHECK(seal_cfx(&w, stub, sizeof stub, 0, hs, acc_subkey));
            struct krb_dce_pdu p = {w.pdu, 24, sizeof stub, w.token, w.token_len, false};
            CHECK(krb_unwrap_dce(&s, &p) == NULL);
            CHECK(memcmp(w.pdu + 24, stub, sizeof stub) == 0);
            CHECK(seal_cfx(&w, stub, sizeof stub, 0, hs, acc_subkey));
            w.token[w.token_len - 1] ^= 0x80;
            CHECK_STR(krb_unwrap_dce(&s, &p), "signature mismatch");
        }
        krb_session_wipe(&s);
    }
    wrap_etype = AES256;
    wrap_klen = 32;
}

TEST(krb_cfx_unwrap_in_a_dce_pdu)
{
    char err[256];
    CHECK(keys_crypto_init(err, sizeof err));
    uint8_t stub[48];
    for (size_t i = 0; i < sizeof stub; i++)
        stub[i] = (uint8_t)(i * 7 + 1);
    struct krb_session s = session_for_wrap();
    for (int hs = 0; hs < 2; hs++)
        for (size_t ec = 0; ec <= 12; ec += 12) {
            struct sealed w;
            size_t n = ec ? 36 : 48; /* EC pads the stub to 16 inside the token */
            CHECK(seal_cfx(&w, stub, n, ec, hs, acc_subkey));
            CHECK(memcmp(w.pdu + 24, stub, n) != 0);
            struct krb_dce_pdu p = {w.pdu, 24, n, w.token, w.token_len, false};
            const char *why = krb_unwrap_dce(&s, &p);
            CHECK(why == NULL);
            CHECK(memcmp(w.pdu + 24, stub, n) == 0);

            /* a flipped sealed byte, a flipped signed header byte, the other direction */
            CHECK(seal_cfx(&w, stub, n, ec, hs, acc_subkey));
            w.pdu[30] ^= 1;
            CHECK_STR(krb_unwrap_dce(&s, &p), "signature mismatch");
            CHECK(seal_cfx(&w, stub, n, ec, hs, acc_subkey));
            w.pdu[3] ^= 1;
            if (hs)
                CHECK_STR(krb_unwrap_dce(&s, &p), "signature mismatch");
            else
                CHECK(krb_unwrap_dce(&s, &p) == NULL); /* the header is not signed then */
            CHECK(seal_cfx(&w, stub, n, ec, hs, acc_subkey));
            p.from_acceptor = true;
            CHECK_STR(krb_unwrap_dce(&s, &p),
                      "signature mismatch: the wrap token names the other direction");
            /* a token that is cut */
            p.from_acceptor = false;
            for (size_t cut = 0; cut < w.token_len; cut += 5) {
                CHECK(seal_cfx(&w, stub, n, ec, hs, acc_subkey));
                p.token_len = cut;
                CHECK(krb_unwrap_dce(&s, &p) != NULL);
            }
            p.token_len = w.token_len;
        }
    /* without the acceptor's subkey the token cannot be opened */
    struct sealed w;
    CHECK(seal_cfx(&w, stub, 48, 0, false, acc_subkey));
    krb_session_wipe(&s);
    s = session_for_wrap();
    krb_session_wipe(&s);
    s.ticket = (struct krb_key){AES256, 32, {0}, NULL};
    memcpy(s.ticket.bytes, session_key, 32);
    struct krb_dce_pdu p = {w.pdu, 24, 48, w.token, w.token_len, false};
    CHECK_STR(krb_unwrap_dce(&s, &p), "signature mismatch");
    krb_session_wipe(&s);
}

TEST(krb_rfc8009_vector_through_the_library)
{
    /* RFC 8009 Appendix A, aes128-cts-hmac-sha256-128: the 128-bit base key, usage 2, the
       sample encryption of an empty plaintext */
    static const uint8_t key[16] = {0x37, 0x05, 0xd9, 0x60, 0x80, 0xc1, 0x77, 0x28,
                                    0xa0, 0xe8, 0x00, 0xea, 0xb6, 0xe0, 0xd2, 0x3c};
    static const uint8_t ct[32] = {0xef, 0x85, 0xfb, 0x89, 0x0b, 0xb8, 0x47, 0x2f, 0x4d, 0xab, 0x20,
                                   0x39, 0x4d, 0xca, 0x78, 0x1d, 0xad, 0x87, 0x7e, 0xda, 0x39, 0xd5,
                                   0x0c, 0x87, 0x0c, 0x0d, 0x5a, 0x0a, 0x8e, 0x48, 0xc7, 0x18};
    krb5_keyblock kb = {KV5M_KEYBLOCK, AES128_SHA256, 16, (krb5_octet *)key};
    krb5_enc_data ed = {KV5M_ENC_DATA, AES128_SHA256, 0, {KV5M_DATA, 32, (char *)ct}};
    char out[32];
    krb5_data o = {KV5M_DATA, sizeof out, out};
    CHECK_EQ(krb5_c_decrypt(NULL, &kb, 2, NULL, &ed, &o), 0);
    CHECK_EQ(o.length, 0);
    uint8_t bad[32];
    memcpy(bad, ct, 32);
    bad[0] ^= 1;
    ed.ciphertext.data = (char *)bad;
    o.length = sizeof out;
    CHECK(krb5_c_decrypt(NULL, &kb, 2, NULL, &ed, &o) != 0);
}
