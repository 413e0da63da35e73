#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpcsentry/log.h"
#include "rpcsentry/sink.h"

struct file_sink {
    struct sink base;
    FILE *fp;
    char *path; /* NULL for standard output */
};

static bool fs_write(struct sink *s, const char *line, size_t len)
{
    struct file_sink *f = (struct file_sink *)s;
    if (!f->fp || fwrite(line, 1, len, f->fp) != len || fputc('\n', f->fp) == EOF) {
        s->dropped++;
        return false;
    }
    s->written++;
    return true;
}

static void fs_flush(struct sink *s)
{
    struct file_sink *f = (struct file_sink *)s;
    if (f->fp)
        fflush(f->fp);
}

static void fs_reopen(struct sink *s)
{
    struct file_sink *f = (struct file_sink *)s;
    if (!f->path)
        return;
    /* the new file first: if it cannot be had, the records keep going to the old one */
    FILE *fp = fopen(f->path, "a");
    if (!fp) {
        log_error("reopening %s: %s; still writing to the file it was", f->path,
                  strerror(errno));
        return;
    }
    setvbuf(fp, NULL, _IOFBF, 1 << 20);
    if (f->fp)
        fclose(f->fp);
    f->fp = fp;
}

static void fs_close(struct sink *s)
{
    struct file_sink *f = (struct file_sink *)s;
    if (f->fp && f->path)
        fclose(f->fp);
    else if (f->fp)
        fflush(f->fp);
    free(f->path);
    free(f);
}

struct sink *sink_file_open(const char *path, char *err, size_t errlen)
{
    struct file_sink *f = calloc(1, sizeof *f);
    if (!f) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    f->base.name = "file";
    f->base.write = fs_write;
    f->base.flush = fs_flush;
    f->base.reopen = fs_reopen;
    f->base.close = fs_close;
    if (strcmp(path, "-") == 0) {
        f->fp = stdout;
        return &f->base;
    }
    f->path = strdup(path);
    f->fp = f->path ? fopen(path, "a") : NULL;
    if (!f->fp) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        free(f->path);
        free(f);
        return NULL;
    }
    setvbuf(f->fp, NULL, _IOFBF, 1 << 20); /* fewer, larger writes */
    return &f->base;
}
