/*
 * Flow identification by nDPI. Each flow gets nDPI's state on its first
 * packet and keeps it until nDPI has a verdict, the transport has taken the
 * flow for its own engines, or APPID_MAX_PKTS packets with payload went by
 * without one (then nDPI is asked for its best guess). The state is freed at
 * once in all three cases; only the verdict (two protocol ids) stays. Without
 * flow records, only a TCP flow still being probed is looked at: nothing else
 * would read the verdict.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rpcsentry/appid.h"
#include "rpcsentry/build_config.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/packet.h"
#include "rpcsentry/worker.h"

#define APPID_MAX_PKTS 12

#if RS_HAVE_NDPI

#include <ndpi/ndpi_api.h>

struct appid {
    struct ndpi_detection_module_struct *m;
    size_t flow_size;
};

bool appid_available(void)
{
    return true;
}

struct appid *appid_open(char *err, size_t errlen)
{
    struct appid *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    a->m = ndpi_init_detection_module(ndpi_no_prefs);
    if (!a->m) {
        snprintf(err, errlen, "nDPI: the detection module did not initialise");
        free(a);
        return NULL;
    }
    NDPI_PROTOCOL_BITMASK all;
    NDPI_BITMASK_SET_ALL(all);
    ndpi_set_protocol_detection_bitmask2(a->m, &all);
    ndpi_finalize_initialization(a->m);
    a->flow_size = ndpi_detection_get_sizeof_ndpi_flow_struct();
    return a;
}

void appid_close(struct appid *a)
{
    if (!a)
        return;
    ndpi_exit_detection_module(a->m);
    free(a);
}

#if defined(__SANITIZE_ADDRESS__) /* gcc */
#define APPID_FREE_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) /* clang */
#define APPID_FREE_AT_EXIT 1
#endif
#endif

void appid_close_at_exit(struct appid *a)
{
#ifdef APPID_FREE_AT_EXIT
    appid_close(a);
#else
    (void)a; /* the kernel frees it with the process */
#endif
}

static void release(struct worker *w, struct flow *f)
{
    if (!f->ndpi)
        return;
    ndpi_free_flow_data(f->ndpi);
    mem_free(&w->mem, MEM_APP, f->ndpi, w->appid->flow_size);
    f->ndpi = NULL;
}

static bool known(ndpi_protocol r)
{
    return r.app_protocol != NDPI_PROTOCOL_UNKNOWN || r.master_protocol != NDPI_PROTOCOL_UNKNOWN;
}

/* What nDPI says of a flow: FLOW_APP_DCERPC, FLOW_APP_SMB or 0. */
static uint8_t engine_hint(const struct flow *f)
{
    if (f->ndpi_state != APPID_DECIDED)
        return 0;
    uint16_t ids[2] = {f->ndpi_master, f->ndpi_app};
    for (int i = 0; i < 2; i++) {
        if (ids[i] == NDPI_PROTOCOL_DCERPC)
            return FLOW_APP_DCERPC;
        if (ids[i] == NDPI_PROTOCOL_SMBV1 || ids[i] == NDPI_PROTOCOL_SMBV23)
            return FLOW_APP_SMB;
    }
    return 0;
}

void appid_packet(struct worker *w, struct flow *f, const struct packet *p)
{
    struct appid *a = w->appid;
    if (!a || !p->l3 || p->l3_len > 65535)
        return;
    if (f->ndpi_state != APPID_NONE && f->ndpi_state != APPID_DETECTING)
        return;
    const uint16_t *port = f->ref.key.port;
    bool rpc_port = port[0] == 135 || port[1] == 135 || port[0] == 445 || port[1] == 445 ||
                    port[0] == 139 || port[1] == 139;
    if (f->app == FLOW_APP_DCERPC || f->app == FLOW_APP_SMB ||
        (rpc_port && f->ref.key.proto == 6)) {
        /* the sensor's own engines have it: nDPI has nothing to add */
        release(w, f);
        f->ndpi_state = APPID_OURS;
        return;
    }
    if (!w->cfg->log_flows && (f->ref.key.proto != IPPROTO_TCP || f->app != FLOW_APP_UNKNOWN)) {
        /*
         * With no flow records nobody reads the verdict but the probe of a TCP flow the
         * transport has not placed yet (its hint, transport.c). A UDP flow, or one the
         * transport has placed (ignored, raw), would cost nDPI for nothing: most of the
         * flows of a busy link are such.
         */
        release(w, f);
        f->ndpi_state = APPID_UNASKED;
        return;
    }
    if (!f->ndpi) {
        /* nothing to name before the first payload: a SYN flood costs nDPI nothing */
        if (!p->payload_len)
            return;
        if (!(f->ndpi = mem_calloc(&w->mem, MEM_APP, a->flow_size))) {
            w->stats.appid_no_memory++;
            return;
        }
        f->ndpi_state = APPID_DETECTING;
        w->stats.appid_flows++;
    }
    ndpi_protocol r = ndpi_detection_process_packet(a->m, f->ndpi, p->l3, (unsigned short)p->l3_len,
                                                    p->ts_us / 1000);
    if (p->payload_len && f->ndpi_pkts < 255)
        f->ndpi_pkts++;
    if (known(r)) {
        f->ndpi_master = r.master_protocol;
        f->ndpi_app = r.app_protocol;
        f->ndpi_state = APPID_DECIDED;
        f->app_hint = engine_hint(f);
        w->stats.appid_decided++;
        release(w, f);
        return;
    }
    if (f->ndpi_pkts >= APPID_MAX_PKTS)
        appid_flow_end(w, f); /* enough: the guess, and the state goes */
}

void appid_flow_end(struct worker *w, struct flow *f)
{
    if (!f->ndpi)
        return;
    if (f->ndpi_state == APPID_DETECTING && f->ndpi_pkts) {
        uint8_t guessed = 0;
        ndpi_protocol r = ndpi_detection_giveup(w->appid->m, f->ndpi, 1, &guessed);
        f->ndpi_master = r.master_protocol;
        f->ndpi_app = r.app_protocol;
        f->ndpi_state = known(r) ? (guessed ? APPID_GUESSED : APPID_DECIDED) : APPID_FAILED;
    } else if (f->ndpi_state == APPID_DETECTING) {
        f->ndpi_state = APPID_NONE; /* no payload: nothing to say */
    }
    release(w, f);
}

static uint16_t main_id(const struct flow *f)
{
    return f->ndpi_master != NDPI_PROTOCOL_UNKNOWN ? f->ndpi_master : f->ndpi_app;
}

/* nDPI's protocols with Suricata's app_proto name where Suricata has one. */
static const char *suricata_name(uint16_t id)
{
    switch (id) {
    case NDPI_PROTOCOL_HTTP: return "http";
    case NDPI_PROTOCOL_TLS: return "tls";
    case NDPI_PROTOCOL_DNS: return "dns";
    case NDPI_PROTOCOL_SSH: return "ssh";
    case NDPI_PROTOCOL_FTP_CONTROL: return "ftp";
    case NDPI_PROTOCOL_FTP_DATA: return "ftp-data";
    case NDPI_PROTOCOL_MAIL_SMTP: return "smtp";
    case NDPI_PROTOCOL_MAIL_IMAP: return "imap";
    case NDPI_PROTOCOL_MAIL_POP: return "pop3";
    case NDPI_PROTOCOL_SMBV1:
    case NDPI_PROTOCOL_SMBV23: return "smb";
    case NDPI_PROTOCOL_DCERPC: return "dcerpc";
    case NDPI_PROTOCOL_KERBEROS: return "krb5";
    case NDPI_PROTOCOL_LDAP: return "ldap";
    case NDPI_PROTOCOL_NTP: return "ntp";
    case NDPI_PROTOCOL_DHCP: return "dhcp";
    case NDPI_PROTOCOL_SNMP: return "snmp";
    case NDPI_PROTOCOL_SIP: return "sip";
    case NDPI_PROTOCOL_RDP: return "rdp";
    case NDPI_PROTOCOL_NFS: return "nfs";
    case NDPI_PROTOCOL_TFTP: return "tftp";
    case NDPI_PROTOCOL_MQTT: return "mqtt";
    case NDPI_PROTOCOL_QUIC: return "quic";
    case NDPI_PROTOCOL_TELNET: return "telnet";
    case NDPI_PROTOCOL_POSTGRES: return "pgsql";
    case NDPI_PROTOCOL_VNC: return "rfb";
    default: return NULL;
    }
}

const char *appid_app_proto(const struct worker *w, const struct flow *f)
{
    if (f->app == FLOW_APP_DCERPC)
        return "dcerpc";
    if (f->app == FLOW_APP_SMB)
        return "smb";
    if (!w->appid)
        return NULL;
    switch (f->ndpi_state) {
    case APPID_DECIDED:
    case APPID_GUESSED: {
        const char *s = suricata_name(f->ndpi_master);
        if (!s)
            s = suricata_name(f->ndpi_app);
        if (s)
            return s;
        /* nDPI knows it, Suricata has no name for it: nDPI's, lower-cased, in a static slot */
        static __thread char name[64];
        const char *n = ndpi_get_proto_name(w->appid->m, main_id(f));
        size_t i = 0;
        for (; n && n[i] && i + 1 < sizeof name; i++)
            name[i] = (char)((n[i] >= 'A' && n[i] <= 'Z') ? n[i] + 32 : n[i]);
        name[i] = '\0';
        return name[0] ? name : "failed";
    }
    case APPID_FAILED: return "failed";
    default: return NULL;
    }
}

bool appid_ndpi(const struct worker *w, const struct flow *f, char *name, size_t n,
                const char **category, bool *guessed)
{
    if (!w->appid || (f->ndpi_state != APPID_DECIDED && f->ndpi_state != APPID_GUESSED))
        return false;
    ndpi_protocol r = {f->ndpi_master, f->ndpi_app, NDPI_PROTOCOL_CATEGORY_UNSPECIFIED};
    ndpi_protocol2name(w->appid->m, r, name, (u_int)n);
    r.category = ndpi_get_proto_category(w->appid->m, r);
    *category = ndpi_category_get_name(w->appid->m, r.category);
    *guessed = f->ndpi_state == APPID_GUESSED;
    return true;
}

#else /* no nDPI in this build */

bool appid_available(void)
{
    return false;
}

struct appid *appid_open(char *err, size_t errlen)
{
    snprintf(err, errlen, "this build has no nDPI (libndpi-dev was not found)");
    return NULL;
}

void appid_close(struct appid *a)
{
    (void)a;
}

void appid_close_at_exit(struct appid *a)
{
    (void)a;
}
void appid_packet(struct worker *w, struct flow *f, const struct packet *p)
{
    (void)w, (void)f, (void)p;
}
void appid_flow_end(struct worker *w, struct flow *f)
{
    (void)w, (void)f;
}

const char *appid_app_proto(const struct worker *w, const struct flow *f)
{
    (void)w;
    if (f->app == FLOW_APP_DCERPC)
        return "dcerpc";
    if (f->app == FLOW_APP_SMB)
        return "smb";
    return NULL;
}

bool appid_ndpi(const struct worker *w, const struct flow *f, char *name, size_t n,
                const char **category, bool *guessed)
{
    (void)w, (void)f, (void)name, (void)n, (void)category, (void)guessed;
    return false;
}

#endif
