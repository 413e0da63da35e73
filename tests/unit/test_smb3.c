/*
 * SMB 3 encryption on Microsoft's published test vectors:
 * - SMB 3.0: "Encryption in SMB 3.0: A protocol perspective" (Open Specifications
 *   blog, 2012-10-05, https://learn.microsoft.com/en-us/archive/blogs/openspecification/
 *   encryption-in-smb-3-0-a-protocol-perspective): the session key, the client's
 *   encryption and decryption keys, a READ response decrypted with AES-128-CCM and a
 *   WRITE request's tag;
 * - SMB 3.1.1: "SMB 3.1.1 Encryption in Windows 10" (2015-09-09): the keys from the
 *   session key and the pre-authentication hash, a WRITE response decrypted with
 *   AES-128-GCM;
 * - "SMB 3.1.1 Pre-authentication integrity in Windows 10" (2015-08-11): the SHA-512
 *   chain over NEGOTIATE and SESSION_SETUP and the signing key (SMBSigningKey) that
 *   the KDF gives from it.
 * Then round trips of the four ciphers, a flipped byte of the message, the tag and the
 * AAD each refused, and TRANSFORM_HEADERs that lie about their size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "rpcsentry/keys.h"
#include "rpcsentry/smb3.h"

static bool init_crypto(void)
{
    char err[256];
    if (!keys_crypto_init(err, sizeof err)) {
        test_fail(__FILE__, __LINE__, "%s", err);
        return false;
    }
    return true;
}

/* SMB 3.0 blog */
static const char sk30[] = "B4546771B515F766A86735532DD6C4F0";
static const char read_resp_30[] =
    "FD534D42ABD518B68C2F04D7879F482B689EB83F870000000000000011000014"
    "00E4080067000000000001001100001400E40800493D6FE2BDBEB435CF5F5469"
    "70C7BB57BF20E713C75A3D045507E0D68E5C0346659D6FFB8AC1504A786CA2BB"
    "89C9E7FE4F313E910A04180D2D0EA7DF636329E5A3285984500EF86FE9D55DA4"
    "FAB9531CFDD4C551D47F3C73124BB4590A45052B694048B991CCF5";
static const char read_resp_30_plain[] =
    "FE534D4240000100000000000800210009000000000000000500000000000000"
    "FFFE0000010000001100001400E4080000000000000000000000000000000000"
    "11005000170000000000000000000000536D623320656E6372797074696F6E20"
    "74657374696E67";
static const char write_req_30[] =
    "FD534D4281A286535415445DAE393921E44FA42E66E69A111892584FB5ED524A"
    "744DA3EE87000000000001001100001400E4080025C8FEE16605A437832D1CD5"
    "2DA9F4645333482A175FE5384563F45FCDAFAEF38BC62BA4D5C62897996625A4"
    "4C29BE5658DE2E6117585779E7B59FFD971278D08580D7FA899E410E910EABF5"
    "AA1DB43050B33B49182637759AC15D84BFCDF5B6B238993C0F4CF4D6012023F6"
    "C627297075D84B7803912D0A9639634453595EF3E33FFE4E7AC2AB";

/* SMB 3.1.1 encryption blog */
static const char sk311[] = "419FDDF34C1E001909D362AE7FB6AF79";
static const char preauth311[] =
    "B23F3CBFD69487D9832B79B1594A367CDD950909B774C3A4C412B4FCEA9EDDDBA7DB256BA2EA30E9"
    "77F11F9B113247578E0E915C6D2A513B8F2FCA5707DC8770";
static const char write_resp_311[] =
    "FD534D42ACBE1CB7ED343ADF1725EF144D90D4B0E06831DD2E8EB7B4000000000000000050000000"
    "00000100250000000010000026BBBF949983A6C1C796559D0F2C510CB651D1F7B6AC8DED32A2A0B8"
    "F2D793A815C6F6B848D69767A215841A42D400AE6DDB5F0B44173A014973321FDD7950DA6179159B"
    "82E03C9E18A050FF0EA1C967";
static const char write_resp_311_plain[] =
    "FE534D4240000100000000000900010001000000000000000500000000000000FFFE000001000000"
    "25000000001000000000000000000000000000000000000011000000170000000000000000000000";

TEST(smb3_30_keys_from_the_blog)
{
    if (!init_crypto())
        return;
    uint8_t sk[16];
    CHECK_EQ(test_unhex(sk30, sk, sizeof sk), 16);
    struct smb3_keys k;
    CHECK(smb3_derive(sk, 16, 0x0300, SMB3_AES_128_CCM, NULL, &k) == NULL);
    CHECK_EQ(k.key_len, 16);
    CHECK(
        test_eq_hex(k.dir[0], 16, "261B72350558F2E9DCF613070383EDBF")); /* EncryptionKey (Client) */
    CHECK(
        test_eq_hex(k.dir[1], 16, "8FE2B57EC34D2DB5B1A9727F526BBDB5")); /* DecryptionKey (Client) */
    /* the same KDF gives the blog's signing key (label SMB2AESCMAC, context SmbSign) */
    uint8_t sign[16];
    smb3_kdf(sk, 16, "SMB2AESCMAC", 12, "SmbSign", 8, 128, sign);
    CHECK(test_eq_hex(sign, 16, "F773CD23C18FD1E08EE510CADA7CF852"));
    /* 3.0.2 derives the same way; 3.0.x has no GCM; 2.1 has no encryption */
    struct smb3_keys k2;
    CHECK(smb3_derive(sk, 16, 0x0302, SMB3_AES_128_CCM, NULL, &k2) == NULL);
    CHECK(memcmp(k.dir, k2.dir, sizeof k.dir) == 0);
    CHECK(smb3_derive(sk, 16, 0x0300, SMB3_AES_128_GCM, NULL, &k2) != NULL);
    CHECK(smb3_derive(sk, 16, 0x0210, SMB3_AES_128_CCM, NULL, &k2) != NULL);
    /* 3.1.1 cannot derive without the hash */
    CHECK(smb3_derive(sk, 16, 0x0311, SMB3_AES_128_GCM, NULL, &k2) != NULL);
    smb3_keys_wipe(&k);
}

TEST(smb3_30_ccm_read_response_from_the_blog)
{
    if (!init_crypto())
        return;
    uint8_t sk[16], msg[512], plain[512];
    test_unhex(sk30, sk, sizeof sk);
    size_t n = test_unhex(read_resp_30, msg, sizeof msg);
    struct smb3_keys k;
    CHECK(smb3_derive(sk, 16, 0x0300, SMB3_AES_128_CCM, NULL, &k) == NULL);
    struct smb3_transform t;
    CHECK(smb3_transform_parse(msg, n, &t) == NULL);
    CHECK_EQ(t.original_size, 0x67);
    CHECK_EQ(t.session_id, 0x8e40014000011ull);
    CHECK_EQ(t.flags, 1);
    uint16_t used = 0;
    CHECK(smb3_decrypt(&k, 1, &t, plain, &used) == NULL);
    CHECK_EQ(used, SMB3_AES_128_CCM);
    CHECK(test_eq_hex(plain, t.original_size, read_resp_30_plain));
    /* the other direction's key does not verify */
    CHECK(smb3_decrypt(&k, 0, &t, plain, NULL) != NULL);
    /* the WRITE request: the client's key and the blog's plaintext give its tag */
    n = test_unhex(write_req_30, msg, sizeof msg);
    CHECK(smb3_transform_parse(msg, n, &t) == NULL);
    CHECK(smb3_decrypt(&k, 0, &t, plain, NULL) == NULL);
    CHECK(test_eq_hex(plain, 23, "FE534D4240000100000000000900400008000000000000"));
    CHECK(memcmp(plain + t.original_size - 23, "Smb3 encryption testing", 23) == 0);
    uint8_t again[512], sig[16];
    CHECK(smb3_encrypt(k.dir[0], 16, SMB3_AES_128_CCM, t.nonce, t.aad, plain, t.original_size,
                       again, sig));
    CHECK(memcmp(again, t.ciphertext, t.original_size) == 0);
    CHECK(test_eq_hex(sig, 16, "81A286535415445DAE393921E44FA42E"));
    smb3_keys_wipe(&k);
}

TEST(smb3_311_gcm_write_response_from_the_blog)
{
    if (!init_crypto())
        return;
    uint8_t sk[16], h[64], msg[512], plain[512];
    test_unhex(sk311, sk, sizeof sk);
    CHECK_EQ(test_unhex(preauth311, h, sizeof h), 64);
    struct smb3_keys k;
    CHECK(smb3_derive(sk, 16, 0x0311, SMB3_AES_128_GCM, h, &k) == NULL);
    CHECK(test_eq_hex(k.dir[0], 16, "A2F5E80E5D59103034F32E52F698E5EC"));
    CHECK(test_eq_hex(k.dir[1], 16, "748C50868C90F302962A5C35F5F9A8BF"));
    size_t n = test_unhex(write_resp_311, msg, sizeof msg);
    struct smb3_transform t;
    CHECK(smb3_transform_parse(msg, n, &t) == NULL);
    CHECK_EQ(t.session_id, 0x100000000025ull);
    CHECK(smb3_decrypt(&k, 1, &t, plain, NULL) == NULL);
    CHECK(test_eq_hex(plain, t.original_size, write_resp_311_plain));
    /* with the cipher unknown (a capture without the NEGOTIATE), the tag picks GCM */
    struct smb3_keys any = k;
    any.cipher = SMB3_CIPHER_NONE;
    uint16_t used = 0;
    CHECK(smb3_decrypt(&any, 1, &t, plain, &used) == NULL);
    CHECK_EQ(used, SMB3_AES_128_GCM);
    /* CCM with the same key does not verify */
    any.cipher = SMB3_AES_128_CCM;
    CHECK(smb3_decrypt(&any, 1, &t, plain, NULL) != NULL);
    smb3_keys_wipe(&k);
    smb3_keys_wipe(&any);
}

TEST(smb3_311_preauth_chain_from_the_blog)
{
    if (!init_crypto())
        return;
    static const char *msgs[] = {
        /* NEGOTIATE request */
        "FE534D4240000100000000000000800000000000000000000100000000000000FFFE000000000000"
        "00000000000000000000000000000000000000000000000024000500000000003F000000ECD86F32"
        "6276024F9F7752B89BB33F3A70000000020000000202100200030203110300000100260000000000"
        "010020000100FA49E6578F1F3A9F4CD3E9CC14A67AA884B3D05844E0E5A118225C15887F32FF0000"
        "0200060000000000020002000100",
        /* SESSION_SETUP request (NTLMSSP NEGOTIATE) */
        "FE534D4240000100000000000100800000000000000000000200000000000000FFFE000000000000"
        "00000000000000000000000000000000000000000000000019000001010000000000000058004A00"
        "0000000000000000604806062B0601050502A03E303CA00E300C060A2B06010401823702020AA22A"
        "04284E544C4D5353500001000000978208E200000000000000000000000000000000060380250000"
        "000F",
    };
    uint8_t h[64] = {0}, buf[1024];
    size_t n = test_unhex(msgs[0], buf, sizeof buf);
    smb3_preauth_update(h, buf, n);
    CHECK(test_eq_hex(
        h, 64,
        "DD94EFC5321BB618A2E208BA8920D2F422992526947A409B5037DE1E0FE8C7362B8C47122594CDE0"
        "CE26AA9DFC8BCDBDE0621957672623351A7540F1E54A0426"));
    /* the blog's hash after the NEGOTIATE response, then the session's first request */
    CHECK_EQ(
        test_unhex("324BFA92A4F3A190E466EBEA08D9C110DC88BFED758D9846ECC6F541CC1D02AE3C94A79F3601"
                   "1E997E13F841B91B50957AD07B19C8E2539C0B23FDAE09D2C513",
                   h, sizeof h),
        64);
    n = test_unhex(msgs[1], buf, sizeof buf);
    smb3_preauth_update(h, buf, n);
    CHECK(test_eq_hex(
        h, 64,
        "AC0B0F2B9986257700365E416D142A6EDC96DF03594A19E52A15F6BD0D041CD5D432F8ED42C55E33"
        "197A50C9EC00F1462B50C592211B1471A04B56088FDFD5F9"));
    /* the final hash and the signing key the blog derives from it */
    CHECK_EQ(
        test_unhex("0DD13628CC3ED218EF9DF9772D436D0887AB9814BFAE63A80AA845F36909DB7928622DDDAD52"
                   "2D9751640A459762C5A9D6BB084CBB3CE6BDADEF5D5BCE3C6C01",
                   h, sizeof h),
        64);
    uint8_t sk[16], sign[16];
    test_unhex("270E1BA896585EEB7AF3472D3B4C75A7", sk, sizeof sk);
    smb3_kdf(sk, 16, "SMBSigningKey", 14, h, 64, 128, sign);
    CHECK(test_eq_hex(sign, 16, "73FE7A9A77BEF0BDE49C650D8CCB5F76"));
}

/* Kept handles: each message reuses its direction's handle (reset, the key schedule kept);
 * a flipped byte is still refused through it; a cipher that does not verify is not kept. */
TEST(smb3_kept_handles)
{
    if (!init_crypto())
        return;
    uint8_t sk[16], msg[512], bad[512], plain[512];
    test_unhex(sk30, sk, sizeof sk);
    struct smb3_keys k;
    CHECK(smb3_derive(sk, 16, 0x0300, SMB3_AES_128_CCM, NULL, &k) == NULL);
    k.cipher = SMB3_CIPHER_NONE; /* GCM is tried and refused on the way: never kept */
    struct smb3_handles hs = {0};
    size_t n = test_unhex(read_resp_30, msg, sizeof msg);
    struct smb3_transform t;
    for (int round = 0; round < 3; round++) {
        CHECK(smb3_transform_parse(msg, n, &t) == NULL);
        uint16_t used = 0;
        CHECK(smb3_decrypt_kept(&k, &hs, 1, &t, plain, &used) == NULL);
        CHECK_EQ(used, SMB3_AES_128_CCM);
        CHECK(test_eq_hex(plain, t.original_size, read_resp_30_plain));
        CHECK(hs.h[1] != NULL && hs.cipher[1] == SMB3_AES_128_CCM);
        memcpy(bad, msg, n);
        bad[n - 1 - round] ^= 0x80;
        CHECK(smb3_transform_parse(bad, n, &t) == NULL);
        CHECK(smb3_decrypt_kept(&k, &hs, 1, &t, plain, NULL) != NULL);
    }
    size_t wn = test_unhex(write_req_30, msg, sizeof msg);
    CHECK(smb3_transform_parse(msg, wn, &t) == NULL);
    CHECK(smb3_decrypt_kept(&k, &hs, 0, &t, plain, NULL) == NULL);
    CHECK(memcmp(plain + t.original_size - 23, "Smb3 encryption testing", 23) == 0);
    CHECK(smb3_decrypt_kept(&k, &hs, 1, &t, plain, NULL) != NULL); /* wrong direction */
    CHECK(hs.h[0] != NULL);
    smb3_handles_close(&hs);
    CHECK(hs.h[0] == NULL && hs.h[1] == NULL);
    smb3_keys_wipe(&k);
}

/* Each cipher: encrypt a message, decrypt it back; a flipped byte anywhere refused. */
TEST(smb3_round_trips_and_flipped_bytes)
{
    if (!init_crypto())
        return;
    uint8_t sk[32];
    for (int i = 0; i < 32; i++)
        sk[i] = (uint8_t)(0xa0 + i);
    uint8_t h[64];
    memset(h, 0x5c, sizeof h);
    static const uint8_t body[] = "\xfeSMB a compound of SMB2 messages, in the clear";
    for (uint16_t c = SMB3_AES_128_CCM; c <= SMB3_AES_256_GCM; c++) {
        struct smb3_keys k;
        CHECK(smb3_derive(sk, 32, 0x0311, c, h, &k) == NULL);
        CHECK_EQ(k.key_len, smb3_cipher_key_len(c));
        uint8_t msg[SMB3_TRANSFORM_LEN + sizeof body], plain[sizeof body];
        memset(msg, 0, sizeof msg);
        memcpy(msg, "\xfdSMB", 4);
        for (int i = 0; i < 16; i++)
            msg[20 + i] = (uint8_t)(i * 7 + c);
        msg[36] = sizeof body;
        msg[42] = 1;    /* Flags: encrypted */
        msg[44] = 0x2a; /* SessionId */
        uint8_t sig[16];
        CHECK(smb3_encrypt(k.dir[1], k.key_len, c, msg + 20, msg + 20, body, sizeof body,
                           msg + SMB3_TRANSFORM_LEN, sig));
        memcpy(msg + 4, sig, 16);
        struct smb3_transform t;
        CHECK(smb3_transform_parse(msg, sizeof msg, &t) == NULL);
        CHECK_EQ(t.session_id, 0x2a);
        uint16_t used = 0;
        CHECK(smb3_decrypt(&k, 1, &t, plain, &used) == NULL);
        CHECK_EQ(used, c);
        CHECK(memcmp(plain, body, sizeof body) == 0);
        /* a flipped bit in the tag, the nonce (AAD), the session id (AAD), the ciphertext */
        static const size_t at[] = {4, 19, 20, 44, SMB3_TRANSFORM_LEN, sizeof msg - 1};
        for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
            msg[at[i]] ^= 0x01;
            CHECK(smb3_transform_parse(msg, sizeof msg, &t) == NULL);
            memset(plain, 0x77, sizeof plain);
            const char *why = smb3_decrypt(&k, 1, &t, plain, NULL);
            CHECK(why && strncmp(why, "tag mismatch", 12) == 0);
            /* nothing unverified is left in the output */
            uint8_t zero[sizeof plain] = {0};
            CHECK(memcmp(plain, zero, sizeof plain) == 0);
            msg[at[i]] ^= 0x01;
        }
        /* the 128-bit ciphers take the first 16 bytes of the key; 256-bit ones all 32 */
        struct smb3_keys k16;
        CHECK(smb3_derive(sk, 16, 0x0311, c, h, &k16) == NULL);
        CHECK_EQ(memcmp(k16.dir, k.dir, sizeof k.dir) == 0, k.key_len == 16);
        smb3_keys_wipe(&k);
        smb3_keys_wipe(&k16);
    }
}

TEST(smb3_transform_header_refusals)
{
    uint8_t msg[SMB3_TRANSFORM_LEN + 8] = {0xfd, 'S', 'M', 'B'};
    struct smb3_transform t;
    CHECK(smb3_transform_parse(msg, 40, &t) != NULL);         /* cut short */
    CHECK(smb3_transform_parse(msg, sizeof msg, &t) != NULL); /* size 0 */
    msg[36] = 9;                                              /* one more than there is */
    CHECK(smb3_transform_parse(msg, sizeof msg, &t) != NULL);
    msg[36] = 8;
    CHECK(smb3_transform_parse(msg, sizeof msg, &t) == NULL);
    msg[36] = 0xff, msg[37] = 0xff, msg[38] = 0xff, msg[39] = 0xff;
    CHECK(smb3_transform_parse(msg, sizeof msg, &t) != NULL);
    msg[0] = 0xfe;
    msg[36] = 8, msg[37] = msg[38] = msg[39] = 0;
    CHECK(smb3_transform_parse(msg, sizeof msg, &t) != NULL); /* not 0xFD */
    CHECK(smb3_cipher_name(5) == NULL);
    CHECK_STR(smb3_cipher_name(SMB3_AES_256_GCM), "AES-256-GCM");
}

/* --smb-keys files: Wireshark's session id form and tshark's, optional direction keys,
 * the refusals (loose mode, bad lines named without their text, nothing half-kept). */
TEST(keys_smb_keys_file)
{
    char path[] = "/tmp/rpcsentry-smbkeys-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        SKIP("no temporary file");
    }
    close(fd);
    char err[512];
    struct keystore *ks = keys_new();
    test_write_file(
        path,
        "# sessions\n\n"
        "3cc169f200000000:a09359dc046d0b1609469629d6201cb3\n"
        "  0x0000300000000a11 : 404142434445464748494a4b4c4d4e4f404142434445464748494a4b4c4d"
        "4e4f :: \n"
        "0x25:00112233445566778899aabbccddeeff:"
        "ffeeddccbbaa99887766554433221100:0102030405060708090a0b0c0d0e0f10\n",
        0600);
    CHECK(keys_load_smb(ks, path, err, sizeof err));
    CHECK_EQ(keys_count(ks), 3);
    struct keys_smb3 k;
    CHECK(keys_smb3_find(ks, 0xf269c13cull, &k)); /* the wire's bytes, little-endian first */
    CHECK_EQ(k.session_key_len, 16);
    CHECK_EQ(k.dir_len, 0);
    CHECK(test_eq_hex(k.session_key, 16, "a09359dc046d0b1609469629d6201cb3"));
    CHECK(keys_smb3_find(ks, 0x0000300000000a11ull, &k));
    CHECK_EQ(k.session_key_len, 32);
    CHECK(keys_smb3_find(ks, 0x25, &k));
    CHECK_EQ(k.dir_len, 16);
    CHECK(test_eq_hex(k.s2c, 16, "ffeeddccbbaa99887766554433221100"));
    CHECK(test_eq_hex(k.c2s, 16, "0102030405060708090a0b0c0d0e0f10"));
    CHECK(!keys_smb3_find(ks, 0x26, &k));
    /* NT hash lookups see none of these */
    CHECK_EQ(keys_nt_for_each(ks, "", "3cc169f200000000", NULL, NULL), 0);

    chmod(path, 0640);
    CHECK(!keys_load_smb(ks, path, err, sizeof err));
    CHECK(strstr(err, "too open") != NULL);
    static const char *bad[] = {
        "0x1:00112233445566778899aabbccddeeff\n3cc169f2:a09359dc046d0b1609469629d6201cb3\n",
        "0x1:00112233445566778899aabbccddeeff\n0x2:a09359dc046d0b16\n",
        "0x1:00112233445566778899aabbccddeeff\n0x2:a09359dc046d0b1609469629d6201cb3:aa\n",
        ("0x1:00112233445566778899aabbccddeeff\n"
         "0x2:a09359dc046d0b1609469629d6201cb3:00112233445566778899aabbccddeeff:0011\n"),
        "0x1:00112233445566778899aabbccddeeff\n0x2:a09359dc046d0b1609469629d6201cbz\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        test_write_file(path, bad[i], 0600);
        CHECK(!keys_load_smb(ks, path, err, sizeof err));
        CHECK(strstr(err, ":2:") != NULL);
        CHECK(strstr(err, "a09359") == NULL && strstr(err, "00112233") == NULL);
        CHECK_EQ(keys_count(ks), 3); /* the first line of the bad file is not kept */
    }
    keys_free(ks);
    unlink(path);
}
