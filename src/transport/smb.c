/* SMB transport. The protocol parsers come with the SMB issue; until then SMB
 * flows are recognised and counted, and their bytes are not decoded. */
#include "rpcsentry/smb.h"

#include <stdlib.h>

#include "rpcsentry/cursor.h"
#include "rpcsentry/worker.h"

struct smb_conn {
    int unused;
};

enum transport_probe smb_probe(const uint8_t *p, size_t n)
{
    struct rd c = rd_init(p, n);
    if (!rd_has(&c, 1))
        return PROBE_NEED_MORE;
    uint8_t type = rd_u8(&c);
    if (type != 0x00)
        return PROBE_NO;
    if (!rd_has(&c, 7))
        return PROBE_NEED_MORE;
    rd_skip(&c, 3);
    uint8_t m0 = rd_u8(&c), m1 = rd_u8(&c), m2 = rd_u8(&c), m3 = rd_u8(&c);
    if ((m0 == 0xff || m0 == 0xfe || m0 == 0xfd) && m1 == 'S' && m2 == 'M' && m3 == 'B')
        return PROBE_SMB;
    return PROBE_NO;
}

struct smb_conn *smb_conn_new(struct worker *w, const struct flow_ref *flow,
                              uint64_t *tx_counter, bool synced)
{
    (void)flow, (void)tx_counter, (void)synced;
    return mem_calloc(&w->mem, MEM_APP, sizeof(struct smb_conn));
}

void smb_conn_free(struct worker *w, struct smb_conn *c)
{
    if (c)
        mem_free(&w->mem, MEM_APP, c, sizeof *c);
}

void smb_data(struct worker *w, struct smb_conn *c, int ep, const uint8_t *data, size_t len)
{
    (void)w, (void)c, (void)ep, (void)data, (void)len;
}

void smb_gap(struct worker *w, struct smb_conn *c, int ep)
{
    (void)w, (void)c, (void)ep;
}
