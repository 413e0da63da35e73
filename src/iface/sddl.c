/*
 * Security descriptors to SDDL, MS-DTYP 2.4 and 2.5.1.
 *
 * Self-relative layout (2.4.6): Revision (1), Sbz1, Control, then the offsets
 * of the owner SID, group SID, SACL and DACL from the descriptor's start (0:
 * absent). An ACL (2.4.5) is AclRevision, Sbz1, AclSize, AceCount, Sbz2,
 * then AceCount ACEs of AceType, AceFlags, AceSize (2.4.4.1) and a body:
 * mask and SID, with object ACEs (2.4.4.3) carrying Flags and up to two
 * GUIDs between them. A SID (2.4.2.2) is Revision (1), SubAuthorityCount
 * (at most 15), a 48-bit big-endian authority and the sub-authorities.
 *
 * The text follows what ConvertSecurityDescriptorToStringSecurityDescriptor
 * writes as far as MS-DTYP says it: O:, G:, D:, S: in that order; ACEs as
 * (type;flags;rights;object;inherited object;sid); SIDs by their alias
 * (2.5.1.1) when they have one; rights by their letters when every bit has
 * one (or the mask is exactly FA, FR, FW, FX, KA, KR, KW), otherwise the
 * mask in hex. Domain-relative aliases (DA, DU, ...) are not used: which
 * domain is the machine's own is not on the wire, so those SIDs stay whole.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iface_internal.h"
#include "rpcsentry/cursor.h"
#include "sddl.h"

/* ---- SIDs ---- */

static const struct {
    const char *alias, *sid;
} sid_aliases[] = {
    {"WD", "S-1-1-0"},
    {"CO", "S-1-3-0"},
    {"CG", "S-1-3-1"},
    {"OW", "S-1-3-4"},
    {"NU", "S-1-5-2"},
    {"IU", "S-1-5-4"},
    {"SU", "S-1-5-6"},
    {"AN", "S-1-5-7"},
    {"ED", "S-1-5-9"},
    {"PS", "S-1-5-10"},
    {"AU", "S-1-5-11"},
    {"RC", "S-1-5-12"},
    {"SY", "S-1-5-18"},
    {"LS", "S-1-5-19"},
    {"NS", "S-1-5-20"},
    {"WR", "S-1-5-33"},
    {"BA", "S-1-5-32-544"},
    {"BU", "S-1-5-32-545"},
    {"BG", "S-1-5-32-546"},
    {"PU", "S-1-5-32-547"},
    {"AO", "S-1-5-32-548"},
    {"SO", "S-1-5-32-549"},
    {"PO", "S-1-5-32-550"},
    {"BO", "S-1-5-32-551"},
    {"RE", "S-1-5-32-552"},
    {"RU", "S-1-5-32-554"},
    {"RD", "S-1-5-32-555"},
    {"NO", "S-1-5-32-556"},
    {"MU", "S-1-5-32-558"},
    {"LU", "S-1-5-32-559"},
    {"IS", "S-1-5-32-568"},
    {"CY", "S-1-5-32-569"},
    {"ER", "S-1-5-32-573"},
    {"CD", "S-1-5-32-574"},
    {"RA", "S-1-5-32-575"},
    {"ES", "S-1-5-32-576"},
    {"MS", "S-1-5-32-577"},
    {"HA", "S-1-5-32-578"},
    {"AA", "S-1-5-32-579"},
    {"RM", "S-1-5-32-580"},
    {"AC", "S-1-15-2-1"},
    {"LW", "S-1-16-4096"},
    {"ME", "S-1-16-8192"},
    {"MP", "S-1-16-8448"},
    {"HI", "S-1-16-12288"},
    {"SI", "S-1-16-16384"},
    {"AS", "S-1-18-1"},
    {"SS", "S-1-18-2"},
    {"UD", "S-1-5-84-0-0-0-0-0"},
};
#define N_ALIASES (sizeof sid_aliases / sizeof sid_aliases[0])

/* The alias of a SID written S-1-..., or NULL. */
static const char *alias_of(const char *sid)
{
    for (size_t i = 0; i < N_ALIASES; i++)
        if (strcasecmp(sid_aliases[i].sid, sid) == 0)
            return sid_aliases[i].alias;
    return NULL;
}

/* Reads a SID at the cursor into out (alias when it has one). */
static bool read_sid(struct rd *c, char *out, size_t outsz, const char **why)
{
    uint8_t rev = rd_u8(c), count = rd_u8(c);
    uint64_t auth = 0;
    for (int i = 0; i < 6; i++)
        auth = (auth << 8) | rd_u8(c);
    if (!rd_ok(c))
        return *why = "a SID is cut short", false;
    if (rev != 1 || count > 15)
        return *why = "a SID has a revision other than 1 or more than 15 sub-authorities", false;
    char s[SD_SID_MAX];
    int k = auth < (1ull << 32) ? snprintf(s, sizeof s, "S-1-%llu", (unsigned long long)auth)
                                : snprintf(s, sizeof s, "S-1-0x%012llX", (unsigned long long)auth);
    for (unsigned i = 0; i < count; i++) {
        uint32_t sub = rd_u32le(c);
        k += snprintf(s + k, sizeof s - (size_t)k, "-%u", sub);
    }
    if (!rd_ok(c))
        return *why = "a SID is cut short", false;
    const char *al = alias_of(s);
    snprintf(out, outsz, "%s", al ? al : s);
    return true;
}

/* ---- text output, bounded ---- */

struct out {
    char *b;
    size_t cap, n;
    bool cut;
};

static void put(struct out *o, const char *s)
{
    size_t len = strlen(s);
    if (o->cut || o->n + len >= o->cap) {
        o->cut = true;
        return;
    }
    memcpy(o->b + o->n, s, len + 1);
    o->n += len;
}

/* ---- rights, types, flags ---- */

struct letters {
    uint32_t bits;
    const char *s;
};

/* Masks written as one code when they are exactly the value (2.5.1.1 "ace_rights"). */
static const struct letters whole_masks[] = {
    {0x1f01ff, "FA"}, {0x120089, "FR"}, {0x120116, "FW"}, {0x1200a0, "FX"},
    {0xf003f, "KA"},  {0x20019, "KR"},  {0x20006, "KW"},  {0, NULL},
};

/* Single rights, in the order they are written. */
static const struct letters rights[] = {
    {0x10000000, "GA"}, {0x80000000, "GR"}, {0x40000000, "GW"}, {0x20000000, "GX"}, {0x1, "CC"},
    {0x2, "DC"},        {0x4, "LC"},        {0x8, "SW"},        {0x10, "RP"},       {0x20, "WP"},
    {0x40, "DT"},       {0x80, "LO"},       {0x100, "CR"},      {0x10000, "SD"},    {0x20000, "RC"},
    {0x40000, "WD"},    {0x80000, "WO"},    {0, NULL},
};

/* A mandatory label's mask (SYSTEM_MANDATORY_LABEL_NO_WRITE_UP etc.). */
static const struct letters label_rights[] = {
    {0x1, "NW"},
    {0x2, "NR"},
    {0x4, "NX"},
    {0, NULL},
};

static void put_rights(struct out *o, uint32_t mask, bool label)
{
    if (!label)
        for (const struct letters *l = whole_masks; l->s; l++)
            if (mask == l->bits)
                return put(o, l->s);
    const struct letters *t = label ? label_rights : rights;
    uint32_t known = 0;
    for (const struct letters *l = t; l->s; l++)
        known |= l->bits;
    if (mask & ~known) {
        char hex[16];
        snprintf(hex, sizeof hex, "0x%x", mask);
        return put(o, hex);
    }
    for (const struct letters *l = t; l->s; l++)
        if (mask & l->bits)
            put(o, l->s);
}

static const struct letters ace_flag_names[] = {
    {0x01, "OI"}, {0x02, "CI"}, {0x04, "NP"}, {0x08, "IO"},
    {0x10, "ID"}, {0x40, "SA"}, {0x80, "FA"}, {0, NULL},
};

static void put_ace_flags(struct out *o, uint8_t flags)
{
    for (const struct letters *l = ace_flag_names; l->s; l++)
        if (flags & l->bits)
            put(o, l->s);
    if (flags & 0x20) /* no SDDL code: shown as hex so it is not lost */
        put(o, "0x20");
}

/* ACE types (2.4.4.1) with their SDDL code; object: the body has Flags and GUIDs. */
static const struct {
    uint8_t type;
    const char *s;
    bool object, deny;
} ace_types[] = {
    {0x00, "A", false, false},  {0x01, "D", false, true},   {0x02, "AU", false, false},
    {0x03, "AL", false, false}, {0x05, "OA", true, false},  {0x06, "OD", true, true},
    {0x07, "OU", true, false},  {0x08, "OL", true, false},  {0x09, "XA", false, false},
    {0x0a, "XD", false, true},  {0x0b, "ZA", true, false},  {0x0c, "ZD", true, true},
    {0x0d, "XU", false, false}, {0x0f, "ZU", true, false},  {0x11, "ML", false, false},
    {0x12, "RA", false, false}, {0x13, "SP", false, false},
};

static void put_guid(struct out *o, struct rd *c)
{
    uint32_t d1 = rd_u32le(c);
    uint16_t d2 = rd_u16le(c), d3 = rd_u16le(c);
    uint8_t d4[8];
    rd_bytes(c, d4, 8);
    char g[40];
    snprintf(g, sizeof g, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x", d1, d2, d3, d4[0],
             d4[1], d4[2], d4[3], d4[4], d4[5], d4[6], d4[7]);
    put(o, g);
}

/* ---- ACLs ---- */

/* Reads the ACL at the cursor (a view over the whole descriptor), writing its ACEs. */
static bool read_acl(struct rd *sd, struct out *o, struct sd_view *v, bool dacl, const char **why)
{
    size_t start = sd->off;
    uint8_t rev = rd_u8(sd);
    rd_u8(sd);
    uint16_t size = rd_u16le(sd), count = rd_u16le(sd);
    rd_u16le(sd);
    if (!rd_ok(sd))
        return *why = "an ACL header is cut short", false;
    if (rev != 2 && rev != 4)
        return *why = "an ACL has a revision other than 2 or 4", false;
    if (size < 8 || size > sd->len - start)
        return *why = "an ACL's size runs past the descriptor", false;
    struct rd acl = rd_init(sd->p + start, size);
    rd_seek(&acl, 8);
    for (unsigned i = 0; i < count; i++) {
        size_t ace_start = acl.off;
        uint8_t type = rd_u8(&acl), flags = rd_u8(&acl);
        uint16_t ace_size = rd_u16le(&acl);
        if (!rd_ok(&acl) || ace_size < 8 || ace_size > acl.len - ace_start)
            return *why = "an ACE's size runs past its ACL", false;
        struct rd ace = rd_init(acl.p + ace_start, ace_size);
        rd_seek(&ace, 4);
        rd_seek(&acl, ace_start + ace_size);
        int t = -1;
        for (size_t k = 0; k < sizeof ace_types / sizeof ace_types[0]; k++)
            if (ace_types[k].type == type)
                t = (int)k;
        if (t < 0)
            return *why = "an ACE has an unknown type", false;
        char one[512];
        struct out a = {one, sizeof one, 0, false};
        put(&a, "(");
        put(&a, ace_types[t].s);
        put(&a, ";");
        put_ace_flags(&a, flags);
        put(&a, ";");
        uint32_t mask = rd_u32le(&ace);
        put_rights(&a, mask, type == 0x11);
        put(&a, ";");
        if (ace_types[t].object) {
            uint32_t oflags = rd_u32le(&ace);
            if (oflags & 1)
                put_guid(&a, &ace);
            put(&a, ";");
            if (oflags & 2)
                put_guid(&a, &ace);
        } else {
            put(&a, ";");
        }
        put(&a, ";");
        char sid[SD_SID_MAX];
        if (!rd_ok(&ace))
            return *why = "an ACE is cut short", false;
        if (!read_sid(&ace, sid, sizeof sid, why))
            return false;
        put(&a, sid);
        /* conditional expressions and resource attributes (callback ACEs) are not written */
        put(&a, ")");
        put(o, one);
        if (dacl) {
            v->n_aces++;
            if (ace_types[t].deny) {
                if (v->n_denies < SD_MAX_DENIES) {
                    /* cut to the record's room, as the Debug build's truncation check wants */
                    snprintf(v->deny[v->n_denies].text, sizeof v->deny[0].text, "%.*s",
                             (int)sizeof v->deny[0].text - 1, one);
                    snprintf(v->deny[v->n_denies].sid, SD_SID_MAX, "%s", sid);
                    v->deny[v->n_denies].mask = mask;
                    v->deny[v->n_denies].flags = flags;
                }
                v->n_denies++;
            }
        }
    }
    return true;
}

/* ---- the descriptor ---- */

#define SE_DACL_PRESENT 0x0004
#define SE_SACL_PRESENT 0x0010
#define SE_DACL_AUTO_INHERIT_REQ 0x0100
#define SE_SACL_AUTO_INHERIT_REQ 0x0200
#define SE_DACL_AUTO_INHERITED 0x0400
#define SE_SACL_AUTO_INHERITED 0x0800
#define SE_DACL_PROTECTED 0x1000
#define SE_SACL_PROTECTED 0x2000
#define SE_SELF_RELATIVE 0x8000

static bool owner_group(struct rd *c, uint32_t off, char *dst, const char *tag, struct out *o,
                        const char **why)
{
    if (!off)
        return true;
    rd_seek(c, off);
    if (!rd_ok(c))
        return *why = "an owner or group offset runs past the descriptor", false;
    if (!read_sid(c, dst, SD_SID_MAX, why))
        return false;
    put(o, tag);
    put(o, dst);
    return true;
}

static bool acl_part(struct rd *c, uint16_t control, uint32_t off, bool dacl, struct out *o,
                     struct sd_view *v, const char **why)
{
    uint16_t present = dacl ? SE_DACL_PRESENT : SE_SACL_PRESENT;
    if (!(control & present))
        return true;
    put(o, dacl ? "D:" : "S:");
    if (control & (dacl ? SE_DACL_PROTECTED : SE_SACL_PROTECTED))
        put(o, "P");
    if (control & (dacl ? SE_DACL_AUTO_INHERIT_REQ : SE_SACL_AUTO_INHERIT_REQ))
        put(o, "AR");
    if (control & (dacl ? SE_DACL_AUTO_INHERITED : SE_SACL_AUTO_INHERITED))
        put(o, "AI");
    if (dacl)
        v->has_dacl = true;
    if (!off) {
        put(o, "NO_ACCESS_CONTROL");
        if (dacl)
            v->null_dacl = true;
        return true;
    }
    rd_seek(c, off);
    if (!rd_ok(c))
        return *why = "an ACL offset runs past the descriptor", false;
    return read_acl(c, o, v, dacl, why);
}

bool sd_parse(const uint8_t *p, size_t len, struct sd_view *v, const char **why)
{
    memset(v, 0, sizeof *v);
    *why = NULL;
    struct rd c = rd_init(p, len);
    uint8_t rev = rd_u8(&c);
    rd_u8(&c);
    uint16_t control = rd_u16le(&c);
    uint32_t owner = rd_u32le(&c), group = rd_u32le(&c), sacl = rd_u32le(&c), dacl = rd_u32le(&c);
    if (!rd_ok(&c))
        return *why = "the descriptor is shorter than its 20-byte header", false;
    if (rev != 1)
        return *why = "the descriptor's revision is not 1", false;
    if (!(control & SE_SELF_RELATIVE))
        return *why = "the descriptor is not self-relative", false;
    struct out o = {v->sddl, sizeof v->sddl, 0, false};
    v->sddl[0] = '\0';
    bool ok = owner_group(&c, owner, v->owner, "O:", &o, why) &&
              owner_group(&c, group, v->group, "G:", &o, why) &&
              acl_part(&c, control, dacl, true, &o, v, why) &&
              acl_part(&c, control, sacl, false, &o, v, why);
    v->sddl_cut = o.cut;
    return ok;
}

/* ---- SDDL text, read back ---- */

/* A rights field: letters in pairs, or a number (0x hex, or decimal). */
static bool text_rights(const char *s, size_t n, uint32_t *mask)
{
    *mask = 0;
    if (n >= 1 && s[0] >= '0' && s[0] <= '9') {
        char num[16];
        if (n >= sizeof num)
            return false;
        memcpy(num, s, n);
        num[n] = '\0';
        char *end;
        unsigned long long x = strtoull(num, &end, 0);
        if (*end || x > 0xffffffffull)
            return false;
        *mask = (uint32_t)x;
        return true;
    }
    if (n % 2)
        return false;
    for (size_t i = 0; i < n; i += 2) {
        bool found = false;
        for (const struct letters *l = whole_masks; !found && l->s; l++)
            if (strncasecmp(s + i, l->s, 2) == 0)
                *mask |= l->bits, found = true;
        for (const struct letters *l = rights; !found && l->s; l++)
            if (strncasecmp(s + i, l->s, 2) == 0)
                *mask |= l->bits, found = true;
        if (!found && strncasecmp(s + i, "KX", 2) == 0)
            *mask |= 0x20019, found = true;
        if (!found)
            return false;
    }
    return true;
}

static uint8_t text_flags(const char *s, size_t n)
{
    uint8_t f = 0;
    for (size_t i = 0; i + 1 < n; i += 2)
        for (const struct letters *l = ace_flag_names; l->s; l++)
            if (strncasecmp(s + i, l->s, 2) == 0)
                f |= (uint8_t)l->bits;
    return f;
}

/* A trustee as text: the alias itself, or S-1-... made an alias when it has one. */
static void text_sid(const char *s, size_t n, char *out)
{
    char t[SD_SID_MAX];
    if (n >= sizeof t)
        n = sizeof t - 1;
    memcpy(t, s, n);
    t[n] = '\0';
    const char *al = alias_of(t);
    if (!al && n == 2)
        for (size_t i = 0; i < N_ALIASES && !al; i++)
            if (strcasecmp(sid_aliases[i].alias, t) == 0)
                al = sid_aliases[i].alias;
    snprintf(out, SD_SID_MAX, "%s", al ? al : t);
}

/* Where the section tag ("D:") starts at the top level (outside parentheses), or NULL. */
static const char *section(const char *s, char tag)
{
    int depth = 0;
    for (const char *p = s; *p; p++) {
        if (*p == '(')
            depth++;
        else if (*p == ')')
            depth--;
        else if (depth == 0 && (*p == tag || *p == tag + 32) && p[1] == ':')
            return p + 2;
    }
    return NULL;
}

static size_t sid_field_end(const char *p)
{
    size_t n = 0;
    while (p[n] && p[n] != '(' && !(p[n + 1] == ':' && strchr("OGDSogds", p[n])))
        n++;
    return n;
}

bool sd_parse_sddl(const char *s, struct sd_view *v, const char **why)
{
    memset(v, 0, sizeof *v);
    *why = NULL;
    const char *o = section(s, 'O'), *g = section(s, 'G');
    if (o)
        text_sid(o, sid_field_end(o), v->owner);
    if (g)
        text_sid(g, sid_field_end(g), v->group);
    const char *d = section(s, 'D');
    if (!d)
        return true;
    v->has_dacl = true;
    while (*d && *d != '(' && !(d[1] == ':' && strchr("OGSogs", *d))) {
        if (strncasecmp(d, "NO_ACCESS_CONTROL", 17) == 0)
            v->null_dacl = true;
        d++;
    }
    for (unsigned guard = 0; *d == '(' && guard < 4096; guard++) {
        const char *end = strchr(d, ')');
        if (!end)
            return *why = "an ACE of the SDDL text has no closing parenthesis", false;
        const char *f[6];
        size_t fl[6];
        unsigned nf = 0;
        const char *p = d + 1;
        while (nf < 6) {
            const char *semi = memchr(p, ';', (size_t)(end - p));
            f[nf] = p;
            fl[nf] = (size_t)((semi ? semi : end) - p);
            nf++;
            if (!semi)
                break;
            p = semi + 1;
        }
        if (nf < 6)
            return *why = "an ACE of the SDDL text has fewer than six fields", false;
        uint32_t mask;
        if (!text_rights(f[2], fl[2], &mask))
            return *why = "an ACE of the SDDL text has rights that do not read", false;
        v->n_aces++;
        bool deny =
            (fl[0] == 1 && (f[0][0] == 'D' || f[0][0] == 'd')) ||
            (fl[0] == 2 && (strncasecmp(f[0], "OD", 2) == 0 || strncasecmp(f[0], "XD", 2) == 0 ||
                            strncasecmp(f[0], "ZD", 2) == 0));
        if (deny) {
            if (v->n_denies < SD_MAX_DENIES) {
                size_t n = (size_t)(end - d) + 1;
                if (n >= sizeof v->deny[0].text)
                    n = sizeof v->deny[0].text - 1;
                memcpy(v->deny[v->n_denies].text, d, n);
                v->deny[v->n_denies].text[n] = '\0';
                text_sid(f[5], fl[5], v->deny[v->n_denies].sid);
                v->deny[v->n_denies].mask = mask;
                v->deny[v->n_denies].flags = text_flags(f[1], fl[1]);
            }
            v->n_denies++;
        }
        d = end + 1;
    }
    return true;
}

/* ---- what the deny ACEs hide ---- */

bool sd_read_denied(const struct sd_view *v, uint32_t read_rights, char *out, size_t outsz)
{
    static const char *const watched[] = {"IU", "SU", "BA", "WD", "AU"};
    size_t k = 0;
    out[0] = '\0';
    unsigned n = v->n_denies < SD_MAX_DENIES ? v->n_denies : SD_MAX_DENIES;
    for (size_t w = 0; w < sizeof watched / sizeof watched[0]; w++)
        for (unsigned i = 0; i < n; i++) {
            if (strcmp(v->deny[i].sid, watched[w]) != 0 || (v->deny[i].flags & 0x08) ||
                !(v->deny[i].mask & read_rights))
                continue;
            int m = snprintf(out + k, outsz - k, "%s%s", k ? " " : "", watched[w]);
            if (m > 0 && (size_t)m < outsz - k)
                k += (size_t)m;
            break;
        }
    return k > 0;
}

uint16_t sd_args(struct rpc_args *a, uint16_t parent, const struct sd_view *v, bool from_binary,
                 uint32_t read_rights)
{
    uint16_t o = args_obj(a, parent, "security_descriptor");
    if (from_binary) {
        args_str(a, o, "sddl", v->sddl);
        if (v->sddl_cut)
            args_bool(a, o, "sddl_truncated", true);
    }
    if (v->owner[0])
        args_str(a, o, "owner", v->owner);
    if (v->group[0])
        args_str(a, o, "group", v->group);
    if (v->has_dacl)
        args_num(a, o, "dacl_aces", v->n_aces);
    if (v->null_dacl)
        args_bool(a, o, "null_dacl", true);
    if (v->n_denies) {
        uint16_t arr = args_arr(a, o, "dacl_denies");
        for (unsigned i = 0; i < v->n_denies && i < SD_MAX_DENIES; i++)
            args_str(a, arr, NULL, v->deny[i].text);
    }
    char who[32];
    if (sd_read_denied(v, read_rights, who, sizeof who))
        args_str(a, o, "read_denied_to", who);
    return o;
}

void iface_sd_arg(struct worker *w, struct rpc_call *call, uint16_t parent, const uint8_t *p,
                  size_t len, uint32_t read_rights)
{
    struct sd_view view, *v = &view; /* 7 KiB, on the stack: one call at a time */
    const char *why;
    if (sd_parse(p, len, v, &why)) {
        sd_args(call->args, parent, v, true, read_rights);
    } else {
        uint16_t o = args_obj(call->args, parent, "security_descriptor");
        args_str(call->args, o, "error", why);
        char detail[160];
        snprintf(detail, sizeof detail, "the security descriptor (%zu bytes) does not decode: %s",
                 len, why);
        anomaly_raise_call(w, call, NULL, ANOM_STUB_MALFORMED, detail);
    }
}

void iface_sddl_arg(struct worker *w, struct rpc_call *call, uint16_t parent, const char *sddl,
                    uint32_t read_rights)
{
    struct sd_view view, *v = &view; /* 7 KiB, on the stack: one call at a time */
    const char *why;
    if (!sd_parse_sddl(sddl, v, &why)) {
        uint16_t o = args_obj(call->args, parent, "security_descriptor");
        args_str(call->args, o, "error", why);
        char detail[160];
        snprintf(detail, sizeof detail, "the SDDL string does not read: %s", why);
        anomaly_raise_call(w, call, NULL, ANOM_STUB_MALFORMED, detail);
    } else if (v->n_denies) {
        sd_args(call->args, parent, v, false, read_rights);
    }
}
