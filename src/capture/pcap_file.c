#include <dirent.h>
#include <errno.h>
#include <pcap/pcap.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rpcsentry/capture.h"
#include "rpcsentry/decode.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/runtime.h"
#include "rpcsentry/worker.h"

_Atomic unsigned long long capture_progress_pos;

static bool looks_not_capture(const char *msg)
{
    return strstr(msg, "unknown file format") || strstr(msg, "bad dump file format") ||
           strstr(msg, "file is empty") || strstr(msg, "truncated dump file; tried to read 4");
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
    if (bpf && *bpf) {
        struct bpf_program prog;
        if (pcap_compile(pc, &prog, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0 ||
            pcap_setfilter(pc, &prog) != 0) {
            res->status = CAPTURE_BAD_FILTER;
            snprintf(res->message, sizeof res->message, "filter \"%s\": %s", bpf, pcap_geterr(pc));
            pcap_close(pc);
            return;
        }
        pcap_freecode(&prog);
    }
    w->pcap_filename = path;
    w->pcap_cnt = 0;
    int link = pcap_datalink(pc);
    struct pcap_pkthdr *h;
    const u_char *data;
    int r;
    if (w->dispatch)
        dispatch_file_begin(w->dispatch, path);
    FILE *fp = pcap_file(pc);
    atomic_store_explicit(&capture_progress_pos, 0, memory_order_relaxed);
    while (!(stop && *stop) && (r = pcap_next_ex(pc, &h, &data)) >= 0) {
        worker_poll(w);
        if (r == 0)
            continue;
        if ((w->pcap_cnt & 4095) == 0 && fp) {
            long at = ftell(fp);
            if (at > 0)
                atomic_store_explicit(&capture_progress_pos, (unsigned long long)at,
                                      memory_order_relaxed);
        }
        if (w->dispatch) {
            /* several workers: this thread only reads and hands over */
            res->packets++;
            res->bytes += h->len;
            dispatch_packet(w->dispatch, data, h->caplen, h->len,
                            (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec, link,
                            ++w->pcap_cnt);
            continue;
        }
        struct packet p;
        p.data = data;
        p.caplen = h->caplen;
        p.wirelen = h->len;
        p.ts_us = (uint64_t)h->ts.tv_sec * 1000000 + (uint64_t)h->ts.tv_usec;
        p.linktype = link;
        p.pcap_cnt = ++w->pcap_cnt;
        w->now_us = p.ts_us;
        res->packets++;
        res->bytes += h->len;
        decode_packet(w, &p);
    }
    if (!(stop && *stop) && r == PCAP_ERROR) {
        res->status = CAPTURE_TRUNCATED;
        snprintf(res->message, sizeof res->message, "%s: %s (read %llu packets)", path,
                 pcap_geterr(pc), (unsigned long long)res->packets);
    }
    if (w->dispatch)
        dispatch_file_end(w->dispatch);
    else
        flow_flush_all(w);
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
