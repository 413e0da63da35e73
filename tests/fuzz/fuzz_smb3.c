/*
 * The SMB transport with a key store: the SMB 3 paths (the NTLMSSP of SESSION_SETUP
 * followed for its session key, the 3.1.1 pre-authentication hash, TRANSFORM_HEADER
 * parsing and decryption, the plaintext parsed as SMB2). The store holds the NT hash
 * of the lab's account (Passw0rd!: the seeds from pcaps/lab/smb3_encrypted_* decrypt)
 * and operator keys for sessions 1 (a session key) and 2 (direction keys). Input as
 * fuzz_smb: chunks of [ctl][len16] bytes.
 */
#include "fuzz_common.h"
#include "rpcsentry/hash.h"
#include "rpcsentry/keys.h"
#include "rpcsentry/rpc_call.h"
#include "rpcsentry/smb.h"

static struct keystore *fuzz_keys(void)
{
    static struct keystore *ks;
    if (ks)
        return ks;
    char err[256];
    if (!keys_crypto_init(err, sizeof err) || !(ks = keys_new()))
        abort();
    uint8_t nt[KEYS_NT_HASH_LEN];
    if (!keys_nt_hash_of_password("Passw0rd!", nt) ||
        !keys_add_nt_hash(ks, NULL, "Administrator", nt))
        abort();
    struct keys_smb3 k = {.session_id = 1, .session_key_len = 16};
    memset(k.session_key, 0x11, sizeof k.session_key);
    if (!keys_add_smb3(ks, &k))
        abort();
    k.session_id = 2;
    k.dir_len = 16;
    memset(k.s2c, 0x22, sizeof k.s2c);
    memset(k.c2s, 0x33, sizeof k.c2s);
    if (!keys_add_smb3(ks, &k))
        abort();
    return ks;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct worker *w = fuzz_worker();
    fuzz_cfg.keys = fuzz_keys();
    static struct flow_ref ref_flow;
    uint64_t tx = 0;
    char cid[COMMUNITY_ID_LEN] = "";
    struct rpc_transport tcp = {
        .kind = RPC_TRANSPORT_TCP, .flow = &ref_flow, .tx_counter = &tx, .community_id = cid};
    struct smb_conn *c = smb_conn_new(w, &tcp, size > 0 && (data[0] & 0x40));
    if (!c)
        return 0;
    size_t off = 0;
    while (off + 3 <= size) {
        uint8_t ctl = data[off];
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (len > size - off)
            len = size - off;
        if (ctl & 0x80)
            smb_gap(w, c, ctl & 1);
        w->now_us += 1000;
        smb_data(w, c, ctl & 1, data + off, len);
        off += len;
    }
    smb_conn_free(w, c);
    fuzz_check_released(w); /* frees the worker's session-key table too: no key carries over */
    return 0;
}
