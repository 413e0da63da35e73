/*
 * The stages behind decode on hand-made bytes, each through its own entry:
 * the flow table (both directions one flow, what its summary says, idle
 * timeouts), TCP reassembly (segments out of order and a conflicting overlap
 * in the buffer: first data wins, the anomaly is raised), the DCE/RPC engine
 * (bind, bind_ack, a request in two fragments, its response: one call,
 * named and classified, with its status), the SMB2 engine (a pipe opened on
 * IPC$ carrying a bind: the record names pipe and share) and EVE (what those
 * records say, read back as JSON). The DCE/RPC and SMB engines get a flow
 * reference only, no flow record.
 */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "harness.h"
#include "rpcsentry/config.h"
#include "rpcsentry/dcerpc.h"
#include "rpcsentry/decode.h"
#include "rpcsentry/detect.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/output.h"
#include "rpcsentry/runtime.h"
#include "rpcsentry/smb.h"
#include "rpcsentry/uuid.h"
#include "rpcsentry/worker.h"

/* ---- bytes ---- */

struct bytes {
    uint8_t b[2048];
    size_t n;
};
static void put(struct bytes *o, const void *p, size_t n)
{
    memcpy(o->b + o->n, p, n);
    o->n += n;
}
static void le16(struct bytes *o, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    put(o, b, 2);
}
static void le32(struct bytes *o, uint32_t v)
{
    le16(o, (uint16_t)v);
    le16(o, (uint16_t)(v >> 16));
}
static void le64(struct bytes *o, uint64_t v)
{
    le32(o, (uint32_t)v);
    le32(o, (uint32_t)(v >> 32));
}
static void zeros(struct bytes *o, size_t n)
{
    memset(o->b + o->n, 0, n);
    o->n += n;
}
static void set16(struct bytes *o, size_t at, uint16_t v)
{
    o->b[at] = (uint8_t)v, o->b[at + 1] = (uint8_t)(v >> 8);
}
static void utf16(struct bytes *o, const char *s)
{
    for (; *s; s++)
        le16(o, (uint8_t)*s);
}

/* ---- DCE/RPC PDUs (little-endian, NDR) ---- */

#define SVCCTL "367abb81-9844-35f1-ad32-98f038001003"
#define NDR_SYNTAX "8a885d04-1ceb-11c9-9fe8-08002b104860"

static void uuid_wire(struct bytes *o, const char *text)
{
    struct uuid u;
    uint8_t w[16];
    CHECK(uuid_parse(text, &u));
    uuid_to_wire_le(&u, w);
    put(o, w, 16);
}

static size_t pdu_begin(struct bytes *o, uint8_t ptype, uint8_t flags, uint32_t call_id)
{
    size_t at = o->n;
    uint8_t h[8] = {5, 0, ptype, flags, 0x10, 0, 0, 0};
    put(o, h, 8);
    le16(o, 0); /* frag_length, set at the end */
    le16(o, 0);
    le32(o, call_id);
    return at;
}
static void pdu_end(struct bytes *o, size_t at)
{
    set16(o, at + 8, (uint16_t)(o->n - at));
}

static void bind_pdu(struct bytes *o, uint32_t call_id)
{
    size_t at = pdu_begin(o, DCE_BIND, 3, call_id);
    le16(o, 4280), le16(o, 4280), le32(o, 0);
    uint8_t n_ctx[4] = {1, 0, 0, 0};
    put(o, n_ctx, 4);
    le16(o, 0); /* ctx_id */
    uint8_t n_ts[2] = {1, 0};
    put(o, n_ts, 2);
    uuid_wire(o, SVCCTL), le16(o, 2), le16(o, 0);
    uuid_wire(o, NDR_SYNTAX), le32(o, 2);
    pdu_end(o, at);
}

static void bind_ack_pdu(struct bytes *o, uint32_t call_id)
{
    size_t at = pdu_begin(o, DCE_BIND_ACK, 3, call_id);
    le16(o, 4280), le16(o, 4280), le32(o, 0x1234);
    le16(o, 4);
    put(o, "135", 4); /* secondary address, then aligned to 4: 24 + 2 + 4 = 30 -> 32 */
    zeros(o, 2);
    uint8_t n_res[4] = {1, 0, 0, 0};
    put(o, n_res, 4);
    le16(o, 0), le16(o, 0);
    uuid_wire(o, NDR_SYNTAX), le32(o, 2);
    pdu_end(o, at);
}

/* RStartServiceW (opnum 19): a service handle, no arguments. In one PDU or two fragments. */
static void start_service_request(struct bytes *o, uint32_t call_id, bool two_fragments)
{
    uint8_t handle[20];
    memset(handle, 0x5a, sizeof handle);
    struct bytes stub = {.n = 0};
    put(&stub, handle, sizeof handle);
    le32(&stub, 0); /* argc */
    le32(&stub, 0); /* argv: null */
    size_t cut = two_fragments ? 12 : stub.n;
    for (size_t from = 0; from < stub.n;) {
        size_t to = from == 0 ? cut : stub.n;
        uint8_t flags =
            (from == 0 ? DCE_PFC_FIRST_FRAG : 0) | (to == stub.n ? DCE_PFC_LAST_FRAG : 0);
        size_t at = pdu_begin(o, DCE_REQUEST, flags, call_id);
        le32(o, (uint32_t)stub.n);
        le16(o, 0), le16(o, 19);
        put(o, stub.b + from, to - from);
        pdu_end(o, at);
        from = to;
    }
}

static void response_pdu(struct bytes *o, uint32_t call_id, uint32_t status)
{
    size_t at = pdu_begin(o, DCE_RESPONSE, 3, call_id);
    le32(o, 4), le16(o, 0);
    uint8_t cancel[2] = {0, 0};
    put(o, cancel, 2);
    le32(o, status);
    pdu_end(o, at);
}

/* ---- a worker writing EVE to a file, read back as JSON ---- */

struct stage_run {
    struct worker w;
    struct config cfg;
    char path[64];
    /* what the hooks saw */
    struct flow_summary ends[8]; /* their refs point into refs: the flow record goes */
    struct flow_ref refs[8];
    unsigned n_ends;
    unsigned anomalies[ANOM_COUNT];
};

static void count_anomaly(struct worker *w, const struct flow_ref *fr, enum anomaly_type t,
                          const char *detail)
{
    (void)fr, (void)detail;
    struct stage_run *r = (struct stage_run *)w; /* w is the first member */
    r->anomalies[t]++;
}

static void keep_flow_end(struct worker *w, const struct flow_summary *s)
{
    struct stage_run *r = (struct stage_run *)w;
    if (r->n_ends < 8) {
        r->refs[r->n_ends] = *s->ref;
        r->ends[r->n_ends] = *s;
        r->ends[r->n_ends].ref = &r->refs[r->n_ends];
        r->n_ends++;
    }
}

static struct stage_run *stage_start(void)
{
    struct stage_run *r = calloc(1, sizeof *r);
    config_defaults(&r->cfg);
    r->cfg.log_binds = true;
    r->cfg.log_flows = true;
    strcpy(r->path, "/tmp/rpcsentry-stages-XXXXXX");
    int fd = mkstemp(r->path);
    CHECK(fd >= 0);
    close(fd);
    struct output_opts oo = {.eve_path = r->path, .log_binds = true};
    char err[256];
    struct output *out = output_open(&oo, err, sizeof err);
    CHECK(out != NULL);
    unsigned errors = 0;
    struct detect *d = detect_load(true, NULL, 0, NULL, &errors);
    CHECK(worker_setup(&r->w, &r->cfg, out, d, NULL, err, sizeof err));
    r->w.on_anomaly = count_anomaly;
    r->w.on_flow_end = keep_flow_end;
    r->w.now_us = 1700000000000000ull;
    return r;
}

/* Ends the run and returns the records written, as a JSON array (the caller frees it). */
static cJSON *stage_end(struct stage_run *r)
{
    struct detect *d = r->w.detect;
    worker_teardown(&r->w);
    detect_free(d);
    cJSON *all = cJSON_CreateArray();
    FILE *f = fopen(r->path, "r");
    char line[16384];
    while (f && fgets(line, sizeof line, f)) {
        cJSON *j = cJSON_Parse(line);
        CHECK(j != NULL); /* every line a whole JSON object */
        if (j)
            cJSON_AddItemToArray(all, j);
    }
    if (f)
        fclose(f);
    unlink(r->path);
    free(r);
    return all;
}

/* The string at a dotted path ("rpcsentry.operation"), or NULL. */
static const char *jstr(const cJSON *j, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf, *dot; j && s; s = dot ? dot + 1 : NULL) {
        dot = strchr(s, '.');
        if (dot)
            *dot = 0;
        j = cJSON_GetObjectItemCaseSensitive(j, s);
    }
    return cJSON_IsString(j) ? j->valuestring : NULL;
}

static double jnum(const cJSON *j, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *s = buf, *dot; j && s; s = dot ? dot + 1 : NULL) {
        dot = strchr(s, '.');
        if (dot)
            *dot = 0;
        j = cJSON_GetObjectItemCaseSensitive(j, s);
    }
    return cJSON_IsNumber(j) ? j->valuedouble : -1;
}

/* The records of one event type with rpcsentry.operation op (NULL: any). */
static const cJSON *find_record(const cJSON *all, const char *type, const char *op, int nth)
{
    const cJSON *j;
    cJSON_ArrayForEach(j, all)
    {
        const char *t = jstr(j, "event_type");
        if (!t || strcmp(t, type) != 0)
            continue;
        const char *o = jstr(j, "rpcsentry.operation");
        if (op && (!o || strcmp(o, op) != 0))
            continue;
        if (nth-- == 0)
            return j;
    }
    return NULL;
}

static int count_records(const cJSON *all, const char *type)
{
    int n = 0;
    const cJSON *j;
    cJSON_ArrayForEach(j, all)
    {
        const char *t = jstr(j, "event_type");
        n += t && strcmp(t, type) == 0;
    }
    return n;
}

/* ---- the DCE/RPC engine on a flow reference ---- */

/* The reference of a TCP connection 10.0.0.1:cport -> 10.0.0.2:sport, the client first. */
static struct flow_ref tcp_ref(uint64_t id, uint16_t cport, uint16_t sport)
{
    struct flow_ref ref = {.flow_id = id, .client = 0};
    ref.key.ipver = 4, ref.key.proto = 6;
    ref.key.addr[0][0] = 10, ref.key.addr[0][3] = 1;
    ref.key.addr[1][0] = 10, ref.key.addr[1][3] = 2;
    ref.key.port[0] = cport, ref.key.port[1] = sport;
    return ref;
}

TEST(dce_engine_bind_fragmented_request_and_response)
{
    struct stage_run *r = stage_start();
    struct flow_ref ref = tcp_ref(42, 50000, 49700);
    uint64_t tx = 0;
    struct rpc_transport t = {.kind = RPC_TRANSPORT_TCP, .flow = &ref, .tx_counter = &tx};
    struct dce_assoc *a = dce_assoc_new(&r->w, &t);
    CHECK(a != NULL);
    struct bytes c = {.n = 0}, s = {.n = 0};
    bind_pdu(&c, 1);
    bind_ack_pdu(&s, 1);
    start_service_request(&c, 2, true);
    response_pdu(&s, 2, 0);
    /* the client's bytes one at a time: the engine holds partial PDUs across calls */
    size_t bind_len = c.b[8] | c.b[9] << 8;
    for (size_t i = 0; i < bind_len; i++)
        dce_data(&r->w, a, 0, c.b + i, 1);
    dce_data(&r->w, a, 1, s.b, s.b[8] | s.b[9] << 8);
    dce_data(&r->w, a, 0, c.b + bind_len, c.n - bind_len);
    dce_data(&r->w, a, 1, s.b + (s.b[8] | s.b[9] << 8), s.n - (s.b[8] | s.b[9] << 8));
    dce_assoc_free(&r->w, a);
    uint64_t calls = r->w.stats.dce_calls;
    cJSON *all = stage_end(r);
    CHECK_EQ(calls, 1);
    const cJSON *call = find_record(all, "dcerpc", "RStartServiceW", 0);
    CHECK(call != NULL);
    CHECK_STR(jstr(call, "rpcsentry.interface"), "svcctl");
    CHECK_STR(jstr(call, "rpcsentry.class"), "execute");
    CHECK_STR(jstr(call, "rpcsentry.transport"), "ncacn_ip_tcp");
    CHECK_STR(jstr(call, "dcerpc.request"), "REQUEST");
    CHECK_STR(jstr(call, "dcerpc.response"), "RESPONSE");
    CHECK_EQ(jnum(call, "dcerpc.req.frag_cnt"), 2);
    CHECK_EQ(jnum(call, "dcerpc.req.stub_data_size"), 28);
    CHECK_EQ(jnum(call, "dcerpc.call_id"), 2);
    CHECK_EQ(jnum(call, "flow_id"), 42);
    CHECK_STR(jstr(call, "src_ip"), "10.0.0.1");
    CHECK_STR(jstr(call, "rpcsentry.result.status"), "ERROR_SUCCESS");
    const cJSON *bind = find_record(all, "dcerpc", NULL, 0);
    CHECK(bind != NULL && bind != call); /* the bind has a record of its own, first */
    CHECK_STR(jstr(bind, "dcerpc.request"), "BIND");
    CHECK_STR(jstr(bind, "dcerpc.response"), "BINDACK");
    CHECK_EQ(count_records(all, "dcerpc"), 2);
    cJSON_Delete(all);
}

/* ---- SMB2: a pipe opened on IPC$ carrying the bind ---- */

static size_t smb2_begin(struct bytes *o, uint16_t cmd, bool response, uint64_t msg_id,
                         uint32_t tree_id)
{
    size_t at = o->n;
    zeros(o, 4); /* NetBIOS session message: length set at the end */
    uint8_t magic[4] = {0xfe, 'S', 'M', 'B'};
    put(o, magic, 4);
    le16(o, 64), le16(o, 0);
    le32(o, 0);                /* status */
    le16(o, cmd), le16(o, 1);  /* credits */
    le32(o, response ? 1 : 0); /* flags */
    le32(o, 0);                /* next command */
    le64(o, msg_id), le32(o, 0xfeff), le32(o, tree_id);
    le64(o, 0x4400000000000001ull); /* session */
    zeros(o, 16);
    return at;
}
static void smb2_end(struct bytes *o, size_t at)
{
    size_t n = o->n - at - 4;
    o->b[at + 1] = (uint8_t)(n >> 16), o->b[at + 2] = (uint8_t)(n >> 8), o->b[at + 3] = (uint8_t)n;
}

static const uint8_t file_id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

TEST(smb2_pipe_on_ipc_carries_a_bind)
{
    struct stage_run *r = stage_start();
    struct flow_ref ref = tcp_ref(7, 50001, 445);
    uint64_t tx = 0;
    char cid[64] = "";
    struct rpc_transport tcp = {
        .kind = RPC_TRANSPORT_TCP, .flow = &ref, .tx_counter = &tx, .community_id = cid};
    struct smb_conn *conn = smb_conn_new(&r->w, &tcp, true);
    CHECK(conn != NULL);
    struct bytes c = {.n = 0}, s = {.n = 0};
    /* TREE_CONNECT \\srv\IPC$ */
    size_t at = smb2_begin(&c, 3, false, 1, 0);
    le16(&c, 9), le16(&c, 0), le16(&c, 64 + 8), le16(&c, 2 * 10);
    utf16(&c, "\\\\srv\\IPC$");
    smb2_end(&c, at);
    at = smb2_begin(&s, 3, true, 1, 5);
    le16(&s, 16);
    uint8_t pipe_share[2] = {2, 0};
    put(&s, pipe_share, 2);
    le32(&s, 0), le32(&s, 0), le32(&s, 0x1f01ff);
    smb2_end(&s, at);
    /* CREATE svcctl */
    at = smb2_begin(&c, 5, false, 2, 5);
    le16(&c, 57);
    zeros(&c, 2);
    le32(&c, 2), le64(&c, 0), le64(&c, 0);
    le32(&c, 0x12019f), le32(&c, 0), le32(&c, 7), le32(&c, 1), le32(&c, 0);
    le16(&c, 64 + 56), le16(&c, 12), le32(&c, 0), le32(&c, 0);
    utf16(&c, "svcctl");
    smb2_end(&c, at);
    at = smb2_begin(&s, 5, true, 2, 5);
    le16(&s, 89);
    zeros(&s, 2);
    le32(&s, 1);
    zeros(&s, 4 * 8 + 8 + 8 + 4 + 4);
    put(&s, file_id, 16);
    le32(&s, 0), le32(&s, 0);
    smb2_end(&s, at);
    /* WRITE the bind, READ the bind_ack */
    struct bytes bind = {.n = 0}, ack = {.n = 0};
    bind_pdu(&bind, 1);
    bind_ack_pdu(&ack, 1);
    at = smb2_begin(&c, 9, false, 3, 5);
    le16(&c, 49), le16(&c, 64 + 48), le32(&c, (uint32_t)bind.n), le64(&c, 0);
    put(&c, file_id, 16);
    le32(&c, 0), le32(&c, 0), le16(&c, 0), le16(&c, 0), le32(&c, 0);
    put(&c, bind.b, bind.n);
    smb2_end(&c, at);
    at = smb2_begin(&s, 9, true, 3, 5);
    le16(&s, 17), le16(&s, 0), le32(&s, (uint32_t)bind.n), le32(&s, 0), le16(&s, 0), le16(&s, 0);
    smb2_end(&s, at);
    at = smb2_begin(&c, 8, false, 4, 5);
    le16(&c, 49);
    zeros(&c, 2);
    le32(&c, 1024), le64(&c, 0);
    put(&c, file_id, 16);
    le32(&c, 0), le32(&c, 0), le32(&c, 0), le16(&c, 0), le16(&c, 0);
    zeros(&c, 1);
    smb2_end(&c, at);
    at = smb2_begin(&s, 8, true, 4, 5);
    le16(&s, 17);
    uint8_t off[2] = {80, 0};
    put(&s, off, 2);
    le32(&s, (uint32_t)ack.n), le32(&s, 0), le32(&s, 0);
    put(&s, ack.b, ack.n);
    smb2_end(&s, at);
    /* one message at a time, each answered before the next is asked */
    size_t ci = 0, si = 0;
    while (ci < c.n || si < s.n) {
        if (ci < c.n) {
            size_t n = 4 + ((size_t)c.b[ci + 1] << 16 | c.b[ci + 2] << 8 | c.b[ci + 3]);
            smb_data(&r->w, conn, 0, c.b + ci, n);
            ci += n;
        }
        if (si < s.n) {
            size_t n = 4 + ((size_t)s.b[si + 1] << 16 | s.b[si + 2] << 8 | s.b[si + 3]);
            smb_data(&r->w, conn, 1, s.b + si, n);
            si += n;
        }
    }
    smb_conn_free(&r->w, conn);
    cJSON *all = stage_end(r);
    const cJSON *b = find_record(all, "dcerpc", NULL, 0);
    CHECK(b != NULL);
    CHECK_STR(jstr(b, "dcerpc.request"), "BIND");
    CHECK_STR(jstr(b, "dcerpc.response"), "BINDACK");
    CHECK_STR(jstr(b, "rpcsentry.transport"), "ncacn_np");
    CHECK_STR(jstr(b, "rpcsentry.named_pipe"), "svcctl");
    CHECK_STR(jstr(b, "smb.share"), "\\\\srv\\IPC$");
    CHECK_STR(jstr(b, "app_proto"), "smb");
    cJSON_Delete(all);
}

/* ---- decode -> flow -> stream: a connection of hand-made frames ---- */

struct conn {
    uint16_t cport;     /* the client's port (0: 50000); the server's is 49700 */
    uint32_t seq[2];    /* next sequence number per side (0 client, 1 server) */
    uint16_t window[2]; /* the window each side advertises (0: 0xff00) */
};

static uint16_t csum(const uint8_t *b, size_t n, uint32_t sum)
{
    for (; n > 1; b += 2, n -= 2)
        sum += (uint32_t)b[0] << 8 | b[1];
    if (n)
        sum += (uint32_t)b[0] << 8;
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)~sum;
}

/* One Ethernet/IPv4/TCP frame from side `from` (0 client), its payload at sequence seq. */
static void send_tcp(struct stage_run *r, struct conn *k, int from, uint8_t flags, uint32_t seq,
                     const uint8_t *payload, size_t n)
{
    uint8_t f[1600] = {0};
    uint8_t *ip = f + 14, *tcp = ip + 20;
    f[12] = 0x08;
    uint8_t a[4] = {10, 0, 0, 1}, b[4] = {10, 0, 0, 2};
    uint16_t total = (uint16_t)(20 + 20 + n);
    ip[0] = 0x45, ip[2] = (uint8_t)(total >> 8), ip[3] = (uint8_t)total, ip[8] = 64, ip[9] = 6;
    memcpy(ip + 12, from ? b : a, 4);
    memcpy(ip + 16, from ? a : b, 4);
    uint16_t c = csum(ip, 20, 0);
    ip[10] = (uint8_t)(c >> 8), ip[11] = (uint8_t)c;
    uint16_t cp = k->cport ? k->cport : 50000;
    uint16_t sp = from ? 49700 : cp, dp = from ? cp : 49700;
    tcp[0] = (uint8_t)(sp >> 8), tcp[1] = (uint8_t)sp, tcp[2] = (uint8_t)(dp >> 8),
    tcp[3] = (uint8_t)dp;
    for (int i = 0; i < 4; i++)
        tcp[4 + i] = (uint8_t)(seq >> (24 - 8 * i)),
                tcp[8 + i] = (uint8_t)(k->seq[!from] >> (24 - 8 * i));
    tcp[12] = 5 << 4, tcp[13] = flags | (flags & TCP_SYN && !from ? 0 : TCP_ACK);
    tcp[14] = (uint8_t)(k->window[from] >> 8), tcp[15] = (uint8_t)k->window[from];
    if (n)
        memcpy(tcp + 20, payload, n);
    uint8_t pseudo[12] = {0};
    memcpy(pseudo, ip + 12, 8);
    pseudo[9] = 6, pseudo[10] = (uint8_t)((20 + n) >> 8), pseudo[11] = (uint8_t)(20 + n);
    uint32_t sum = 0;
    for (int i = 0; i < 12; i += 2)
        sum += (uint32_t)pseudo[i] << 8 | pseudo[i + 1];
    c = csum(tcp, 20 + n, sum);
    tcp[16] = (uint8_t)(c >> 8), tcp[17] = (uint8_t)c;
    struct packet p = {.data = f,
                       .caplen = (uint32_t)(14 + total),
                       .wirelen = (uint32_t)(14 + total),
                       .linktype = LINK_ETHERNET,
                       .ts_us = r->w.now_us};
    r->w.now_us += 1000;
    p.ts_us = r->w.now_us;
    decode_packet(&r->w, &p);
}

static void handshake(struct stage_run *r, struct conn *k)
{
    k->seq[0] = 1000, k->seq[1] = 9000;
    for (int i = 0; i < 2; i++)
        if (!k->window[i])
            k->window[i] = 0xff00;
    send_tcp(r, k, 0, TCP_SYN, k->seq[0]++, NULL, 0);
    send_tcp(r, k, 1, TCP_SYN, k->seq[1]++, NULL, 0);
    send_tcp(r, k, 0, 0, k->seq[0], NULL, 0);
}

/* With no flow records, nDPI sees a TCP packet only if the transport still probes the flow
   when it has seen it (flow.c holds it back): a bind on a port nobody announced places the
   flow by its header, nDPI never looks; HTTP does not, and nDPI is asked. */
TEST(ndpi_waits_for_the_transport_without_flow_records)
{
    struct stage_run *r = stage_start();
    if (!r->w.appid) {
        cJSON_Delete(stage_end(r));
        SKIP("built without nDPI");
    }
    r->cfg.log_flows = false;
    struct conn k = {.cport = 50000};
    handshake(r, &k);
    struct bytes bind = {.n = 0};
    bind_pdu(&bind, 1);
    send_tcp(r, &k, 0, TCP_PSH, k.seq[0], bind.b, bind.n);
    CHECK_EQ(r->w.stats.appid_flows, 0);
    CHECK(r->w.appid_held_flow == NULL);

    struct conn h = {.cport = 50001};
    handshake(r, &h);
    static const char get[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
    send_tcp(r, &h, 0, TCP_PSH, h.seq[0], (const uint8_t *)get, sizeof get - 1);
    CHECK_EQ(r->w.stats.appid_flows, 1);
    CHECK(r->w.appid_held_flow == NULL);
    cJSON *all = stage_end(r);
    CHECK(find_record(all, "dcerpc", NULL, 0) != NULL);
    cJSON_Delete(all);
}

TEST(stream_out_of_order_with_a_conflicting_overlap_and_the_flow_record)
{
    struct stage_run *r = stage_start();
    struct conn k = {.cport = 50000};
    handshake(r, &k);
    struct bytes bind = {.n = 0}, ack = {.n = 0}, req = {.n = 0}, res = {.n = 0};
    bind_pdu(&bind, 1);
    bind_ack_pdu(&ack, 1);
    start_service_request(&req, 2, false);
    response_pdu(&res, 2, 0);
    /* the bind in three pieces, sent last, first, middle; the last one twice while it
       waits, the second time with other bytes (which must lose) */
    uint32_t s0 = k.seq[0];
    size_t p1 = 20, p2 = 50;
    struct bytes bad = bind;
    memset(bad.b + p2, 0xee, bind.n - p2);
    send_tcp(r, &k, 0, TCP_PSH, s0 + (uint32_t)p2, bind.b + p2, bind.n - p2);
    send_tcp(r, &k, 0, TCP_PSH, s0 + (uint32_t)p2, bad.b + p2, bind.n - p2);
    send_tcp(r, &k, 0, TCP_PSH, s0, bind.b, p1);
    send_tcp(r, &k, 0, TCP_PSH, s0 + (uint32_t)p1, bind.b + p1, p2 - p1);
    k.seq[0] += (uint32_t)bind.n;
    send_tcp(r, &k, 1, TCP_PSH, k.seq[1], ack.b, ack.n);
    k.seq[1] += (uint32_t)ack.n;
    send_tcp(r, &k, 0, TCP_PSH, k.seq[0], req.b, req.n);
    k.seq[0] += (uint32_t)req.n;
    send_tcp(r, &k, 1, TCP_PSH, k.seq[1], res.b, res.n);
    k.seq[1] += (uint32_t)res.n;
    send_tcp(r, &k, 0, TCP_FIN, k.seq[0]++, NULL, 0);
    send_tcp(r, &k, 1, TCP_FIN, k.seq[1]++, NULL, 0);
    send_tcp(r, &k, 0, 0, k.seq[0], NULL, 0);
    unsigned overlaps = r->anomalies[ANOM_STREAM_OVERLAP];
    CHECK_EQ(flow_table_count(r->w.flows), 1);
    flow_flush_all(&r->w);
    unsigned ends = r->n_ends;
    struct flow_summary e = r->ends[0];
    struct flow_ref eref = r->refs[0];
    e.ref = &eref;
    cJSON *all = stage_end(r);
    CHECK_EQ(overlaps, 1);
    const cJSON *bind_rec = find_record(all, "dcerpc", NULL, 0);
    CHECK(bind_rec != NULL);
    CHECK_STR(jstr(bind_rec, "dcerpc.request"), "BIND");
    const cJSON *ifs = cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(bind_rec, "dcerpc"), "interfaces");
    CHECK_STR(jstr(cJSON_GetArrayItem(ifs, 0), "uuid"), SVCCTL); /* the first bytes won */
    const cJSON *call = find_record(all, "dcerpc", "RStartServiceW", 0);
    CHECK(call != NULL);
    CHECK_STR(jstr(call, "rpcsentry.result.status"), "ERROR_SUCCESS");
    CHECK_EQ(jnum(call, "src_port"), 50000); /* the side that sent the SYN is the client */
    /* the flow: both directions one flow, ended closed, its packets and bytes per side */
    CHECK_EQ(ends, 1);
    CHECK(e.closed);
    int cl = e.ref->client;
    CHECK_EQ(e.pkts[cl], 9);
    CHECK_EQ(e.pkts[!cl], 4);
    CHECK_EQ(e.bytes[cl], 9 * 54 + (bind.n - p2) * 2 + p2 + req.n);
    CHECK(e.flags_seen[cl] & TCP_SYN && e.flags_seen[!cl] & TCP_FIN);
    CHECK_STR(e.app_proto, "dcerpc");
    cJSON_Delete(all);
}

/* The window: a byte probing a window of 0 is not the stream's, the real one that follows
   is; bytes past the window whose update the capture lost count once the ACK covers them. */
TEST(stream_window_zero_probe_and_a_lost_update)
{
    struct stage_run *r = stage_start();
    struct conn k = {.cport = 50001};
    handshake(r, &k);
    struct bytes bind = {.n = 0}, ack = {.n = 0}, req = {.n = 0}, res = {.n = 0};
    bind_pdu(&bind, 1);
    bind_ack_pdu(&ack, 1);
    start_service_request(&req, 2, false);
    response_pdu(&res, 2, 0);
    send_tcp(r, &k, 0, TCP_PSH, k.seq[0], bind.b, bind.n);
    k.seq[0] += (uint32_t)bind.n;
    uint32_t s0 = k.seq[0];
    k.window[1] = 10; /* the server's buffer ends 10 bytes into the request */
    send_tcp(r, &k, 1, TCP_PSH, k.seq[1], ack.b, ack.n);
    k.seq[1] += (uint32_t)ack.n;
    /* the request: 10 bytes, then the server's window is 0 */
    send_tcp(r, &k, 0, TCP_PSH, s0, req.b, 10);
    k.seq[0] = s0 + 10;
    k.window[1] = 0;
    send_tcp(r, &k, 1, 0, k.seq[1], NULL, 0);
    struct bytes probe = req;
    probe.b[10] ^= 0xff;
    send_tcp(r, &k, 0, TCP_PSH, s0 + 10, probe.b + 10, 1); /* the probe: not taken */
    CHECK_EQ(r->w.stats.tcp_zero_window_probes, 1);
    k.window[1] = 20; /* open a little: the rest goes past it */
    send_tcp(r, &k, 1, 0, k.seq[1], NULL, 0);
    send_tcp(r, &k, 0, TCP_PSH, s0 + 10, req.b + 10, 20); /* in window: replaces the probe */
    CHECK_EQ(r->w.stats.tcp_window_replaced, 1);
    CHECK_EQ(r->anomalies[ANOM_STREAM_ZERO_WINDOW_PROBE], 1);
    k.seq[0] = s0 + 30;
    /* the update that lets the rest in is lost; the rest comes, held, and is acknowledged */
    send_tcp(r, &k, 0, TCP_PSH, s0 + 30, req.b + 30, req.n - 30);
    CHECK_EQ(r->w.stats.tcp_window_held, 1);
    k.seq[0] = s0 + (uint32_t)req.n;
    send_tcp(r, &k, 1, 0, k.seq[1], NULL, 0);
    CHECK_EQ(r->w.stats.tcp_window_acked, 1);
    CHECK_EQ(r->anomalies[ANOM_STREAM_WINDOW_UNSEEN], 0); /* counted, written as no event */
    send_tcp(r, &k, 1, TCP_PSH, k.seq[1], res.b, res.n);
    k.seq[1] += (uint32_t)res.n;
    flow_flush_all(&r->w);
    CHECK_EQ(r->w.stats.tcp_gaps, 0);
    cJSON *all = stage_end(r);
    const cJSON *call = find_record(all, "dcerpc", "RStartServiceW", 0);
    CHECK(call != NULL);
    CHECK_STR(jstr(call, "rpcsentry.result.status"), "ERROR_SUCCESS");
    cJSON_Delete(all);
}

TEST(flow_idle_timeout_ends_only_the_idle_flow)
{
    struct stage_run *r = stage_start();
    struct conn a = {.cport = 50000}, b = {.cport = 50002};
    handshake(r, &a); /* established: tcp_timeout_est */
    uint64_t t0 = r->w.now_us, to = (uint64_t)r->cfg.tcp_timeout_est * 1000000;
    r->w.now_us = t0 + to / 2;
    handshake(r, &b);
    CHECK_EQ(flow_table_count(r->w.flows), 2);
    flow_expire(&r->w, t0 + to - 1000); /* not yet */
    unsigned before = r->n_ends;
    flow_expire(&r->w, t0 + to + 1000);
    unsigned after = r->n_ends;
    uint16_t ended_port = after ? r->ends[0].ref->key.port[r->ends[0].ref->client] : 0;
    int reason = after ? r->ends[0].reason : -1;
    unsigned left = flow_table_count(r->w.flows);
    flow_flush_all(&r->w);
    int last_reason = r->n_ends == 2 ? r->ends[1].reason : -1;
    cJSON *all = stage_end(r);
    CHECK_EQ(before, 0);
    CHECK_EQ(after, 1);
    CHECK_EQ(ended_port, 50000);
    CHECK_EQ(reason, FLOW_END_TIMEOUT);
    CHECK_EQ(left, 1);
    CHECK_EQ(last_reason, FLOW_END_FLUSH);
    cJSON_Delete(all);
}

/* A UDP datagram of flow i (its client address and port) at ts. */
static void flow_udp_to(struct packet *p, uint32_t i, uint64_t ts)
{
    p->src[0] = 10, p->src[1] = (uint8_t)(i >> 16), p->src[2] = (uint8_t)(i >> 8);
    p->src[3] = (uint8_t)i;
    p->sport = (uint16_t)(1024 + (i & 0x3ff));
    p->ts_us = ts;
}

/* The flow table grows past two flows a bucket, moving its buckets over while packets come:
   every flow is found again during and after the growth, and every one ends once. */
TEST(flow_table_grows_without_losing_a_flow)
{
    struct stage_run *r = stage_start();
    r->cfg.log_flows = false;
    struct appid *appid = r->w.appid; /* nDPI's state for 300,000 flows: not what this tests */
    r->w.appid = NULL;
    enum { N = 300000 };
    struct packet p;
    memset(&p, 0, sizeof p);
    p.ipver = 4;
    p.proto = 17;
    p.dport = 5353;
    p.dst[0] = 192, p.dst[3] = 1;
    for (int pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < N; i++) {
            flow_udp_to(&p, i, r->w.now_us + (uint64_t)pass * 1000 + i / 1000);
            flow_packet(&r->w, &p);
            if (pass == 0 && i == 131072 + 200) {
                /* growing: 200 packets have moved 3,200 of the old 65,536 buckets; the first
                   1,000 flows, in moved buckets and in unmoved ones, are found */
                CHECK_EQ(r->w.stats.flow_table_grown, 1);
                uint64_t made = r->w.stats.flows_created;
                for (uint32_t j = 0; j < 1000; j++) {
                    flow_udp_to(&p, j, r->w.now_us + i / 1000);
                    flow_packet(&r->w, &p);
                }
                CHECK_EQ(r->w.stats.flows_created, made);
            }
        }
    CHECK_EQ(r->w.stats.flows_created, N);
    CHECK_EQ(flow_table_count(r->w.flows), N);
    CHECK_EQ(r->w.stats.flow_table_grown, 2); /* 65,536 buckets, then 131,072, then 262,144 */
    flow_flush_all(&r->w);
    CHECK_EQ(r->w.stats.flows_flushed, N);
    CHECK_EQ(flow_table_count(r->w.flows), 0);
    r->w.appid = appid;
    cJSON *all = stage_end(r);
    cJSON_Delete(all);
}
