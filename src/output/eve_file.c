/*
 * `fileinfo` records for files written over SMB on disk shares, in Suricata's shape
 * (its `fileinfo` and `smb` objects, app_proto "smb"), so that pipelines that take
 * Suricata's file events take these; what Suricata has no field for (the share path,
 * the create action, whether every byte was seen, the kind of file) is in `rpcsentry`.
 * And `smb` records for the named pipes remote-execution tools talk over.
 */
#include <stdio.h>
#include <string.h>

#include "output_internal.h"
#include "rpcsentry/json.h"
#include "rpcsentry/output.h"
#include "rpcsentry/smb_file.h"
#include "rpcsentry/text.h"
#include "rpcsentry/uuid.h"
#include "rpcsentry/worker.h"

/* MS-SMB2 2.2.13 CreateDisposition, as Suricata names them */
static const char *disposition_name(uint32_t d)
{
    static const char *const names[] = {"FILE_SUPERSEDE", "FILE_OPEN",      "FILE_CREATE",
                                        "FILE_OPEN_IF",   "FILE_OVERWRITE", "FILE_OVERWRITE_IF"};
    return d < sizeof names / sizeof names[0] ? names[d] : "UNKNOWN";
}

/* MS-SMB2 2.2.14 CreateAction */
static const char *action_name(uint32_t a)
{
    static const char *const names[] = {"superseded", "opened", "created", "overwritten"};
    return a < sizeof names / sizeof names[0] ? names[a] : "unknown";
}

/* The FileId as Wireshark writes it (smb2.fid): its 16 bytes read as a GUID, the first
 * three groups little-endian (SMB1: the FID's two bytes, as four hex digits). */
static void fuid_str(const uint8_t *fid, bool smb1, char out[40])
{
    if (smb1) {
        snprintf(out, 40, "%02x%02x", fid[1], fid[0]);
        return;
    }
    struct rd r = rd_init(fid, 16);
    struct uuid u = rd_uuid(&r, true); /* the GUID form, as a little-endian UUID is read */
    uuid_fmt(&u, out);
}

/* The session's user as Suricata's smb.ntlmssp has it (domain first), or as the
 * rpcsentry.auth of a call (user first). */
static void write_identity(struct json *j, const char *key, const struct rpc_identity *id)
{
    if (!id || !id->valid)
        return;
    bool suricata = strcmp(key, "ntlmssp") == 0;
    json_obj_open(j, key);
    if (suricata)
        json_str(j, "domain", id->domain);
    json_str(j, "user", id->user);
    if (!suricata)
        json_str(j, "domain", id->domain);
    json_str(j, "host", id->host);
    json_obj_close(j);
}

/* The file's name without the directories before it. */
static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '\\');
    return b ? b + 1 : path;
}

/* A fileinfo record's objects: smb, fileinfo and the extension. */
static void write_file(struct output *o, const struct smb_file_record *f)
{
    struct json *j = &o->j;
    json_obj_open(j, "smb");
    if (f->dialect)
        json_str(j, "dialect", f->dialect);
    json_str(j, "command", f->smb1 ? "SMB1_COMMAND_NT_CREATE_ANDX" : "SMB2_COMMAND_CREATE");
    json_u64(j, "session_id", f->session_id);
    json_u64(j, "tree_id", f->tree_id);
    if (f->share[0])
        json_str(j, "share", f->share);
    json_str(j, "share_type", "FILE");
    json_str(j, "filename", f->name);
    json_str(j, "disposition", disposition_name(f->disposition));
    char fuid[40];
    fuid_str(f->fid, f->smb1, fuid);
    json_str(j, "fuid", fuid);
    write_identity(j, "ntlmssp", f->identity);
    json_obj_close(j);
    json_obj_open(j, "fileinfo");
    json_str(j, "filename", f->name);
    json_bool(j, "gaps", f->gaps);
    json_str(j, "state", f->closed ? "CLOSED" : "TRUNCATED");
    if (f->whole)
        json_hex(j, "sha256", f->sha256, 32);
    json_bool(j, "stored", false);
    json_u64(j, "size", f->size);
    json_obj_close(j);
    if (!o->opts.compat) {
        json_obj_open(j, "rpcsentry");
        char path[1024];
        snprintf(path, sizeof path, "%s%s%s", f->share, f->name[0] == '\\' ? "" : "\\", f->name);
        json_str(j, "path", path);
        json_str(j, "base_name", base_name(f->name));
        json_str(j, "direction", "to_server");
        json_str(j, "create_action", action_name(f->create_action));
        json_u64(j, "written", f->written);
        json_bool(j, "whole", f->whole);
        if (f->refused)
            json_bool(j, "write_refused", true);
        if (f->kind == SMB_FILE_PE)
            json_str(j, "file_type", "pe");
        else if (f->kind == SMB_FILE_SCRIPT)
            json_str(j, "file_type", "script");
        write_identity(j, "auth", f->identity);
        char ts[TS_STR_LEN];
        ts_format(f->open_us, ts);
        json_str(j, "open_time", ts);
        json_u64(j, "open_pcap_cnt", f->open_pcap_cnt);
        json_obj_close(j);
    }
}

/* The fileinfo record of f, or (a) an alert on it with the same objects. */
static void emit_file(struct worker *w, const struct smb_file_record *f, const struct alert_info *a)
{
    struct output *o = w->out;
    if (!o || o->opts.format != FORMAT_EVE)
        return;
    eve_header(w, o, f->flow, f->client_ep, f->ts_us, f->pcap_cnt, a ? "alert" : "fileinfo", "smb",
               (char *)f->community_id);
    if (a) {
        json_str(&o->j, "direction", "to_server");
        eve_write_alert(&o->j, a, o->opts.alert_references);
    }
    write_file(o, f);
    json_obj_close(&o->j);
    output_emit(w, o);
}

void output_file(struct worker *w, const struct smb_file_record *f)
{
    emit_file(w, f, NULL);
}

void output_file_alert(struct worker *w, const struct smb_file_record *f,
                       const struct alert_info *a)
{
    emit_file(w, f, a);
}

/* An smb record's objects: smb and the extension. */
static void write_pipe(struct output *o, const struct smb_pipe_record *p)
{
    struct json *j = &o->j;
    json_obj_open(j, "smb");
    if (p->dialect)
        json_str(j, "dialect", p->dialect);
    json_str(j, "command", p->smb1 ? "SMB1_COMMAND_NT_CREATE_ANDX" : "SMB2_COMMAND_CREATE");
    json_u64(j, "session_id", p->session_id);
    json_u64(j, "tree_id", p->tree_id);
    if (p->share[0])
        json_str(j, "share", p->share);
    json_str(j, "share_type", "PIPE");
    json_str(j, "filename", p->name);
    json_str(j, "named_pipe", p->name);
    char fuid[40];
    fuid_str(p->fid, p->smb1, fuid);
    json_str(j, "fuid", fuid);
    write_identity(j, "ntlmssp", p->identity);
    json_obj_close(j);
    if (!o->opts.compat) {
        json_obj_open(j, "rpcsentry");
        json_str(j, "named_pipe", p->name);
        if (p->tool) {
            json_str(j, "tool", p->tool);
            json_str(j, "tool_pipe", p->control ? "control" : "console");
        }
        if (p->opened || p->refused)
            json_bool(j, "opened", p->opened);
        json_bool(j, "closed", p->closed);
        json_bool(j, "rpc", p->rpc);
        json_u64(j, "bytes_to_server", p->bytes_to_server);
        json_u64(j, "bytes_to_client", p->bytes_to_client);
        write_identity(j, "auth", p->identity);
        char ts[TS_STR_LEN];
        ts_format(p->open_us, ts);
        json_str(j, "open_time", ts);
        json_u64(j, "open_pcap_cnt", p->open_pcap_cnt);
        json_obj_close(j);
    }
}

/* The smb record of p, or (a) an alert on it with the same objects. */
static void emit_pipe(struct worker *w, const struct smb_pipe_record *p, const struct alert_info *a)
{
    struct output *o = w->out;
    if (!o || o->opts.format != FORMAT_EVE)
        return;
    eve_header(w, o, p->flow, p->client_ep, p->ts_us, p->pcap_cnt, a ? "alert" : "smb", "smb",
               (char *)p->community_id);
    if (a) {
        json_str(&o->j, "direction", "to_server");
        eve_write_alert(&o->j, a, o->opts.alert_references);
    }
    write_pipe(o, p);
    json_obj_close(&o->j);
    output_emit(w, o);
}

void output_pipe(struct worker *w, const struct smb_pipe_record *p)
{
    emit_pipe(w, p, NULL);
}

void output_pipe_alert(struct worker *w, const struct smb_pipe_record *p,
                       const struct alert_info *a)
{
    emit_pipe(w, p, a);
}
