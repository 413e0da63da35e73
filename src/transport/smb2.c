/* SMB2/3 commands on named pipes: sessions, trees, create, write, read, ioctl, close. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rpcsentry/buf.h"
#include "rpcsentry/cursor.h"
#include "rpcsentry/ntlmssp.h"
#include "rpcsentry/text.h"
#include "rpcsentry/worker.h"
#include "smb_internal.h"

/* ---- SMB2 ---- */

struct smb2_hdr {
    uint16_t cmd;
    uint32_t status, flags, next;
    uint64_t msg_id, session;
    uint32_t tree;
    bool response;
};

static const char *smb2_dialect_name(uint16_t d)
{
    switch (d) {
    case 0x0202: return "2.02";
    case 0x0210: return "2.10";
    case 0x0222: return "2.22";
    case 0x0224: return "2.24";
    case 0x0300: return "3.00";
    case 0x0302: return "3.02";
    case 0x0310: return "3.10";
    case 0x0311: return "3.11";
    case 0x02ff: return "2.??";
    default: return "unknown";
    }
}

/* The chain state of a compounded request: related commands inherit these. */
struct smb2_chain {
    uint64_t session;
    uint32_t tree;
    uint8_t fid[16];
    struct smb_pipe *created;      /* pipe opened earlier in this chain, fid not yet known */
    struct smb_file *created_file; /* the same for a file on a disk share */
};

static const uint8_t fid_any[16] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

/* Resolves a request's FileId: the all-ones id in a related command means the
 * file opened earlier in the same chain. */
static struct smb_pipe *smb2_pipe_for(struct smb_conn *c, const uint8_t *fid,
                                      const struct smb2_chain *ch, bool related)
{
    if (related && smb_fid_eq(fid, fid_any, 16))
        return ch->created ? ch->created : smb_pipe_by_fid(c, ch->fid, 16);
    return smb_pipe_by_fid(c, fid, 16);
}

/* A UTF-16 name at (offset from the header, length) into out. */
static void smb2_name(struct rd m, uint16_t off, uint16_t len, char *out, size_t n)
{
    out[0] = '\0';
    rd_seek(&m, off);
    struct rd s = rd_sub(&m, len);
    if (rd_ok(&s))
        utf16le_to_utf8(&s, len / 2, out, n, NULL);
}

static void smb2_session_setup(struct worker *w, struct smb_conn *c, const struct smb2_hdr *h,
                               struct rd m, const uint8_t *cmd, size_t cmd_len)
{
    if (h->response) {
        if (w->cfg->keys) {
            struct rd r = m;
            rd_skip(&r, 4); /* size, session flags */
            uint16_t off = rd_u16le(&r), len = rd_u16le(&r);
            rd_seek(&r, off);
            const uint8_t *blob = rd_take(&r, len);
            smb3_session_setup(w, c, true, h->status, h->session, false, cmd, cmd_len, blob,
                               blob ? len : 0);
        }
        return;
    }
    struct rd f = m;
    rd_skip(&f, 2);
    bool binding = (rd_u8(&f) & 0x01) != 0; /* SMB2_SESSION_FLAG_BINDING */
    rd_skip(&m, 12);                        /* size, flags, security mode, capabilities, channel */
    uint16_t off = rd_u16le(&m), len = rd_u16le(&m);
    if (!rd_ok(&m))
        return;
    rd_seek(&m, off);
    const uint8_t *blob = rd_take(&m, len);
    if (w->cfg->keys)
        smb3_session_setup(w, c, false, h->status, h->session, binding, cmd, cmd_len, blob,
                           blob ? len : 0);
    if (!blob)
        return;
    struct rpc_identity id;
    if (ntlmssp_parse(blob, len, &id) == NTLMSSP_AUTHENTICATE)
        smb_session_learn(w, c, h->session, &id);
}

static void smb2_tree_connect(struct worker *w, struct smb_conn *c, const struct smb2_hdr *h,
                              struct rd m)
{
    if (!h->response) {
        rd_skip(&m, 4);
        uint16_t off = rd_u16le(&m), len = rd_u16le(&m);
        if (!rd_ok(&m))
            return;
        struct smb_pending *q = smb_pend_add(w, c, h->msg_id, PEND_TREE);
        if (q) {
            smb2_name(m, off, len, q->path, sizeof q->path);
            q->session = h->session;
        }
        return;
    }
    struct smb_pending *q = smb_pend_take(c, h->msg_id);
    if (q && q->kind == PEND_TREE && h->status == STATUS_SUCCESS) {
        rd_skip(&m, 2);
        uint8_t type = rd_u8(&m);
        size_t plen = strlen(q->path);
        bool ipc = type == 0x02 || (plen >= 4 && strcasecmp(q->path + plen - 4, "IPC$") == 0);
        smb_tree_add(w, c, h->tree, h->session, q->path, ipc);
    }
    smb_pend_free(w, q);
}

static void smb2_create(struct worker *w, struct smb_conn *c, const struct smb2_hdr *h, struct rd m,
                        struct smb2_chain *ch)
{
    if (!h->response) {
        rd_skip(&m, 24);
        uint32_t access = rd_u32le(&m);
        rd_skip(&m, 8); /* attributes, share access */
        uint32_t disposition = rd_u32le(&m), options = rd_u32le(&m);
        uint16_t off = rd_u16le(&m), len = rd_u16le(&m);
        if (!rd_ok(&m))
            return;
        struct smb_tree *t = smb_tree_find(w, c, h->session, h->tree);
        if (t && !t->ipc) { /* a disk share: a file, followed if it may be written */
            char path[SMB_FILE_NAME_MAX];
            smb2_name(m, off, len, path, sizeof path);
            ch->created_file = smb_file_create(w, c, h->msg_id, h->session, h->tree, t->share, path,
                                               access, disposition, options, false);
            return;
        }
        char name[SMB_NAME_MAX];
        smb2_name(m, off, len, name, sizeof name);
        if (!smb_tree_may_hold_pipes(w, c, h->session, h->tree))
            return;
        if (!t && name[0] == '\0')
            return;
        struct smb_pipe *p = smb_pipe_new(w, c, name, t ? t->share : NULL, h->session, h->tree);
        if (!p)
            return;
        p->create_msg = h->msg_id;
        ch->created = p;
        return;
    }
    if (c->files) {
        struct rd r = m;
        rd_seek(&r, 64 + 4);
        uint32_t action = rd_u32le(&r);
        rd_seek(&r, 64 + 48);
        uint64_t eof = rd_u64le(&r);
        uint8_t ffid[16];
        rd_seek(&r, 64 + 64);
        bool ok = rd_bytes(&r, ffid, 16) && h->status == STATUS_SUCCESS;
        smb_file_opened(w, c, h->msg_id, ok, ok ? ffid : fid_any, action, eof);
    }
    struct smb_pipe *p = smb_pipe_by_create(c, h->msg_id);
    if (!p)
        return;
    if (h->status != STATUS_SUCCESS) {
        smb_pipe_discard(w, c, p);
        return;
    }
    rd_seek(&m, 64 + 64); /* FileId sits 64 bytes into the CREATE response body */
    uint8_t fid[16];
    if (!rd_bytes(&m, fid, 16))
        return;
    memcpy(p->fid, fid, 16);
    p->open = true;
    smb_fid_opened(c, fid);
    memcpy(ch->fid, fid, 16);
    struct smb_reg_pipe *rp = smb_reg_pipe(w, c, p->info.smb_session_id, fid, true);
    if (rp)
        snprintf(rp->name, sizeof rp->name, "%.63s", p->name);
}

static void smb2_close(struct worker *w, struct smb_conn *c, const struct smb2_hdr *h, struct rd m,
                       const struct smb2_chain *ch)
{
    if (h->response)
        return;
    rd_skip(&m, 8);
    uint8_t fid[16];
    if (!rd_bytes(&m, fid, 16))
        return;
    if (c->files) {
        bool chained = (h->flags & SMB2_FLAGS_RELATED) && smb_fid_eq(fid, fid_any, 16);
        struct smb_file *f = chained && ch->created_file
                                 ? ch->created_file
                                 : smb_file_by_fid(c, chained ? ch->fid : fid);
        if (f) {
            smb_file_close(w, c, f);
            return;
        }
    }
    struct smb_pipe *p = smb2_pipe_for(c, fid, ch, h->flags & SMB2_FLAGS_RELATED);
    if (p) {
        /* its calls are written as the pipe goes, with its name: the registry forgets after */
        uint8_t closed[16];
        memcpy(closed, p->fid, 16);
        smb_pipe_close(w, c, p);
        smb_fid_closed(w, c, h->session, closed);
    } else if (smb_tree_may_hold_pipes(w, c, h->session, h->tree)) {
        smb_fid_closed(w, c, h->session, fid);
    }
}

static void smb2_write(struct worker *w, struct smb_conn *c, int ep, const struct smb2_hdr *h,
                       struct rd m, const struct smb2_chain *ch)
{
    if (h->response) {
        if (h->status == STATUS_PENDING)
            return; /* interim: the answer that counts comes later */
        struct smb_pending *q = smb_pend_take_kind(c, h->msg_id, PEND_WRITE);
        if (q && !q->held && h->status != STATUS_SUCCESS)
            smb_file_refused(c, q->fid); /* a file's WRITE (a pipe's holds its data) */
        smb_answer(w, c, q, h->status == STATUS_SUCCESS, h->status);
        smb_pend_free(w, q);
        return;
    }
    rd_skip(&m, 2);
    uint16_t off = rd_u16le(&m);
    uint32_t len = rd_u32le(&m);
    uint64_t at = rd_u64le(&m);
    uint8_t fid[16];
    rd_bytes(&m, fid, 16);
    if (!rd_ok(&m))
        return;
    struct rd d = m;
    rd_seek(&d, off);
    const uint8_t *data = rd_take(&d, len);
    if (c->files) {
        bool chained = (h->flags & SMB2_FLAGS_RELATED) && smb_fid_eq(fid, fid_any, 16);
        const uint8_t *ffid = chained ? ch->fid : fid;
        struct smb_file *f =
            chained && ch->created_file ? ch->created_file : smb_file_by_fid(c, ffid);
        if (f) {
            smb_file_write_req(w, c, f, ep, h->msg_id, ffid, at, m, off, len,
                               "WRITE data past the end of the message");
            return;
        }
    }
    struct smb_pipe *p = smb2_pipe_for(c, fid, ch, h->flags & SMB2_FLAGS_RELATED);
    if (!data) {
        smb_data_missing(w, c, p, ep, "WRITE data past the end of the message");
        return;
    }
    if (!p)
        p = smb_adopt(w, c, fid, 16, h->session, h->tree, data, len);
    smb_pipe_write_msg(w, c, p, ep, data, len, h->msg_id, "WRITE");
}

static void smb2_read(struct worker *w, struct smb_conn *c, int ep, const struct smb2_hdr *h,
                      struct rd m, const struct smb2_chain *ch)
{
    if (!h->response) {
        rd_skip(&m, 16);
        uint8_t fid[16];
        if (!rd_bytes(&m, fid, 16))
            return;
        struct smb_pipe *p = smb2_pipe_for(c, fid, ch, h->flags & SMB2_FLAGS_RELATED);
        if (!p && !smb_tree_may_hold_pipes(w, c, h->session, h->tree))
            return; /* a read on a disk share: no need to follow it */
        struct smb_pending *q = smb_pend_add(w, c, h->msg_id, PEND_READ);
        if (q) {
            memcpy(q->fid, fid, 16);
            if (p)
                smb_pend_set_pipe(q, p);
            q->session = h->session;
        }
        return;
    }
    if (h->status == STATUS_PENDING)
        return; /* interim answer: the data comes later under the same MessageId */
    struct smb_pending *q = smb_pend_take(c, h->msg_id);
    if (!q)
        return;
    if (h->status == STATUS_SUCCESS || h->status == STATUS_BUFFER_OVERFLOW) {
        rd_skip(&m, 2);
        uint8_t off = rd_u8(&m);
        rd_skip(&m, 1);
        uint32_t len = rd_u32le(&m);
        struct rd d = m;
        rd_seek(&d, off);
        const uint8_t *data = rd_ok(&m) ? rd_take(&d, len) : NULL;
        struct smb_pipe *p = smb_pend_pipe(c, q);
        if (data) {
            if (!p)
                p = smb_adopt(w, c, q->fid, 16, q->session, h->tree, data, len);
            smb_pipe_reply(w, c, p, ep, data, len, q);
        } else if (len) {
            smb_data_missing(w, c, p, ep, "READ data past the end of the message");
        }
    }
    smb_pend_free(w, q);
}

static void smb2_ioctl(struct worker *w, struct smb_conn *c, int ep, const struct smb2_hdr *h,
                       struct rd m, const struct smb2_chain *ch)
{
    if (h->response && h->status != STATUS_SUCCESS && h->status != STATUS_BUFFER_OVERFLOW) {
        /* an error answer's body is not an IOCTL's */
        if (h->status != STATUS_PENDING) {
            struct smb_pending *q = smb_pend_take_kind(c, h->msg_id, PEND_IOCTL);
            smb_answer(w, c, q, false, h->status);
            smb_pend_free(w, q);
        }
        return;
    }
    rd_skip(&m, 4);
    uint32_t code = rd_u32le(&m);
    uint8_t fid[16];
    rd_bytes(&m, fid, 16);
    if (!rd_ok(&m) || code != FSCTL_PIPE_TRANSCEIVE)
        return;
    if (!h->response) {
        uint32_t in_off = rd_u32le(&m), in_len = rd_u32le(&m);
        struct rd d = m;
        rd_seek(&d, in_off);
        const uint8_t *data = rd_ok(&m) ? rd_take(&d, in_len) : NULL;
        struct smb_pipe *p = smb2_pipe_for(c, fid, ch, h->flags & SMB2_FLAGS_RELATED);
        if (!data) {
            smb_data_missing(w, c, p, ep, "IOCTL input past the end of the message");
            return;
        }
        if (!p)
            p = smb_adopt(w, c, fid, 16, h->session, h->tree, data, in_len);
        if (!p)
            return;
        struct smb_pending *q = smb_pend_add(w, c, h->msg_id, PEND_IOCTL);
        if (q)
            smb_pend_set_pipe(q, p);
        smb_pipe_write(w, c, p, ep, data, in_len, c->answers_seen ? q : NULL, "IOCTL");
        return;
    }
    struct smb_pending *q = smb_pend_take_kind(c, h->msg_id, PEND_IOCTL);
    smb_answer(w, c, q, true, h->status); /* its input into the pipe first */
    rd_skip(&m, 8);                       /* input offset and count */
    uint32_t out_off = rd_u32le(&m), out_len = rd_u32le(&m);
    struct rd d = m;
    rd_seek(&d, out_off);
    const uint8_t *data = rd_ok(&m) ? rd_take(&d, out_len) : NULL;
    struct smb_pipe *p = q ? smb_pend_pipe(c, q) : smb_pipe_by_fid(c, fid, 16);
    if (data)
        smb_pipe_reply(w, c, p, ep, data, out_len, q);
    else if (out_len)
        smb_data_missing(w, c, p, ep, "IOCTL output past the end of the message");
    smb_pend_free(w, q);
}

void smb2_message(struct worker *w, struct smb_conn *c, int ep, const uint8_t *msg, size_t len)
{
    struct smb2_chain ch;
    memset(&ch, 0, sizeof ch);
    size_t off = 0;
    for (int n = 0; n < SMB_MAX_CHAIN; n++) {
        struct rd all = rd_init(msg, len);
        rd_skip(&all, off);
        struct rd m = rd_sub(&all, len - off);
        struct smb2_hdr h;
        rd_skip(&m, 4); /* \xfeSMB */
        uint16_t hsize = rd_u16le(&m);
        rd_skip(&m, 2);
        h.status = rd_u32le(&m);
        h.cmd = rd_u16le(&m);
        rd_skip(&m, 2);
        h.flags = rd_u32le(&m);
        h.next = rd_u32le(&m);
        h.msg_id = rd_u64le(&m);
        if (h.flags & SMB2_FLAGS_ASYNC) {
            rd_skip(&m, 8);
            h.tree = 0;
        } else {
            rd_skip(&m, 4);
            h.tree = rd_u32le(&m);
        }
        h.session = rd_u64le(&m);
        rd_skip(&m, 16);
        if (!rd_ok(&m) || hsize != 64) {
            smb_anomaly(w, c, ANOM_SMB_MALFORMED, "short or malformed SMB2 header");
            return;
        }
        h.response = (h.flags & SMB2_FLAGS_RESPONSE) != 0;
        if (h.response)
            c->answers_seen = true;
        if (c->server_ep < 0)
            c->server_ep = h.response ? ep : 1 - ep;
        if (h.flags & SMB2_FLAGS_RELATED) {
            if (h.session == UINT64_MAX)
                h.session = ch.session;
            if (h.tree == UINT32_MAX)
                h.tree = ch.tree;
        }
        ch.session = h.session;
        ch.tree = h.tree;
        /* the command's own bytes: to the next header, or the end */
        struct rd body = m;
        if (h.next) {
            if (h.next < 64 || h.next > len - off) {
                smb_anomaly(w, c, ANOM_SMB_MALFORMED, "NextCommand outside the message");
                return;
            }
            body.len = h.next;
        }
        const uint8_t *cmd = msg + off;
        size_t cmd_len = h.next ? h.next : len - off;
        switch (h.cmd) {
        case SMB2_NEGOTIATE:
            if (w->cfg->keys)
                smb3_negotiate(w, c, h.response, h.status, cmd, cmd_len, body);
            if (h.response && h.status == STATUS_SUCCESS) {
                struct rd b = body;
                rd_skip(&b, 4);
                uint16_t d = rd_u16le(&b);
                if (rd_ok(&b))
                    c->dialect = smb2_dialect_name(d);
            }
            break;
        case SMB2_SESSION_SETUP: smb2_session_setup(w, c, &h, body, cmd, cmd_len); break;
        case SMB2_TREE_CONNECT: smb2_tree_connect(w, c, &h, body); break;
        case SMB2_CREATE: smb2_create(w, c, &h, body, &ch); break;
        case SMB2_CLOSE: smb2_close(w, c, &h, body, &ch); break;
        case SMB2_READ: smb2_read(w, c, ep, &h, body, &ch); break;
        case SMB2_WRITE: smb2_write(w, c, ep, &h, body, &ch); break;
        case SMB2_IOCTL: smb2_ioctl(w, c, ep, &h, body, &ch); break;
        default: break;
        }
        if (!h.next)
            return;
        off += h.next;
    }
    smb_anomaly(w, c, ANOM_SMB_MALFORMED, "too many compounded commands");
}
