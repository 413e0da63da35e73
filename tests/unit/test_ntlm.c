/*
 * NTLM session security on the published vectors of MS-NLMP 4.2 (4.2.1 common
 * values, 4.2.3 NTLMv1 with extended session security, 4.2.4 NTLMv2): the
 * AUTHENTICATE_MESSAGE of 4.2.4.3 parsed, the keys
 * derived from the NT hash of "Password", "Plaintext" sealed and signed as
 * 4.2.4.4 shows, then unsealed and verified; a wrong hash, a flipped byte and
 * a wrong sequence refused. And the key store's file rules.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "rpcsentry/keys.h"
#include "rpcsentry/ntlmssp.h"

/* 4.2.4.3 AUTHENTICATE_MESSAGE (flags 0xe2888235, NTLMv2, key exchange) */
static const char auth_hex[] =
    "4e544c4d5353500003000000180018006c00000054005400840000000c000c00480000000800080054000000"
    "100010005c00000010001000d8000000358288e20501280a0000000f44006f006d00610069006e0055007300"
    "6500720043004f004d005000550054004500520086c35097ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa"
    "68cd0ab851e51c96aabc927bebef6a1c01010000000000000000000000000000aaaaaaaaaaaaaaaa00000000"
    "02000c0044006f006d00610069006e0001000c005300650072007600650072000000000000000000c5dad254"
    "4fc9799094ce1ce90bc9d03e";
static const uint8_t server_challenge[8] = {0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef};

static bool init_crypto(void)
{
    char err[256];
    if (!keys_crypto_init(err, sizeof err)) {
        test_fail(__FILE__, __LINE__, "%s", err);
        return false;
    }
    return true;
}

static void derive_spec(struct ntlm_keys *k, uint8_t *msg, size_t cap, struct ntlmssp_msg *m)
{
    size_t n = test_unhex(auth_hex, msg, cap);
    CHECK_EQ(n, 232);
    CHECK_EQ(ntlmssp_parse_msg(msg, n, m), NTLMSSP_AUTHENTICATE);
    uint8_t nt[16];
    CHECK(keys_nt_hash_of_password("Password", nt));
    CHECK(test_eq_hex(nt, 16, "a4f49c406510bdcab6824ee7c30fd852")); /* 4.2.2.1.2 NTOWFv1 */
    CHECK(ntlm_derive_keys(nt, server_challenge, m, m->flags, k) == NULL);
}

TEST(ntlm_v2_keys_from_the_spec)
{
    if (!init_crypto())
        return;
    uint8_t msg[512];
    struct ntlmssp_msg m;
    struct ntlm_keys k;
    derive_spec(&k, msg, sizeof msg, &m);
    CHECK_EQ(m.flags, 0xe2888235u);
    CHECK_EQ(m.nt_len, 84);
    CHECK_EQ(m.session_key_len, 16);
    CHECK(k.v2);
    CHECK(test_eq_hex(k.response_key_nt, 16, "0c868a403bfd7a93a3001ef22ef02e3f"));  /* 4.2.4.1.1 */
    CHECK(test_eq_hex(m.nt, 16, "68cd0ab851e51c96aabc927bebef6a1c"));               /* 4.2.4.2.2 */
    CHECK(test_eq_hex(k.session_base_key, 16, "8de40ccadbc14a82f15cb0ad0de95ca3")); /* 4.2.4.1.2 */
    CHECK(test_eq_hex(m.session_key, 16, "c5dad2544fc9799094ce1ce90bc9d03e"));      /* 4.2.4.2.3 */
    CHECK(test_eq_hex(k.exported, 16, "55555555555555555555555555555555"));         /* 4.2.1 */
    CHECK(test_eq_hex(k.seal[0], 16, "59f600973cc4960a25480a7c196e4c58"));          /* 4.2.4.4 */
    CHECK(test_eq_hex(k.sign[0], 16, "4788dc861b4782f35d43fd98fe1a2d39"));
    ntlm_keys_wipe(&k);
}

TEST(ntlm_v2_seal_plaintext_from_the_spec)
{
    if (!init_crypto())
        return;
    uint8_t msg[512];
    struct ntlmssp_msg m;
    struct ntlm_keys k;
    derive_spec(&k, msg, sizeof msg, &m);
    uint8_t text[18], orig[18], sig[16];
    for (int i = 0; i < 9; i++)
        text[2 * i] = (uint8_t) "Plaintext"[i], text[2 * i + 1] = 0;
    memcpy(orig, text, sizeof text);
    struct ntlm_sealer tx, rx;
    CHECK(ntlm_sealer_init(&tx, &k));
    ntlm_seal(&tx, 0, text, sizeof text, 0, sizeof text, 0, sig);
    CHECK(test_eq_hex(text, sizeof text, "54e50165bf1936dc996020c1811b0f06fb5f")); /* 4.2.4.4 */
    CHECK(test_eq_hex(sig, 16, "010000007fb38ec5c55d497600000000"));
    ntlm_sealer_clear(&tx);

    /* the receiver's side: the same bytes open and verify; the stream goes on */
    uint8_t wire[18];
    memcpy(wire, text, sizeof wire);
    CHECK(ntlm_sealer_init(&rx, &k));
    CHECK_EQ(ntlm_unseal(&rx, 0, text, sizeof text, 0, sizeof text, sig), 1);
    CHECK(memcmp(text, orig, sizeof text) == 0);
    /* a replay of the same message is not the next one in the stream */
    memcpy(text, wire, sizeof text);
    CHECK_EQ(ntlm_unseal(&rx, 0, text, sizeof text, 0, sizeof text, sig), 0);
    ntlm_sealer_clear(&rx);

    /* a flipped ciphertext byte, a changed sequence number: refused */
    CHECK(ntlm_sealer_init(&rx, &k));
    memcpy(text, wire, sizeof text);
    text[3] ^= 1;
    CHECK_EQ(ntlm_unseal(&rx, 0, text, sizeof text, 0, sizeof text, sig), 0);
    ntlm_sealer_clear(&rx);
    CHECK(ntlm_sealer_init(&rx, &k));
    memcpy(text, wire, sizeof text);
    uint8_t sig2[16];
    memcpy(sig2, sig, 16);
    sig2[12] = 1;
    CHECK_EQ(ntlm_unseal(&rx, 0, text, sizeof text, 0, sizeof text, sig2), 0);
    ntlm_sealer_clear(&rx);
    ntlm_keys_wipe(&k);
}

TEST(ntlm_v2_header_signing_and_wrong_key)
{
    if (!init_crypto())
        return;
    uint8_t msg[512];
    struct ntlmssp_msg m;
    struct ntlm_keys k;
    derive_spec(&k, msg, sizeof msg, &m);
    /* a PDU-like message: 8 clear bytes, 10 sealed, 4 clear; signed whole, or sealed part only */
    uint8_t pdu[22], orig[22], sig[16];
    for (size_t i = 0; i < sizeof pdu; i++)
        pdu[i] = (uint8_t)(i * 7 + 1);
    memcpy(orig, pdu, sizeof pdu);
    struct ntlm_sealer tx, rx;
    CHECK(ntlm_sealer_init(&tx, &k) && ntlm_sealer_init(&rx, &k));
    ntlm_seal(&tx, 1, pdu, sizeof pdu, 8, 10, 0, sig);
    CHECK(memcmp(pdu, orig, 8) == 0 && memcmp(pdu + 8, orig + 8, 10) != 0);
    CHECK_EQ(ntlm_unseal(&rx, 1, pdu, sizeof pdu, 8, 10, sig), 1);
    CHECK(memcmp(pdu, orig, sizeof pdu) == 0);
    /* the next one signs the sealed bytes alone (no header signing) */
    ntlm_seal(&tx, 1, pdu + 8, 10, 0, 10, 1, sig);
    CHECK_EQ(ntlm_unseal(&rx, 1, pdu, sizeof pdu, 8, 10, sig), 2);
    CHECK(memcmp(pdu, orig, sizeof pdu) == 0);
    /* the other direction's keys do not open it */
    ntlm_seal(&tx, 1, pdu, sizeof pdu, 8, 10, 2, sig);
    CHECK_EQ(ntlm_unseal(&rx, 0, pdu, sizeof pdu, 8, 10, sig), 0);
    ntlm_sealer_clear(&tx);
    ntlm_sealer_clear(&rx);

    uint8_t bad[16];
    CHECK(keys_nt_hash_of_password("password", bad));
    struct ntlm_keys k2;
    const char *why = ntlm_derive_keys(bad, server_challenge, &m, m.flags, &k2);
    CHECK(why && strncmp(why, "wrong key", 9) == 0);
    /* without extended session security: said to be unsupported */
    why = ntlm_derive_keys(bad, server_challenge, &m, m.flags & ~NTLMSSP_F_ESS, &k2);
    CHECK(why && strncmp(why, "unsupported", 11) == 0);
    ntlm_keys_wipe(&k);
}

/*
 * 4.2.3 NTLMv1 with extended session security (NTLM2 session response): 56-bit
 * sealing, no key exchange, so the checksum is not RC4-encrypted.
 */
TEST(ntlm_v1_ess_from_the_spec)
{
    if (!init_crypto())
        return;
    uint8_t lm[24], nt[24], hash[16];
    CHECK_EQ(test_unhex("aaaaaaaaaaaaaaaa00000000000000000000000000000000", lm, sizeof lm), 24);
    CHECK_EQ(test_unhex("7537f803ae367128ca458204bde7caf81e97ed2683267232", nt, sizeof nt), 24);
    CHECK(keys_nt_hash_of_password("Password", hash));
    struct ntlmssp_msg m;
    memset(&m, 0, sizeof m);
    m.type = NTLMSSP_AUTHENTICATE;
    m.lm = lm, m.lm_len = sizeof lm;
    m.nt = nt, m.nt_len = sizeof nt;
    m.unicode = true;
    uint32_t flags = 0x820a8233u; /* 4.2.3's: 56-bit, ESS, no 128, no KEY_EXCH */
    struct ntlm_keys k;
    CHECK(ntlm_derive_keys(hash, server_challenge, &m, flags, &k) == NULL);
    CHECK(!k.v2);
    CHECK(test_eq_hex(k.session_base_key, 16, "d87262b0cde4b1cb7499becccdf10784")); /* 4.2.3.1.2 */
    CHECK(test_eq_hex(k.key_exchange_key, 16, "eb93429a8bd952f8b89c55b87f475edc")); /* 4.2.3.1.3 */
    CHECK(test_eq_hex(k.sign[0], 16, "60e799be5c72fc92922ae8ebe961fb8d"));          /* 4.2.3.4 */
    CHECK(test_eq_hex(k.seal[0], 16, "04dd7f014d8504d265a25cc86a3a7c06"));
    uint8_t text[18], sig[16];
    for (int i = 0; i < 9; i++)
        text[2 * i] = (uint8_t) "Plaintext"[i], text[2 * i + 1] = 0;
    struct ntlm_sealer tx, rx;
    CHECK(ntlm_sealer_init(&tx, &k) && ntlm_sealer_init(&rx, &k));
    ntlm_seal(&tx, 0, text, sizeof text, 0, sizeof text, 0, sig);
    CHECK(test_eq_hex(text, sizeof text, "a02372f6530273f3aa1eb90190ce5200c99d"));
    CHECK(test_eq_hex(sig, 16, "01000000ff2aeb52f681793a00000000"));
    CHECK_EQ(ntlm_unseal(&rx, 0, text, sizeof text, 0, sizeof text, sig), 1);
    CHECK(text[0] == 'P' && text[2] == 'l');
    ntlm_sealer_clear(&tx);
    ntlm_sealer_clear(&rx);
    ntlm_keys_wipe(&k);
}

/* ---- the key store ---- */

static bool count_cb(const uint8_t hash[16], void *ctx)
{
    (void)hash;
    (*(int *)ctx)++;
    return false;
}

TEST(keys_ntlm_secrets_file)
{
    char path[] = "/tmp/rpcsentry-keys-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        SKIP("no temporary file");
    }
    close(fd);
    char err[512];
    struct keystore *ks = keys_new();
    test_write_file(path,
                    "# secretsdump\n\n"
                    "LAB\\Administrator:500:aad3b435b51404eeaad3b435b51404ee:"
                    "fc525c9683e8fe067095ba2ddc971889:::\n"
                    "  alice:0123456789ABCDEF0123456789abcdef  \n",
                    0600);
    CHECK(keys_load_ntlm(ks, path, err, sizeof err));
    CHECK_EQ(keys_count(ks), 2);
    int n = 0;
    CHECK_EQ(keys_nt_for_each(ks, "lab", "ADMINISTRATOR", count_cb, &n), 1);
    CHECK_EQ(keys_nt_for_each(ks, "OTHER", "administrator", count_cb, &n), 0);
    CHECK_EQ(keys_nt_for_each(ks, "ANY", "Alice", count_cb, &n), 1); /* no domain: any */
    CHECK_EQ(n, 2);

    /* too open: refused, and the message says why, not what is in it */
    chmod(path, 0644);
    CHECK(!keys_load_ntlm(ks, path, err, sizeof err));
    CHECK(strstr(err, "too open") != NULL);
    CHECK(strstr(err, "fc525c96") == NULL);

    /* a malformed line: file and line named, the hash not echoed, nothing of the file kept */
    test_write_file(path, "bob:0123456789abcdef0123456789abcdef\ncarol:fc525c9683e8fe06709\n",
                    0600);
    CHECK(!keys_load_ntlm(ks, path, err, sizeof err));
    CHECK(strstr(err, ":2:") != NULL);
    CHECK(strstr(err, "fc525c") == NULL);
    CHECK_EQ(keys_count(ks), 2);
    test_write_file(path, "LAB\\:0123456789abcdef0123456789abcdef\n", 0600);
    CHECK(!keys_load_ntlm(ks, path, err, sizeof err));
    CHECK(strstr(err, ":1:") != NULL);
    keys_free(ks);
    unlink(path);
}
