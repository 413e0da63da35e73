#include "rpcsentry/decode.h"

#include <netinet/in.h>
#include <string.h>

#include "decode_internal.h"
#include "rpcsentry/cursor.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/worker.h"

#define ETH_VLAN 0x8100
#define ETH_QINQ 0x88a8
#define ETH_QINQ_OLD 0x9100
#define ETH_PPPOE 0x8864
#define ETH_MPLS_MC 0x8848
#define ETH_NSH 0x894f
#define ETH_FABRICPATH 0x8903

#define MAX_TAGS 8 /* VLAN/MPLS labels followed before giving up */

struct decode_opts decode_opts = {.vxlan_port = 4789, .geneve_port = 6081, .vlan_tracking = false};

void decode_configure(const struct decode_opts *o)
{
    decode_opts = *o;
}

static enum decode_result decode_ipver(struct packet *p, struct rd *c)
{
    uint8_t v = rd_peek(c, 0) >> 4;
    if (!rd_has(c, 1))
        return DECODE_TRUNCATED;
    if (v != 4 && v != 6)
        return DECODE_NOT_IP;
    return decode_ip(p, c);
}

/* Everything after an ethertype: VLAN tags, PPPoE, MPLS, NSH, FabricPath, then IP. */
enum decode_result decode_ethertype(struct packet *p, struct rd *c, uint16_t type)
{
    for (int hops = 0; hops <= MAX_TAGS; hops++) {
        switch (type) {
        case ETH_IPV4:
        case ETH_IPV6: return decode_ip(p, c);
        case ETH_VLAN:
        case ETH_QINQ:
        case ETH_QINQ_OLD: {
            const uint8_t *tag = rd_take(c, 4);
            if (!tag)
                return DECODE_TRUNCATED;
            uint16_t tci = be16_at(tag);
            type = be16_at(tag + 2);
            if (p->vlan_cnt < 2)
                p->vlan[p->vlan_cnt] = tci & 0x0fff;
            if (p->vlan_cnt < 255)
                p->vlan_cnt++;
            break;
        }
        case ETH_PPPOE: {
            rd_skip(c, 6); /* ver/type, code, session, length */
            uint16_t ppp = rd_u16be(c);
            if (!rd_ok(c))
                return DECODE_TRUNCATED;
            if (ppp == 0x0021)
                type = ETH_IPV4;
            else if (ppp == 0x0057)
                type = ETH_IPV6;
            else
                return DECODE_NOT_IP;
            break;
        }
        case ETH_MPLS:
        case ETH_MPLS_MC: {
            uint32_t label;
            int n = 0;
            do {
                label = rd_u32be(c);
                if (!rd_ok(c))
                    return DECODE_TRUNCATED;
            } while (!(label & 0x100) && ++n < MAX_TAGS);
            return decode_mpls_payload(p, c);
        }
        case ETH_NSH: return decode_nsh(p, c);
        case ETH_FABRICPATH: return decode_fabricpath(p, c);
        default: return DECODE_NOT_IP;
        }
    }
    return DECODE_INVALID;
}

enum decode_result decode_ether(struct packet *p, struct rd *c)
{
    const uint8_t *h = rd_take(c, 14);
    if (!h)
        return DECODE_TRUNCATED;
    uint16_t type = be16_at(h + 12);
    if (type < 0x0600) /* 802.3 length: LLC frames are not IP for us */
        return DECODE_NOT_IP;
    return decode_ethertype(p, c, type);
}

/* A SYN's options (RFC 9293 3.1): 1 + the window scale's shift (RFC 7323: above 14 is taken
   as 14), 0 when there is none or the options end before it. */
static uint8_t tcp_window_scale(struct rd *o)
{
    while (rd_left(o)) {
        uint8_t kind = rd_u8(o);
        if (kind == 0) /* end of options */
            break;
        if (kind == 1) /* no-operation */
            continue;
        uint8_t len = rd_u8(o);
        if (!rd_ok(o) || len < 2)
            break;
        if (kind == 3 && len == 3) {
            uint8_t shift = rd_u8(o);
            if (!rd_ok(o))
                break;
            return (uint8_t)(1 + (shift > 14 ? 14 : shift));
        }
        rd_skip(o, (size_t)len - 2);
    }
    return 0;
}

static enum decode_result decode_l4(struct packet *p, struct rd *c, uint8_t proto)
{
    if (proto == IPPROTO_GRE)
        return decode_gre(p, c);
    p->proto = proto;
    p->l4 = c->p + c->off;
    p->l4_len = c->off <= c->len ? (uint32_t)(c->len - c->off) : 0;
    if (proto == IPPROTO_TCP) {
        const uint8_t *h = rd_take(c, 20);
        if (!h)
            return DECODE_TRUNCATED;
        p->sport = be16_at(h);
        p->dport = be16_at(h + 2);
        p->seq = be32_at(h + 4);
        p->ack = be32_at(h + 8);
        p->tcp_flags = h[13];
        p->tcp_window = be16_at(h + 14);
        p->tcp_urgent = be16_at(h + 18); /* after the checksum */
        size_t hlen = (size_t)(h[12] >> 4) * 4;
        if (hlen < 20)
            return DECODE_INVALID;
        if ((p->tcp_flags & TCP_SYN) && hlen > 20) {
            struct rd o = rd_init(c->p + c->off, rd_left(c) < hlen - 20 ? rd_left(c) : hlen - 20);
            p->tcp_wscale = tcp_window_scale(&o);
        }
        rd_skip(c, hlen - 20);
        if (!rd_ok(c))
            return DECODE_TRUNCATED;
    } else if (proto == IPPROTO_UDP) {
        const uint8_t *h = rd_take(c, 8);
        if (!h)
            return DECODE_TRUNCATED;
        p->sport = be16_at(h);
        p->dport = be16_at(h + 2);
        uint16_t ulen = be16_at(h + 4);
        /* a UDP length shorter than what is there trims it; longer or 0 keeps what was captured */
        if (ulen >= 8 && (size_t)(ulen - 8) < rd_left(c))
            c->len = c->off + (ulen - 8);
        enum decode_result r;
        struct rd inner = *c;
        if (decode_udp_tunnel(p, &inner, p->dport, &r))
            return r;
    } else {
        return DECODE_OTHER_PROTO;
    }
    p->payload_len = (uint32_t)rd_left(c);
    p->payload = rd_take(c, p->payload_len);
    return DECODE_OK;
}

/*
 * Sets the cursor's end from an IP length field. Frames captured on the
 * sending host before segmentation offload carry 0 or more than the frame:
 * then the captured bytes are used and the packet is marked.
 */
static void apply_ip_length(struct packet *p, struct rd *ip, size_t start, size_t total)
{
    size_t avail = ip->len - start;
    if (total == 0 || total > avail)
        p->ip_len_fixed = true; /* use what was captured */
    else
        ip->len = start + total; /* drop link-layer padding */
}

enum decode_result decode_ip(struct packet *p, struct rd *c)
{
    size_t start = c->off;
    if (!rd_has(c, 1))
        return DECODE_TRUNCATED;
    uint8_t vihl = rd_peek(c, 0);
    if ((vihl >> 4) == 4) {
        size_t ihl = (size_t)(vihl & 15) * 4;
        const uint8_t *h = rd_take(c, 20);
        if (!h)
            return DECODE_TRUNCATED;
        uint16_t total = be16_at(h + 2);
        uint16_t id = be16_at(h + 4);
        uint16_t frag = be16_at(h + 6);
        uint8_t proto = h[9];
        if (ihl < 20)
            return DECODE_INVALID;
        if (total != 0 && total < ihl)
            return DECODE_INVALID;
        rd_skip(c, ihl - 20);
        if (!rd_ok(c))
            return DECODE_TRUNCATED;
        p->ipver = 4;
        memset(p->src, 0, 16), memset(p->dst, 0, 16);
        memcpy(p->src, h + 12, 4), memcpy(p->dst, h + 16, 4);
        apply_ip_length(p, c, start, total);
        p->l3 = c->p + start;
        p->l3_len = (uint32_t)(c->len - start);
        if (frag & 0x3fff) { /* MF or a fragment offset */
            p->frag_id = id;
            p->frag_off = (uint32_t)(frag & 0x1fff) * 8;
            p->frag_more = frag & 0x2000;
            p->frag_proto = proto;
            p->frag_hdr_len = (uint16_t)ihl;
            p->frag_nh_at = 0;
            p->frag_len = (uint32_t)rd_left(c);
            p->frag_data = rd_take(c, p->frag_len);
            return DECODE_FRAGMENT;
        }
        return decode_l4(p, c, proto);
    }
    if ((vihl >> 4) == 6) {
        const uint8_t *h = rd_take(c, 40);
        if (!h)
            return DECODE_TRUNCATED;
        uint16_t plen = be16_at(h + 4);
        uint8_t next = h[6];
        memcpy(p->src, h + 8, 16);
        memcpy(p->dst, h + 24, 16);
        p->ipver = 6;
        apply_ip_length(p, c, start + 40, plen);
        p->l3 = c->p + start;
        p->l3_len = (uint32_t)(c->len - start);
        size_t nh_at = 6; /* where the next-header octet naming the current header is */
        for (int hops = 0; hops < 16; hops++) {
            size_t here = c->off - start;
            switch (next) {
            case 0:   /* hop-by-hop */
            case 43:  /* routing */
            case 60:  /* destination options */
            case 135: /* mobility */
            case 139: /* HIP */
            case 140: /* shim6 */
            {
                next = rd_u8(c);
                uint8_t len = rd_u8(c);
                rd_skip(c, (size_t)len * 8 + 6);
                nh_at = here;
                break;
            }
            case 44: { /* fragment */
                next = rd_u8(c);
                rd_skip(c, 1);
                uint16_t off = rd_u16be(c);
                uint32_t id = rd_u32be(c);
                if (!rd_ok(c))
                    return DECODE_TRUNCATED;
                if (off & 0xfff9) { /* offset or M flag */
                    p->frag_id = id;
                    p->frag_off = off & 0xfff8;
                    p->frag_more = off & 1;
                    p->frag_proto = next;
                    p->frag_hdr_len = (uint16_t)here;
                    p->frag_nh_at = (uint16_t)nh_at;
                    p->frag_len = (uint32_t)rd_left(c);
                    p->frag_data = rd_take(c, p->frag_len);
                    return DECODE_FRAGMENT;
                }
                nh_at = here;
                break;
            }
            case 51: { /* authentication header */
                next = rd_u8(c);
                uint8_t len = rd_u8(c);
                rd_skip(c, ((size_t)len + 2) * 4 - 2);
                nh_at = here;
                break;
            }
            default:
                if (!rd_ok(c))
                    return DECODE_TRUNCATED;
                return decode_l4(p, c, next);
            }
            if (!rd_ok(c))
                return DECODE_TRUNCATED;
        }
        return DECODE_INVALID;
    }
    return DECODE_NOT_IP;
}

static enum decode_result decode_link(struct packet *p, struct rd *c);

enum decode_result decode_layers(struct packet *p)
{
    struct rd c = rd_init(p->data, p->caplen);
    p->vlan_cnt = 0;
    p->vlan[0] = p->vlan[1] = 0;
    p->ip_len_fixed = false;
    p->defragged = false;
    p->payload = NULL;
    p->payload_len = 0;
    p->l3 = NULL;
    p->l3_len = 0;
    p->l4 = NULL;
    p->l4_len = 0;
    p->tcp_flags = 0;
    p->tcp_window = p->tcp_urgent = 0;
    p->tcp_wscale = 0;
    p->sport = p->dport = 0;
    p->encap_depth = 0;
    p->encaps = 0;
    p->encap_what = 0;
    p->frag_data = NULL;
    p->frag_len = 0;
    enum decode_result r = decode_link(p, &c);
    p->key_vlan = decode_opts.vlan_tracking && p->vlan_cnt ? p->vlan[0] : 0;
    return r;
}

static enum decode_result decode_link(struct packet *p, struct rd *c)
{
    switch (p->linktype) {
    case LINK_ETHERNET: return decode_ether(p, c);
    case LINK_SLL: {
        rd_skip(c, 14);
        uint16_t type = rd_u16be(c);
        if (!rd_ok(c))
            return DECODE_TRUNCATED;
        return decode_ethertype(p, c, type);
    }
    case LINK_SLL2: {
        uint16_t type = rd_u16be(c);
        rd_skip(c, 18);
        if (!rd_ok(c))
            return DECODE_TRUNCATED;
        return decode_ethertype(p, c, type);
    }
    case LINK_NULL:
    case LINK_LOOP: {
        uint8_t fam[4];
        if (!rd_bytes(c, fam, 4))
            return DECODE_TRUNCATED;
        /* NULL is host order of the capturing machine; LOOP is network order */
        uint32_t le = (uint32_t)fam[0] | (uint32_t)fam[1] << 8 | (uint32_t)fam[2] << 16 |
                      (uint32_t)fam[3] << 24;
        uint32_t be = (uint32_t)fam[3] | (uint32_t)fam[2] << 8 | (uint32_t)fam[1] << 16 |
                      (uint32_t)fam[0] << 24;
        uint32_t af = p->linktype == LINK_LOOP ? be : (le < 256 ? le : be);
        if (af == 2)
            return decode_ip(p, c);
        if (af == 10 || af == 24 || af == 28 || af == 30)
            return decode_ip(p, c);
        return DECODE_NOT_IP;
    }
    case LINK_RAW:
    case LINK_RAW_DLT12:
    case LINK_RAW_DLT14:
    case LINK_IPV4:
    case LINK_IPV6: return decode_ipver(p, c);
    default: return DECODE_UNSUPPORTED_LINK;
    }
}

static void count_encaps(struct worker *w, uint16_t encaps)
{
    uint64_t *n[ENCAP_COUNT] = {
        [ENCAP_GRE] = &w->stats.decode_gre,
        [ENCAP_ERSPAN] = &w->stats.decode_erspan,
        [ENCAP_VXLAN] = &w->stats.decode_vxlan,
        [ENCAP_GENEVE] = &w->stats.decode_geneve,
        [ENCAP_MPLS_PW] = &w->stats.decode_mpls_pw,
        [ENCAP_NSH] = &w->stats.decode_nsh,
        [ENCAP_FABRICPATH] = &w->stats.decode_fabricpath,
    };
    for (int i = 0; i < ENCAP_COUNT; i++)
        if (encaps & (1u << i))
            (*n[i])++;
}

/* Counts a decoded packet; true when it goes on to the flow stage. */
static bool judged(struct worker *w, const struct packet *p, enum decode_result r);

/* Counts a captured frame decoded to r; true when it goes on to the flow stage. */
static bool decoded(struct worker *w, const struct packet *p, enum decode_result r)
{
    w->frame_may_answer = decode_may_answer(p, r);
    w->stats.packets++;
    w->stats.bytes += p->wirelen;
    return judged(w, p, r);
}

/* The same for a frame or a datagram rebuilt from fragments (counted as its frames were). */
static bool judged(struct worker *w, const struct packet *p, enum decode_result r)
{
    if (p->encaps)
        count_encaps(w, p->encaps);
    switch (r) {
    case DECODE_OK:
        if (p->ip_len_fixed)
            w->stats.decode_ip_len_fixed++;
        else if (w->cfg->checksum_checks == CHECKSUM_ALL && !packet_checksums_ok(p)) {
            w->stats.decode_bad_checksum++; /* as a receiver would: the segment is not used */
            return false;
        }
        return true;
    case DECODE_NOT_IP: w->stats.decode_not_ip++; break;
    case DECODE_OTHER_PROTO: w->stats.decode_other_proto++; break;
    case DECODE_FRAGMENT: w->stats.decode_ip_fragment++; break;
    case DECODE_TRUNCATED: w->stats.decode_truncated++; break;
    case DECODE_INVALID: w->stats.decode_invalid++; break;
    case DECODE_UNSUPPORTED_LINK: w->stats.decode_unsupported_link++; break;
    case DECODE_UNKNOWN_ENCAP: {
        w->stats.decode_unknown_encap++;
        char what[64];
        decode_encap_what(p->encap_what, what, sizeof what);
        anomaly_raise(w, NULL, &w->packet_anomalies_seen, ANOM_DECODE_UNKNOWN_ENCAP, what);
        break;
    }
    }
    return false;
}

/*
 * A fragment: into the reassembly; the datagram it completes is decoded and
 * handed on as a packet of its own, with the frame's VLAN tags. A datagram
 * may carry a tunnel whose inner packet is a fragment again: that one goes
 * into the reassembly too (a second level, no more).
 */
static void fragment(struct worker *w, const struct packet *p)
{
    struct packet whole, inner;
    const struct packet *f = p;
    for (int level = 0; level < 2; level++) {
        if (!defrag_packet(w, f, &whole))
            return;
        enum decode_result r = decode_layers(&whole);
        whole.defragged = true;
        whole.vlan[0] = p->vlan[0], whole.vlan[1] = p->vlan[1];
        whole.vlan_cnt = p->vlan_cnt, whole.key_vlan = p->key_vlan;
        if (r == DECODE_FRAGMENT && level == 0) {
            inner = whole;
            f = &inner;
            continue;
        }
        if (judged(w, &whole, r))
            flow_packet(w, &whole);
        return;
    }
}

void decode_packet(struct worker *w, struct packet *p)
{
    if (p->ts_us > w->clock_us)
        w->clock_us = p->ts_us;
    enum decode_result r = decode_layers(p);
    if (decoded(w, p, r))
        flow_packet(w, p);
    else if (r == DECODE_FRAGMENT)
        fragment(w, p);
}

void decode_worker_free(struct worker *w)
{
    defrag_free(w);
}

void decode_ahead(struct worker *w, struct packet_ahead *a)
{
    a->r = decode_layers(&a->p);
    if (a->r == DECODE_OK) {
        flow_key_from_packet(&a->p, &a->k, NULL);
        a->h = flow_key_hash(w, &a->k);
        a->cand = NULL;
        a->stage = flow_prefetch(w, &a->p, &a->k, a->h, FLOW_PREFETCH_BUCKET, &a->cand);
    }
}

void decode_packet_ahead(struct worker *w, struct packet_ahead *a)
{
    if (decoded(w, &a->p, a->r))
        flow_packet_keyed(w, &a->p, &a->k, a->h);
    else if (a->r == DECODE_FRAGMENT)
        fragment(w, &a->p);
}

void decode_prefetch(struct worker *w, struct packet_ahead *a)
{
    if (a->r == DECODE_OK && a->stage != FLOW_PREFETCH_DONE)
        a->stage = flow_prefetch(w, &a->p, &a->k, a->h, a->stage, &a->cand);
}
