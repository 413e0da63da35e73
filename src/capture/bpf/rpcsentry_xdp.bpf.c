/*
 * The XDP program of AF_XDP capture: TCP that the sensor can use goes to the
 * AF_XDP socket of its receive queue; the rest is dropped on a pure
 * monitoring port, or passed to the kernel when the sensor says so.
 *
 * Used: TCP to or from 135, 139, 445, or a port the endpoint mapper
 * announced (the sensor writes them into `rpc_ports` as it learns them);
 * TCP between a port in the dynamic RPC range (49152-65535 by default, set in
 * `cfg`) and one that is not well known. IP fragments go to the sensor too
 * (it counts them). Loaded through libxdp, so it shares the
 * interface with other XDP programs.
 */
/* the kernel's types first: the libbpf helpers are written in them */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "rpcsentry_xdp.h"

struct {
    __uint(type, BPF_MAP_TYPE_XSKMAP);
    __uint(max_entries, RS_XDP_MAX_QUEUES);
    __type(key, __u32);
    __type(value, __u32);
} xsks SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, RS_XDP_MAX_PORTS);
    __type(key, __u16);
    __type(value, __u8);
} rpc_ports SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct rs_xdp_cfg);
} cfg SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, RS_XDP_COUNTERS);
    __type(key, __u32);
    __type(value, __u64);
} counters SEC(".maps");

/* libxdp: where this program sits among others, and that XDP_PASS goes on to the next */
struct {
    __uint(priority, 20);
    __uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(rpcsentry_xdp);

static __always_inline void count(__u32 which)
{
    __u64 *c = bpf_map_lookup_elem(&counters, &which);
    if (c)
        *c += 1;
}

static __always_inline int rpc_port(__u16 port)
{
    return port == 135 || port == 139 || port == 445 ||
           bpf_map_lookup_elem(&rpc_ports, &port) != NULL;
}

static __always_inline int dynamic(__u16 port, const struct rs_xdp_cfg *c)
{
    return c && port >= c->dyn_lo && port <= c->dyn_hi;
}

/*
 * A connection the sensor wants: one end on an RPC port (the fixed ones, or
 * one the endpoint mapper announced), or one end in the dynamic RPC range and
 * the other not a well-known port (a client's ephemeral port is in the same
 * range on Windows: HTTP from port 51000 to 80 is not ours).
 */
static __always_inline int wanted(__u16 a, __u16 b, const struct rs_xdp_cfg *c)
{
    if (rpc_port(a) || rpc_port(b))
        return 1;
    return (dynamic(a, c) && b >= 1024) || (dynamic(b, c) && a >= 1024);
}

static __always_inline int other(const struct rs_xdp_cfg *c)
{
    count(RS_XDP_OTHER);
    return c && c->pass_others ? XDP_PASS : XDP_DROP;
}

SEC("xdp")
int rpcsentry_xdp(struct xdp_md *ctx)
{
    void *data = (void *)(long)ctx->data;
    void *end = (void *)(long)ctx->data_end;
    __u32 zero = 0;
    const struct rs_xdp_cfg *c = bpf_map_lookup_elem(&cfg, &zero);
    struct ethhdr *eth = data;
    if ((void *)(eth + 1) > end)
        return other(c);
    __u16 proto = eth->h_proto;
    void *p = eth + 1;
    /* up to two VLAN tags (802.1Q, QinQ) */
#pragma unroll
    for (int i = 0; i < 2; i++) {
        if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
            break;
        if (p + 4 > end)
            return other(c);
        proto = *(__u16 *)(p + 2);
        p += 4;
    }
    __u8 l4 = 0;
    if (proto == bpf_htons(ETH_P_IP)) {
        struct iphdr *ip = p;
        if ((void *)(ip + 1) > end || ip->ihl < 5)
            return other(c);
        if (ip->frag_off & bpf_htons(0x3fff)) {
            count(RS_XDP_FRAGMENT); /* not reassembled: the sensor counts it */
            goto take;
        }
        l4 = ip->protocol;
        p = (void *)ip + ip->ihl * 4;
    } else if (proto == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr *ip6 = p;
        if ((void *)(ip6 + 1) > end)
            return other(c);
        l4 = ip6->nexthdr;
        p = ip6 + 1;
        /* a few extension headers: hop-by-hop, routing, destination options */
#pragma unroll
        for (int i = 0; i < 4; i++) {
            if (l4 != 0 && l4 != 43 && l4 != 60)
                break;
            if (p + 2 > end)
                return other(c);
            __u8 next = *(__u8 *)p, len = *(__u8 *)(p + 1);
            l4 = next;
            p += (len + 1) * 8;
        }
        if (l4 == 44) { /* a fragment header */
            count(RS_XDP_FRAGMENT);
            goto take;
        }
    } else {
        return other(c);
    }
    if (l4 != IPPROTO_TCP)
        return other(c);
    struct tcphdr *tcp = p;
    if ((void *)(tcp + 1) > end)
        return other(c);
    if (!wanted(bpf_ntohs(tcp->source), bpf_ntohs(tcp->dest), c))
        return other(c);
take:
    count(RS_XDP_TAKEN);
    /* no socket on this queue: as any other packet */
    return bpf_redirect_map(&xsks, ctx->rx_queue_index, c && c->pass_others ? XDP_PASS : XDP_DROP);
}

char _license[] SEC("license") = "GPL";
