/*
 * Transports for the queued sinks: unix sockets (stream: one line and its
 * newline; datagram: one record per datagram), syslog (RFC 5424 over the
 * local socket or UDP) and Redis (RPUSH to a list or PUBLISH to a channel,
 * as Suricata's redis output does), plus the parser of sink specs.
 */
#define _GNU_SOURCE /* memmem */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "rpcsentry/sink.h"

static const char *const kind_names[EV_KINDS] = {"dcerpc", "alert", "anomaly",
                                                 "lateral_movement", "flow", "stats"};

const char *event_kind_name(enum event_kind k) { return k < EV_KINDS ? kind_names[k] : "?"; }

enum event_kind event_kind_of(const char *t)
{
    for (int k = 0; k < EV_KINDS; k++)
        if (strcmp(t, kind_names[k]) == 0)
            return (enum event_kind)k;
    return EV_KINDS;
}

/* ---- unix sockets ---- */

struct unix_ctx {
    char path[108];
    bool dgram;
    int fd;
};

void *unix_transport_new(const char *path, bool datagram)
{
    struct unix_ctx *u = calloc(1, sizeof *u);
    if (!u)
        return NULL;
    snprintf(u->path, sizeof u->path, "%s", path);
    u->dgram = datagram;
    u->fd = -1;
    return u;
}

static bool unix_connect(void *ctx, char *err, size_t errlen)
{
    struct unix_ctx *u = ctx;
    int fd = socket(AF_UNIX, (u->dgram ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return false;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    memcpy(sa.sun_path, u->path, sizeof sa.sun_path - 1);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "%s: %s", u->path, strerror(errno));
        close(fd);
        return false;
    }
    struct timeval tv = {2, 0}; /* a peer that stops reading must not hold the sender forever */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    u->fd = fd;
    return true;
}

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

static bool unix_send(void *ctx, const char *line, size_t len)
{
    struct unix_ctx *u = ctx;
    if (u->dgram)
        return send(u->fd, line, len, MSG_NOSIGNAL) == (ssize_t)len;
    struct iovec iov[2] = {{(void *)line, len}, {"\n", 1}};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
    ssize_t k = sendmsg(u->fd, &m, MSG_NOSIGNAL);
    if (k == (ssize_t)len + 1)
        return true;
    if (k < 0)
        return false;
    /* a short write: the rest, in order */
    size_t done = (size_t)k;
    if (done < len && !send_all(u->fd, line + done, len - done))
        return false;
    return done > len || send_all(u->fd, "\n", 1);
}

static void unix_disconnect(void *ctx)
{
    struct unix_ctx *u = ctx;
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
}

const struct sink_transport unix_transport = {"unix", unix_connect, unix_send, unix_disconnect,
                                              free};

/* ---- syslog, RFC 5424 ---- */

struct syslog_ctx {
    char target[256];  /* a socket path, or HOST:PORT (UDP) */
    int facility;
    char tag[48];
    char host[256];
    int fd;
    char *buf;
    size_t bufcap;
};

void *syslog_transport_new(const char *target, int facility, const char *tag)
{
    struct syslog_ctx *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->target, sizeof s->target, "%s", target && *target ? target : "/dev/log");
    s->facility = facility;
    snprintf(s->tag, sizeof s->tag, "%s", tag && *tag ? tag : "rpcsentry");
    if (gethostname(s->host, sizeof s->host) != 0 || !s->host[0])
        snprintf(s->host, sizeof s->host, "-");
    s->fd = -1;
    return s;
}

static bool syslog_connect(void *ctx, char *err, size_t errlen)
{
    struct syslog_ctx *s = ctx;
    int fd;
    if (s->target[0] == '/') {
        fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        memcpy(sa.sun_path, s->target, sizeof sa.sun_path - 1);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
            snprintf(err, errlen, "%s: %s", s->target, strerror(errno));
            close(fd);
            return false;
        }
    } else {
        char host[256];
        snprintf(host, sizeof host, "%s", s->target);
        char *colon = strrchr(host, ':');
        const char *port = "514";
        if (colon) {
            *colon = '\0';
            port = colon + 1;
        }
        struct addrinfo hints = {.ai_socktype = SOCK_DGRAM}, *ai = NULL;
        if (getaddrinfo(host, port, &hints, &ai) != 0 || !ai) {
            snprintf(err, errlen, "%s: cannot resolve", s->target);
            return false;
        }
        fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
            snprintf(err, errlen, "%s: %s", s->target, strerror(errno));
            close(fd);
            fd = -1;
        }
        freeaddrinfo(ai);
        if (fd < 0)
            return false;
    }
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return false;
    }
    s->fd = fd;
    return true;
}

/*
 * The RFC 5424 severity of a record, so that a syslog pipeline can route on
 * it: an alert by its rule's severity (1 critical, 2 error, 3 and more
 * warning), stories and anomalies warning, everything else informational.
 */
static int record_severity(const char *line, size_t len)
{
    static const char et_key[] = "\"event_type\":\"", sev_key[] = "\"severity\":";
    const char *et = memmem(line, len, et_key, sizeof et_key - 1);
    if (!et)
        return 6;
    et += sizeof et_key - 1;
    size_t left = len - (size_t)(et - line);
    if (left >= 6 && !memcmp(et, "alert\"", 6)) {
        const char *sv = memmem(et, left, sev_key, sizeof sev_key - 1);
        int sev = 3;
        if (sv && sv + sizeof sev_key - 1 < line + len)
            sev = sv[sizeof sev_key - 1] - '0';
        return sev <= 1 ? 2 : sev == 2 ? 3 : 4;
    }
    if ((left >= 17 && !memcmp(et, "lateral_movement\"", 17)) ||
        (left >= 8 && !memcmp(et, "anomaly\"", 8)))
        return 4;
    return 6;
}

static bool syslog_send(void *ctx, const char *line, size_t len)
{
    struct syslog_ctx *s = ctx;
    /* <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG */
    size_t need = len + 512;
    if (need > s->bufcap) {
        char *b = realloc(s->buf, need);
        if (!b)
            return false;
        s->buf = b;
        s->bufcap = need;
    }
    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    int n = snprintf(s->buf, s->bufcap, "<%d>1 %s.%06ldZ %s %s %d - - ",
                     s->facility * 8 + record_severity(line, len), ts,
                     (long)tv.tv_usec, s->host, s->tag, (int)getpid());
    if (n < 0)
        return false;
    memcpy(s->buf + n, line, len);
    return send(s->fd, s->buf, (size_t)n + len, MSG_NOSIGNAL) == (ssize_t)((size_t)n + len);
}

static void syslog_disconnect(void *ctx)
{
    struct syslog_ctx *s = ctx;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
}

static void syslog_free(void *ctx)
{
    struct syslog_ctx *s = ctx;
    free(s->buf);
    free(s);
}

const struct sink_transport syslog_transport = {"syslog", syslog_connect, syslog_send,
                                                syslog_disconnect, syslog_free};

/* ---- Redis ---- */

struct redis_ctx {
    char host[256];
    int port;
    bool channel;
    char key[256];
    redisContext *c;
};

void *redis_transport_new(const char *host, int port, bool channel, const char *key)
{
    struct redis_ctx *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    snprintf(r->host, sizeof r->host, "%s", host);
    r->port = port;
    r->channel = channel;
    snprintf(r->key, sizeof r->key, "%s", key);
    return r;
}

static bool redis_connect(void *ctx, char *err, size_t errlen)
{
    struct redis_ctx *r = ctx;
    struct timeval tv = {2, 0};
    r->c = redisConnectWithTimeout(r->host, r->port, tv);
    if (!r->c || r->c->err) {
        snprintf(err, errlen, "redis %s:%d: %s", r->host, r->port,
                 r->c ? r->c->errstr : "cannot connect");
        if (r->c)
            redisFree(r->c);
        r->c = NULL;
        return false;
    }
    redisSetTimeout(r->c, tv);
    return true;
}

static bool redis_send(void *ctx, const char *line, size_t len)
{
    struct redis_ctx *r = ctx;
    redisReply *rep = redisCommand(r->c, r->channel ? "PUBLISH %s %b" : "RPUSH %s %b", r->key,
                                   line, len);
    bool ok = rep && rep->type != REDIS_REPLY_ERROR;
    if (rep)
        freeReplyObject(rep);
    return ok;
}

static void redis_disconnect(void *ctx)
{
    struct redis_ctx *r = ctx;
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
}

const struct sink_transport redis_transport = {"redis", redis_connect, redis_send,
                                               redis_disconnect, free};

/* ---- specs ---- */

static int facility_of(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } f[] = {{"kern", 0},    {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
             {"syslog", 5},  {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
             {"authpriv", 10}, {"ftp", 11},  {"local0", 16}, {"local1", 17}, {"local2", 18},
             {"local3", 19}, {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23}};
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if (strcasecmp(name, f[i].name) == 0)
            return f[i].code;
    return -1;
}

static bool parse_types(const char *list, uint32_t *mask, char *err, size_t errlen)
{
    *mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        enum event_kind k = event_kind_of(t);
        if (k == EV_KINDS) {
            snprintf(err, errlen, "types: %s is not an event type (dcerpc, alert, anomaly, "
                                  "lateral_movement, flow, stats)", t);
            return false;
        }
        *mask |= 1u << k;
    }
    if (!*mask) {
        snprintf(err, errlen, "types: empty");
        return false;
    }
    return true;
}

struct sink *sink_open_spec(const char *spec_in, const char *syslog_target, const char *syslog_tag,
                            size_t queue_cap, char *err, size_t errlen)
{
    err[0] = '\0';
    char spec[512];
    snprintf(spec, sizeof spec, "%s", spec_in);
    uint32_t types = (1u << EV_KINDS) - 1;
    char *q = strstr(spec, "?types=");
    if (q) {
        if (!parse_types(q + 7, &types, err, errlen))
            return NULL;
        *q = '\0';
    }
    struct sink *s = NULL;
    void *ctx = NULL;
    if (strcmp(spec, "-") == 0) {
        s = sink_file_open("-", err, errlen);
    } else if (strncmp(spec, "file:", 5) == 0) {
        s = sink_file_open(spec + 5, err, errlen);
    } else if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "unix-dgram:", 11) == 0) {
        bool dgram = spec[4] == '-';
        const char *path = spec + (dgram ? 11 : 5);
        if (!*path || strlen(path) >= 108) {
            snprintf(err, errlen, "%s: a socket path of 1 to 107 characters", spec_in);
            return NULL;
        }
        ctx = unix_transport_new(path, dgram);
        s = ctx ? sink_async_open(&unix_transport, ctx, queue_cap) : NULL;
    } else if (strcmp(spec, "syslog") == 0 || strncmp(spec, "syslog:", 7) == 0) {
        int facility = 16; /* local0 */
        if (spec[6] == ':' && (facility = facility_of(spec + 7)) < 0) {
            snprintf(err, errlen, "%s: unknown facility %s (local0..local7, daemon, user, ...)",
                     spec_in, spec + 7);
            return NULL;
        }
        ctx = syslog_transport_new(syslog_target, facility, syslog_tag);
        s = ctx ? sink_async_open(&syslog_transport, ctx, queue_cap) : NULL;
    } else if (strncmp(spec, "redis://", 8) == 0) {
        char host[256];
        int port = 6379;
        char mode[16], key[256];
        const char *p = spec + 8;
        const char *slash = strchr(p, '/');
        if (!slash || sscanf(slash, "/%15[^/]/%255s", mode, key) != 2 ||
            (strcmp(mode, "list") && strcmp(mode, "channel"))) {
            snprintf(err, errlen, "%s: expected redis://HOST:PORT/list/KEY or "
                                  "redis://HOST:PORT/channel/NAME", spec_in);
            return NULL;
        }
        snprintf(host, sizeof host, "%.*s", (int)(slash - p), p);
        char *colon = strrchr(host, ':');
        if (colon) {
            *colon = '\0';
            port = atoi(colon + 1);
            if (port <= 0 || port > 65535) {
                snprintf(err, errlen, "%s: bad port", spec_in);
                return NULL;
            }
        }
        ctx = redis_transport_new(host, port, strcmp(mode, "channel") == 0, key);
        s = ctx ? sink_async_open(&redis_transport, ctx, queue_cap) : NULL;
    } else {
        snprintf(err, errlen, "%s: not an output (-, file:PATH, unix:PATH, unix-dgram:PATH, "
                              "syslog[:FACILITY], redis://HOST:PORT/list/KEY)", spec_in);
        return NULL;
    }
    if (!s) {
        if (!err[0])
            snprintf(err, errlen, "%s: out of memory", spec_in);
        if (ctx) /* the queue never started: the transport's state is ours to free */
            (strncmp(spec, "redis", 5) == 0   ? redis_transport
             : strncmp(spec, "syslog", 6) == 0 ? syslog_transport
                                               : unix_transport)
                .free(ctx);
        return NULL;
    }
    snprintf(s->spec, sizeof s->spec, "%s", spec_in);
    s->types = types;
    return s;
}
