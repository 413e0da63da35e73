/* The packet record's own facts (packet.h): its checksums. */
#include <netinet/in.h>
#include <string.h>

#include "rpcsentry/packet.h"

/* The Internet checksum's running sum (RFC 1071) over len bytes, big-endian words. */
static uint64_t sum16(uint64_t sum, const uint8_t *b, size_t len)
{
    for (; len >= 2; b += 2, len -= 2)
        sum += (uint32_t)b[0] << 8 | b[1];
    if (len)
        sum += (uint32_t)b[0] << 8;
    return sum;
}

static uint16_t fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

bool packet_checksums_ok(const struct packet *p)
{
    if (p->ip_len_fixed || !p->l3 || !p->l4)
        return true;
    uint64_t sum = 0;
    if (p->ipver == 4) {
        size_t ihl = (size_t)(p->l3[0] & 15) * 4;
        if (fold(sum16(0, p->l3, ihl)) != 0xffff)
            return false;
        uint8_t pseudo[12] = {0};
        memcpy(pseudo, p->src, 4);
        memcpy(pseudo + 4, p->dst, 4);
        pseudo[9] = p->proto;
        pseudo[10] = (uint8_t)(p->l4_len >> 8), pseudo[11] = (uint8_t)p->l4_len;
        sum = sum16(0, pseudo, sizeof pseudo);
        if (p->proto == IPPROTO_UDP && p->l4_len >= 8 && p->l4[6] == 0 && p->l4[7] == 0)
            return true; /* no checksum sent */
    } else {
        uint8_t pseudo[40] = {0};
        memcpy(pseudo, p->src, 16);
        memcpy(pseudo + 16, p->dst, 16);
        pseudo[34] = (uint8_t)(p->l4_len >> 8), pseudo[35] = (uint8_t)p->l4_len;
        pseudo[39] = p->proto;
        sum = sum16(0, pseudo, sizeof pseudo);
    }
    return fold(sum16(sum, p->l4, p->l4_len)) == 0xffff;
}
