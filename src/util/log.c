#include "rpcsentry/log.h"

#include <stdarg.h>
#include <stdio.h>

enum log_level log_threshold = LOG_NOTICE;

void log_msg(enum log_level lvl, const char *fmt, ...)
{
    static const char *const prefix[] = {"error", "warning", "notice", "info", "debug"};
    if (lvl > log_threshold)
        return;
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "rpcsentry: %s: ", prefix[lvl]);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
