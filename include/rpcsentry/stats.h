/*
 * Counters. One struct stats per worker; each counter has a stable name used
 * in the end-of-run summary and the `stats` event.
 */
#ifndef RPCSENTRY_STATS_H
#define RPCSENTRY_STATS_H

#include <stdint.h>

#define STATS_COUNTERS(X)                                                                          \
    X(packets)                                                                                     \
    X(capture_link_down)                                                                           \
    X(bytes)                                                                                       \
    X(decode_not_ip)                                                                               \
    X(decode_truncated)                                                                            \
    X(decode_invalid)                                                                              \
    X(decode_unsupported_link)                                                                     \
    X(decode_ip_fragment)                                                                          \
    X(decode_ip_len_fixed)                                                                         \
    X(decode_bad_checksum)                                                                         \
    X(decode_other_proto)                                                                          \
    X(decode_gre)                                                                                  \
    X(decode_erspan)                                                                               \
    X(decode_vxlan)                                                                                \
    X(decode_geneve)                                                                               \
    X(decode_mpls_pw)                                                                              \
    X(decode_nsh)                                                                                  \
    X(decode_fabricpath)                                                                           \
    X(decode_unknown_encap)                                                                        \
    X(tcp_after_fin)                                                                               \
    X(tcp_syn_data_ignored)                                                                        \
    X(tcp_syn_restarts)                                                                            \
    X(tcp_rst_ignored)                                                                             \
    X(tcp_urgent)                                                                                  \
    X(tcp_window_held)                                                                             \
    X(tcp_zero_window_probes)                                                                      \
    X(tcp_window_replaced)                                                                         \
    X(tcp_window_acked)                                                                            \
    X(tcp_window_discarded)                                                                        \
    X(tcp_overlap_new_kept)                                                                        \
    X(defrag_fragments)                                                                            \
    X(defrag_reassembled)                                                                          \
    X(defrag_timeouts)                                                                             \
    X(defrag_memcap)                                                                               \
    X(defrag_dropped)                                                                              \
    X(flows_created)                                                                               \
    X(flow_table_grown)                                                                            \
    X(lock_output_waits)                                                                           \
    X(lock_output_wait_us)                                                                         \
    X(lock_story_waits)                                                                            \
    X(lock_story_wait_us)                                                                          \
    X(lock_epm_waits)                                                                              \
    X(lock_epm_wait_us)                                                                            \
    X(order_waits)                                                                                 \
    X(order_wait_us)                                                                               \
    X(flows_timed_out)                                                                             \
    X(flows_evicted)                                                                               \
    X(flows_closed)                                                                                \
    X(flows_flushed)                                                                               \
    X(flows_memcap)                                                                                \
    X(tcp_segments)                                                                                \
    X(tcp_midstream)                                                                               \
    X(tcp_retransmissions)                                                                         \
    X(tcp_overlaps)                                                                                \
    X(tcp_out_of_order)                                                                            \
    X(tcp_gaps)                                                                                    \
    X(tcp_gap_bytes)                                                                               \
    X(tcp_ooo_memcap)                                                                              \
    X(app_dcerpc_flows)                                                                            \
    X(app_smb_flows)                                                                               \
    X(app_ignored_flows)                                                                           \
    X(dce_pdus)                                                                                    \
    X(dce_resyncs)                                                                                 \
    X(dce_calls)                                                                                   \
    X(dce_binds)                                                                                   \
    X(dce_unreplied)                                                                               \
    X(dce_sealed)                                                                                  \
    X(dce_decrypted)                                                                               \
    X(dce_decrypt_failed)                                                                          \
    X(smb_decrypted)                                                                               \
    X(smb_decrypt_failed)                                                                          \
    X(smb_closed_fid)                                                                              \
    X(smb_trans_reassembled)                                                                       \
    X(smb_write_refused)                                                                           \
    X(smb_write_unanswered)                                                                        \
    X(smb_files)                                                                                   \
    X(smb_files_evicted)                                                                           \
    X(smb_tool_pipes)                                                                              \
    X(dce_memcap)                                                                                  \
    X(calls_read)                                                                                  \
    X(calls_create)                                                                                \
    X(calls_modify)                                                                                \
    X(calls_delete)                                                                                \
    X(calls_execute)                                                                               \
    X(calls_other)                                                                                 \
    X(target_calls)                                                                                \
    X(target_read)                                                                                 \
    X(target_create)                                                                               \
    X(target_modify)                                                                               \
    X(target_delete)                                                                               \
    X(target_execute)                                                                              \
    X(alerts)                                                                                      \
    X(alerts_sev1)                                                                                 \
    X(alerts_sev2)                                                                                 \
    X(alerts_sev3)                                                                                 \
    X(stories)                                                                                     \
    X(stories_evicted)                                                                             \
    X(epm_learned)                                                                                 \
    X(epm_evicted)                                                                                 \
    X(epm_named)                                                                                   \
    X(appid_flows)                                                                                 \
    X(appid_decided)                                                                               \
    X(appid_handoffs)                                                                              \
    X(appid_no_memory)                                                                             \
    X(rule_reloads)                                                                                \
    X(rule_reloads_failed)                                                                         \
    X(anomalies)                                                                                   \
    X(pcap_log_packets)                                                                            \
    X(pcap_log_flows)                                                                              \
    X(pcap_log_dropped)                                                                            \
    X(pcap_log_unheld)                                                                             \
    X(pcap_log_memcap)                                                                             \
    X(pcap_log_evicted)                                                                            \
    X(pcap_log_defragged)                                                                          \
    X(pcap_log_write_errors)                                                                       \
    X(pcap_log_files)                                                                              \
    X(events_written)                                                                              \
    X(events_dropped)

struct stats {
#define X(name) uint64_t name;
    STATS_COUNTERS(X)
#undef X
};

/* Calls fn(name, value, ctx) for every counter in declaration order. */
void stats_foreach(const struct stats *s, void (*fn)(const char *name, uint64_t v, void *ctx),
                   void *ctx);
void stats_add(struct stats *into, const struct stats *from);

#endif
