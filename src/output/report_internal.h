/*
 * Shared by the two writers of `rpcsentry report` (report.c: text, CSV and
 * JSON rows; report_html.c: the HTML page). The calls, stories and inputs
 * read from EVE files; every string is owned by the report and may be NULL.
 */
#ifndef RPCSENTRY_REPORT_INTERNAL_H
#define RPCSENTRY_REPORT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One call of class create, modify, execute or delete on a target interface. */
struct report_action {
    char *ts, *client, *server, *user, *iface, *op, *cls, *what, *detail, *file;
    char *community_id;
    char *tool;      /* what a rule that fired on the call named (alert metadata tool) */
    char *signature; /* the most serious alert's signature */
    bool sealed, failed;
    bool has_time; /* ts parsed: us is microseconds since 1970 (UTC) */
    int64_t us;
    double flow_id; /* -1 when absent; flow ids are below 2^51, exact in a double */
    double tx_id;
    long long pcap_cnt; /* -1 when absent */
    int worst;          /* most serious alert severity on the call, 0 = none */
    unsigned alerts;
    unsigned count;      /* text rows: identical rows folded into this one; 0 = folded away */
    unsigned long order; /* position in the input: ties in time keep it */
};

/* A lateral_movement record: several calls that together ran something. */
struct report_story {
    char *ts, *summary, *client, *server, *user, *file;
    bool has_time;
    int64_t us;
    long long pcap_cnt;
    unsigned long order;
};

struct report_data {
    struct report_action *a;
    size_t n;
    struct report_story *s;
    size_t ns;
    char *const *inputs; /* the EVE files named on the command line */
    size_t ninputs;
};

/*
 * "YYYY-MM-DD[Thh:mm[:ss[.ffffff]]][Z|+hhmm|+hh:mm]" (the records' timestamps,
 * or a shorter prefix; no zone = UTC) to microseconds since 1970 UTC in *us.
 * With end, the parts left out are filled to the end of the period given.
 * False (and *us untouched) when s is not of that shape.
 */
bool report_parse_time(const char *s, bool end, int64_t *us);

/*
 * Writes the self-contained HTML page (graph, timeline, table; no network
 * fetch) of d to out. Returns false when writing failed or memory ran out.
 */
bool report_write_html(FILE *out, const struct report_data *d);

#endif
