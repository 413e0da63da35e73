#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>

#include "rpcsentry/hunt.h"

struct file_row {
    const char *path;
    uint64_t size;
    bool read, failed, skipped;
    uint64_t cls[6]; /* target calls: read, create, modify, delete, execute, other */
    uint64_t sev[3]; /* alerts of severity 1, 2, 3 and below */
    uint64_t stories;
};

struct hunt {
    struct file_row *rows;
    size_t n;
    uint64_t total_size;
    struct stats last; /* the counters at the end of the previous capture */
    _Atomic size_t current;
    _Atomic unsigned long long size_done; /* sizes of the captures finished */
    _Atomic bool stop;
    bool thread_running;
    pthread_t thread;
    uint64_t started_us;
};

static uint64_t now_us(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000000 + (uint64_t)tv.tv_usec;
}

static void human_bytes(double b, char *out, size_t n)
{
    const char *u[] = {"B", "KB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1000 && i < 4)
        b /= 1000, i++;
    snprintf(out, n, i ? "%.1f %s" : "%.0f %s", b, u[i]);
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static void draw(struct hunt *h)
{
    size_t cur = atomic_load(&h->current);
    unsigned long long done = atomic_load(&h->size_done);
    unsigned long long pos = cur < h->n ? atomic_load(&capture_progress_pos) : 0;
    if (cur < h->n && pos > h->rows[cur].size)
        pos = h->rows[cur].size;
    double bytes = (double)(done + pos);
    double secs = (double)(now_us() - h->started_us) / 1e6;
    double rate = secs > 0.2 ? bytes / secs : 0;
    char b[32], t[32], r[32], eta[32] = "--:--";
    human_bytes(bytes, b, sizeof b);
    human_bytes((double)h->total_size, t, sizeof t);
    human_bytes(rate, r, sizeof r);
    if (rate > 0 && h->total_size >= bytes) {
        unsigned long left = (unsigned long)(((double)h->total_size - bytes) / rate + 0.5);
        snprintf(eta, sizeof eta, "%lu:%02lu", left / 60, left % 60);
    }
    double pct = h->total_size ? 100.0 * bytes / (double)h->total_size : 0;
    fprintf(stderr, "\r\033[Krpcsentry: [%zu/%zu] %5.1f%%  %s of %s  %s/s  ETA %s  %.40s",
            cur < h->n ? cur + 1 : h->n, h->n, pct, b, t, r, eta,
            cur < h->n ? base_name(h->rows[cur].path) : "");
    fflush(stderr);
}

static void *progress_main(void *arg)
{
    struct hunt *h = arg;
    while (!atomic_load(&h->stop)) {
        draw(h);
        struct timespec ts = {0, 250 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return NULL;
}

struct hunt *hunt_start(const struct capture_input *files, bool progress)
{
    struct hunt *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    for (const struct capture_input *f = files; f && f->path; f++)
        h->n++;
    h->rows = calloc(h->n ? h->n : 1, sizeof *h->rows);
    if (!h->rows) {
        free(h);
        return NULL;
    }
    for (size_t i = 0; i < h->n; i++) {
        struct stat st;
        h->rows[i].path = files[i].path;
        if (strcmp(files[i].path, "-") != 0 && stat(files[i].path, &st) == 0)
            h->rows[i].size = (uint64_t)st.st_size;
        h->total_size += h->rows[i].size;
    }
    h->started_us = now_us();
    if (progress && pthread_create(&h->thread, NULL, progress_main, h) == 0)
        h->thread_running = true;
    return h;
}

void hunt_file_begin(struct hunt *h, size_t idx)
{
    if (h)
        atomic_store(&h->current, idx);
}

void hunt_file_end(struct hunt *h, size_t idx, const struct stats *s, enum hunt_outcome o)
{
    if (!h || idx >= h->n)
        return;
    struct file_row *r = &h->rows[idx];
    const struct stats *p = &h->last;
    r->read = true;
    r->failed = o == HUNT_FAILED;
    r->skipped = o == HUNT_SKIPPED;
    r->cls[0] = s->target_read - p->target_read;
    r->cls[1] = s->target_create - p->target_create;
    r->cls[2] = s->target_modify - p->target_modify;
    r->cls[3] = s->target_delete - p->target_delete;
    r->cls[4] = s->target_execute - p->target_execute;
    /* the rest of the target calls: class other (an OpenSCManager, a close, a handle query) */
    r->cls[5] = (s->target_calls - p->target_calls) -
                (r->cls[0] + r->cls[1] + r->cls[2] + r->cls[3] + r->cls[4]);
    r->sev[0] = s->alerts_sev1 - p->alerts_sev1;
    r->sev[1] = s->alerts_sev2 - p->alerts_sev2;
    r->sev[2] = s->alerts_sev3 - p->alerts_sev3;
    r->stories = s->stories - p->stories;
    h->last = *s;
    atomic_fetch_add(&h->size_done, r->size);
}

void hunt_stop_progress(struct hunt *h)
{
    if (!h || !h->thread_running)
        return;
    atomic_store(&h->stop, true);
    pthread_join(h->thread, NULL);
    h->thread_running = false;
    fprintf(stderr, "\r\033[K");
    fflush(stderr);
}

/* Most serious first: severity-1 alerts, then 2, then 3, creations, executions, the rest. */
static int cmp_rows(const void *a, const void *b)
{
    const struct file_row *x = *(const struct file_row *const *)a;
    const struct file_row *y = *(const struct file_row *const *)b;
    uint64_t kx[] = {
        x->sev[0], x->sev[1], x->sev[2], x->stories, x->cls[1], x->cls[4], x->cls[2] + x->cls[3],
        x->cls[0], x->cls[5]};
    uint64_t ky[] = {
        y->sev[0], y->sev[1], y->sev[2], y->stories, y->cls[1], y->cls[4], y->cls[2] + y->cls[3],
        y->cls[0], y->cls[5]};
    for (size_t i = 0; i < sizeof kx / sizeof kx[0]; i++)
        if (kx[i] != ky[i])
            return kx[i] > ky[i] ? -1 : 1;
    return strcmp(x->path, y->path);
}

static bool quiet_row(const struct file_row *r)
{
    for (int i = 0; i < 6; i++)
        if (r->cls[i])
            return false;
    return !r->sev[0] && !r->sev[1] && !r->sev[2] && !r->stories;
}

void hunt_print_table(const struct hunt *h, FILE *f)
{
    if (!h || !h->n)
        return;
    const struct file_row **order = calloc(h->n, sizeof *order);
    if (!order)
        return;
    size_t k = 0, quiet = 0, unread = 0;
    for (size_t i = 0; i < h->n; i++) {
        if (h->rows[i].skipped)
            continue; /* said already: not captures */
        if (!h->rows[i].read || h->rows[i].failed)
            unread++;
        else if (quiet_row(&h->rows[i]))
            quiet++;
        else
            order[k++] = &h->rows[i];
    }
    qsort(order, k, sizeof *order, cmp_rows);
    fprintf(f, "rpcsentry: per capture, most serious first (task/service calls by class; "
               "alerts by severity)\n");
    fprintf(f, "  %6s %6s %6s %7s %6s %6s %6s %6s %6s %6s  %s\n", "sev1", "sev2", "sev3", "stories",
            "create", "modify", "delete", "exec", "read", "other", "capture");
    for (size_t i = 0; i < k; i++) {
        const struct file_row *r = order[i];
        fprintf(f, "  %6llu %6llu %6llu %7llu %6llu %6llu %6llu %6llu %6llu %6llu  %s\n",
                (unsigned long long)r->sev[0], (unsigned long long)r->sev[1],
                (unsigned long long)r->sev[2], (unsigned long long)r->stories,
                (unsigned long long)r->cls[1], (unsigned long long)r->cls[2],
                (unsigned long long)r->cls[3], (unsigned long long)r->cls[4],
                (unsigned long long)r->cls[0], (unsigned long long)r->cls[5], r->path);
    }
    if (quiet)
        fprintf(f, "  (%zu capture%s with no task/service calls and no alerts)\n", quiet,
                quiet == 1 ? "" : "s");
    if (unread)
        fprintf(f, "  (%zu capture%s not read: unreadable, or the run was stopped)\n", unread,
                unread == 1 ? "" : "s");
    free(order);
}

void hunt_free(struct hunt *h)
{
    if (!h)
        return;
    hunt_stop_progress(h);
    free(h->rows);
    free(h);
}
