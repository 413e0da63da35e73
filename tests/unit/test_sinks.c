/*
 * The sinks' delivery rules on a transport of our own that breaks, stalls and
 * refuses on cue: lines reach the peer in order, each once it was settled; a
 * link that breaks costs no line; a refusal is counted; reading files a full
 * queue makes the writer wait and a peer that takes nothing fails the sink
 * and asks the run to stop; live a full queue drops and counts. The file sink
 * counts what the kernel took and cuts a torn record off.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness.h"
#include "rpcsentry/log.h"
#include "rpcsentry/sink.h"

/* ---- a transport that records what it was given ---- */

struct fake {
    pthread_mutex_t lock;
    char got[4096][16]; /* lines taken, in order */
    size_t n_got;
    int connects;
    int refuse_every; /* refuse every k-th line offered (0: none) */
    size_t break_at;  /* break the link when this many lines were taken (once) */
    bool broke;
    bool stall; /* take nothing: connected, not reading */
    bool down;  /* refuse connections */
    size_t offered;
};

static bool fake_connect(void *ctx, char *err, size_t errlen)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->lock);
    bool ok = !f->down;
    if (ok)
        f->connects++;
    pthread_mutex_unlock(&f->lock);
    if (!ok)
        snprintf(err, errlen, "down");
    return ok;
}

static enum send_result fake_send(void *ctx, const struct iovec *lines, size_t n, size_t *settled,
                                  size_t *refused, char *err, size_t errlen)
{
    struct fake *f = ctx;
    pthread_mutex_lock(&f->lock);
    enum send_result r = SEND_OK;
    size_t i = 0;
    for (; i < n; i++) {
        if (f->stall) {
            r = SEND_SLOW;
            snprintf(err, errlen, "not reading");
            break;
        }
        if (!f->broke && f->break_at && f->n_got == f->break_at) {
            f->broke = true;
            r = SEND_BROKEN;
            snprintf(err, errlen, "link lost");
            break;
        }
        f->offered++;
        if (f->refuse_every && f->offered % (size_t)f->refuse_every == 0) {
            ++*refused;
            snprintf(err, errlen, "refused");
            continue;
        }
        if (f->n_got < 4096)
            snprintf(f->got[f->n_got++], sizeof f->got[0], "%.*s", (int)lines[i].iov_len,
                     (const char *)lines[i].iov_base);
    }
    *settled = i;
    pthread_mutex_unlock(&f->lock);
    if (r == SEND_SLOW) {
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    return r;
}

static void fake_disconnect(void *ctx)
{
    (void)ctx;
}
static void fake_free(void *ctx)
{
    (void)ctx;
}

static const struct sink_transport fake_transport = {"fake", fake_connect, fake_send,
                                                     fake_disconnect, fake_free};

static struct fake *fake_new(void)
{
    struct fake *f = calloc(1, sizeof *f);
    pthread_mutex_init(&f->lock, NULL);
    return f;
}

static void put(struct sink *s, int i)
{
    char line[16];
    int n = snprintf(line, sizeof line, "rec%d", i);
    s->write(s, line, (size_t)n);
}

static bool in_order(const struct fake *f, int from, int to)
{
    for (int i = from; i < to; i++) {
        char want[16];
        snprintf(want, sizeof want, "rec%d", i);
        if ((size_t)(i - from) >= f->n_got || strcmp(f->got[i - from], want) != 0)
            return false;
    }
    return true;
}

TEST(sink_async_lossless_keeps_order_through_a_broken_link)
{
    struct fake *f = fake_new();
    f->break_at = 100;
    volatile bool stop = false;
    struct sink_env env = {.lossless = true, .wait_s = 5, .stop = &stop};
    /* a queue of 4 KiB: the writer must wait for the sender many times */
    struct sink *s = sink_async_open(&fake_transport, f, 4096, &env);
    CHECK(s != NULL);
    enum log_level was = log_threshold;
    log_threshold = LOG_ERROR; /* the reconnect warning is expected */
    for (int i = 0; i < 2000; i++)
        put(s, i);
    s->drain(s);
    log_threshold = was;
    CHECK_EQ(f->n_got, 2000);
    CHECK(in_order(f, 0, 2000));
    CHECK_EQ(atomic_load(&s->written), 2000);
    CHECK_EQ(atomic_load(&s->dropped), 0);
    CHECK(f->broke);
    CHECK_EQ(f->connects, 2);
    CHECK(!stop);
    s->close(s);
    free(f);
}

TEST(sink_async_counts_refusals_as_not_delivered)
{
    struct fake *f = fake_new();
    f->refuse_every = 10;
    struct sink_env env = {.lossless = true, .wait_s = 5};
    struct sink *s = sink_async_open(&fake_transport, f, 1 << 16, &env);
    enum log_level was = log_threshold;
    log_threshold = LOG_ERROR; /* the sink's own error line is expected */
    for (int i = 0; i < 500; i++)
        put(s, i);
    s->drain(s);
    log_threshold = was;
    CHECK_EQ(atomic_load(&s->written), 450);
    CHECK_EQ(atomic_load(&s->dropped), 50);
    CHECK_EQ(f->n_got, 450);
    CHECK(atomic_load(&s->why_set));
    CHECK(strstr(s->why, "refused") != NULL);
    s->close(s);
    free(f);
}

TEST(sink_async_lossless_gives_up_on_a_peer_that_takes_nothing)
{
    struct fake *f = fake_new();
    f->stall = true;
    volatile bool stop = false;
    struct sink_env env = {.lossless = true, .wait_s = 1, .stop = &stop};
    struct sink *s = sink_async_open(&fake_transport, f, 4096, &env);
    enum log_level was = log_threshold;
    log_threshold = LOG_ERROR;     /* the sink's own error line is expected */
    for (int i = 0; i < 1000; i++) /* blocks while the queue is full, until the sink fails */
        put(s, i);
    s->drain(s);
    log_threshold = was;
    CHECK(stop);
    CHECK(atomic_load(&s->failed));
    CHECK_EQ(atomic_load(&s->written), 0);
    CHECK_EQ(atomic_load(&s->dropped), 1000);
    s->close(s);
    free(f);
}

TEST(sink_async_live_drops_and_counts_when_full)
{
    struct fake *f = fake_new();
    f->down = true;
    struct sink_env env = {.lossless = false};
    struct sink *s = sink_async_open(&fake_transport, f, 4096, &env);
    enum log_level was = log_threshold;
    log_threshold = LOG_ERROR;     /* the sink's own error line is expected */
    for (int i = 0; i < 1000; i++) /* never waits: the peer is down */
        put(s, i);
    uint64_t dropped_now = atomic_load(&s->dropped);
    /* 4096 bytes hold about 4096 / (4 + 6) lines: the rest was dropped at once */
    CHECK(dropped_now > 500);
    pthread_mutex_lock(&f->lock);
    f->down = false; /* the peer comes back: what was queued reaches it */
    pthread_mutex_unlock(&f->lock);
    s->drain(s);
    log_threshold = was;
    CHECK_EQ(atomic_load(&s->written) + atomic_load(&s->dropped), 1000);
    CHECK_EQ(atomic_load(&s->written), 1000 - dropped_now);
    CHECK(in_order(f, 0, (int)f->n_got));
    s->close(s);
    free(f);
}

/* ---- the file sink ---- */

TEST(sink_file_counts_what_reached_the_file)
{
    char path[] = "/tmp/rpcsentry-unit-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    struct sink_env env = {.lossless = true};
    char err[256];
    struct sink *s = sink_file_open(path, &env, err, sizeof err);
    CHECK(s != NULL);
    for (int i = 0; i < 300000; i++) /* more than one buffer's worth */
        put(s, i);
    s->drain(s);
    CHECK_EQ(atomic_load(&s->written), 300000);
    struct stat st;
    CHECK(stat(path, &st) == 0);
    s->close(s);
    FILE *fp = fopen(path, "r");
    char line[32];
    int n = 0;
    bool ok = true;
    while (fp && fgets(line, sizeof line, fp)) {
        char want[32];
        snprintf(want, sizeof want, "rec%d\n", n++);
        ok &= strcmp(line, want) == 0;
    }
    if (fp)
        fclose(fp);
    CHECK(ok);
    CHECK_EQ(n, 300000);
    unlink(path);
}

TEST(sink_file_full_device_leaves_whole_records)
{
    /* /dev/full: every write fails with ENOSPC, as a full disk does */
    if (access("/dev/full", W_OK) != 0)
        SKIP("no /dev/full");
    volatile bool stop = false;
    struct sink_env env = {.lossless = true, .stop = &stop};
    char err[256];
    struct sink *s = sink_file_open("/dev/full", &env, err, sizeof err);
    CHECK(s != NULL);
    enum log_level was = log_threshold;
    log_threshold = LOG_ERROR; /* the sink's own error line is expected */
    for (int i = 0; i < 10; i++)
        put(s, i);
    s->flush(s);
    put(s, 10); /* after the failure: counted at once */
    log_threshold = was;
    CHECK(stop);
    CHECK(atomic_load(&s->failed));
    CHECK_EQ(atomic_load(&s->written), 0);
    CHECK_EQ(atomic_load(&s->dropped), 11);
    CHECK(strstr(s->why, "No space left") != NULL);
    s->close(s);
}
