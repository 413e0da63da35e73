/* Shared by the XDP program and the sensor: map sizes, configuration, counters. */
#ifndef RPCSENTRY_XDP_H
#define RPCSENTRY_XDP_H

#define RS_XDP_MAX_QUEUES 64
#define RS_XDP_MAX_PORTS 4096

struct rs_xdp_cfg {
    __u16 dyn_lo, dyn_hi; /* the dynamic RPC port range */
    __u8 pass_others;     /* 1: what the sensor does not want goes on to the kernel */
    __u8 pad[3];
};

enum { RS_XDP_TAKEN, RS_XDP_OTHER, RS_XDP_FRAGMENT, RS_XDP_COUNTERS };

#endif
