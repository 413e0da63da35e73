/*
 * The file sink: records gathered in a buffer of our own and handed to the
 * kernel with write(2), so that a record counts as written only when the
 * kernel took all of it. A write that fails (a full disk, a closed pipe)
 * leaves no torn line: a regular file is cut back to its last whole record;
 * the error is told once, with the output and errno.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rpcsentry/log.h"
#include "rpcsentry/sink.h"

#define FILE_BUF (1u << 20)

struct file_sink {
    struct sink base;
    struct sink_env env;
    int fd;
    char *path;      /* NULL for standard output */
    bool regular;    /* a regular file: can be cut back after a failed write */
    bool line_flush; /* a terminal: each record as it comes */
    off_t end;       /* where the last whole record ends (regular files) */
    char *buf;
    size_t len, cap;
    uint64_t pending; /* whole records in buf */
    bool in_outage;   /* live: the last write failed; told once, until writes work again */
    time_t retry_at;  /* live: no new attempt before then */
};

void sink_note_error(struct sink *s, const char *fmt, ...)
{
    bool expected = false;
    if (!atomic_compare_exchange_strong(&s->why_set, &expected, true))
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->why, sizeof s->why, fmt, ap);
    va_end(ap);
}

static int open_append(const char *path)
{
    return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0666);
}

static void note_target(struct file_sink *f)
{
    struct stat st;
    f->regular = fstat(f->fd, &st) == 0 && S_ISREG(st.st_mode);
    f->end = f->regular ? st.st_size : 0;
    f->line_flush = isatty(f->fd) == 1;
}

/* The records of buf[0..n) that are whole, and where the last of them ends. */
static uint64_t whole_records(const char *buf, size_t n, size_t *end)
{
    uint64_t k = 0;
    *end = 0;
    for (const char *p = buf; (p = memchr(p, '\n', n - (size_t)(p - buf))) != NULL; p++) {
        k++;
        *end = (size_t)(p - buf) + 1;
    }
    return k;
}

/*
 * After a failed write of which `done` bytes reached the file: the whole
 * records among them count, a torn one is cut off, the rest are lost.
 */
static void write_failed(struct file_sink *f, size_t done, int err)
{
    struct sink *s = &f->base;
    size_t keep;
    uint64_t whole = whole_records(f->buf, done, &keep);
    if (f->regular && keep < done && ftruncate(f->fd, f->end + (off_t)keep) != 0)
        log_error("output %s: cannot cut the torn record off: %s", s->spec, strerror(errno));
    f->end += (off_t)keep;
    atomic_fetch_add(&s->written, whole);
    atomic_fetch_add(&s->dropped, f->pending - whole);
    f->len = 0;
    f->pending = 0;
    sink_note_error(s, "write failed: %s", strerror(err));
    /* a reader that closed the pipe will not come back; a full disk, while reading
     * files, would lose every record after this one */
    bool fatal = f->env.lossless || err == EPIPE || err == EBADF;
    if (fatal) {
        if (!atomic_exchange(&s->failed, true))
            log_error("output %s: %s; stopping (the records not written are counted)", s->spec,
                      strerror(err));
        if (f->env.stop)
            *f->env.stop = true;
    } else if (!f->in_outage) {
        log_error("output %s: %s; dropping and counting records until it can be written", s->spec,
                  strerror(err));
        f->in_outage = true;
    }
    f->retry_at = time(NULL) + 1;
}

static void fs_flush(struct sink *s)
{
    struct file_sink *f = (struct file_sink *)s;
    size_t done = 0;
    while (done < f->len) {
        ssize_t k = write(f->fd, f->buf + done, f->len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0) {
            write_failed(f, done, k < 0 ? errno : ENOSPC);
            return;
        }
        done += (size_t)k;
    }
    f->end += (off_t)f->len;
    atomic_fetch_add(&s->written, f->pending);
    f->len = 0;
    f->pending = 0;
    if (f->in_outage) {
        log_notice("output %s: writing again", s->spec);
        f->in_outage = false;
    }
}

static bool fs_write(struct sink *s, const char *line, size_t len)
{
    struct file_sink *f = (struct file_sink *)s;
    if (atomic_load(&s->failed) || f->fd < 0 || (f->in_outage && time(NULL) < f->retry_at)) {
        atomic_fetch_add(&s->dropped, 1);
        return false;
    }
    if (f->len && f->len + len + 1 > f->cap)
        fs_flush(s);
    if (f->len + len + 1 > f->cap) { /* a record larger than the buffer (rare) */
        char *nb = realloc(f->buf, len + 1);
        if (!nb) {
            sink_note_error(s, "out of memory for a record of %zu bytes", len);
            atomic_fetch_add(&s->dropped, 1);
            return false;
        }
        f->buf = nb;
        f->cap = len + 1;
    }
    memcpy(f->buf + f->len, line, len);
    f->buf[f->len + len] = '\n';
    f->len += len + 1;
    f->pending++;
    if (f->line_flush)
        fs_flush(s);
    return true;
}

static void fs_drain(struct sink *s)
{
    fs_flush(s);
}

static void fs_reopen(struct sink *s)
{
    struct file_sink *f = (struct file_sink *)s;
    if (!f->path)
        return;
    fs_flush(s); /* what was taken goes to the file it was taken for */
    /* the new file first: if it cannot be had, the records keep going to the old one */
    int fd = open_append(f->path);
    if (fd < 0) {
        log_error("reopening %s: %s; still writing to the file it was", f->path, strerror(errno));
        return;
    }
    if (f->fd >= 0)
        close(f->fd);
    f->fd = fd;
    note_target(f);
}

static void fs_close(struct sink *s)
{
    struct file_sink *f = (struct file_sink *)s;
    fs_flush(s);
    if (f->fd >= 0 && f->path && close(f->fd) != 0 && !atomic_load(&s->failed))
        log_error("output %s: closing: %s", s->spec, strerror(errno));
    free(f->buf);
    free(f->path);
    free(f);
}

struct sink *sink_file_open(const char *path, const struct sink_env *env, char *err, size_t errlen)
{
    struct file_sink *f = calloc(1, sizeof *f);
    char *buf = malloc(FILE_BUF);
    if (!f || !buf) {
        free(f);
        free(buf);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->buf = buf;
    f->cap = FILE_BUF;
    f->env = *env;
    f->base.name = "file";
    f->base.write = fs_write;
    f->base.flush = fs_flush;
    f->base.drain = fs_drain;
    f->base.reopen = fs_reopen;
    f->base.close = fs_close;
    if (strcmp(path, "-") == 0) {
        f->fd = STDOUT_FILENO;
        snprintf(f->base.spec, sizeof f->base.spec, "-");
    } else {
        f->path = strdup(path);
        f->fd = f->path ? open_append(path) : -1;
        if (f->fd < 0) {
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
            free(f->path);
            free(f->buf);
            free(f);
            return NULL;
        }
        snprintf(f->base.spec, sizeof f->base.spec, "file:%s", path);
    }
    note_target(f);
    return &f->base;
}
