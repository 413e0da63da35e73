/*
 * Sinks move finished lines somewhere; they never format. A record counts as
 * written only once the kernel (a file, a socket) or the peer (Redis) took it.
 *
 * Two modes, chosen when the outputs open:
 *  - lossless (reading files): a sink never drops a record. A full queue
 *    makes the writer wait; a peer that is away is waited for and, once it
 *    is back, gets what it had not acknowledged. An output that takes
 *    nothing for `wait_s` seconds, or a file that cannot be written, has
 *    failed: it says so once, the run is asked to stop (*stop), and every
 *    record it did not take is counted as dropped.
 *  - live: a sink never stalls capture: a full queue drops the line and
 *    counts it; a file that cannot be written drops and counts until it can.
 * Any record dropped, in either mode, is named per output at the end and
 * makes the exit status non-zero (see output_undelivered()).
 */
#ifndef RPCSENTRY_SINK_H
#define RPCSENTRY_SINK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* The record kinds a sink may be limited to (`?types=alert,dcerpc`). */
enum event_kind {
    EV_DCERPC,
    EV_ALERT,
    EV_ANOMALY,
    EV_STORY,
    EV_FLOW,
    EV_STATS,
    EV_FILEINFO,
    EV_SMB,
    EV_KINDS
};
const char *event_kind_name(enum event_kind k);
/* The kind of an event_type string, or EV_KINDS. */
enum event_kind event_kind_of(const char *event_type);

/* How every sink of a run behaves (see the top of this file). */
struct sink_env {
    bool lossless;
    unsigned wait_s;     /* lossless: how long an output may take nothing before it fails */
    volatile bool *stop; /* set when an output fails for good; may be NULL */
};

struct sink {
    const char *name;
    char spec[256]; /* as given: "file:/var/log/x.json", "redis://..." */
    uint32_t types; /* bit per enum event_kind; all by default */
    /* takes one line (without its newline); false if it was dropped (counted) */
    bool (*write)(struct sink *s, const char *line, size_t len);
    /* hands what is buffered to the kernel (files); queued sinks send on their own */
    void (*flush)(struct sink *s);
    /* waits until everything taken so far is written or given up (lossless: up to
     * wait_s without progress; live: two seconds) */
    void (*drain)(struct sink *s);
    void (*reopen)(struct sink *s); /* for log rotation */
    void (*close)(struct sink *s);  /* drains, closes, frees s */
    /* written: the kernel or the peer took it; dropped: lost, for the reason in why */
    _Atomic uint64_t written, dropped;
    _Atomic bool failed; /* given up for good (lossless), or a closed pipe */
    char why[160];       /* the first error, set once before failed or a drop */
    _Atomic bool why_set;
};

/* Records the first reason a sink lost records (later ones are only counted). */
void sink_note_error(struct sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A regular file, appended to ("-" = standard output). NULL and err on failure. */
struct sink *sink_file_open(const char *path, const struct sink_env *env, char *err, size_t errlen);

/*
 * What a queued sink needs from its transport. send() is given lines in
 * order (each without its newline) and reports how many of the first it
 * settled: taken by the peer, or refused by it (*refused of them; a refusal
 * is final, e.g. a Redis error reply). It returns SEND_OK when all were
 * settled, SEND_SLOW when the peer is connected but did not take the rest
 * in time (the transport keeps any part of a line already sent and goes on
 * from there), SEND_BROKEN when the link is gone: the rest are sent again,
 * whole, after a reconnect.
 */
enum send_result { SEND_OK, SEND_SLOW, SEND_BROKEN };
struct sink_transport {
    const char *name;
    bool (*connect)(void *ctx, char *err, size_t errlen);
    enum send_result (*send)(void *ctx, const struct iovec *lines, size_t n, size_t *settled,
                             size_t *refused, char *err, size_t errlen);
    void (*disconnect)(void *ctx);
    void (*free)(void *ctx);
};

/*
 * Queues lines (up to cap bytes) for a thread that sends them through t in
 * batches, reconnecting with a growing pause when the peer is gone. A line
 * leaves the queue only once settled. Takes ownership of ctx.
 */
struct sink *sink_async_open(const struct sink_transport *t, void *ctx, size_t cap,
                             const struct sink_env *env);

/* The transports. */
void *unix_transport_new(const char *path, bool datagram);
extern const struct sink_transport unix_transport;
/* target: a socket path (RFC 3164, as syslog(3) writes), "HOST:PORT" or "udp:HOST:PORT"
 * (RFC 5424 over UDP), "tcp:HOST:PORT" (RFC 5424, octet-counted frames, RFC 6587) */
void *syslog_transport_new(const char *target, int facility, const char *tag);
extern const struct sink_transport syslog_transport;
void *redis_transport_new(const char *host, int port, bool channel, const char *key);
extern const struct sink_transport redis_transport;

/*
 * Opens a sink from its spec: "-", "file:PATH", "unix:PATH", "unix-dgram:PATH",
 * "syslog[:FACILITY]" (to /dev/log, or syslog_target), "redis://HOST:PORT/list/KEY"
 * or ".../channel/NAME"; any may end in "?types=alert,dcerpc,...". NULL and err on
 * a bad spec.
 */
struct sink *sink_open_spec(const char *spec, const char *syslog_target, const char *syslog_tag,
                            size_t queue_cap, const struct sink_env *env, char *err, size_t errlen);

/*
 * Whether the output of spec reaches an IP peer (Redis, syslog over UDP or TCP), and which:
 * host (a name or an address) and port. False for files, unix sockets and local syslog.
 */
bool sink_spec_ip_peer(const char *spec, const char *syslog_target, char *host, size_t hostlen,
                       char *port, size_t portlen);

/* The parts of a syslog target, for checks made before opening (exposed for tests). */
enum syslog_proto { SYSLOG_LOCAL, SYSLOG_UDP, SYSLOG_TCP };
bool syslog_target_parse(const char *target, enum syslog_proto *proto, char *host, size_t hostlen,
                         char *port, size_t portlen);

#endif
