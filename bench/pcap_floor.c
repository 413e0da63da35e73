/*
 * The benchmark floor: a bare libpcap read loop that only counts packets and
 * bytes. The sensor's time on a file is reported as a ratio to this.
 */
#include <pcap/pcap.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    char err[PCAP_ERRBUF_SIZE];
    unsigned long long pkts = 0, bytes = 0;
    for (int i = 1; i < argc; i++) {
        pcap_t *p = pcap_open_offline(argv[i], err);
        if (!p) {
            fprintf(stderr, "pcap_floor: %s\n", err);
            return 1;
        }
        struct pcap_pkthdr *h;
        const u_char *d;
        while (pcap_next_ex(p, &h, &d) == 1) {
            pkts++;
            bytes += h->caplen;
        }
        pcap_close(p);
    }
    printf("%llu packets %llu bytes\n", pkts, bytes);
    return 0;
}
