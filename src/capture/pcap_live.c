/*
 * Live capture with libpcap: one handle per worker on the same interface,
 * joined in a PACKET_FANOUT group with the symmetric flow hash so that both
 * directions of a connection reach the same worker. Packets come in batches
 * (or at once, immediate mode); the loop wakes every 100 ms regardless, so
 * that timeouts and reloads happen on a quiet link too.
 */
#include <errno.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "rpcsentry/capture.h"
#include "rpcsentry/decode.h"
#include "rpcsentry/log.h"
#include "rpcsentry/worker.h"

#define WAKE_MS 100

struct live_source {
    pcap_t *p;
    int link;
    char iface[IFNAMSIZ];
    bool down; /* the link went down: waiting for it */
    uint64_t down_since_us;
    uint64_t received, dropped, if_dropped; /* last pcap_stats, as 64-bit totals */
    unsigned last_recv, last_drop, last_ifdrop;
};

static bool fail(pcap_t *p, char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s: %s", what, p ? pcap_geterr(p) : "");
    return false;
}

/* A handle on o->iface with o's settings, activated (*rc: pcap_activate's); NULL and err. */
static pcap_t *activated(const struct live_opts *o, int *rc, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    pcap_t *p = pcap_create(o->iface, perr);
    if (!p) {
        snprintf(err, errlen, "%s: %s", o->iface, perr);
        return NULL;
    }
    pcap_set_snaplen(p, o->snaplen > 0 ? o->snaplen : 65535);
    pcap_set_promisc(p, o->promisc);
    pcap_set_timeout(p, WAKE_MS);
    pcap_set_immediate_mode(p, o->immediate);
    if (o->buffer_mb > 0)
        pcap_set_buffer_size(p, o->buffer_mb << 20);
    *rc = pcap_activate(p);
    return p;
}

struct live_source *live_open(const struct live_opts *o, char *err, size_t errlen)
{
    char perr[PCAP_ERRBUF_SIZE] = "";
    int rc;
    pcap_t *p = activated(o, &rc, err, errlen);
    if (!p)
        return NULL;
    for (bool told = false; rc == PCAP_ERROR_IFACE_NOT_UP && !(o->stop && *o->stop);) {
        /* a link that is down now may come up: wait, as Suricata does */
        if (!told)
            log_warn("%s is down: waiting for it to come up", o->iface);
        told = true;
        struct timespec ts = {0, 200 * 1000000};
        nanosleep(&ts, NULL);
        pcap_close(p);
        if (!(p = activated(o, &rc, err, errlen)))
            return NULL;
        if (rc >= 0)
            log_notice("%s is up: capturing", o->iface);
    }
    if (rc < 0) {
        snprintf(err, errlen, "%s: %s", o->iface,
                 rc == PCAP_ERROR ? pcap_geterr(p) : pcap_statustostr(rc));
        pcap_close(p);
        return NULL;
    }
    if (rc > 0) /* a warning: say it, go on */
        fprintf(stderr, "rpcsentry: warning: %s: %s\n", o->iface, pcap_statustostr(rc));
    if (o->bpf && *o->bpf) {
        struct bpf_program prog;
        if (pcap_compile(p, &prog, o->bpf, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(p, &prog) != 0) {
            fail(p, err, errlen, "BPF filter");
            pcap_close(p);
            return NULL;
        }
        pcap_freecode(&prog);
    }
    if (o->workers > 1) {
        /* PACKET_FANOUT_HASH hashes the flow symmetrically: both directions, one worker */
        unsigned val = ((unsigned)o->fanout_group & 0xffffu) |
                       ((unsigned)(PACKET_FANOUT_HASH | PACKET_FANOUT_FLAG_DEFRAG) << 16);
        if (setsockopt(pcap_fileno(p), SOL_PACKET, PACKET_FANOUT, &val, sizeof val) != 0) {
            snprintf(err, errlen, "%s: PACKET_FANOUT: %s", o->iface, strerror(errno));
            pcap_close(p);
            return NULL;
        }
    }
    /* our own poll with a timeout: libpcap's blocking read can wait forever on a quiet link */
    if (pcap_setnonblock(p, 1, perr) != 0) {
        snprintf(err, errlen, "%s: non-blocking mode: %s", o->iface, perr);
        pcap_close(p);
        return NULL;
    }
    struct live_source *s = calloc(1, sizeof *s);
    if (!s) {
        pcap_close(p);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->p = p;
    s->link = pcap_datalink(p);
    snprintf(s->iface, sizeof s->iface, "%s", o->iface);
    return s;
}

static void on_packet(u_char *user, const struct pcap_pkthdr *h, const u_char *data)
{
    struct worker *w = (struct worker *)user;
    struct packet pk;
    pk.data = data;
    pk.caplen = h->caplen;
    pk.wirelen = h->len;
    pk.ts_us = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
    pk.linktype = w->linktype;
    pk.pcap_cnt = ++w->pcap_cnt;
    if (pk.ts_us > w->now_us)
        w->now_us = pk.ts_us;
    decode_packet(w, &pk);
}

static void refresh_counters(struct live_source *s)
{
    struct pcap_stat st;
    if (pcap_stats(s->p, &st) != 0)
        return;
    /* the kernel's counters are 32-bit and wrap: add what moved since last time */
    s->received += (unsigned)(st.ps_recv - s->last_recv);
    s->dropped += (unsigned)(st.ps_drop - s->last_drop);
    s->if_dropped += (unsigned)(st.ps_ifdrop - s->last_ifdrop);
    s->last_recv = st.ps_recv;
    s->last_drop = st.ps_drop;
    s->last_ifdrop = st.ps_ifdrop;
}

static uint64_t wall_now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

static bool link_is_up(const struct live_source *s, int fd)
{
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    snprintf(ifr.ifr_name, sizeof ifr.ifr_name, "%s", s->iface);
    return ioctl(fd, SIOCGIFFLAGS, &ifr) == 0 && (ifr.ifr_flags & IFF_UP) &&
           (ifr.ifr_flags & IFF_RUNNING);
}

static void link_back(struct live_source *s)
{
    log_notice("capture on %s: the link is up again after %.1f s; going on with the flows "
               "and calls in flight",
               s->iface, (double)(wall_now_us() - s->down_since_us) / 1e6);
    s->down = false;
}

/*
 * The socket reported an error: a link that went down (ENETDOWN) is waited
 * for on the same socket; anything else (the interface removed) ends capture.
 */
static bool link_error(struct worker *w, struct live_source *s, int fd, char *err, size_t errlen)
{
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0)
        e = errno;
    if (e == ENETDOWN || (e == 0 && !link_is_up(s, fd) && if_nametoindex(s->iface))) {
        if (!s->down) {
            log_warn("capture on %s: the link went down; waiting for it (flows, calls and "
                     "the endpoint-mapper table are kept)",
                     s->iface);
            w->stats.capture_link_down++;
            s->down = true;
            s->down_since_us = wall_now_us();
        }
        struct timespec ts = {0, WAKE_MS * 1000000};
        nanosleep(&ts, NULL); /* the error is read; poll no longer wakes for it */
        return true;
    }
    snprintf(err, errlen, "capture on %s: %s", s->iface,
             e ? strerror(e) : "the interface went away");
    return false;
}

bool live_run(struct worker *w, struct live_source *s, volatile const bool *stop, char *err,
              size_t errlen)
{
    w->linktype = s->link;
    w->pcap_filename = NULL;
    uint64_t last_tick = 0;
    struct pollfd pfd = {.fd = pcap_get_selectable_fd(s->p), .events = POLLIN};
    while (!*stop) {
        int ready = poll(&pfd, 1, WAKE_MS);
        if (ready < 0 && errno != EINTR) {
            snprintf(err, errlen, "capture: poll: %s", strerror(errno));
            return false;
        }
        int n = 0;
        if (ready > 0 && (pfd.revents & (POLLERR | POLLNVAL))) {
            if (!link_error(w, s, pfd.fd, err, errlen))
                return false;
            continue;
        }
        if (ready > 0) {
            n = pcap_dispatch(s->p, 512, on_packet, (u_char *)w);
            if (n > 0 && s->down)
                link_back(s);
        }
        if (n == PCAP_ERROR)
            return fail(s->p, err, errlen, "capture");
        if (n == PCAP_ERROR_BREAK)
            break;
        struct timeval tv;
        gettimeofday(&tv, NULL);
        uint64_t now = (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
        if (now >= last_tick + WAKE_MS * 1000) {
            if (s->down && link_is_up(s, pfd.fd))
                link_back(s);
            refresh_counters(s);
            w->kernel_received = s->received;
            w->kernel_dropped = s->dropped;
            w->kernel_if_dropped = s->if_dropped;
            if (w->tick)
                w->tick(w, now);
            last_tick = now;
        }
    }
    refresh_counters(s);
    w->kernel_received = s->received;
    w->kernel_dropped = s->dropped;
    w->kernel_if_dropped = s->if_dropped;
    return true;
}

void live_counters(struct live_source *s, uint64_t *received, uint64_t *dropped,
                   uint64_t *if_dropped)
{
    refresh_counters(s);
    *received = s->received;
    *dropped = s->dropped;
    *if_dropped = s->if_dropped;
}

void live_close(struct live_source *s)
{
    if (!s)
        return;
    pcap_close(s->p);
    free(s);
}
