/*
 * `fileinfo` records for files written over SMB on disk shares, in Suricata's shape
 * (its `fileinfo` and `smb` objects, app_proto "smb"), so that pipelines that take
 * Suricata's file events take these; what Suricata has no field for (the share path,
 * the create action, whether every byte was seen, the kind of file) is in `rpcsentry`.
 */
#include <stdio.h>
#include <string.h>

#include "output_internal.h"
#include "rpcsentry/json.h"
#include "rpcsentry/output.h"
#include "rpcsentry/smb_file.h"
#include "rpcsentry/text.h"
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

/* The FileId as Suricata's fuid: its 16 bytes in hex, grouped 8-4-4-4-12. */
static void fuid_str(const uint8_t *fid, bool smb1, char out[40])
{
    static const char hex[] = "0123456789abcdef";
    size_t n = smb1 ? 2 : 16, o = 0;
    for (size_t i = 0; i < n; i++) {
        if (!smb1 && (i == 4 || i == 6 || i == 8 || i == 10))
            out[o++] = '-';
        out[o++] = hex[fid[i] >> 4];
        out[o++] = hex[fid[i] & 15];
    }
    out[o] = '\0';
}

/* The file's name without the directories before it. */
static const char *base_name(const char *path)
{
    const char *b = strrchr(path, '\\');
    return b ? b + 1 : path;
}

void output_file(struct worker *w, const struct smb_file_record *f)
{
    struct output *o = w->out;
    if (!o || o->opts.format != FORMAT_EVE)
        return;
    eve_header(w, o, f->flow, f->client_ep, f->ts_us, f->pcap_cnt, "fileinfo", "smb",
               (char *)f->community_id);
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
    if (f->identity && f->identity->valid) {
        json_obj_open(j, "ntlmssp");
        json_str(j, "domain", f->identity->domain);
        json_str(j, "user", f->identity->user);
        json_str(j, "host", f->identity->host);
        json_obj_close(j);
    }
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
        if (f->identity && f->identity->valid) {
            json_obj_open(j, "auth");
            json_str(j, "user", f->identity->user);
            json_str(j, "domain", f->identity->domain);
            json_str(j, "host", f->identity->host);
            json_obj_close(j);
        }
        char ts[TS_STR_LEN];
        ts_format(f->open_us, ts);
        json_str(j, "open_time", ts);
        json_u64(j, "open_pcap_cnt", f->open_pcap_cnt);
        json_obj_close(j);
    }
    json_obj_close(j);
    output_emit(w, o);
}
