#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rpcsentry/capture.h"
#include "rpcsentry/decode.h"
#include "rpcsentry/runtime.h"
#include "rpcsentry/worker.h"

_Atomic unsigned long long capture_progress_pos;

static bool looks_not_capture(const char *msg)
{
    return strstr(msg, "unknown file format") || strstr(msg, "bad dump file format") ||
           strstr(msg, "file is empty") || strstr(msg, "truncated dump file; tried to read 4");
}

/* A frame's capture fields, the only ones decode and the look-ahead read before decoding
   (an initializer would zero the whole 200-byte packet at each frame). */
static inline void captured(struct packet *p, const uint8_t *data, uint32_t caplen, uint32_t len,
                            uint64_t ts_us, int link, uint64_t pcap_cnt)
{
    p->data = data;
    p->caplen = caplen;
    p->wirelen = len;
    p->ts_us = ts_us;
    p->linktype = link;
    p->pcap_cnt = pcap_cnt;
    p->order_seq = p->clock_us = p->answers_seq = 0;
}

/* One frame of a capture, to the dispatcher or straight down the pipeline. */
static inline void frame(struct worker *w, struct capture_result *res, const uint8_t *data,
                         uint32_t caplen, uint32_t len, uint64_t ts_us, int link, bool stays)
{
    res->packets++;
    res->bytes += len;
    if (w->dispatch) {
        /* several workers: this thread only reads and hands over */
        dispatch_packet(w->dispatch, data, caplen, len, ts_us, link, ++w->pcap_cnt, stays);
        return;
    }
    struct packet p;
    captured(&p, data, caplen, len, ts_us, link, ++w->pcap_cnt);
    w->now_us = ts_us;
    decode_packet(w, &p);
}

/* The next frame of a mapped file, straight down the pipeline through the look-ahead. */
static inline void frame_ahead(struct worker *w, struct capture_result *res, struct ahead *ah,
                               const uint8_t *data, uint32_t caplen, uint32_t len, uint64_t ts_us,
                               int link)
{
    res->packets++;
    res->bytes += len;
    /* the file's frames handed on, counted from 1, as frame() counts them */
    struct packet p;
    captured(&p, data, caplen, len, ts_us, link, res->packets);
    ahead_push(w, ah, &p);
}

static inline uint32_t u32_of(const uint8_t *b, bool swap)
{
    uint32_t v;
    memcpy(&v, b, 4);
    return swap ? __builtin_bswap32(v) : v;
}

#define MAX_CAPLEN 262144 /* libpcap's bound on a record: above it the file is corrupt */
#define RELEASE_STEP ((size_t)4 << 20) /* mapped bytes read past before they are let go */
#define PREFETCH_AHEAD ((size_t)8 << 10)

/*
 * A file that another process truncates while it is mapped raises SIGBUS
 * where the pages are gone. The handler puts zeroed pages over the mapping
 * from the faulting page to its end, notes it, and lets the read go on: the
 * reader sees the note at the next record and ends the file as truncated,
 * with its own message, as libpcap would end it at a short read. Faults
 * elsewhere go to the handler that was there before (or kill as always).
 * Files are mapped one at a time, by the reading thread; workers may fault
 * on frames they were handed, hence one shared note.
 */
static struct {
    _Atomic(const uint8_t *) base;
    _Atomic size_t size;
    volatile sig_atomic_t shrank;
} reading;
static struct sigaction sigbus_before;
static size_t page_size;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    const uint8_t *b = atomic_load(&reading.base);
    size_t n = atomic_load(&reading.size);
    uintptr_t at = (uintptr_t)si->si_addr;
    if (b && at >= (uintptr_t)b && at < (uintptr_t)b + n) {
        uintptr_t from = at & ~(uintptr_t)(page_size - 1);
        uintptr_t to = ((uintptr_t)b + n + page_size - 1) & ~(uintptr_t)(page_size - 1);
        if (mmap((void *)from, to - from, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1,
                 0) != MAP_FAILED) {
            reading.shrank = 1;
            return; /* the load is made again, and reads zeros */
        }
    }
    if (sigbus_before.sa_flags & SA_SIGINFO) {
        sigbus_before.sa_sigaction(sig, si, uc);
        return;
    }
    if (sigbus_before.sa_handler != SIG_DFL && sigbus_before.sa_handler != SIG_IGN) {
        sigbus_before.sa_handler(sig);
        return;
    }
    /* as if there were no handler: the fault comes again and ends the process */
    signal(SIGBUS, SIG_DFL);
}

static void sigbus_install(void)
{
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &sigbus_before);
}

/*
 * Classic pcap files (not pcapng, not standard input) are read from a
 * mapping of the file, the frames used where they lie: libpcap copies each
 * one twice (the kernel's read into its stdio buffer, then fread into its
 * own), a fifth of the time of a run over a large file that is mostly
 * traffic the sensor does not decode. libpcap still opens the file, checks
 * its header and compiles the filter; the records are read as it reads them
 * (byte order from the magic, nanosecond stamps to microseconds, a record
 * longer than the snapshot length cut to it, one beyond 256 KiB or cut short
 * by the end of the file an error after the frames before it). The pages
 * read are let go every 4 MiB (they stay in the page cache), so the
 * sensor's resident memory does not grow with the file. Returns false when
 * the file is not one of these: libpcap reads it.
 */
static bool read_mapped(struct worker *w, pcap_t *pc, const char *path,
                        const struct bpf_program *filter, volatile const bool *stop,
                        struct capture_result *res)
{
    FILE *fp = pcap_file(pc);
    struct stat st;
    if (!fp || fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size < 24)
        return false;
    size_t size = (size_t)st.st_size;
    const uint8_t *m = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fileno(fp), 0);
    if (m == MAP_FAILED)
        return false;
    uint32_t magic;
    memcpy(&magic, m, 4);
    bool swap, nano;
    if (magic == 0xa1b2c3d4 || magic == 0xa1b23c4d)
        swap = false, nano = magic == 0xa1b23c4d;
    else if (magic == 0xd4c3b2a1 || magic == 0x4d3cb2a1)
        swap = true, nano = magic == 0x4d3cb2a1;
    else {
        munmap((void *)(uintptr_t)m, size);
        return false; /* pcapng, or a variant libpcap knows better */
    }
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sigbus_install);
    reading.shrank = 0;
    atomic_store(&reading.size, size);
    atomic_store(&reading.base, m);
    (void)madvise((void *)(uintptr_t)m, size, MADV_SEQUENTIAL);
    int link = pcap_datalink(pc);
    uint32_t snap = (uint32_t)pcap_snapshot(pc);
    size_t off = 24, released = 0, checked = 0, pf = 0;
    struct ahead ah = {.n = 0};
    while (!(stop && *stop) && off < size) {
        if (off - checked >= RELEASE_STEP) {
            /*
             * Pages go only before the oldest frame still to be handled (in the look-ahead,
             * or with workers). One read again after it went would be mapped again, with
             * the whole large folio it belongs to, and would never go.
             */
            checked = off;
            const uint8_t *keep = ah.n ? ah.a[ah.head].p.data - 16 : m + off;
            const uint8_t *held = w->dispatch ? dispatch_oldest_frame(w->dispatch) : NULL;
            if (held && held - 16 < keep)
                keep = held - 16;
            size_t upto = (size_t)(keep - m) & ~(size_t)4095;
            if (upto > released) {
                (void)madvise((void *)(uintptr_t)(m + released), upto - released, MADV_DONTNEED);
                released = upto;
            }
        }
        worker_poll(w);
        if (size - off < 16) {
            res->status = CAPTURE_TRUNCATED;
            snprintf(res->message, sizeof res->message,
                     "%s: truncated dump file; tried to read 16 header bytes, only got %zu "
                     "(read %llu packets)",
                     path, size - off, (unsigned long long)res->packets);
            break;
        }
        const uint8_t *h = m + off;
        uint32_t sec = u32_of(h, swap), frac = u32_of(h + 4, swap);
        uint32_t caplen = u32_of(h + 8, swap), len = u32_of(h + 12, swap);
        if (reading.shrank) {
            res->status = CAPTURE_TRUNCATED;
            snprintf(res->message, sizeof res->message,
                     "%s: the file was cut short while it was read (read %llu packets)", path,
                     (unsigned long long)res->packets);
            break;
        }
        if (caplen > MAX_CAPLEN) {
            res->status = CAPTURE_TRUNCATED;
            snprintf(res->message, sizeof res->message,
                     "%s: invalid packet capture length %u, bigger than snaplen of %u "
                     "(read %llu packets)",
                     path, caplen, MAX_CAPLEN, (unsigned long long)res->packets);
            break;
        }
        if (size - off - 16 < caplen) {
            res->status = CAPTURE_TRUNCATED;
            snprintf(res->message, sizeof res->message,
                     "%s: truncated dump file; tried to read %u captured bytes, only got %zu "
                     "(read %llu packets)",
                     path, caplen, size - off - 16, (unsigned long long)res->packets);
            break;
        }
        const uint8_t *data = h + 16;
        off += 16 + (size_t)caplen;
        /* the file a few KiB ahead of the reader, line by line: the records' headers are
           in the cache when their turn comes (the processor's own prefetcher stops at
           page ends, and a reader handing frames to workers is fast enough to outrun it) */
        for (size_t end = off + PREFETCH_AHEAD < size ? off + PREFETCH_AHEAD : size; pf < end;
             pf += 64)
            __builtin_prefetch(m + pf);
        if (caplen > snap && snap)
            caplen = snap; /* as libpcap does: the snapshot length's worth */
        if ((res->packets & 4095) == 0)
            atomic_store_explicit(&capture_progress_pos, (unsigned long long)off,
                                  memory_order_relaxed);
        uint64_t ts_us = (uint64_t)sec * 1000000 + (nano ? frac / 1000 : frac);
        if (filter) {
            struct pcap_pkthdr ph = {.caplen = caplen, .len = len};
            ph.ts.tv_sec = (time_t)sec;
            ph.ts.tv_usec = (suseconds_t)(nano ? frac / 1000 : frac);
            if (!pcap_offline_filter(filter, &ph, data))
                continue;
        }
        if (w->dispatch)
            frame(w, res, data, caplen, len, ts_us, link, true);
        else
            frame_ahead(w, res, &ah, data, caplen, len, ts_us, link);
    }
    ahead_drain(w, &ah); /* what was read before the end (or an error) is all taken */
    if (w->dispatch)
        dispatch_file_end(w->dispatch); /* the workers have the frames where they lie */
    atomic_store(&reading.base, NULL);
    munmap((void *)(uintptr_t)m, size);
    return true;
}

void capture_file(struct worker *w, const char *path, const char *bpf, volatile const bool *stop,
                  struct capture_result *res)
{
    char errbuf[PCAP_ERRBUF_SIZE] = "";
    memset(res, 0, sizeof *res);
    pcap_t *pc = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_MICRO, errbuf);
    if (!pc) {
        res->status = looks_not_capture(errbuf) ? CAPTURE_NOT_CAPTURE : CAPTURE_ERROR;
        snprintf(res->message, sizeof res->message, "%s: %s", path, errbuf);
        return;
    }
    struct bpf_program prog;
    bool filtered = bpf && *bpf;
    if (filtered) {
        if (pcap_compile(pc, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(pc, &prog) != 0) {
            res->status = CAPTURE_BAD_FILTER;
            snprintf(res->message, sizeof res->message, "filter \"%s\": %s", bpf, pcap_geterr(pc));
            pcap_close(pc);
            return;
        }
    }
    w->pcap_filename = path;
    w->pcap_cnt = 0;
    w->clock_us = 0; /* captures' clocks are their own */
    int link = pcap_datalink(pc);
    struct pcap_pkthdr *h;
    const u_char *data;
    int r = 0;
    if (w->dispatch)
        dispatch_file_begin(w->dispatch, path);
    FILE *fp = pcap_file(pc);
    atomic_store_explicit(&capture_progress_pos, 0, memory_order_relaxed);
    bool mapped = getenv("RPCSENTRY_NO_MMAP") == NULL &&
                  read_mapped(w, pc, path, filtered ? &prog : NULL, stop, res);
    while (!mapped && !(stop && *stop) && (r = pcap_next_ex(pc, &h, &data)) >= 0) {
        worker_poll(w);
        if (r == 0)
            continue;
        if ((w->pcap_cnt & 4095) == 0 && fp) {
            long at = ftell(fp);
            if (at > 0)
                atomic_store_explicit(&capture_progress_pos, (unsigned long long)at,
                                      memory_order_relaxed);
        }
        frame(w, res, data, h->caplen, h->len,
              (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec, link, false);
    }
    if (filtered)
        pcap_freecode(&prog);
    if (!mapped && !(stop && *stop) && r == PCAP_ERROR) {
        res->status = CAPTURE_TRUNCATED;
        snprintf(res->message, sizeof res->message, "%s: %s (read %llu packets)", path,
                 pcap_geterr(pc), (unsigned long long)res->packets);
    }
    if (w->dispatch && !mapped) /* the mapped reader ended it before letting the mapping go */
        dispatch_file_end(w->dispatch);
    pcap_close(pc);
}

static int cmp_input(const void *a, const void *b)
{
    return strcmp(((const struct capture_input *)a)->path, ((const struct capture_input *)b)->path);
}

static bool push(struct capture_input **list, size_t *n, size_t *cap, const char *s, bool from_dir)
{
    if (*n + 2 > *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        struct capture_input *p = realloc(*list, nc * sizeof *p);
        if (!p)
            return false;
        *list = p;
        *cap = nc;
    }
    (*list)[*n].path = strdup(s);
    (*list)[*n].from_dir = from_dir;
    if (!(*list)[*n].path)
        return false;
    (*n)++;
    (*list)[*n].path = NULL;
    return true;
}

struct capture_input *capture_expand(const char *const *args, size_t nargs, char *err,
                                     size_t errlen)
{
    struct capture_input *list = NULL;
    size_t n = 0, cap = 0;
    for (size_t i = 0; i < nargs; i++) {
        struct stat st;
        if (strcmp(args[i], "-") == 0) {
            if (!push(&list, &n, &cap, "-", false))
                goto oom;
            continue;
        }
        if (stat(args[i], &st) != 0) {
            snprintf(err, errlen, "%s: %s", args[i], strerror(errno));
            capture_free_list(list);
            return NULL;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (!push(&list, &n, &cap, args[i], false))
                goto oom;
            continue;
        }
        DIR *d = opendir(args[i]);
        if (!d) {
            snprintf(err, errlen, "%s: %s", args[i], strerror(errno));
            capture_free_list(list);
            return NULL;
        }
        size_t dl = strlen(args[i]);
        while (dl > 1 && args[i][dl - 1] == '/')
            dl--;
        size_t first = n;
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            snprintf(path, sizeof path, "%.*s/%s", (int)dl, args[i], e->d_name);
            if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && !push(&list, &n, &cap, path, true)) {
                closedir(d);
                goto oom;
            }
        }
        closedir(d);
        qsort(list + first, n - first, sizeof *list, cmp_input);
    }
    if (!list) {
        list = calloc(1, sizeof *list);
        if (!list)
            goto oom;
    }
    return list;
oom:
    snprintf(err, errlen, "out of memory");
    capture_free_list(list);
    return NULL;
}

void capture_free_list(struct capture_input *list)
{
    if (!list)
        return;
    for (struct capture_input *p = list; p->path; p++)
        free(p->path);
    free(list);
}
