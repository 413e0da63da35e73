#include "rpcsentry/config.h"

#include <string.h>

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    c->flow_max = 1u << 20;
    c->flow_hash_size = 1u << 16;
    c->tcp_timeout_new = 30;
    c->tcp_timeout_est = 600;
    c->tcp_timeout_closed = 10;
    c->udp_timeout = 60;

    c->memcap = (size_t)192 << 20;
    c->stream_memcap = (size_t)64 << 20;
    c->stream_ooo_max = 1u << 20;
    c->stream_ooo_segs = 1024;
    c->pcap_log_memcap = (size_t)64 << 20;
    c->pcap_log_flow_buffer = 1u << 20;
    c->defrag_memcap = (size_t)16 << 20;
    c->defrag_timeout = 60;
    c->defrag_policy = DEFRAG_WINDOWS;
    c->tcp_overlap_policy = TCP_OVERLAP_WINDOWS;

    c->dce_stub_max = 1u << 20;
    c->dce_max_calls = 256;
    c->dce_max_contexts = 256;
    c->dce_call_timeout = 120;
    c->epm_ttl = 3600;

    c->compat = false;
    c->log_binds = true;
    c->ndpi = true;
    c->community_id_seed = 0;
    c->hash_seed = 0x5253454e54525931ULL;
}
