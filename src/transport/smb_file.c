/*
 * Files written over SMB on disk shares (ADMIN$, C$, ...): the binary PsExec, impacket
 * psexec or Cobalt Strike drops before the service that runs it. A file opened for
 * writing is followed from its CREATE to its CLOSE; its WRITEs are hashed (SHA-256,
 * nettle) while every byte comes in order from offset 0, and a WRITE too big to hold
 * streams through the hash without being buffered. What was written, how much, whether
 * all of it was seen, and the digest go to worker.on_file when the client closes the
 * file or the connection ends. Bounded: SMB_MAX_FILES files a connection, the oldest
 * going first (its record written if anything was written to it).
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rpcsentry/names.h"
#include "rpcsentry/smb_file.h"
#include "rpcsentry/worker.h"
#include "smb_internal.h"

/* MS-SMB2 2.2.13.1.1 / MS-FSCC: rights that let a handle change the file's data */
#define ACC_WRITE_DATA 0x00000002u
#define ACC_APPEND_DATA 0x00000004u
#define ACC_MAXIMUM_ALLOWED 0x02000000u
#define ACC_GENERIC_ALL 0x10000000u
#define ACC_GENERIC_WRITE 0x40000000u
#define OPT_DIRECTORY_FILE 0x00000001u

static void file_unlink(struct smb_conn *c, struct smb_file *f)
{
    for (struct smb_file **pp = &c->files; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            c->n_files--;
            break;
        }
    for (int i = 0; i < 2; i++)
        if (c->dir[i].sink == f)
            c->dir[i].sink = NULL;
}

/* Whether name's extension (with its dot) is one of exts. */
static bool ends_with(const char *name, const char *const *exts)
{
    const char *dot = strrchr(name, '.');
    if (!dot || strchr(dot, '\\'))
        return false;
    for (size_t i = 0; exts[i]; i++)
        if (strcasecmp(dot, exts[i]) == 0)
            return true;
    return false;
}

static enum smb_file_kind file_kind(const struct smb_file *f)
{
    static const char *const pe[] = {".exe", ".dll", ".sys", ".scr", ".cpl",
                                     ".ocx", ".com", ".drv", NULL};
    if (f->head_len == 2 && f->head[0] == 'M' && f->head[1] == 'Z')
        return SMB_FILE_PE;
    if (ends_with(f->name, rpc_script_extensions))
        return SMB_FILE_SCRIPT;
    if (ends_with(f->name, pe))
        return SMB_FILE_PE;
    return SMB_FILE_DATA;
}

/* Writes f's record if anything was written to it, then frees it. */
static void file_end(struct worker *w, struct smb_conn *c, struct smb_file *f, bool closed)
{
    file_unlink(c, f);
    if (f->open && f->written && w->on_file) {
        struct smb_file_record r;
        memset(&r, 0, sizeof r);
        r.flow = c->flow;
        r.community_id = c->community_id;
        r.client_ep = c->server_ep >= 0 ? 1 - c->server_ep : 0;
        r.ts_us = w->now_us;
        r.pcap_cnt = w->pcap_cnt;
        r.open_us = f->open_us;
        r.open_pcap_cnt = f->open_cnt;
        r.dialect = c->dialect;
        r.smb1 = f->smb1;
        r.session_id = f->session;
        r.tree_id = f->tree;
        r.share = f->share;
        r.name = f->name;
        r.identity = smb_identity_of(w, c, f->session);
        r.fid = f->fid;
        r.disposition = f->disposition;
        r.create_action = f->action;
        r.size_at_open = f->size_at_open;
        r.written = f->written;
        r.size = f->end;
        r.gaps = f->gaps;
        r.refused = f->refused;
        r.closed = closed;
        /* all of it: each byte once, in order, taken, and nothing of an older file left
           past the end (FILE_OPENED keeps what was there) */
        r.whole = !f->out_of_order && !f->gaps && !f->refused && f->hashed == f->end &&
                  (f->action != 1 || f->size_at_open <= f->end);
        if (r.whole) {
            struct sha256_ctx copy = f->sha;
            sha256_digest(&copy, SHA256_DIGEST_SIZE, r.sha256);
        }
        r.kind = file_kind(f);
        w->stats.smb_files++;
        w->on_file(w, &r);
    }
    mem_free(&w->mem, MEM_APP, f, sizeof *f);
}

struct smb_file *smb_file_create(struct worker *w, struct smb_conn *c, uint64_t msg,
                                 uint64_t session, uint32_t tree, const char *share,
                                 const char *name, uint32_t access, uint32_t disposition,
                                 uint32_t options, bool smb1)
{
    const uint32_t writes = ACC_WRITE_DATA | ACC_APPEND_DATA | ACC_MAXIMUM_ALLOWED |
                            ACC_GENERIC_ALL | ACC_GENERIC_WRITE;
    if (!(access & writes) || (options & OPT_DIRECTORY_FILE) || !name[0])
        return NULL;
    if (c->n_files >= SMB_MAX_FILES) {
        /* opened and never closed: the oldest (last in the list) makes room */
        struct smb_file *old = c->files;
        while (old && old->next)
            old = old->next;
        w->stats.smb_files_evicted++;
        if (old)
            file_end(w, c, old, false);
    }
    struct smb_file *f = mem_calloc(&w->mem, MEM_APP, sizeof *f);
    if (!f)
        return NULL;
    f->create_msg = msg;
    f->session = session;
    f->tree = tree;
    f->smb1 = smb1;
    f->disposition = disposition;
    f->open_us = w->now_us;
    f->open_cnt = w->pcap_cnt;
    snprintf(f->share, sizeof f->share, "%s", share ? share : "");
    snprintf(f->name, sizeof f->name, "%s", name);
    sha256_init(&f->sha);
    f->next = c->files;
    c->files = f;
    c->n_files++;
    return f;
}

void smb_file_opened(struct worker *w, struct smb_conn *c, uint64_t msg, bool ok,
                     const uint8_t fid[16], uint32_t action, uint64_t eof)
{
    struct smb_file *f = c->files;
    while (f && (f->open || f->create_msg != msg))
        f = f->next;
    if (!f)
        return;
    if (!ok) {
        file_end(w, c, f, false);
        return;
    }
    memcpy(f->fid, fid, 16);
    f->open = true;
    f->action = action;
    f->size_at_open = eof;
    if (f->close_asked)
        file_end(w, c, f, true);
}

struct smb_file *smb_file_by_fid(struct smb_conn *c, const uint8_t fid[16])
{
    for (struct smb_file *f = c->files; f; f = f->next)
        if (f->open && memcmp(f->fid, fid, 16) == 0)
            return f;
    return NULL;
}

/* Bytes [at, at+n) of f's content. */
static void file_bytes(struct smb_file *f, uint64_t at, const uint8_t *d, size_t n)
{
    if (at == 0 && n && f->head_len == 0) {
        f->head_len = n >= 2 ? 2 : 1;
        memcpy(f->head, d, f->head_len);
    } else if (at == 1 && n && f->head_len == 1) {
        f->head[1] = d[0];
        f->head_len = 2;
    }
    if (at != f->hashed) {
        f->out_of_order = true;
        if (at > f->hashed && at > f->end)
            f->gaps = true; /* a hole: bytes before it were never seen written */
    }
    if (!f->out_of_order) {
        sha256_update(&f->sha, n, d);
        f->hashed += n;
    }
    if (at + n > f->end)
        f->end = at + n;
}

/* A WRITE of total bytes at offset, of which the first n are d (from ep); streams: the
 * rest follows d in the bytes of the message still to come (smb_file_stream). */
static void file_write(struct smb_conn *c, struct smb_file *f, int ep, uint64_t offset,
                       const uint8_t *d, size_t n, uint64_t total, bool streams)
{
    if (total > UINT64_MAX - offset)
        return;
    f->written += total;
    file_bytes(f, offset, d, n);
    struct smb_dir *dir = &c->dir[ep & 1];
    if (n < total) {
        if (streams) { /* the rest streams by as the message is skipped */
            dir->sink = f;
            dir->sink_at = offset + n;
            dir->sink_left = total - n;
        } else {
            f->gaps = true;
            if (offset + total > f->end)
                f->end = offset + total;
        }
    }
}

void smb_file_write_req(struct worker *w, struct smb_conn *c, struct smb_file *f, int ep,
                        uint64_t msg_id, const uint8_t fid[16], uint64_t offset, struct rd m,
                        size_t data_off, uint64_t total, const char *missing)
{
    struct rd r = m;
    rd_seek(&r, data_off);
    bool here = rd_ok(&r); /* the data starts in what the message gave: the rest follows */
    size_t n = rd_left(&r);
    if (n > total)
        n = (size_t)total;
    if (n < total) /* a big WRITE (what is here; the rest streams by), or a broken one */
        smb_data_missing(w, c, NULL, ep, missing);
    file_write(c, f, ep, offset, n ? r.p + r.off : NULL, n, total, c->partial && here);
    struct smb_pending *q = smb_pend_add(w, c, msg_id, PEND_WRITE);
    if (q) /* its answer may say it was refused */
        memcpy(q->fid, fid, 16);
}

void smb_file_stream(struct smb_conn *c, int ep, const uint8_t *d, size_t n)
{
    struct smb_dir *dir = &c->dir[ep & 1];
    struct smb_file *f = dir->sink;
    if (!f || !dir->sink_left)
        return;
    size_t take = n < dir->sink_left ? n : (size_t)dir->sink_left;
    file_bytes(f, dir->sink_at, d, take);
    dir->sink_at += take;
    dir->sink_left -= take;
    if (!dir->sink_left)
        dir->sink = NULL;
}

void smb_file_gap(struct smb_conn *c, int ep)
{
    struct smb_dir *dir = &c->dir[ep & 1];
    if (dir->sink) {
        dir->sink->gaps = true;
        if (dir->sink_at + dir->sink_left > dir->sink->end)
            dir->sink->end = dir->sink_at + dir->sink_left;
        dir->sink = NULL;
    }
}

void smb_file_refused(struct smb_conn *c, const uint8_t fid[16])
{
    struct smb_file *f = smb_file_by_fid(c, fid);
    if (f)
        f->refused = true;
}

void smb_file_close(struct worker *w, struct smb_conn *c, struct smb_file *f)
{
    if (f->open)
        file_end(w, c, f, true);
    else
        f->close_asked = true;
}

void smb_files_free(struct worker *w, struct smb_conn *c)
{
    while (c->files)
        file_end(w, c, c->files, false);
}
