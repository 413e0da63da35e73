/*
 * Kerberos as a listening acceptor (include/rpcsentry/kerberos.h).
 *
 * The messages, as RFC 4120 5.5 and 5.3 give them (tags are context-specific
 * and explicit):
 *   AP-REQ        [APPLICATION 14] { pvno[0] msg-type[1] ap-options[2]
 *                                    ticket[3] authenticator[4] }
 *   Ticket        [APPLICATION 1]  { tkt-vno[0] realm[1] sname[2] enc-part[3] }
 *   EncTicketPart [APPLICATION 3]  { flags[0] key[1] crealm[2] cname[3] ... }
 *   Authenticator [APPLICATION 2]  { vno[0] crealm[1] cname[2] cksum[3]
 *                                    cusec[4] ctime[5] subkey[6] seq[7] ... }
 *   AP-REP        [APPLICATION 15] { pvno[0] msg-type[1] enc-part[2] }
 *   EncAPRepPart  [APPLICATION 27] { ctime[0] cusec[1] subkey[2] seq[3] }
 *   EncryptedData SEQUENCE { etype[0] kvno[1] cipher[2] }
 *   EncryptionKey SEQUENCE { keytype[0] keyvalue[1] }
 * Key usages (RFC 4120 7.5.1, RFC 4121 2): ticket 2, authenticator 11,
 * AP-REP 12; wrap tokens sealed by the acceptor 22, by the initiator 24.
 */
#include "rpcsentry/kerberos.h"

#include <gcrypt.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_internal.h"
#include "rpcsentry/cursor.h"
#include "rpcsentry/keys.h"

#define USAGE_TICKET 2
#define USAGE_AUTHENTICATOR 11
#define USAGE_AP_REP 12
#define USAGE_ACCEPTOR_SEAL 22
#define USAGE_INITIATOR_SEAL 24
#define ENCTYPE_RC4 23
#define DER_DEPTH 8
#define CIPHER_MAX (64 * 1024) /* a ticket with a large PAC is a few KiB */

/* ---- DER (der_next, der_expect: auth_internal.h) ---- */

/* In a SEQUENCE's contents, the inner TLV's value of field [n], whose tag must be inner. */
static bool der_field(struct rd seq, unsigned n, uint8_t inner, struct rd *val)
{
    while (rd_left(&seq)) {
        uint8_t t;
        struct rd v;
        if (!der_next(&seq, &t, &v))
            return false;
        if (t == (0xa0 | n))
            return der_expect(&v, inner, val);
    }
    return false;
}

/* [APPLICATION n] { SEQUENCE { ... } }: the SEQUENCE's contents. */
static bool der_app_seq(struct rd *c, uint8_t app, struct rd *seq)
{
    struct rd v;
    return der_expect(c, app, &v) && der_expect(&v, 0x30, seq);
}

static bool der_int(struct rd v, int64_t *out)
{
    size_t n = rd_left(&v);
    if (n == 0 || n > 8)
        return false;
    int64_t x = (rd_peek(&v, 0) & 0x80) ? -1 : 0;
    for (size_t i = 0; i < n; i++)
        x = (int64_t)((uint64_t)x << 8 | rd_u8(&v));
    *out = x;
    return true;
}

static bool int_field(struct rd seq, unsigned n, int64_t *out)
{
    struct rd v;
    return der_field(seq, n, 0x02, &v) && der_int(v, out);
}

/* A KerberosString/Realm field copied as text ('?' for anything not printable). */
static bool string_field(struct rd seq, unsigned n, char *out, size_t cap)
{
    struct rd v;
    if (!der_field(seq, n, 0x1b, &v))
        return false;
    size_t k = 0, len = rd_left(&v);
    for (size_t i = 0; i < len && k + 1 < cap; i++) {
        uint8_t ch = rd_u8(&v);
        out[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
    }
    out[k] = '\0';
    return true;
}

/* PrincipalName { name-type[0] name-string[1] SEQUENCE OF KerberosString }: "a/b". */
static bool principal_field(struct rd seq, unsigned n, char *out, size_t cap)
{
    struct rd pn, names;
    if (!der_field(seq, n, 0x30, &pn) || !der_field(pn, 1, 0x30, &names))
        return false;
    size_t k = 0;
    out[0] = '\0';
    while (rd_left(&names)) {
        struct rd s;
        if (!der_expect(&names, 0x1b, &s))
            return false;
        if (k && k + 1 < cap)
            out[k++] = '/';
        size_t len = rd_left(&s);
        for (size_t i = 0; i < len && k + 1 < cap; i++) {
            uint8_t ch = rd_u8(&s);
            out[k++] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
        }
        out[k] = '\0';
    }
    return true;
}

struct enc_data {
    int64_t etype, kvno; /* kvno -1: absent */
    const uint8_t *cipher;
    size_t len;
};

static bool enc_data_field(struct rd seq, unsigned n, struct enc_data *e)
{
    struct rd ed, c;
    if (!der_field(seq, n, 0x30, &ed) || !int_field(ed, 0, &e->etype))
        return false;
    if (!int_field(ed, 1, &e->kvno))
        e->kvno = -1;
    if (!der_field(ed, 2, 0x04, &c))
        return false;
    e->len = rd_left(&c);
    e->cipher = rd_take(&c, e->len);
    return e->cipher != NULL && e->len > 0 && e->len <= CIPHER_MAX;
}

/* EncryptionKey { keytype[0] keyvalue[1] } into k; false when absent or malformed. */
static bool key_field(struct rd seq, unsigned n, struct krb_key *k)
{
    struct rd ek, v;
    int64_t type;
    if (!der_field(seq, n, 0x30, &ek) || !int_field(ek, 0, &type) || !der_field(ek, 1, 0x04, &v))
        return false;
    size_t len = rd_left(&v);
    if (type <= 0 || type > INT32_MAX || len == 0 || len > KRB_KEY_MAX)
        return false;
    k->enctype = (int32_t)type;
    k->len = (uint8_t)len;
    return rd_bytes(&v, k->bytes, len);
}

/* ---- finding the message in a GSS token ---- */

static const uint8_t OID_KRB5[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t OID_MS_KRB5[] = {0x2a, 0x86, 0x48, 0x82, 0xf7, 0x12, 0x01, 0x02, 0x02};
static const uint8_t OID_SPNEGO[] = {0x2b, 0x06, 0x01, 0x05, 0x05, 0x02};

static bool oid_is(struct rd v, const uint8_t *oid, size_t n)
{
    return rd_left(&v) == n && memcmp(rd_take(&v, n), oid, n) == 0;
}

static enum krb_msg find(struct rd c, int depth, const uint8_t **msg, size_t *len)
{
    if (depth > DER_DEPTH || rd_left(&c) < 2)
        return KRB_MSG_NONE;
    uint8_t first = rd_peek(&c, 0);
    struct rd whole = c, v;
    uint8_t tag;
    if (!der_next(&c, &tag, &v))
        return KRB_MSG_NONE;
    size_t used = rd_left(&whole) - rd_left(&c);
    switch (first) {
    case 0x6e:
    case 0x6f:
    case 0x7e:
        *msg = rd_take(&whole, used);
        *len = used;
        return first == 0x6e ? KRB_MSG_AP_REQ : first == 0x6f ? KRB_MSG_AP_REP : KRB_MSG_ERROR;
    case 0x60: { /* InitialContextToken: thisMech, then the mechanism's token */
        struct rd oid;
        if (!der_expect(&v, 0x06, &oid))
            return KRB_MSG_NONE;
        if (oid_is(oid, OID_SPNEGO, sizeof OID_SPNEGO))
            return find(v, depth + 1, msg, len);
        if (!oid_is(oid, OID_KRB5, sizeof OID_KRB5) &&
            !oid_is(oid, OID_MS_KRB5, sizeof OID_MS_KRB5))
            return KRB_MSG_NONE;
        rd_skip(&v, 2); /* TOK_ID: 01 00 AP-REQ, 02 00 AP-REP, 03 00 KRB-ERROR */
        return rd_ok(&v) ? find(v, depth + 1, msg, len) : KRB_MSG_NONE;
    }
    case 0xa0:   /* SPNEGO negTokenInit: mechToken [2] */
    case 0xa1: { /* negTokenResp: responseToken [2] */
        struct rd seq, tok;
        if (!der_expect(&v, 0x30, &seq) || !der_field(seq, 2, 0x04, &tok))
            return KRB_MSG_NONE;
        return find(tok, depth + 1, msg, len);
    }
    default: return KRB_MSG_NONE;
    }
}

enum krb_msg krb_find(const uint8_t *token, size_t len, const uint8_t **msg, size_t *msg_len)
{
    if (!token || !len)
        return KRB_MSG_NONE;
    return find(rd_init(token, len), 0, msg, msg_len);
}

/* ---- decryption (MIT krb5's RFC 3961 profiles) ---- */

/*
 * Decrypts e with key k and usage into a fresh buffer (*out, *out_len; the
 * caller wipes and frees it). False: wrong key or tampered (the checksum of
 * the profile failed), or unsupported.
 */
static bool decrypt(const struct krb_key *k, krb5_keyusage usage, const struct enc_data *e,
                    uint8_t **out, size_t *out_len)
{
    uint8_t *buf = malloc(e->len);
    if (!buf)
        return false;
    krb5_keyblock kb = {.magic = KV5M_KEYBLOCK,
                        .enctype = k->enctype,
                        .length = k->len,
                        .contents = (krb5_octet *)k->bytes};
    krb5_enc_data ed = {.magic = KV5M_ENC_DATA, .enctype = k->enctype, .kvno = 0};
    ed.ciphertext.magic = KV5M_DATA;
    ed.ciphertext.length = (unsigned)e->len;
    ed.ciphertext.data = (char *)e->cipher;
    krb5_data o = {.magic = KV5M_DATA, .length = (unsigned)e->len, .data = (char *)buf};
    if (krb5_c_decrypt(NULL, &kb, usage, NULL, &ed, &o) != 0) {
        explicit_bzero(buf, e->len);
        free(buf);
        return false;
    }
    *out = buf;
    *out_len = o.length;
    return true;
}

static void free_plain(uint8_t *p, size_t len)
{
    if (p) {
        explicit_bzero(p, len);
        free(p);
    }
}

static void key_release(struct krb_key *k)
{
    if (k->k5)
        krb5_k_free_key(NULL, k->k5); /* MIT zeroes its copies as it frees them */
    explicit_bzero(k, sizeof *k);
}

void krb_session_wipe(struct krb_session *s)
{
    key_release(&s->ticket);
    key_release(&s->initiator);
    key_release(&s->acceptor);
    explicit_bzero(s, sizeof *s);
}

/* MIT's key object of k (its derived keys kept there from one token to the next). */
static krb5_key key_object(struct krb_key *k)
{
    if (!k->k5) {
        krb5_keyblock kb = {.magic = KV5M_KEYBLOCK,
                            .enctype = k->enctype,
                            .length = k->len,
                            .contents = (krb5_octet *)k->bytes};
        krb5_key key = NULL;
        if (krb5_k_create_key(NULL, &kb, &key) != 0)
            return NULL;
        k->k5 = key;
    }
    return k->k5;
}

struct ticket_try {
    const struct enc_data *enc;
    uint8_t *plain;
    size_t len;
    bool found;
};

static bool try_ticket_key(const struct keys_krb5 *k, void *ctx)
{
    struct ticket_try *t = ctx;
    if (k->len > KRB_KEY_MAX)
        return false;
    struct krb_key key = {.enctype = k->enctype, .len = (uint8_t)k->len};
    memcpy(key.bytes, k->key, k->len);
    t->found = decrypt(&key, USAGE_TICKET, t->enc, &t->plain, &t->len);
    explicit_bzero(&key, sizeof key);
    return t->found;
}

const char *krb_accept_ap_req(const struct keystore *ks, const uint8_t *msg, size_t len,
                              struct krb_session *s)
{
    krb_session_wipe(s);
    struct rd c = rd_init(msg, len), req, tkt;
    struct enc_data tenc, aenc;
    char sname[KRB_NAME_MAX] = "", srealm[KRB_NAME_MAX] = "";
    if (!der_app_seq(&c, 0x6e, &req) || !der_field(req, 3, 0x61, &tkt))
        return "malformed AP-REQ";
    struct rd tseq;
    if (!der_expect(&tkt, 0x30, &tseq) || !enc_data_field(tseq, 3, &tenc) ||
        !enc_data_field(req, 4, &aenc))
        return "malformed AP-REQ";
    string_field(tseq, 1, srealm, sizeof srealm);
    principal_field(tseq, 2, sname, sizeof sname);
    snprintf(s->server, sizeof s->server, "%.80s@%.45s", sname, srealm);
    if (tenc.etype <= 0 || tenc.etype > INT32_MAX || !krb5_c_valid_enctype((int32_t)tenc.etype))
        return "unsupported: an enctype MIT krb5 does not know";
    struct ticket_try t = {.enc = &tenc};
    size_t named = keys_krb5_for_each(ks, (int32_t)tenc.etype,
                                      tenc.kvno < 0 ? 0 : (uint32_t)tenc.kvno, try_ticket_key, &t);
    if (!named)
        return "no key";
    if (!t.found)
        return "wrong key";
    /* EncTicketPart: the session key and the client */
    struct rd p = rd_init(t.plain, t.len), etp;
    bool ok = der_app_seq(&p, 0x63, &etp) && key_field(etp, 1, &s->ticket);
    if (ok) {
        string_field(etp, 2, s->realm, sizeof s->realm);
        principal_field(etp, 3, s->client, sizeof s->client);
    }
    free_plain(t.plain, t.len);
    if (!ok) {
        krb_session_wipe(s);
        return "malformed ticket";
    }
    /* the authenticator, sealed with the session key: the initiator's subkey */
    uint8_t *ap;
    size_t aplen;
    if (!decrypt(&s->ticket, USAGE_AUTHENTICATOR, &aenc, &ap, &aplen)) {
        krb_session_wipe(s);
        return "malformed AP-REQ: the authenticator does not open with the ticket's session key";
    }
    struct rd a = rd_init(ap, aplen), aseq;
    if (der_app_seq(&a, 0x62, &aseq) && !key_field(aseq, 6, &s->initiator))
        memset(&s->initiator, 0, sizeof s->initiator);
    free_plain(ap, aplen);
    return NULL;
}

const char *krb_take_ap_rep(struct krb_session *s, const uint8_t *msg, size_t len)
{
    if (!s->ticket.enctype)
        return "the AP-REQ was not opened";
    struct rd c = rd_init(msg, len), rep;
    struct enc_data e;
    if (!der_app_seq(&c, 0x6f, &rep) || !enc_data_field(rep, 2, &e))
        return "malformed AP-REP";
    uint8_t *p;
    size_t plen;
    if (!decrypt(&s->ticket, USAGE_AP_REP, &e, &p, &plen))
        return "the AP-REP does not open with the ticket's session key";
    struct rd r = rd_init(p, plen), seq;
    struct krb_key k = {0};
    if (der_app_seq(&r, 0x7b, &seq) && key_field(seq, 2, &k)) {
        key_release(&s->acceptor);
        s->acceptor = k;
    }
    explicit_bzero(&k, sizeof k);
    free_plain(p, plen);
    return NULL;
}

/* ---- wrap tokens ---- */

/* RFC 4121 4.2.6.2: TOK_ID 05 04, Flags, Filler FF, EC, RRC, SND_SEQ. */
#define CFX_HDR 16
#define CFX_FLAG_SENT_BY_ACCEPTOR 0x01
#define CFX_FLAG_SEALED 0x02
#define CFX_FLAG_ACCEPTOR_SUBKEY 0x04

/* The keys worth trying for a token, the one its flags name first. */
static size_t candidate_keys(struct krb_session *s, bool acceptor_first, struct krb_key *out[3])
{
    size_t n = 0;
    struct krb_key *order[3] = {&s->acceptor, &s->initiator, &s->ticket};
    if (!acceptor_first) {
        order[0] = &s->initiator;
        order[1] = &s->ticket;
        order[2] = &s->acceptor;
    }
    for (size_t i = 0; i < 3; i++)
        if (order[i]->enctype)
            out[n++] = order[i];
    return n;
}

/*
 * One attempt at a CFX token: blob is token[16..] followed by the sealed
 * bytes, rotated left by rot, i.e. confounder | data | filler and header copy
 * | checksum as the profile encrypted them. With sign_only, the PDU header
 * and sec_trailer are in the checksum (header signing).
 */
static bool cfx_try(struct krb_key *k, krb5_keyusage usage, struct krb_dce_pdu *p,
                    const uint8_t *hdr, size_t ec, size_t rot, bool sign_only, uint8_t *work,
                    size_t total)
{
    krb5_key key = key_object(k);
    if (!key)
        return false;
    size_t rest = p->token_len - CFX_HDR;
    /* un-rotate: the logical stream is token[16..] | sealed bytes, starting rot bytes in */
    const uint8_t *parts[2] = {p->token + CFX_HDR, p->pdu + p->body_off};
    size_t lens[2] = {rest, p->sealed_len}, at = 0;
    for (size_t pass = 0; pass < 2; pass++)
        for (size_t q = 0; q < 2; q++) {
            /* pass 0: from rot to the end of the stream; pass 1: from its start to rot */
            size_t lo = q ? rest : 0, hi = lo + lens[q];
            size_t a = pass ? lo : (rot > lo ? rot : lo), b = pass ? (rot < hi ? rot : hi) : hi;
            if (a < b) {
                memcpy(work + at, parts[q] + (a - lo), b - a);
                at += b - a;
            }
        }
    unsigned hlen = 0, tlen = 0;
    if (krb5_c_crypto_length(NULL, k->enctype, KRB5_CRYPTO_TYPE_HEADER, &hlen) ||
        krb5_c_crypto_length(NULL, k->enctype, KRB5_CRYPTO_TYPE_TRAILER, &tlen))
        return false;
    if (total < (size_t)hlen + tlen + ec + CFX_HDR ||
        total - hlen - tlen - ec - CFX_HDR != p->sealed_len)
        return false;
    krb5_crypto_iov iov[6];
    size_t n = 0, off = 0;
#define IOV(type, ptr, len)                                                                        \
    do {                                                                                           \
        iov[n].flags = (type);                                                                     \
        iov[n].data.magic = KV5M_DATA;                                                             \
        iov[n].data.length = (unsigned)(len);                                                      \
        iov[n].data.data = (char *)(ptr);                                                          \
        n++;                                                                                       \
    } while (0)
    IOV(KRB5_CRYPTO_TYPE_HEADER, work, hlen);
    off = hlen;
    if (sign_only)
        IOV(KRB5_CRYPTO_TYPE_SIGN_ONLY, p->pdu, p->body_off);
    IOV(KRB5_CRYPTO_TYPE_DATA, work + off, p->sealed_len);
    off += p->sealed_len;
    if (sign_only)
        IOV(KRB5_CRYPTO_TYPE_SIGN_ONLY, p->pdu + p->body_off + p->sealed_len, 8);
    IOV(KRB5_CRYPTO_TYPE_DATA, work + off, ec + CFX_HDR);
    off += ec + CFX_HDR;
    IOV(KRB5_CRYPTO_TYPE_TRAILER, work + off, tlen);
#undef IOV
    if (krb5_k_decrypt_iov(NULL, key, usage, NULL, iov, n) != 0)
        return false;
    /* the encrypted copy of the header (RFC 4121 4.2.4): its TOK_ID, flags and SND_SEQ are
       the token's (EC and RRC may read otherwise there) */
    const uint8_t *copy = work + hlen + p->sealed_len + ec;
    if (memcmp(copy, hdr, 4) != 0 || memcmp(copy + 8, hdr + 8, 8) != 0)
        return false;
    memcpy(p->pdu + p->body_off, work + hlen, p->sealed_len);
    return true;
}

static const char *unwrap_cfx(struct krb_session *s, struct krb_dce_pdu *p)
{
    const uint8_t *hdr = p->token;
    uint8_t flags = hdr[2];
    if (hdr[3] != 0xff)
        return "signature mismatch: malformed wrap token";
    if (!(flags & CFX_FLAG_SEALED))
        return "signature mismatch: the wrap token is not sealed";
    if (!!(flags & CFX_FLAG_SENT_BY_ACCEPTOR) != p->from_acceptor)
        return "signature mismatch: the wrap token names the other direction";
    size_t ec = (size_t)hdr[4] << 8 | hdr[5], rrc = (size_t)hdr[6] << 8 | hdr[7];
    size_t total = p->token_len - CFX_HDR + p->sealed_len;
    if (!total)
        return "signature mismatch: empty wrap token";
    uint8_t *work = malloc(total);
    if (!work)
        return "no memory to unseal";
    struct krb_key *keys[3];
    size_t nk = candidate_keys(s, flags & CFX_FLAG_ACCEPTOR_SUBKEY, keys);
    krb5_keyusage usage = p->from_acceptor ? USAGE_ACCEPTOR_SEAL : USAGE_INITIATOR_SEAL;
    /* Windows rotates DCE-style tokens by RRC + EC; RFC 4121 says RRC: both are tried, with
       each key and with and without header signing, the layout that verified last first */
    size_t rots[2] = {(rrc + ec) % total, rrc % total};
    size_t nr = ec ? 2u : 1u, tries = nr * 6;
    bool ok = false;
    for (size_t t = 0; t <= tries && !ok; t++) {
        size_t v = t == 0 ? (size_t)s->layout : t; /* layout + 1; t == 0 without one: skip */
        if (v == 0 || (t > 0 && v == s->layout))
            continue;
        v--;
        size_t so = v % 2, i = v / 2 % 3, r = v / 6;
        if (i >= nk || r >= nr)
            continue;
        ok = cfx_try(keys[i], usage, p, hdr, ec, rots[r], so, work, total);
        if (ok)
            s->layout = (uint8_t)(v + 1);
    }
    explicit_bzero(work, total);
    free(work);
    return ok ? NULL : "signature mismatch";
}

/*
 * RFC 4757 7.3 (rc4-hmac), DCE style: a 32-byte token, TOK_ID 02 01,
 * SGN_ALG 11 00 (HMAC-MD5), SEAL_ALG 10 00 (RC4), filler FF FF, SND_SEQ (8,
 * encrypted), SGN_CKSUM (8), confounder (8, encrypted); the data is
 * encrypted in place, in one RC4 stream after the confounder.
 */
static bool rc4_try(const struct krb_key *k, struct krb_dce_pdu *p, bool sign_only, uint8_t *work)
{
    const uint8_t *t = p->token;
    static const uint8_t zero4[4] = {0}, salt13[4] = {13, 0, 0, 0};
    static const char sigkey[] = "signaturekey"; /* with its NUL */
    uint8_t kseq[16], kcrypt[16], klocal[16], ksign[16], seq[8], sum[16];
    bool ok = false;
    if (k->len != 16)
        return false;
    /* the sequence number, under a key derived from the checksum */
    auth_hmac_md5(kseq, k->bytes, 16, zero4, 4, NULL, 0, NULL, 0);
    auth_hmac_md5(kseq, kseq, 16, t + 16, 8, NULL, 0, NULL, 0);
    memcpy(seq, t + 8, 8);
    if (!auth_rc4(kseq, seq, 8))
        goto out;
    /* direction: 0 from the initiator, FF FF FF FF from the acceptor */
    uint8_t dir = p->from_acceptor ? 0xff : 0x00;
    if (seq[4] != dir || seq[5] != dir || seq[6] != dir || seq[7] != dir)
        goto out;
    for (int i = 0; i < 16; i++)
        klocal[i] = k->bytes[i] ^ 0xf0;
    auth_hmac_md5(kcrypt, klocal, 16, zero4, 4, NULL, 0, NULL, 0);
    auth_hmac_md5(kcrypt, kcrypt, 16, seq, 4, NULL, 0, NULL, 0);
    memcpy(work, t + 24, 8);
    memcpy(work + 8, p->pdu + p->body_off, p->sealed_len);
    if (!auth_rc4(kcrypt, work, 8 + p->sealed_len))
        goto out;
    /* the checksum: MD5(13 | header | confounder | [PDU header] | data | [sec_trailer]) */
    gcry_md_hd_t h;
    if (gcry_md_open(&h, GCRY_MD_MD5, 0))
        goto out;
    gcry_md_write(h, salt13, 4);
    gcry_md_write(h, t, 8);
    gcry_md_write(h, work, 8);
    if (sign_only)
        gcry_md_write(h, p->pdu, p->body_off);
    gcry_md_write(h, work + 8, p->sealed_len);
    if (sign_only)
        gcry_md_write(h, p->pdu + p->body_off + p->sealed_len, 8);
    memcpy(sum, gcry_md_read(h, 0), 16);
    gcry_md_close(h);
    auth_hmac_md5(ksign, k->bytes, 16, sigkey, sizeof sigkey, NULL, 0, NULL, 0);
    auth_hmac_md5(sum, ksign, 16, sum, 16, NULL, 0, NULL, 0);
    ok = memcmp(sum, t + 16, 8) == 0;
    if (ok)
        memcpy(p->pdu + p->body_off, work + 8, p->sealed_len);
out:
    explicit_bzero(kseq, sizeof kseq);
    explicit_bzero(kcrypt, sizeof kcrypt);
    explicit_bzero(klocal, sizeof klocal);
    explicit_bzero(ksign, sizeof ksign);
    explicit_bzero(sum, sizeof sum);
    return ok;
}

static const char *unwrap_rc4(struct krb_session *s, struct krb_dce_pdu *p)
{
    const uint8_t *t = p->token;
    if (p->token_len < 32 || t[2] != 0x11 || t[3] != 0x00 || t[6] != 0xff || t[7] != 0xff)
        return "signature mismatch: malformed rc4-hmac wrap token";
    if (t[4] != 0x10 || t[5] != 0x00)
        return "unsupported: rc4-hmac wrap token without RC4 sealing";
    uint8_t *work = malloc(8 + p->sealed_len);
    if (!work)
        return "no memory to unseal";
    struct krb_key *keys[3];
    size_t nk = candidate_keys(s, true, keys);
    bool ok = false;
    for (size_t i = 0; i < nk && !ok; i++)
        for (int so = 0; so < 2 && !ok; so++)
            ok = keys[i]->enctype == ENCTYPE_RC4 && rc4_try(keys[i], p, so, work);
    explicit_bzero(work, 8 + p->sealed_len);
    free(work);
    return ok ? NULL : "signature mismatch";
}

const char *krb_unwrap_dce(struct krb_session *s, struct krb_dce_pdu *p)
{
    if (p->token && p->token_len > 2 && p->token[0] == 0x60) {
        /* RFC 1964 tokens (rc4-hmac) come in the InitialContextToken framing: after it */
        struct rd c = rd_init(p->token, p->token_len), v, oid;
        uint8_t tag;
        if (!der_next(&c, &tag, &v) || !der_expect(&v, 0x06, &oid) ||
            (!oid_is(oid, OID_KRB5, sizeof OID_KRB5) &&
             !oid_is(oid, OID_MS_KRB5, sizeof OID_MS_KRB5)))
            return "signature mismatch: the verifier is not a Kerberos wrap token";
        p->token_len = rd_left(&v);
        p->token = rd_take(&v, p->token_len);
    }
    if (!p->token || p->token_len < CFX_HDR)
        return "signature mismatch: the verifier is not a Kerberos wrap token";
    if (p->token[0] == 0x05 && p->token[1] == 0x04)
        return unwrap_cfx(s, p);
    if (p->token[0] == 0x02 && p->token[1] == 0x01)
        return unwrap_rc4(s, p);
    return "signature mismatch: the verifier is not a Kerberos wrap token";
}
