/*
 * appid: what application protocol a flow carries, by nDPI (libndpi from
 * Debian). It names the flows the sensor does not parse (for `flow` records
 * and `app_proto`), and its verdict hands DCE/RPC and SMB found on unusual
 * ports, mid-stream, to the engines. nDPI's per-flow state is freed as soon as
 * it has decided, or as soon as the sensor's own engines have taken the flow.
 * Built only with nDPI (RPCSENTRY_WITH_NDPI) and switched off at run time
 * with --no-ndpi; without it every function here does nothing.
 */
#ifndef RPCSENTRY_APPID_H
#define RPCSENTRY_APPID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a flow's identification stands (struct flow's ndpi_state). */
enum appid_state {
    APPID_NONE = 0,  /* not looked at (no payload yet, or nDPI off) */
    APPID_DETECTING, /* nDPI holds state for it */
    APPID_DECIDED,   /* nDPI named it */
    APPID_GUESSED,   /* nDPI gave up and guessed from the ports */
    APPID_FAILED,    /* nDPI gave up with nothing */
    APPID_OURS,      /* the sensor's engines took it: their verdict stands */
    APPID_UNASKED,   /* no record and no engine would read a verdict: not looked at */
};

struct worker;
struct flow;
struct packet;
struct appid;

/* nDPI's detection module for one worker; NULL (and err) when unavailable. */
struct appid *appid_open(char *err, size_t errlen);
void appid_close(struct appid *a);
/*
 * The same when the process ends right after: the module's hundred thousand
 * allocations (its address lists) are left to the kernel, which takes them
 * back at once, instead of freed one by one (13 ms of every run's end). A
 * sanitizer build frees them, so that its leak check sees everything freed.
 */
void appid_close_at_exit(struct appid *a);

/* Whether this build has nDPI at all. */
bool appid_available(void);

/* A packet of flow f (its IP header and length in p): one more step of detection. */
void appid_packet(struct worker *w, struct flow *f, const struct packet *p);

/* The flow ends: nDPI's state for it, if any, is released. */
void appid_flow_end(struct worker *w, struct flow *f);

/*
 * The flow's application protocol as Suricata names it ("dcerpc", "smb",
 * "http", "tls", ...), "failed" when nDPI looked at payload and found
 * nothing, NULL when there was no payload or no nDPI.
 */
const char *appid_app_proto(const struct worker *w, const struct flow *f);

/* nDPI's own name for it ("TLS.Google") and category; false if nDPI did not decide. */
bool appid_ndpi(const struct worker *w, const struct flow *f, char *name, size_t n,
                const char **category, bool *guessed);

#endif
