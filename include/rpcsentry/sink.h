/*
 * Sinks move finished lines somewhere; they never format. A sink that cannot
 * take a line counts it as dropped rather than blocking capture: the sinks
 * that talk to another process (unix sockets, syslog, Redis) queue lines up
 * to a cap and send them from a thread of their own, reconnecting as needed.
 */
#ifndef RPCSENTRY_SINK_H
#define RPCSENTRY_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The record kinds a sink may be limited to (`?types=alert,dcerpc`). */
enum event_kind { EV_DCERPC, EV_ALERT, EV_ANOMALY, EV_STORY, EV_FLOW, EV_STATS, EV_KINDS };
const char *event_kind_name(enum event_kind k);
/* The kind of an event_type string, or EV_KINDS. */
enum event_kind event_kind_of(const char *event_type);

struct sink {
    const char *name;
    char spec[256];    /* as given: "file:/var/log/x.json", "redis://..." */
    uint32_t types;    /* bit per enum event_kind; all by default */
    /* writes one line (without its newline); false if the line was dropped */
    bool (*write)(struct sink *s, const char *line, size_t len);
    void (*flush)(struct sink *s);
    void (*reopen)(struct sink *s); /* for log rotation */
    void (*close)(struct sink *s);  /* also frees s */
    uint64_t written, dropped;
};

/* A regular file, appended to ("-" = standard output). NULL and err on failure. */
struct sink *sink_file_open(const char *path, char *err, size_t errlen);

/* What a sink that talks to another process needs: connect, send a line, drop the link. */
struct sink_transport {
    const char *name;
    bool (*connect)(void *ctx, char *err, size_t errlen);
    bool (*send)(void *ctx, const char *line, size_t len);
    void (*disconnect)(void *ctx);
    void (*free)(void *ctx);
};

/*
 * Queues lines (up to cap bytes) for a thread that sends them through t,
 * reconnecting with a growing pause when the peer is gone. Lines that find
 * the queue full, or that were being sent when the link broke, are dropped
 * and counted. Closing waits up to two seconds for the queue to drain.
 */
struct sink *sink_async_open(const struct sink_transport *t, void *ctx, size_t cap);

/* The transports. */
void *unix_transport_new(const char *path, bool datagram);
extern const struct sink_transport unix_transport;
void *syslog_transport_new(const char *target, int facility, const char *tag);
extern const struct sink_transport syslog_transport;
void *redis_transport_new(const char *host, int port, bool channel, const char *key);
extern const struct sink_transport redis_transport;

/*
 * Opens a sink from its spec: "-", "file:PATH", "unix:PATH", "unix-dgram:PATH",
 * "syslog[:FACILITY]" (to /dev/log, or syslog_target: a socket path or
 * HOST:PORT for UDP), "redis://HOST:PORT/list/KEY" or ".../channel/NAME";
 * any may end in "?types=alert,dcerpc,...". NULL and err on a bad spec.
 */
struct sink *sink_open_spec(const char *spec, const char *syslog_target, const char *syslog_tag,
                            size_t queue_cap, char *err, size_t errlen);

#endif
