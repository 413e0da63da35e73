/*
 * The DCE/RPC engine on its own: the input is cut into chunks, each fed to
 * one direction: [direction+flags byte][u16 length][bytes]. Flag 0x80 of
 * the first byte declares a gap before the chunk. A key store holds the lab
 * account's NT hash (LAB\Administrator, Passw0rd!), so that every NTLMSSP
 * exchange goes through the unsealing state (src/dcerpc/dce_ntlm.c), and the
 * lab service account's rc4-hmac key (labrpc, Rpc-Passw0rd!: the NT hash of
 * the password), so that the Kerberos sessions of the lab's fake server among
 * the seeds open too (src/dcerpc/dce_krb.c, src/auth/kerberos.c).
 */
#include "fuzz_common.h"
#include "rpcsentry/dcerpc.h"
#include "rpcsentry/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct worker *w = fuzz_worker();
    static struct keystore *ks;
    if (!ks) {
        char err[256];
        uint8_t h[KEYS_NT_HASH_LEN];
        if (!keys_crypto_init(err, sizeof err) || !(ks = keys_new()) ||
            !keys_nt_hash_of_password("Passw0rd!", h) ||
            !keys_add_nt_hash(ks, "LAB", "Administrator", h) ||
            !keys_nt_hash_of_password("Rpc-Passw0rd!", h) ||
            !keys_add_krb5(ks, "labrpc@LAB.EXAMPLE", 2, 23, h, sizeof h))
            abort();
        fuzz_cfg.keys = ks;
    }
    static struct flow_ref ref_flow; /* the flow a call belongs to: no flow record needed */
    uint64_t tx = 0;
    struct rpc_transport t = {.kind = RPC_TRANSPORT_TCP, .flow = &ref_flow, .tx_counter = &tx};
    struct dce_assoc *a = dce_assoc_new(w, &t);
    if (!a)
        return 0;
    size_t off = 0;
    while (off + 3 <= size) {
        uint8_t ctl = data[off];
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (len > size - off)
            len = size - off;
        if (ctl & 0x80)
            dce_gap(w, a, ctl & 1);
        w->now_us += 1000;
        dce_data(w, a, ctl & 1, data + off, len);
        off += len;
    }
    dce_assoc_free(w, a);
    fuzz_check_released(w);
    return 0;
}
