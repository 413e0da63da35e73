/*
 * AF_XDP capture: our XDP program (src/capture/bpf, embedded in the binary)
 * attached through libxdp, one AF_XDP socket per receive queue, each read by
 * its own worker. The NIC's RSS spreads flows over queues; for both
 * directions of a flow to reach the same queue the RSS hash key must be
 * symmetric (README: ethtool -X ... hkey). Zero-copy where the driver
 * allows, copy mode otherwise; native or generic (skb) attach.
 */
#include "rpcsentry/build_config.h"

#if RS_HAVE_XDP

#include <errno.h>
#include <linux/ethtool.h>
#include <linux/if_link.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include <xdp/xsk.h>

#include "rpcsentry/capture.h"
#include "rpcsentry/decode.h"
#include "rpcsentry/worker.h"
#include "rpcsentry_xdp.h"

#define PROG_NAME "rpcsentry_xdp"
#define WAKE_MS 100
#define BATCH 64

extern const unsigned char rs_xdp_obj[];
extern const size_t rs_xdp_obj_len;

struct xdp_iface {
    char name[IF_NAMESIZE];
    int ifindex;
    enum xdp_attach_mode mode;
    struct xdp_program *prog;
    struct bpf_object *obj; /* ours: a program made from an object does not close it */
    int xsks_fd, ports_fd, cfg_fd, counters_fd;
    struct xdp_opts opts;
};

struct xdp_source {
    struct xdp_iface *ifc;
    int queue;
    void *area;
    size_t area_len;
    struct xsk_umem *umem;
    struct xsk_socket *xsk;
    struct xsk_ring_prod fill;
    struct xsk_ring_cons comp, rx;
    uint64_t received;
    bool zero_copy;
};

/* libbpf's and libxdp's chatter goes through our log at debug level. */
static int quiet_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    (void)level, (void)fmt, (void)ap;
    return 0;
}

static int quiet_xdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
    (void)level, (void)fmt, (void)ap;
    return 0;
}

static void set_err(char *err, size_t errlen, const char *what, int e)
{
    char msg[128];
    libxdp_strerror(e, msg, sizeof msg);
    snprintf(err, errlen, "%s: %s", what, msg[0] ? msg : strerror(-e));
}

/* Our program from an earlier run killed before it detached: taken off first. */
static void remove_stale(int ifindex)
{
    struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
    if (!mp || libxdp_get_error(mp))
        return;
    enum xdp_attach_mode mode = xdp_multiprog__attach_mode(mp);
    if (xdp_multiprog__is_legacy(mp)) {
        struct xdp_program *p = xdp_multiprog__main_prog(mp);
        if (p && strcmp(xdp_program__name(p), PROG_NAME) == 0) {
            fprintf(stderr, "rpcsentry: removing a stale XDP program from an earlier run\n");
            xdp_multiprog__detach(mp);
        }
    } else {
        for (struct xdp_program *p = xdp_multiprog__next_prog(NULL, mp); p;
             p = xdp_multiprog__next_prog(p, mp))
            if (strcmp(xdp_program__name(p), PROG_NAME) == 0) {
                fprintf(stderr, "rpcsentry: removing a stale XDP program from an earlier run\n");
                xdp_program__detach(p, ifindex, mode, 0);
            }
    }
    xdp_multiprog__close(mp);
}

static int queue_count(const char *name)
{
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return 1;
    struct ethtool_channels ch = {.cmd = ETHTOOL_GCHANNELS};
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", name);
    ifr.ifr_data = (void *)&ch;
    int n = 1;
    if (ioctl(fd, SIOCETHTOOL, &ifr) == 0) {
        unsigned q = ch.combined_count > ch.rx_count ? ch.combined_count : ch.rx_count;
        if (q > 0)
            n = (int)q;
    }
    close(fd);
    return n > RS_XDP_MAX_QUEUES ? RS_XDP_MAX_QUEUES : n;
}

struct xdp_iface *xdp_attach(const struct xdp_opts *o, char *err, size_t errlen)
{
    libbpf_set_print(quiet_print);
    libxdp_set_print(quiet_xdp_print);
    struct xdp_iface *x = calloc(1, sizeof *x);
    if (!x) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    x->opts = *o;
    snprintf(x->name, sizeof x->name, "%s", o->iface);
    x->ifindex = (int)if_nametoindex(o->iface);
    if (!x->ifindex) {
        snprintf(err, errlen, "%s: %s", o->iface, strerror(errno));
        free(x);
        return NULL;
    }
    x->mode = o->native ? XDP_MODE_NATIVE : XDP_MODE_SKB;
    remove_stale(x->ifindex);
    LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = PROG_NAME);
    struct bpf_object *obj = bpf_object__open_mem(rs_xdp_obj, rs_xdp_obj_len, &oo);
    if (libbpf_get_error(obj)) {
        set_err(err, errlen, "XDP program", (int)libbpf_get_error(obj));
        free(x);
        return NULL;
    }
    x->prog = xdp_program__from_bpf_obj(obj, "xdp");
    int e = (int)libxdp_get_error(x->prog);
    if (e) {
        set_err(err, errlen, "XDP program", e);
        bpf_object__close(obj);
        free(x);
        return NULL;
    }
    e = xdp_program__attach(x->prog, x->ifindex, x->mode, 0);
    if (e) {
        char what[64];
        snprintf(what, sizeof what, "%s: attaching XDP (%s mode)", o->iface,
                 o->native ? "native" : "generic");
        set_err(err, errlen, what, e);
        xdp_program__close(x->prog);
        bpf_object__close(obj);
        free(x);
        return NULL;
    }
    x->obj = obj;
    x->xsks_fd = bpf_object__find_map_fd_by_name(obj, "xsks");
    x->ports_fd = bpf_object__find_map_fd_by_name(obj, "rpc_ports");
    x->cfg_fd = bpf_object__find_map_fd_by_name(obj, "cfg");
    x->counters_fd = bpf_object__find_map_fd_by_name(obj, "counters");
    struct rs_xdp_cfg c = {.dyn_lo = o->dyn_lo, .dyn_hi = o->dyn_hi, .pass_others = o->pass_others};
    uint32_t zero = 0;
    if (x->xsks_fd < 0 || x->ports_fd < 0 || x->cfg_fd < 0 ||
        bpf_map_update_elem(x->cfg_fd, &zero, &c, BPF_ANY) != 0) {
        snprintf(err, errlen, "XDP program: its maps are not there");
        xdp_detach(x);
        return NULL;
    }
    return x;
}

int xdp_queues(const struct xdp_iface *x)
{
    return x->opts.queues > 0 ? x->opts.queues : queue_count(x->name);
}

void xdp_learn_port(struct xdp_iface *x, uint16_t port)
{
    uint8_t one = 1;
    if (x && x->ports_fd >= 0)
        bpf_map_update_elem(x->ports_fd, &port, &one, BPF_ANY);
}

/*
 * Once the sensor drops root it can no longer take its program off the
 * interface. A small process forked before the drop keeps root for that one
 * job: it waits for the sensor to go (its end of a pipe closes, whatever the
 * way out, SIGKILL included) and then removes our program.
 */
bool xdp_spawn_guard(struct xdp_iface *x)
{
    int fds[2];
    if (pipe(fds) != 0)
        return false;
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        /* the guard: nothing but the pipe */
        for (int fd = 0; fd < 1024; fd++)
            if (fd != fds[0] && fd != 2)
                close(fd);
        signal(SIGINT, SIG_IGN);
        signal(SIGTERM, SIG_IGN);
        signal(SIGHUP, SIG_IGN);
        char b;
        while (read(fds[0], &b, 1) > 0 || errno == EINTR)
            ;
        remove_stale(x->ifindex);
        _exit(0);
    }
    close(fds[0]);
    /* the write end stays open in the sensor, unwritten, until it exits */
    return true;
}

void xdp_detach(struct xdp_iface *x)
{
    if (!x)
        return;
    if (x->prog) {
        xdp_program__detach(x->prog, x->ifindex, x->mode, 0);
        xdp_program__close(x->prog);
    }
    if (x->obj)
        bpf_object__close(x->obj);
    free(x);
}

struct xdp_source *xdp_open_queue(struct xdp_iface *x, int queue, char *err, size_t errlen)
{
    struct xdp_source *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->ifc = x;
    s->queue = queue;
    /* 16,384 frames of 4 KiB, 64 MiB: as deep as libpcap's default ring (--buffer-size 64).
       Half are the receive ring: 8,192 packets, 30 ms at 280 kpkt/s. With 4,096 (2,048 in the
       ring, 9 ms) bench/live.py saw drops at 400 Mbit/s on a veth in 2 runs of 3, at 100 in
       one of 3, where libpcap held every rate: a worker that the scheduler holds off for a
       few ms (two cores shared with the sender) overflows a ring that short */
    uint32_t frames = x->opts.frames ? x->opts.frames : XDP_DEFAULT_FRAMES;
    uint32_t fsize = XSK_UMEM__DEFAULT_FRAME_SIZE;
    s->area_len = (size_t)frames * fsize;
    s->area = mmap(NULL, s->area_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (s->area == MAP_FAILED) {
        snprintf(err, errlen, "UMEM of %zu bytes: %s", s->area_len, strerror(errno));
        free(s);
        return NULL;
    }
    struct xsk_umem_config uc = {.fill_size = frames / 2,
                                 .comp_size = 64,
                                 .frame_size = fsize,
                                 .frame_headroom = 0,
                                 .flags = 0};
    int e = xsk_umem__create(&s->umem, s->area, s->area_len, &s->fill, &s->comp, &uc);
    if (e) {
        set_err(err, errlen, "UMEM", e);
        xdp_close_queue(s);
        return NULL;
    }
    struct xsk_socket_config sc = {
        .rx_size = frames / 2,
        .tx_size = 0,
        .libxdp_flags = XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD, /* our program is loaded */
        .xdp_flags = x->mode == XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE,
        .bind_flags = XDP_USE_NEED_WAKEUP | XDP_ZEROCOPY,
    };
    e = xsk_socket__create(&s->xsk, x->name, (uint32_t)queue, s->umem, &s->rx, NULL, &sc);
    if (e) {
        /* no zero-copy here (generic mode, or the driver): copy mode */
        sc.bind_flags = XDP_USE_NEED_WAKEUP | XDP_COPY;
        e = xsk_socket__create(&s->xsk, x->name, (uint32_t)queue, s->umem, &s->rx, NULL, &sc);
    } else {
        s->zero_copy = true;
    }
    if (e) {
        char what[64];
        snprintf(what, sizeof what, "%s queue %d: AF_XDP socket", x->name, queue);
        set_err(err, errlen, what, e);
        xdp_close_queue(s);
        return NULL;
    }
    e = xsk_socket__update_xskmap(s->xsk, x->xsks_fd);
    if (e) {
        set_err(err, errlen, "AF_XDP socket into the XDP map", e);
        xdp_close_queue(s);
        return NULL;
    }
    /* every frame the fill ring holds goes to the kernel to receive into */
    uint32_t idx = 0, n = xsk_ring_prod__reserve(&s->fill, uc.fill_size, &idx);
    for (uint32_t i = 0; i < n; i++)
        *xsk_ring_prod__fill_addr(&s->fill, idx + i) = (uint64_t)i * fsize;
    xsk_ring_prod__submit(&s->fill, n);
    return s;
}

static void refresh(struct worker *w, struct xdp_source *s)
{
    struct xdp_statistics st;
    socklen_t len = sizeof st;
    if (getsockopt(xsk_socket__fd(s->xsk), SOL_XDP, XDP_STATISTICS, &st, &len) == 0) {
        w->kernel_dropped = st.rx_dropped + st.rx_ring_full;
        w->kernel_if_dropped = st.rx_fill_ring_empty_descs;
    }
    w->kernel_received = s->received + w->kernel_dropped;
}

bool xdp_run(struct worker *w, struct xdp_source *s, volatile const bool *stop, char *err,
             size_t errlen)
{
    w->linktype = 1; /* Ethernet */
    w->pcap_filename = NULL;
    struct pollfd pfd = {.fd = xsk_socket__fd(s->xsk), .events = POLLIN};
    uint64_t last_tick = 0;
    while (!*stop) {
        int ready = poll(&pfd, 1, WAKE_MS);
        if (ready < 0 && errno != EINTR) {
            snprintf(err, errlen, "AF_XDP: poll: %s", strerror(errno));
            return false;
        }
        struct timeval tv;
        gettimeofday(&tv, NULL);
        uint64_t now = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
        uint32_t idx = 0, n = xsk_ring_cons__peek(&s->rx, BATCH, &idx);
        if (n) {
            uint32_t fidx = 0;
            /* the fill ring takes the frames back once handled */
            while (xsk_ring_prod__reserve(&s->fill, n, &fidx) != n)
                if (*stop)
                    return true;
            for (uint32_t i = 0; i < n; i++) {
                const struct xdp_desc *d = xsk_ring_cons__rx_desc(&s->rx, idx + i);
                struct packet pk;
                pk.data = xsk_umem__get_data(s->area, d->addr);
                pk.caplen = d->len;
                pk.wirelen = d->len;
                pk.ts_us = now; /* AF_XDP gives no timestamp: the batch's arrival */
                pk.linktype = 1;
                pk.pcap_cnt = ++w->pcap_cnt;
                if (pk.ts_us > w->now_us)
                    w->now_us = pk.ts_us;
                decode_packet(w, &pk);
                *xsk_ring_prod__fill_addr(&s->fill, fidx + i) = xsk_umem__extract_addr(d->addr);
            }
            s->received += n;
            xsk_ring_prod__submit(&s->fill, n);
            xsk_ring_cons__release(&s->rx, n);
        }
        if (xsk_ring_prod__needs_wakeup(&s->fill))
            recvfrom(xsk_socket__fd(s->xsk), NULL, 0, MSG_DONTWAIT, NULL, NULL);
        if (now >= last_tick + WAKE_MS * 1000) {
            refresh(w, s);
            if (w->tick)
                w->tick(w, now);
            last_tick = now;
        }
    }
    refresh(w, s);
    return true;
}

bool xdp_zero_copy(const struct xdp_source *s)
{
    return s->zero_copy;
}

void xdp_close_queue(struct xdp_source *s)
{
    if (!s)
        return;
    if (s->xsk)
        xsk_socket__delete(s->xsk);
    if (s->umem)
        xsk_umem__delete(s->umem);
    if (s->area && s->area != MAP_FAILED)
        munmap(s->area, s->area_len);
    free(s);
}

bool xdp_available(void)
{
    return true;
}

#else /* built without libxdp/libbpf */

#include <stdio.h>

#include "rpcsentry/capture.h"

bool xdp_available(void)
{
    return false;
}

struct xdp_iface *xdp_attach(const struct xdp_opts *o, char *err, size_t errlen)
{
    (void)o;
    snprintf(err, errlen, "this build has no AF_XDP (libxdp-dev and libbpf-dev were not found)");
    return NULL;
}
int xdp_queues(const struct xdp_iface *x)
{
    (void)x;
    return 0;
}
void xdp_learn_port(struct xdp_iface *x, uint16_t port)
{
    (void)x, (void)port;
}
bool xdp_spawn_guard(struct xdp_iface *x)
{
    (void)x;
    return false;
}
void xdp_detach(struct xdp_iface *x)
{
    (void)x;
}
struct xdp_source *xdp_open_queue(struct xdp_iface *x, int queue, char *err, size_t errlen)
{
    (void)x, (void)queue, (void)err, (void)errlen;
    return NULL;
}
bool xdp_run(struct worker *w, struct xdp_source *s, volatile const bool *stop, char *err,
             size_t errlen)
{
    (void)w, (void)s, (void)stop, (void)err, (void)errlen;
    return false;
}
bool xdp_zero_copy(const struct xdp_source *s)
{
    (void)s;
    return false;
}
void xdp_close_queue(struct xdp_source *s)
{
    (void)s;
}

#endif
