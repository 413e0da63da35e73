/* SMB1 commands on named pipes: AndX chains, NT_CREATE, WRITE/READ_ANDX, TRANSACTION. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rpcsentry/buf.h"
#include "rpcsentry/cursor.h"
#include "rpcsentry/ntlmssp.h"
#include "rpcsentry/text.h"
#include "rpcsentry/worker.h"
#include "smb_internal.h"

/* ---- SMB1 ---- */

struct smb1_hdr {
    uint8_t cmd, flags;
    uint16_t flags2, tid, pid, uid, mid;
    uint32_t status;
    bool reply, unicode;
};

static uint64_t smb1_key(const struct smb1_hdr *h)
{
    return (uint64_t)h->pid << 16 | h->mid;
}

/*
 * A string in the byte area at the cursor: Unicode or OEM. Unicode strings
 * are aligned to 2 from the start of the SMB header; base is the header
 * offset of the cursor's first byte.
 */
static void smb1_string(struct rd *m, size_t base, bool unicode, char *out, size_t n)
{
    out[0] = '\0';
    if (unicode) {
        if ((base + m->off) & 1)
            rd_skip(m, 1);
        size_t units = 0;
        struct rd probe = *m;
        while (rd_has(&probe, 2) && rd_u16le(&probe) != 0)
            units++;
        utf16le_to_utf8(m, units + 1, out, n, NULL);
    } else {
        size_t bytes = 0;
        struct rd probe = *m;
        while (rd_has(&probe, 1) && rd_u8(&probe) != 0)
            bytes++;
        latin1_to_utf8(m, bytes + 1, out, n, NULL);
    }
}

static void smb1_session_setup(struct worker *w, struct smb_conn *c, const struct smb1_hdr *h,
                               struct rd words, uint8_t wc, struct rd bytes, size_t base)
{
    if (h->reply)
        return;
    struct rpc_identity id;
    memset(&id, 0, sizeof id);
    if (wc == 12) { /* extended security: an NTLMSSP/SPNEGO blob */
        rd_skip(&words, 14);
        uint16_t blen = rd_u16le(&words);
        const uint8_t *blob = rd_take(&bytes, blen);
        if (!rd_ok(&words) || !blob || ntlmssp_parse(blob, blen, &id) != NTLMSSP_AUTHENTICATE)
            return;
    } else if (wc == 13) { /* NTLM in the clear fields: passwords, then account and domain */
        rd_skip(&words, 14);
        uint16_t ci = rd_u16le(&words), cs = rd_u16le(&words);
        rd_skip(&bytes, (size_t)ci + cs);
        if (!rd_ok(&words) || !rd_ok(&bytes))
            return;
        smb1_string(&bytes, base, h->unicode, id.user, sizeof id.user);
        smb1_string(&bytes, base, h->unicode, id.domain, sizeof id.domain);
        id.valid = true;
    } else {
        return;
    }
    smb_session_learn(w, c, h->uid, &id);
}

static void smb1_tree_connect(struct worker *w, struct smb_conn *c, const struct smb1_hdr *h,
                              struct rd words, struct rd bytes, size_t base)
{
    if (!h->reply) {
        rd_skip(&words, 6);
        uint16_t pwlen = rd_u16le(&words);
        rd_skip(&bytes, pwlen);
        if (!rd_ok(&words) || !rd_ok(&bytes))
            return;
        struct smb_pending *q = smb_pend_add(w, c, smb1_key(h), PEND_TREE);
        if (q) {
            smb1_string(&bytes, base, h->unicode, q->path, sizeof q->path);
            q->session = h->uid;
        }
        return;
    }
    struct smb_pending *q = smb_pend_take(c, smb1_key(h));
    if (q && q->kind == PEND_TREE && h->status == STATUS_SUCCESS) {
        size_t plen = strlen(q->path);
        bool ipc = plen >= 4 && strcasecmp(q->path + plen - 4, "IPC$") == 0;
        /* the service string of the reply says "IPC" for pipe trees */
        char svc[16];
        struct rd b = bytes;
        smb1_string(&b, base, false, svc, sizeof svc);
        if (strcmp(svc, "IPC") == 0)
            ipc = true;
        smb_tree_add(w, c, h->tid, h->uid, q->path, ipc);
    }
    smb_pend_free(w, q);
}

static void smb1_fid(uint8_t out[16], uint16_t fid)
{
    memset(out, 0, 16);
    out[0] = (uint8_t)fid;
    out[1] = (uint8_t)(fid >> 8);
}

/* NT_CREATE_ANDX's name (nlen bytes in the byte area, at header offset base). */
static void smb1_create_name(const struct smb1_hdr *h, struct rd bytes, size_t base, uint16_t nlen,
                             char *out, size_t n)
{
    struct rd b = rd_sub(&bytes, rd_left(&bytes));
    if (h->unicode) {
        if (base & 1) /* pad to an even offset from the header */
            rd_skip(&b, 1);
        utf16le_to_utf8(&b, nlen / 2, out, n, NULL);
    } else {
        latin1_to_utf8(&b, nlen, out, n, NULL);
    }
}

static void smb1_nt_create(struct worker *w, struct smb_conn *c, const struct smb1_hdr *h,
                           struct rd words, struct rd bytes, size_t base)
{
    if (!h->reply) {
        rd_skip(&words, 5);
        uint16_t nlen = rd_u16le(&words);
        struct rd fw = words;
        rd_skip(&fw, 8); /* flags, root directory FID */
        uint32_t access = rd_u32le(&fw);
        rd_skip(&fw, 16); /* allocation size, attributes, share access */
        uint32_t disposition = rd_u32le(&fw), options = rd_u32le(&fw);
        struct smb_tree *ft = smb_tree_find(w, c, h->uid, h->tid);
        if (rd_ok(&fw) && ft && !ft->ipc) { /* a file on a disk share */
            char path[SMB_FILE_NAME_MAX];
            smb1_create_name(h, bytes, base, nlen, path, sizeof path);
            smb_file_create(w, c, smb1_key(h), h->uid, h->tid, ft->share, path, access, disposition,
                            options, true);
            return;
        }
        if (!rd_ok(&words) || !smb_tree_may_hold_pipes(w, c, h->uid, h->tid))
            return;
        char name[SMB_NAME_MAX];
        smb1_create_name(h, bytes, base, nlen, name, sizeof name);
        if (!ft && name[0] == '\0')
            return;
        struct smb_pipe *p = smb_pipe_new(w, c, name, ft ? ft->share : NULL, h->uid, h->tid);
        if (p) {
            p->create_msg = smb1_key(h);
            p->smb1 = true;
        }
        return;
    }
    if (c->files) {
        struct rd fw = words;
        rd_skip(&fw, 5);
        uint16_t ffid = rd_u16le(&fw);
        uint32_t action = rd_u32le(&fw);
        rd_skip(&fw, 32 + 4 + 8); /* times, attributes, allocation size */
        uint64_t eof = rd_u64le(&fw);
        uint8_t f16[16];
        smb1_fid(f16, ffid);
        smb_file_opened(w, c, smb1_key(h), h->status == STATUS_SUCCESS && rd_ok(&fw), f16, action,
                        eof);
    }
    struct smb_pipe *p = smb_pipe_by_create(c, smb1_key(h));
    if (!p)
        return;
    rd_skip(&words, 5);
    uint16_t fid = rd_u16le(&words);
    if (h->status != STATUS_SUCCESS || !rd_ok(&words)) {
        smb_pipe_discard(w, c, p);
        return;
    }
    smb1_fid(p->fid, fid);
    p->open = true;
    smb_fid_opened(c, p->fid);
}

static void smb1_write(struct worker *w, struct smb_conn *c, int ep, const struct smb1_hdr *h,
                       struct rd words, struct rd msg)
{
    if (h->reply) {
        struct smb_pending *q = smb_pend_take_kind(c, smb1_key(h), PEND_WRITE);
        if (q && !q->held && h->status != STATUS_SUCCESS)
            smb_file_refused(c, q->fid);
        smb_answer(w, c, q, h->status == STATUS_SUCCESS, h->status);
        smb_pend_free(w, q);
        return;
    }
    rd_skip(&words, 4);
    uint16_t fid = rd_u16le(&words);
    uint32_t at_lo = rd_u32le(&words);
    rd_skip(&words, 8);
    uint16_t len_hi = rd_u16le(&words), len = rd_u16le(&words), off = rd_u16le(&words);
    if (!rd_ok(&words))
        return;
    struct rd hi = words;
    uint32_t at_hi = rd_u32le(&hi); /* OffsetHigh: the 14-word form only */
    uint64_t at = at_lo | (rd_ok(&hi) ? (uint64_t)at_hi << 32 : 0);
    uint32_t total = (uint32_t)len | (uint32_t)len_hi << 16;
    struct rd dm = msg;
    rd_seek(&dm, off);
    const uint8_t *data = rd_take(&dm, total);
    uint8_t f[16];
    smb1_fid(f, fid);
    struct smb_file *file = c->files ? smb_file_by_fid(c, f) : NULL;
    if (file) {
        smb_file_write_req(w, c, file, ep, smb1_key(h), f, at, msg, off, total,
                           "WRITE_ANDX data past the end of the message");
        return;
    }
    struct smb_pipe *p = smb_pipe_by_fid(c, f, 16);
    if (!data) {
        smb_data_missing(w, c, p, ep, "WRITE_ANDX data past the end of the message");
        return;
    }
    if (!p)
        p = smb_adopt(w, c, f, 16, h->uid, h->tid, data, total);
    smb_pipe_write_msg(w, c, p, ep, data, total, smb1_key(h), "WRITE_ANDX");
}

static void smb1_read(struct worker *w, struct smb_conn *c, int ep, const struct smb1_hdr *h,
                      struct rd words, struct rd msg)
{
    if (!h->reply) {
        rd_skip(&words, 4);
        uint16_t fid = rd_u16le(&words);
        if (!rd_ok(&words) || !smb_tree_may_hold_pipes(w, c, h->uid, h->tid))
            return;
        struct smb_pending *q = smb_pend_add(w, c, smb1_key(h), PEND_READ);
        if (q) {
            smb1_fid(q->fid, fid);
            q->session = h->uid;
        }
        return;
    }
    struct smb_pending *q = smb_pend_take(c, smb1_key(h));
    if (!q)
        return;
    if (h->status == STATUS_SUCCESS || h->status == STATUS_BUFFER_OVERFLOW) {
        rd_skip(&words, 10);
        uint16_t len = rd_u16le(&words), off = rd_u16le(&words);
        uint16_t len_hi = rd_u16le(&words); /* MS-SMB 2.2.4.2.2: right after DataOffset */
        uint32_t total = (uint32_t)len | (rd_ok(&words) ? (uint32_t)len_hi << 16 : 0);
        struct rd d = msg;
        rd_seek(&d, off);
        const uint8_t *data = rd_take(&d, total);
        if (data) {
            struct smb_pipe *p = smb_pipe_by_fid(c, q->fid, 16);
            if (!p)
                p = smb_adopt(w, c, q->fid, 16, q->session, h->tid, data, total);
            smb_pipe_reply(w, c, p, ep, data, total, q);
        } else if (total) {
            smb_data_missing(w, c, smb_pipe_by_fid(c, q->fid, 16), ep,
                             "READ_ANDX data past the end of the message");
        }
    }
    smb_pend_free(w, q);
}

/* A TransactNmPipe's whole input: to the pipe of fid (adopted if need be), answer awaited. */
static void trans_deliver(struct worker *w, struct smb_conn *c, int ep, const struct smb1_hdr *h,
                          const uint8_t f[16], const uint8_t *data, size_t n, struct smb_pending *q)
{
    struct smb_pipe *p = smb_pipe_by_fid(c, f, 16);
    if (!p)
        p = smb_adopt(w, c, f, 16, h->uid, h->tid, data, n);
    if (!p) {
        smb_pend_free(w, smb_pend_take(c, smb1_key(h)));
        return;
    }
    if (!q && (q = smb_pend_add(w, c, smb1_key(h), PEND_TRANS)))
        memcpy(q->fid, f, 16);
    smb_pipe_write(w, c, p, ep, data, n, c->answers_seen ? q : NULL, "TransactNmPipe");
}

/* Bytes [disp, disp+n) of a transaction being put together; true once it is whole. */
static bool parts_put(struct smb_trans_parts *t, uint32_t disp, const uint8_t *d, uint32_t n)
{
    uint8_t *map = t->data + t->total;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t at = disp + i;
        if (map[at / 8] & (1u << (at % 8)))
            continue; /* the first copy of a byte stays */
        map[at / 8] |= (uint8_t)(1u << (at % 8));
        t->data[at] = d[i];
        t->have++;
    }
    return t->have == t->total;
}

/*
 * TRANSACTION_SECONDARY (MS-CIFS 2.2.4.34): more data of the primary with the same PID
 * and MID, at its displacement; once every byte is there, the primary's whole input goes
 * to its pipe as if it had come at once.
 */
static void smb1_transaction_secondary(struct worker *w, struct smb_conn *c, int ep,
                                       const struct smb1_hdr *h, struct rd words, struct rd msg)
{
    if (h->reply)
        return;
    struct smb_pending *q = smb_pend_find(c, smb1_key(h));
    if (!q || q->kind != PEND_TRANS_PARTS)
        return;
    rd_skip(&words, 10);
    uint16_t dcount = rd_u16le(&words), doff = rd_u16le(&words), disp = rd_u16le(&words);
    struct smb_trans_parts *t = q->parts;
    rd_seek(&msg, doff);
    const uint8_t *data = rd_ok(&words) ? rd_take(&msg, dcount) : NULL;
    if (!data || (uint32_t)disp + dcount > t->total) {
        smb_anomaly(w, c, ANOM_SMB_MALFORMED,
                    "TRANSACTION_SECONDARY data outside its transaction or its message");
        return;
    }
    if (!parts_put(t, disp, data, dcount))
        return;
    w->stats.smb_trans_reassembled++;
    q->kind = PEND_TRANS; /* whole: its answer is awaited as a one-piece transaction's */
    trans_deliver(w, c, ep, h, q->fid, t->data, t->total, q);
}

static void smb1_transaction(struct worker *w, struct smb_conn *c, int ep, const struct smb1_hdr *h,
                             struct rd words, uint8_t wc, struct rd msg)
{
    if (!h->reply) {
        struct rd tw = words;
        rd_skip(&tw, 2);
        uint16_t total = rd_u16le(&tw);
        rd_skip(&words, 22);
        uint16_t dcount = rd_u16le(&words), doff = rd_u16le(&words);
        uint8_t setup_count = rd_u8(&words);
        rd_skip(&words, 1);
        uint16_t sub = setup_count >= 2 ? rd_u16le(&words) : 0;
        uint16_t fid = setup_count >= 2 ? rd_u16le(&words) : 0;
        if (!rd_ok(&words) || wc < 16 || sub != TRANS_TRANSACT_NMPIPE)
            return;
        rd_seek(&msg, doff);
        const uint8_t *data = rd_take(&msg, dcount);
        if (!data) {
            smb_anomaly(w, c, ANOM_SMB_MALFORMED, "TRANSACTION data past the end of the message");
            return;
        }
        uint8_t f[16];
        smb1_fid(f, fid);
        if (total > dcount) {
            /* the rest comes in TRANSACTION_SECONDARY requests: kept until it is whole */
            struct smb_pending *q = smb_pend_add(w, c, smb1_key(h), PEND_TRANS_PARTS);
            size_t sz = sizeof(struct smb_trans_parts) + total + (total + 7u) / 8;
            if (!q || !(q->parts = mem_calloc(&w->mem, MEM_APP, sz))) {
                smb_anomaly(w, c, ANOM_SMB_MEMCAP, "a TRANSACTION sent in pieces");
                smb_pend_free(w, smb_pend_take(c, smb1_key(h)));
                return;
            }
            memcpy(q->fid, f, 16);
            q->parts->total = total;
            parts_put(q->parts, 0, data, dcount);
            return;
        }
        trans_deliver(w, c, ep, h, f, data, dcount, NULL);
        return;
    }
    struct smb_pending *pq = smb_pend_find(c, smb1_key(h));
    if (pq && pq->kind == PEND_TRANS_PARTS)
        return; /* the interim answer to a primary whose secondaries are still coming */
    struct smb_pending *q = smb_pend_take_kind(c, smb1_key(h), PEND_TRANS);
    if (!q)
        return;
    bool ok = h->status == STATUS_SUCCESS || h->status == STATUS_BUFFER_OVERFLOW;
    smb_answer(w, c, q, ok, h->status); /* its input into the pipe first */
    if (ok) {
        rd_skip(&words, 12);
        uint16_t dcount = rd_u16le(&words), doff = rd_u16le(&words);
        rd_seek(&msg, doff);
        const uint8_t *data = rd_ok(&words) ? rd_take(&msg, dcount) : NULL;
        if (data)
            smb_pipe_reply(w, c, smb_pipe_by_fid(c, q->fid, 16), ep, data, dcount, q);
    }
    smb_pend_free(w, q);
}

static bool smb1_is_andx(uint8_t cmd)
{
    switch (cmd) {
    case SMB1_READ_ANDX:
    case SMB1_WRITE_ANDX:
    case SMB1_SESSION_SETUP_ANDX:
    case SMB1_TREE_CONNECT_ANDX:
    case SMB1_NT_CREATE_ANDX:
    case 0x24 /* LOCKING_ANDX */:
    case 0x2d /* OPEN_ANDX */:
    case 0x74 /* LOGOFF_ANDX */: return true;
    default: return false;
    }
}

void smb1_message(struct worker *w, struct smb_conn *c, int ep, const uint8_t *msg, size_t len)
{
    struct rd m = rd_init(msg, len);
    struct smb1_hdr h;
    rd_skip(&m, 4);
    h.cmd = rd_u8(&m);
    h.status = rd_u32le(&m);
    h.flags = rd_u8(&m);
    h.flags2 = rd_u16le(&m);
    rd_skip(&m, 12); /* PIDHigh, security features, reserved */
    h.tid = rd_u16le(&m);
    h.pid = rd_u16le(&m);
    h.uid = rd_u16le(&m);
    h.mid = rd_u16le(&m);
    if (!rd_ok(&m)) {
        smb_anomaly(w, c, ANOM_SMB_MALFORMED, "short SMB1 header");
        return;
    }
    h.reply = (h.flags & SMB1_FLAGS_REPLY) != 0;
    h.unicode = (h.flags2 & SMB1_FLAGS2_UNICODE) != 0;
    if (h.reply) {
        c->answers_seen = true;
        if (h.status != STATUS_SUCCESS && h.status != STATUS_BUFFER_OVERFLOW &&
            h.status != STATUS_MORE_PROCESSING) {
            /* an error ends the chain: every request of this MID was refused */
            struct smb_pending *q;
            while ((q = smb_pend_take(c, smb1_key(&h)))) {
                if (q->kind == PEND_WRITE && !q->held)
                    smb_file_refused(c, q->fid);
                smb_answer(w, c, q, false, h.status);
                smb_pend_free(w, q);
            }
        }
    }
    if (c->server_ep < 0)
        c->server_ep = h.reply ? ep : 1 - ep;
    if (!c->dialect)
        c->dialect = "NT LM 0.12";
    uint8_t cmd = h.cmd;
    size_t off = 32, prev = 0;
    for (int n = 0; n < SMB_MAX_CHAIN; n++) {
        struct rd p = rd_init(msg, len);
        rd_seek(&p, off);
        uint8_t wc = rd_u8(&p);
        struct rd words = rd_sub(&p, (size_t)wc * 2);
        uint16_t bc = rd_u16le(&p);
        struct rd bytes = rd_sub(&p, bc);
        if (!rd_ok(&p)) {
            /* error replies carry no parameters; anything else this short is broken */
            if (!(h.reply && h.status != STATUS_SUCCESS))
                smb_anomaly(w, c, ANOM_SMB_MALFORMED, "SMB1 parameters past the end");
            if (h.reply)
                smb_pend_free(w, smb_pend_take(c, smb1_key(&h)));
            return;
        }
        struct rd whole = rd_init(msg, len);
        size_t base = off + 1 + (size_t)wc * 2 + 2; /* header offset of the byte area */
        switch (cmd) {
        case SMB1_SESSION_SETUP_ANDX: smb1_session_setup(w, c, &h, words, wc, bytes, base); break;
        case SMB1_TREE_CONNECT_ANDX: smb1_tree_connect(w, c, &h, words, bytes, base); break;
        case SMB1_NT_CREATE_ANDX: smb1_nt_create(w, c, &h, words, bytes, base); break;
        case SMB1_WRITE_ANDX: smb1_write(w, c, ep, &h, words, whole); break;
        case SMB1_READ_ANDX: smb1_read(w, c, ep, &h, words, whole); break;
        case SMB1_TRANSACTION: smb1_transaction(w, c, ep, &h, words, wc, whole); break;
        case SMB1_TRANSACTION_SECONDARY:
            smb1_transaction_secondary(w, c, ep, &h, words, whole);
            break;
        case SMB1_CLOSE:
            if (!h.reply) {
                uint8_t f[16];
                smb1_fid(f, rd_u16le(&words));
                struct smb_file *file = c->files ? smb_file_by_fid(c, f) : NULL;
                if (file) {
                    smb_file_close(w, c, file);
                    break;
                }
                struct smb_pipe *pp = smb_pipe_by_fid(c, f, 16);
                bool forget = pp || smb_tree_may_hold_pipes(w, c, h.uid, h.tid);
                if (pp)
                    smb_pipe_close(w, c, pp); /* its calls written first, with its name */
                if (forget)
                    smb_fid_closed(w, c, h.uid, f);
            }
            break;
        default: break;
        }
        if (!smb1_is_andx(cmd) || wc < 2)
            return;
        struct rd ax = words;
        uint8_t next = rd_u8(&ax);
        rd_skip(&ax, 1);
        uint16_t next_off = rd_u16le(&ax);
        if (next == 0xff)
            return;
        /* the chain must move forward inside the message */
        if (next_off <= off || next_off <= prev || next_off >= len) {
            smb_anomaly(w, c, ANOM_SMB_MALFORMED, "AndX offset does not move forward");
            return;
        }
        prev = off;
        off = next_off;
        cmd = next;
    }
    smb_anomaly(w, c, ANOM_SMB_MALFORMED, "AndX chain too long");
}
