/*
 * `rpcsentry report` on an arbitrary file as EVE: each line through cJSON and
 * the report's reading of records (timestamps, accounts, arguments, alerts,
 * stories), then every output: the text with filters, CSV, JSON rows, and
 * the HTML page. Outputs go to /dev/null.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "rpcsentry/report.h"

static char path[] = "/tmp/fuzz_report_XXXXXX";
static int fd = -1;
static FILE *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (fd < 0) {
        fd = mkstemp(path);
        sink = fopen("/dev/null", "w");
        if (fd < 0 || !sink)
            abort();
        unlink(path); /* /proc/self/fd keeps it reachable; nothing is left behind */
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    char *text[] = {"report", "--full", path};
    char *rows[] = {"report",
                    "--format",
                    "csv",
                    "--since",
                    "2017-10-09",
                    "--until",
                    "2023-11-15T00:43:20+01:00",
                    path};
    char *json[] = {"report", "--format", "json", "--account", "administrator", path};
    char *host[] = {"report", "--host", "10.0.0.1", path};
    char *html[] = {"report", "--html", "/dev/null", path};
    char **runs[] = {text, rows, json, host, html};
    int argc[] = {3, 8, 6, 4, 4};
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++)
        report_main(argc[i], runs[i], sink, sink);
    return 0;
}
