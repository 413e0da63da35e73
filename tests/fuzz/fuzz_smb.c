/*
 * The SMB transport on its own (and the DCE/RPC behind its pipes), chunked as fuzz_dcerpc.
 * fuzz_smb3.c includes this file with FUZZ_SMB_SETUP giving the worker a key store.
 */
#include "fuzz_common.h"
#include "rpcsentry/hash.h"
#include "rpcsentry/rpc_call.h"
#include "rpcsentry/smb.h"

#ifndef FUZZ_SMB_SETUP
#define FUZZ_SMB_SETUP() ((void)0)
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct worker *w = fuzz_worker();
    FUZZ_SMB_SETUP();
    /* the flow a call belongs to: no flow record needed (an alert marks the ref) */
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
