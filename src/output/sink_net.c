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

static const char *const kind_names[EV_KINDS] = {"dcerpc", "alert", "anomaly",  "lateral_movement",
                                                 "flow",   "stats", "fileinfo", "smb"};

const char *event_kind_name(enum event_kind k)
{
    return k < EV_KINDS ? kind_names[k] : "?";
}

enum event_kind event_kind_of(const char *t)
{
    for (int k = 0; k < EV_KINDS; k++)
        if (strcmp(t, kind_names[k]) == 0)
            return (enum event_kind)k;
    return EV_KINDS;
}

/* ---- stream sockets: lines in order, a short write goes on where it stopped ---- */

#define STREAM_IOV 128

/*
 * Sends lines (each followed by a newline when nl) on a blocking stream
 * socket whose send timeout is set; *head_sent says how much of the first
 * line a previous call already sent. See enum send_result.
 */
static enum send_result stream_send(int fd, size_t *head_sent, const struct iovec *lines, size_t n,
                                    bool nl, size_t *settled, char *err, size_t errlen)
{
    size_t i = 0;
    while (i < n) {
        struct iovec iov[STREAM_IOV];
        int k = 0;
        size_t skip = *head_sent;
        for (size_t j = i; j < n && k + 2 <= STREAM_IOV; j++, skip = 0) {
            size_t len = lines[j].iov_len;
            if (skip < len)
                iov[k++] = (struct iovec){(char *)lines[j].iov_base + skip, len - skip};
            if (nl)
                iov[k++] = (struct iovec){"\n", 1};
        }
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)k};
        ssize_t w = sendmsg(fd, &m, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0) {
            *settled = i;
            snprintf(err, errlen, "%s", strerror(errno));
            return errno == EAGAIN || errno == EWOULDBLOCK ? SEND_SLOW : SEND_BROKEN;
        }
        for (size_t left = (size_t)w; left && i < n;) {
            size_t rest = lines[i].iov_len + (nl ? 1 : 0) - *head_sent;
            if (left >= rest) {
                left -= rest;
                *head_sent = 0;
                i++;
            } else {
                *head_sent += left;
                left = 0;
            }
        }
    }
    *settled = n;
    return SEND_OK;
}

static void set_send_timeout(int fd)
{
    struct timeval tv = {2, 0}; /* a peer that stops reading must not hold the sender forever */
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* ---- unix sockets ---- */

struct unix_ctx {
    char path[108];
    bool dgram;
    int fd;
    size_t head_sent;
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

static int unix_connect_path(const char *path, int type, char *err, size_t errlen)
{
    int fd = socket(AF_UNIX, type | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return -1;
    }
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    set_send_timeout(fd);
    return fd;
}

static bool unix_connect(void *ctx, char *err, size_t errlen)
{
    struct unix_ctx *u = ctx;
    u->fd = unix_connect_path(u->path, u->dgram ? SOCK_DGRAM : SOCK_STREAM, err, errlen);
    u->head_sent = 0;
    return u->fd >= 0;
}

/* One datagram per message; a message the socket cannot carry is refused. */
static enum send_result dgram_send(int fd, const struct iovec *msgs, size_t n, size_t *settled,
                                   size_t *refused, char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        ssize_t w;
        do
            w = send(fd, msgs[i].iov_base, msgs[i].iov_len, MSG_NOSIGNAL);
        while (w < 0 && errno == EINTR);
        if (w < 0 && errno == EMSGSIZE) {
            snprintf(err, errlen, "a record of %zu bytes is too large for a datagram",
                     msgs[i].iov_len);
            ++*refused;
            continue;
        }
        if (w < 0) {
            *settled = i;
            snprintf(err, errlen, "%s", strerror(errno));
            return errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS ? SEND_SLOW
                                                                               : SEND_BROKEN;
        }
    }
    *settled = n;
    return SEND_OK;
}

static enum send_result unix_send(void *ctx, const struct iovec *lines, size_t n, size_t *settled,
                                  size_t *refused, char *err, size_t errlen)
{
    struct unix_ctx *u = ctx;
    if (u->dgram)
        return dgram_send(u->fd, lines, n, settled, refused, err, errlen);
    return stream_send(u->fd, &u->head_sent, lines, n, true, settled, err, errlen);
}

static void unix_disconnect(void *ctx)
{
    struct unix_ctx *u = ctx;
    if (u->fd >= 0)
        close(u->fd);
    u->fd = -1;
    u->head_sent = 0;
}

const struct sink_transport unix_transport = {"unix", unix_connect, unix_send, unix_disconnect,
                                              free};

/* ---- syslog ---- */

/*
 * Local sockets get RFC 3164 as syslog(3) writes it ("<PRI>Mmm dd hh:mm:ss
 * TAG[PID]: MSG"), which rsyslog's and journald's local inputs parse; the
 * network gets RFC 5424 with the record's event_type as MSGID, over UDP as
 * one datagram each, over TCP in octet-counted frames (RFC 6587).
 */
struct syslog_ctx {
    char target[256];
    enum syslog_proto proto;
    char host_part[256], port_part[16];
    int facility;
    char tag[48];
    char host[256];
    int fd;
    size_t head_sent; /* TCP: of the first frame */
    char ts[40];      /* TCP: the first frame's time, kept while part of it is sent */
    char *buf;        /* the frames of a batch */
    size_t bufcap;
    struct iovec iov[512];
};

bool syslog_target_parse(const char *target, enum syslog_proto *proto, char *host, size_t hostlen,
                         char *port, size_t portlen)
{
    if (!target || !*target || target[0] == '/') {
        *proto = SYSLOG_LOCAL;
        return true;
    }
    const char *hp = target;
    *proto = SYSLOG_UDP;
    if (strncmp(target, "udp:", 4) == 0) {
        hp = target + 4;
    } else if (strncmp(target, "tcp:", 4) == 0) {
        hp = target + 4;
        *proto = SYSLOG_TCP;
    }
    const char *colon = strrchr(hp, ':');
    const char *p = "514";
    size_t hl = strlen(hp);
    if (hp[0] == '[') { /* [v6]:port */
        const char *close = strchr(hp, ']');
        if (!close)
            return false;
        hp++;
        hl = (size_t)(close - hp);
        if (close[1] == ':')
            p = close + 2;
        else if (close[1])
            return false;
    } else if (colon && strchr(hp, ':') == colon) { /* HOST:PORT; more colons: an IPv6 address */
        hl = (size_t)(colon - hp);
        p = colon + 1;
    }
    if (!hl || hl >= hostlen || !*p || strlen(p) >= portlen)
        return false;
    for (const char *q = p; *q; q++)
        if (*q < '0' || *q > '9')
            return false;
    long pn = strtol(p, NULL, 10);
    if (pn <= 0 || pn > 65535)
        return false;
    snprintf(host, hostlen, "%.*s", (int)hl, hp);
    snprintf(port, portlen, "%s", p);
    return true;
}

void *syslog_transport_new(const char *target, int facility, const char *tag)
{
    struct syslog_ctx *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    snprintf(s->target, sizeof s->target, "%s", target && *target ? target : "/dev/log");
    if (!syslog_target_parse(s->target, &s->proto, s->host_part, sizeof s->host_part, s->port_part,
                             sizeof s->port_part)) {
        free(s);
        return NULL;
    }
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
    s->head_sent = 0;
    if (s->proto == SYSLOG_LOCAL) {
        s->fd = unix_connect_path(s->target, SOCK_DGRAM, err, errlen);
        return s->fd >= 0;
    }
    int type = s->proto == SYSLOG_TCP ? SOCK_STREAM : SOCK_DGRAM;
    struct addrinfo hints = {.ai_socktype = type}, *ai = NULL;
    if (getaddrinfo(s->host_part, s->port_part, &hints, &ai) != 0 || !ai) {
        snprintf(err, errlen, "%s: cannot resolve", s->target);
        return false;
    }
    int fd = socket(ai->ai_family, type | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        snprintf(err, errlen, "%s: %s", s->target, strerror(errno));
        close(fd);
        fd = -1;
    } else if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
    }
    freeaddrinfo(ai);
    if (fd >= 0)
        set_send_timeout(fd);
    s->fd = fd;
    return fd >= 0;
}

/* The value of "event_type" in a record, or "-" (RFC 5424 MSGID: 1-32 printable ASCII). */
static size_t record_event_type(const char *line, size_t len, const char **out)
{
    static const char et_key[] = "\"event_type\":\"";
    const char *et = memmem(line, len, et_key, sizeof et_key - 1);
    *out = "-";
    if (!et)
        return 1;
    et += sizeof et_key - 1;
    size_t k = 0;
    while (et + k < line + len && k < 32 && et[k] > ' ' && et[k] < 127 && et[k] != '"')
        k++;
    if (!k || et + k >= line + len || et[k] != '"')
        return 1;
    *out = et;
    return k;
}

/*
 * The severity of a record, so that a syslog pipeline can route on it: an
 * alert by its rule's severity (1 critical, 2 error, 3 and more warning),
 * stories and anomalies warning, everything else informational.
 */
static int record_severity(const char *line, size_t len)
{
    static const char sev_key[] = "\"severity\":";
    const char *et;
    size_t n = record_event_type(line, len, &et);
    if (n == 5 && !memcmp(et, "alert", 5)) {
        size_t left = len - (size_t)(et - line);
        const char *sv = memmem(et, left, sev_key, sizeof sev_key - 1);
        int sev = 3;
        if (sv && sv + sizeof sev_key - 1 < line + len)
            sev = sv[sizeof sev_key - 1] - '0';
        return sev <= 1 ? 2 : sev == 2 ? 3 : 4;
    }
    if ((n == 16 && !memcmp(et, "lateral_movement", 16)) || (n == 7 && !memcmp(et, "anomaly", 7)))
        return 4;
    return 6;
}

/* Writes one message's header into p (room: 600 bytes); returns its length. */
static int syslog_header(struct syslog_ctx *s, char *p, size_t room, const char *line, size_t len,
                         bool keep_ts)
{
    int pri = s->facility * 8 + record_severity(line, len);
    if (s->proto == SYSLOG_LOCAL) {
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%b %e %H:%M:%S", &tm);
        return snprintf(p, room, "<%d>%s %s[%d]: ", pri, ts, s->tag, (int)getpid());
    }
    if (!keep_ts || !s->ts[0]) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        char ts[32];
        strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
        snprintf(s->ts, sizeof s->ts, "%s.%06ldZ", ts, (long)tv.tv_usec);
    }
    const char *et;
    size_t etn = record_event_type(line, len, &et);
    /* <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA MSG */
    return snprintf(p, room, "<%d>1 %s %s %s %d %.*s - ", pri, s->ts, s->host, s->tag,
                    (int)getpid(), (int)etn, et);
}

static enum send_result syslog_send(void *ctx, const struct iovec *lines, size_t n, size_t *settled,
                                    size_t *refused, char *err, size_t errlen)
{
    struct syslog_ctx *s = ctx;
    if (n > sizeof s->iov / sizeof s->iov[0])
        n = sizeof s->iov / sizeof s->iov[0];
    size_t need = 0;
    for (size_t i = 0; i < n; i++)
        need += lines[i].iov_len + 640;
    if (need > s->bufcap) {
        char *b = realloc(s->buf, need);
        if (!b) {
            snprintf(err, errlen, "out of memory");
            return SEND_SLOW;
        }
        s->buf = b;
        s->bufcap = need;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        char *frame = s->buf + at;
        char hdr[600];
        int h = syslog_header(s, hdr, sizeof hdr, lines[i].iov_base, lines[i].iov_len,
                              i == 0 && s->head_sent);
        if (h < 0 || (size_t)h >= sizeof hdr)
            h = 0;
        size_t msg = (size_t)h + lines[i].iov_len, k = 0;
        if (s->proto == SYSLOG_TCP) /* octet counting: MSG-LEN SP SYSLOG-MSG */
            k = (size_t)snprintf(frame, 24, "%zu ", msg);
        memcpy(frame + k, hdr, (size_t)h);
        memcpy(frame + k + (size_t)h, lines[i].iov_base, lines[i].iov_len);
        s->iov[i] = (struct iovec){frame, k + msg};
        at += k + msg;
    }
    if (s->proto == SYSLOG_TCP)
        return stream_send(s->fd, &s->head_sent, s->iov, n, false, settled, err, errlen);
    return dgram_send(s->fd, s->iov, n, settled, refused, err, errlen);
}

static void syslog_disconnect(void *ctx)
{
    struct syslog_ctx *s = ctx;
    if (s->fd >= 0)
        close(s->fd);
    s->fd = -1;
    s->head_sent = 0;
}

static void syslog_free(void *ctx)
{
    struct syslog_ctx *s = ctx;
    free(s->buf);
    free(s);
}

const struct sink_transport syslog_transport = {"syslog", syslog_connect, syslog_send,
                                                syslog_disconnect, syslog_free};

/* ---- Redis: one command per record, a batch pipelined, each reply read ---- */

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

static enum send_result redis_send(void *ctx, const struct iovec *lines, size_t n, size_t *settled,
                                   size_t *refused, char *err, size_t errlen)
{
    struct redis_ctx *r = ctx;
    const char *cmd = r->channel ? "PUBLISH" : "RPUSH";
    for (size_t i = 0; i < n; i++) {
        const char *argv[3] = {cmd, r->key, lines[i].iov_base};
        size_t argl[3] = {strlen(cmd), strlen(r->key), lines[i].iov_len};
        if (redisAppendCommandArgv(r->c, 3, argv, argl) != REDIS_OK) {
            snprintf(err, errlen, "redis: %s", r->c->errstr);
            *settled = 0;
            return SEND_BROKEN;
        }
    }
    for (size_t i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(r->c, &rep) != REDIS_OK || !rep) {
            snprintf(err, errlen, "redis %s:%d: %s", r->host, r->port, r->c->errstr);
            *settled = i;
            return SEND_BROKEN;
        }
        redisReply *rr = rep;
        if (rr->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "%.*s", (int)rr->len, rr->str);
            ++*refused;
        }
        freeReplyObject(rr);
    }
    *settled = n;
    return SEND_OK;
}

static void redis_disconnect(void *ctx)
{
    struct redis_ctx *r = ctx;
    if (r->c)
        redisFree(r->c);
    r->c = NULL;
}

const struct sink_transport redis_transport = {"redis", redis_connect, redis_send, redis_disconnect,
                                               free};

/* ---- specs ---- */

/*
 * An output to an IP peer under a sandbox that forbids IP sockets (systemd's
 * RestrictAddressFamilies=) would retry for ever: refuse it at start instead.
 */
static bool ip_sockets_allowed(const char *spec, char *err, size_t errlen)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    snprintf(err, errlen,
             "%s: IP sockets are refused here (%s): under systemd the unit must allow them "
             "(RestrictAddressFamilies=AF_INET AF_INET6, IPAddressAllow= the peer); "
             "`rpcsentry -c FILE --systemd-dropin` writes that drop-in",
             spec, strerror(errno));
    return false;
}

/* "redis://HOST[:PORT]/list|channel/KEY" into its parts (mode 16 bytes, key 256). */
static bool redis_spec_parse(const char *spec, char *host, size_t hostlen, int *port, char *mode,
                             char *key)
{
    const char *p = spec + 8;
    const char *slash = strchr(p, '/');
    *port = 6379;
    if (!slash || sscanf(slash, "/%15[^/]/%255s", mode, key) != 2 ||
        (strcmp(mode, "list") && strcmp(mode, "channel")))
        return false;
    snprintf(host, hostlen, "%.*s", (int)(slash - p), p);
    char *colon = strrchr(host, ':');
    if (colon) {
        *colon = '\0';
        *port = atoi(colon + 1);
        if (*port <= 0 || *port > 65535)
            return false;
    }
    return host[0] != '\0';
}

bool sink_spec_ip_peer(const char *spec_in, const char *syslog_target, char *host, size_t hostlen,
                       char *port, size_t portlen)
{
    char spec[512];
    snprintf(spec, sizeof spec, "%s", spec_in);
    char *q = strstr(spec, "?types=");
    if (q)
        *q = '\0';
    if (strncmp(spec, "redis://", 8) == 0) {
        char mode[16], key[256];
        int pn;
        if (!redis_spec_parse(spec, host, hostlen, &pn, mode, key))
            return false;
        snprintf(port, portlen, "%d", pn);
        return true;
    }
    if (strcmp(spec, "syslog") == 0 || strncmp(spec, "syslog:", 7) == 0) {
        enum syslog_proto proto;
        return syslog_target_parse(syslog_target, &proto, host, hostlen, port, portlen) &&
               proto != SYSLOG_LOCAL;
    }
    return false;
}

static int facility_of(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } f[] = {{"kern", 0},      {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
             {"syslog", 5},    {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
             {"authpriv", 10}, {"ftp", 11},    {"local0", 16}, {"local1", 17}, {"local2", 18},
             {"local3", 19},   {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23}};
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
            snprintf(err, errlen,
                     "types: %s is not an event type (dcerpc, alert, anomaly, "
                     "lateral_movement, flow, stats)",
                     t);
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
                            size_t queue_cap, const struct sink_env *env, char *err, size_t errlen)
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
        s = sink_file_open("-", env, err, errlen);
    } else if (strncmp(spec, "file:", 5) == 0) {
        s = sink_file_open(spec + 5, env, err, errlen);
    } else if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "unix-dgram:", 11) == 0) {
        bool dgram = spec[4] == '-';
        const char *path = spec + (dgram ? 11 : 5);
        if (!*path || strlen(path) >= 108) {
            snprintf(err, errlen, "%s: a socket path of 1 to 107 characters", spec_in);
            return NULL;
        }
        ctx = unix_transport_new(path, dgram);
        s = ctx ? sink_async_open(&unix_transport, ctx, queue_cap, env) : NULL;
    } else if (strcmp(spec, "syslog") == 0 || strncmp(spec, "syslog:", 7) == 0) {
        int facility = 16; /* local0 */
        if (spec[6] == ':' && (facility = facility_of(spec + 7)) < 0) {
            snprintf(err, errlen, "%s: unknown facility %s (local0..local7, daemon, user, ...)",
                     spec_in, spec + 7);
            return NULL;
        }
        enum syslog_proto proto;
        char h[256], pt[16];
        if (!syslog_target_parse(syslog_target, &proto, h, sizeof h, pt, sizeof pt)) {
            snprintf(err, errlen,
                     "--syslog-target %s: expected a socket path, HOST:PORT, "
                     "udp:HOST:PORT or tcp:HOST:PORT",
                     syslog_target);
            return NULL;
        }
        if (proto != SYSLOG_LOCAL && !ip_sockets_allowed(spec_in, err, errlen))
            return NULL;
        ctx = syslog_transport_new(syslog_target, facility, syslog_tag);
        s = ctx ? sink_async_open(&syslog_transport, ctx, queue_cap, env) : NULL;
    } else if (strncmp(spec, "redis://", 8) == 0) {
        char host[256], mode[16], key[256];
        int port;
        if (!redis_spec_parse(spec, host, sizeof host, &port, mode, key)) {
            snprintf(err, errlen,
                     "%s: expected redis://HOST:PORT/list/KEY or "
                     "redis://HOST:PORT/channel/NAME (PORT 1-65535)",
                     spec_in);
            return NULL;
        }
        if (!ip_sockets_allowed(spec_in, err, errlen))
            return NULL;
        ctx = redis_transport_new(host, port, strcmp(mode, "channel") == 0, key);
        s = ctx ? sink_async_open(&redis_transport, ctx, queue_cap, env) : NULL;
    } else {
        snprintf(err, errlen,
                 "%s: not an output (-, file:PATH, unix:PATH, unix-dgram:PATH, "
                 "syslog[:FACILITY], redis://HOST:PORT/list/KEY)",
                 spec_in);
        return NULL;
    }
    if (!s) {
        if (!err[0])
            snprintf(err, errlen, "%s: out of memory", spec_in);
        return NULL;
    }
    snprintf(s->spec, sizeof s->spec, "%s", spec_in);
    s->types = types;
    return s;
}
