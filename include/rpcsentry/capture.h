/*
 * capture: packets in. pcap/pcapng files (and directories of them) through
 * libpcap, one packet at a time to the decode stage.
 */
#ifndef RPCSENTRY_CAPTURE_H
#define RPCSENTRY_CAPTURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/decode.h"

struct worker;

/*
 * A reader's look-ahead: each frame is decoded as it is pushed and handed on
 * AHEAD_DEPTH frames later; meanwhile its flow's hash bucket, the record the
 * bucket points to (and the next of its chain while that one is another flow's),
 * the flow's transport state and its SMB or DCE/RPC
 * engine's state are fetched into the cache, one step a frame
 * (decode_prefetch), so the stages do not wait for memory (with thousands of
 * flows at once their state does not stay in the cache: those misses were a
 * quarter of a run on RPC-heavy traffic). The worker's packet count and clock
 * follow the frame being handed on, and the capture-order gate (the worker's
 * order_at) its place. A reader drains it before the frames' memory goes, and
 * keeps the memory of the frames it holds (see read_mapped).
 */
#define AHEAD_DEPTH 5
struct ahead {
    struct packet_ahead a[AHEAD_DEPTH + 1];
    unsigned head, n;
};
/* p: the capture's fields (data, caplen, wirelen, ts_us, linktype, pcap_cnt, order_seq,
 * clock_us, answers_seq). */
void ahead_push(struct worker *w, struct ahead *ah, const struct packet *p);
void ahead_drain(struct worker *w, struct ahead *ah);

enum capture_status {
    CAPTURE_OK,
    CAPTURE_TRUNCATED,   /* read what was there; the file ended mid-record */
    CAPTURE_NOT_CAPTURE, /* not a pcap/pcapng file */
    CAPTURE_ERROR,       /* missing, unreadable or corrupt */
    CAPTURE_BAD_FILTER,  /* the BPF expression does not compile: nothing can be read */
};

struct capture_result {
    enum capture_status status;
    uint64_t packets;
    uint64_t bytes;
    char message[512]; /* what went wrong, for the operator */
};

/*
 * Reads one capture file ("-" = standard input) through w, with an optional
 * BPF filter. Stops early when *stop becomes true (signals). The flows stay:
 * the caller ends them (flow_flush_all) where the capture ends them; with
 * several workers (w->dispatch) each worker ends its own at the file's end.
 */
void capture_file(struct worker *w, const char *path, const char *bpf, volatile const bool *stop,
                  struct capture_result *res);

/* One capture to read, and whether it was found in a directory (then a file
 * that is not a capture is skipped rather than an error). */
/* How far into the capture being read capture_file is (bytes), for a progress line. */
extern _Atomic unsigned long long capture_progress_pos;

struct capture_input {
    char *path;
    bool from_dir;
};

/*
 * Expands the -r arguments: files stay, directories become their regular
 * files in name order. Returns an array ended by a NULL path, to free with
 * capture_free_list, or NULL with err set when an argument does not exist.
 */
struct capture_input *capture_expand(const char *const *args, size_t n, char *err, size_t errlen);
void capture_free_list(struct capture_input *list);

/* ---- live capture ---- */

struct live_opts {
    const char *iface;
    int snaplen;   /* bytes kept of each frame */
    int buffer_mb; /* kernel ring buffer, MiB */
    bool promisc;
    bool immediate;   /* hand packets over at once rather than in batches */
    const char *bpf;  /* filter expression, or NULL */
    int fanout_group; /* PACKET_FANOUT group id when several workers share the interface */
    int workers;
    volatile const bool *stop; /* an interface that is down at start is waited for until set */
};

struct live_source;

/*
 * Opens iface for one worker (joining the fanout group when opts->workers > 1).
 * An interface that is down is waited for (said once on stderr), until it comes
 * up or *opts->stop is set.
 */
struct live_source *live_open(const struct live_opts *opts, char *err, size_t errlen);

/*
 * Reads packets into w until *stop is set, waking at least every 100 ms to
 * call the worker's tick (timeouts, reload) even when the link is quiet. A link
 * that goes down is waited for on the same socket (the kernel binds it to the
 * interface again when it comes up): flows, calls and tables are kept; each
 * outage is said on stderr and counted (capture_link_down).
 * Returns false, with err, when the capture fails (interface removed).
 */
bool live_run(struct worker *w, struct live_source *s, volatile const bool *stop, char *err,
              size_t errlen);

/* The kernel's counters for this socket: packets received, dropped for lack of room, by the NIC. */
void live_counters(struct live_source *s, uint64_t *received, uint64_t *dropped,
                   uint64_t *if_dropped);

void live_close(struct live_source *s);

/* ---- AF_XDP capture ---- */

#define XDP_DEFAULT_FRAMES 16384 /* UMEM frames per queue when --xdp-frames is not given */

struct xdp_opts {
    const char *iface;
    bool native;      /* driver mode; otherwise generic (skb) mode, which works anywhere */
    bool pass_others; /* what the sensor does not want goes on to the kernel (else: dropped) */
    uint32_t frames;  /* UMEM frames per queue (4 KiB each); 0: XDP_DEFAULT_FRAMES */
    uint16_t dyn_lo, dyn_hi; /* the dynamic RPC port range the XDP program passes */
    int queues;              /* receive queues to read; 0 = all */
};

struct xdp_iface;
struct xdp_source;

bool xdp_available(void);
/* Attaches our XDP program (replacing a stale one of ours); NULL with err. */
struct xdp_iface *xdp_attach(const struct xdp_opts *opts, char *err, size_t errlen);
int xdp_queues(const struct xdp_iface *x);
/* The endpoint mapper announced a port: the XDP program lets it through from now on. */
void xdp_learn_port(struct xdp_iface *x, uint16_t port);
void xdp_detach(struct xdp_iface *x);
/* Before dropping root: a process that keeps it to take the program off when the sensor goes. */
bool xdp_spawn_guard(struct xdp_iface *x);
/* One AF_XDP socket on a receive queue; zero-copy if the driver allows, else copy mode. */
struct xdp_source *xdp_open_queue(struct xdp_iface *x, int queue, char *err, size_t errlen);
bool xdp_run(struct worker *w, struct xdp_source *s, volatile const bool *stop, char *err,
             size_t errlen);
bool xdp_zero_copy(const struct xdp_source *s);
void xdp_close_queue(struct xdp_source *s);

#endif
