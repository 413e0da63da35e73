/*
 * A capture file as it reaches capture_file(): the input is written to an
 * in-memory file and read by path, so libpcap checks its header and our
 * mapped reader (classic pcap) or libpcap (pcapng) reads its records into
 * the whole pipeline.
 */
#define _GNU_SOURCE /* memfd_create */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "rpcsentry/capture.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = memfd_create("fuzz_pcapfile", 0);
        if (fd < 0)
            abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
        abort();
    struct worker *w = fuzz_worker();
    struct capture_result res;
    capture_file(w, path, NULL, NULL, &res);
    flow_flush_all(w);
    fuzz_check_released(w);
    return 0;
}
