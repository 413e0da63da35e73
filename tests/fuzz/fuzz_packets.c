/*
 * The whole pipeline from frames: the input is a sequence of frames, each
 * as [link type byte][u16 length][bytes]. Timestamps advance per frame so
 * timeouts and eviction run too.
 */
#include "fuzz_common.h"
#include "rpcsentry/decode.h"

static const int links[] = {1, 113, 276, 101, 0, 108, 228, 229};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct worker *w = fuzz_worker();
    size_t off = 0;
    uint64_t ts = 1700000000000000ULL;
    uint64_t cnt = 0;
    while (off + 3 <= size) {
        int link = links[data[off] % (sizeof links / sizeof links[0])];
        size_t len = (size_t)data[off + 1] | (size_t)data[off + 2] << 8;
        off += 3;
        if (len > size - off)
            len = size - off;
        struct packet p;
        memset(&p, 0, sizeof p);
        p.data = data + off;
        p.caplen = (uint32_t)len;
        p.wirelen = (uint32_t)len;
        p.linktype = link;
        ts += (data[off - 3] & 0xf0) ? 1000 : 2000000;
        p.ts_us = ts;
        p.pcap_cnt = ++cnt;
        w->now_us = ts;
        w->pcap_cnt = cnt;
        struct packet q = p; /* every frame through the checksum code too */
        if (decode_layers(&q) == DECODE_OK)
            (void)packet_checksums_ok(&q);
        decode_packet(w, &p);
        off += len;
    }
    fuzz_check_released(w);
    return 0;
}
