/*
 * Indicators: properties of a decoded call that make it look like an
 * attacker's rather than an administrator's. Each is named, says which
 * ATT&CK technique it supports (when one fits) and is attached to the call
 * with the value that triggered it. Rules can match them by name.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "iface_internal.h"
#include "rpcsentry/names.h"

static const struct indicator_def defs[IND_COUNT] = {
    [IND_LOLBIN] = {"script_host_or_lolbin", "T1218",
                    "the command runs a shell, script host or system binary that proxies "
                    "execution (cmd, powershell, wscript, cscript, mshta, rundll32, regsvr32, "
                    "certutil, bitsadmin, msiexec, wmic)"},
    [IND_SCRIPT_FILE] = {"script_file", "T1059",
                         "the command names a script (.bat .cmd .ps1 .vbs .js .py ...)"},
    [IND_USER_WRITABLE] = {"user_writable_path", NULL,
                           "the binary or command lives where any user can write (%TEMP%, "
                           "AppData, ProgramData, C:\\Users\\Public, Windows\\Temp, "
                           "spool\\drivers\\color, ...)"},
    [IND_NETWORK_PATH] = {"network_path", "T1021.002",
                          "the binary or command is on a network path (\\\\host\\share, "
                          "ADMIN$, \\\\127.0.0.1\\)"},
    [IND_OUTPUT_REDIRECT] = {"output_redirection", "T1059.003",
                             "the command sends its output to a file on a share or in a temp "
                             "directory, as smbexec and atexec do to read results back"},
    [IND_ENCODED_POWERSHELL] = {"encoded_powershell", "T1027",
                                "PowerShell with an encoded command (-enc, -EncodedCommand, "
                                "FromBase64String)"},
    [IND_RANDOM_NAME] = {"random_name", NULL,
                         "the new service or task has a short random-looking name, as "
                         "impacket and Metasploit generate"},
    [IND_HIDDEN_TASK] = {"hidden_task", "T1564",
                         "the task definition sets Settings/Hidden, its TaskCache\\Tree key "
                         "loses its SD value or has its Index set to 0 (registry), or its "
                         "security descriptor denies reading it (FILE_READ_DATA, FILE_READ_EA, "
                         "FILE_READ_ATTRIBUTES, GENERIC_READ or GENERIC_ALL) to "
                         "IU, SU, BA, WD or AU"},
    [IND_RUNS_AS_SYSTEM] = {"runs_as_system", NULL,
                            "the task or service runs as SYSTEM (S-1-5-18, LocalSystem)"},
    [IND_PADDED] = {"padded_argument", "T1027",
                    "a command line or path holds a run of 64 blanks or more, or is longer "
                    "than a record keeps: padding that pushes its real end out of view"},
    [IND_HIVE_SAVED] = {"hive_saved", "T1003.002",
                        "a registry key is saved to a file on the server (BaseRegSaveKey): the "
                        "SAM, SECURITY and SYSTEM hives hold the password hashes and their keys"},
    [IND_HIDDEN_SERVICE] = {"hidden_service", "T1564",
                            "the service's new security descriptor denies querying it "
                            "(SERVICE_QUERY_CONFIG, SERVICE_QUERY_STATUS, "
                            "SERVICE_ENUMERATE_DEPENDENTS, SERVICE_INTERROGATE, READ_CONTROL, "
                            "GENERIC_READ or GENERIC_ALL) to IU, SU, BA, WD or AU: sc sdset's "
                            "way to hide a service from sc query and Get-Service (on its "
                            "registry key: KEY_QUERY_VALUE, KEY_ENUMERATE_SUB_KEYS, KEY_NOTIFY)"},
};

const struct indicator_def *indicator_table(void)
{
    return defs;
}

/* Case-insensitive search; returns the match or NULL. */
static const char *ci_find(const char *hay, const char *needle)
{
    size_t n = strlen(needle);
    /* the first character decides nearly every position: only then the whole comparison */
    unsigned char lo = (unsigned char)tolower((unsigned char)needle[0]);
    unsigned char up = (unsigned char)toupper((unsigned char)needle[0]);
    for (; *hay; hay++)
        if (((unsigned char)*hay == lo || (unsigned char)*hay == up) &&
            strncasecmp(hay, needle, n) == 0)
            return hay;
    return NULL;
}

static bool boundary_before(const char *s, const char *at)
{
    if (at == s)
        return true;
    char c = at[-1];
    return c == '\\' || c == '/' || c == '"' || c == '\'' || c == ' ' || c == '\t' || c == '%' ||
           c == '(' || c == '&' || c == '|' || c == ';';
}

static bool boundary_after(char c)
{
    return c == '\0' || c == ' ' || c == '\t' || c == '"' || c == '\'' || c == '.' || c == '%' ||
           c == '&' || c == '|' || c == ')' || c == ';';
}

/*
 * A command line and its ASCII-lowercased copy, made once: every needle below is
 * lowercase, so each search is one strstr over the copy (glibc's is vectorised)
 * instead of a case-folding walk per needle. Positions map back to the original.
 */
struct folded {
    const char *s;
    const char *lc;
};

static const char *fold_find(const struct folded *f, const char *from, const char *needle)
{
    const char *hit = strstr(f->lc + (from - f->s), needle);
    return hit ? f->s + (hit - f->lc) : NULL;
}

static bool starts_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

/* A program name standing as a word in a command line. */
static const char *find_word(const struct folded *f, const char *word)
{
    size_t n = strlen(word);
    for (const char *p = f->s; (p = fold_find(f, p, word)); p++)
        if (boundary_before(f->s, p) && boundary_after(p[n]))
            return p;
    return NULL;
}

static const char *lolbins[] = {"cmd",       "comspec", "powershell", "pwsh",     "wscript",
                                "cscript",   "mshta",   "rundll32",   "regsvr32", "certutil",
                                "bitsadmin", "msiexec", "wmic",       NULL};

static const char *writable[] = {"%temp%",
                                 "%tmp%",
                                 "\\temp\\",
                                 "\\appdata\\",
                                 "%appdata%",
                                 "%localappdata%",
                                 "\\programdata\\",
                                 "%programdata%",
                                 "\\users\\public\\",
                                 "\\windows\\temp\\",
                                 "\\spool\\drivers\\color\\",
                                 "\\perflogs\\",
                                 "\\$recycle.bin\\",
                                 "\\windows\\tasks\\",
                                 NULL};

struct ind_ctx {
    struct rpc_args *a;
    uint16_t list;
    uint32_t *mask;
};

static void raise_ind(struct ind_ctx *x, enum indicator_id id, const char *value, size_t n)
{
    if (*x->mask & (1u << id))
        return;
    *x->mask |= 1u << id;
    if (x->list == ARGS_NONE)
        x->list = args_arr(x->a, 0, "indicators");
    uint16_t o = args_obj(x->a, x->list, NULL);
    args_str(x->a, o, "name", defs[id].name);
    if (defs[id].attack)
        args_str(x->a, o, "attack", defs[id].attack);
    args_strn(x->a, o, "value", value, n > 256 ? 256 : n);
}

/* The checks on one command line or binary path. */
static void check_folded(struct ind_ctx *x, const struct folded *f)
{
    const char *s = f->s;
    for (const char **w = lolbins; *w; w++) {
        const char *at = find_word(f, *w);
        if (at)
            raise_ind(x, IND_LOLBIN, at, strlen(*w));
    }
    for (const char *const *e = rpc_script_extensions; *e; e++) {
        size_t n = strlen(*e);
        for (const char *p = s; (p = fold_find(f, p, *e)); p++)
            if (boundary_after(p[n]) && p[n] != '.') {
                const char *start = p;
                while (start > s && !boundary_before(s, start))
                    start--;
                raise_ind(x, IND_SCRIPT_FILE, start, (size_t)(p + n - start));
                break;
            }
    }
    for (const char **wp = writable; *wp; wp++) {
        const char *at = fold_find(f, s, *wp);
        if (at)
            raise_ind(x, IND_USER_WRITABLE, at, strlen(*wp));
    }
    const char *unc = strstr(s, "\\\\");
    if (unc)
        raise_ind(x, IND_NETWORK_PATH, unc, strcspn(unc, " \"'"));
    /* an unescaped '>' whose target is a share or a temp directory */
    for (const char *p = s; (p = strchr(p, '>')); p++) {
        if (p > s && (p[-1] == '^' || p[-1] == '2'))
            continue;
        const char *t = p + 1;
        while (*t == ' ' || *t == '"' || *t == '>')
            t++;
        if (strncmp(t, "\\\\", 2) == 0 || starts_ci(t, "temp") || starts_ci(t, "%windir%\\temp") ||
            starts_ci(t, "%temp%") || (strchr(t, '$') && strchr(t, '\\'))) {
            raise_ind(x, IND_OUTPUT_REDIRECT, p, (size_t)(t - p) + strcspn(t, " \"'&|"));
            break;
        }
    }
    if (find_word(f, "powershell") || find_word(f, "pwsh")) {
        static const char *enc[] = {
            " -e ", " -en ", " -enc ", " -enco", " -encodedcommand", " -ec ", "frombase64string",
            NULL};
        for (const char **e = enc; *e; e++) {
            const char *at = fold_find(f, s, *e);
            if (at) {
                raise_ind(x, IND_ENCODED_POWERSHELL, at, strlen(*e));
                break;
            }
        }
    }
}

/* Checks one command line or binary path. */
static void check_command(struct ind_ctx *x, const char *s)
{
    size_t n = strlen(s);
    char stack[8192];
    char *lc = n < sizeof stack ? stack : malloc(n + 1);
    if (!lc) { /* out of memory: the first 8 KiB are searched */
        lc = stack;
        n = sizeof stack - 1;
    }
    for (size_t i = 0; i < n; i++)
        lc[i] = (char)((unsigned char)(s[i] - 'A') < 26 ? s[i] + ('a' - 'A') : s[i]);
    lc[n] = '\0';
    struct folded f = {s, lc};
    check_folded(x, &f);
    if (lc != stack)
        free(lc);
}

/* A name is random-looking when its letters flip case often or run without vowels. */
static bool random_looking(const char *name)
{
    size_t n = strlen(name);
    if (n < 4 || n > 32)
        return false;
    int flips = 0, run = 0, max_run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (!isalnum(c))
            return false;
        if (i && isalpha(c) && isalpha((unsigned char)name[i - 1]) &&
            !!isupper(c) != !!isupper((unsigned char)name[i - 1]))
            flips++;
        if (isalpha(c) && !strchr("aeiouyAEIOUY", c))
            run++;
        else
            run = 0;
        if (run > max_run)
            max_run = run;
    }
    return flips >= 4 || max_run >= 5;
}

/* A run of PAD_RUN blanks, or a string cut with "…" (decode_util.c): padding. */
#define PAD_RUN 64
static void check_padding(struct ind_ctx *x, const char *s, size_t n)
{
    size_t run = 0, longest = 0;
    for (size_t i = 0; i < n; i++) {
        run = s[i] == ' ' || s[i] == '\t' ? run + 1 : 0;
        longest = run > longest ? run : longest;
    }
    if (longest >= PAD_RUN) {
        char v[32];
        int k = snprintf(v, sizeof v, "%zu blanks", longest);
        raise_ind(x, IND_PADDED, v, (size_t)k);
        return;
    }
    const char *cut = strstr(s, "\xe2\x80\xa6");
    if (cut && n >= 4000)
        raise_ind(x, IND_PADDED, cut, 3);
}

static bool cmd_cb(const char *s, size_t n, void *ctx)
{
    check_command(ctx, s);
    check_padding(ctx, s, n);
    return false;
}

static bool is_system(const char *u)
{
    return strcasecmp(u, "S-1-5-18") == 0 || strcasecmp(u, "SYSTEM") == 0 ||
           strcasecmp(u, "NT AUTHORITY\\SYSTEM") == 0 || strcasecmp(u, "LocalSystem") == 0 ||
           strcasecmp(u, ".\\LocalSystem") == 0;
}

struct deny_text {
    char v[256];
    size_t k;
};

static bool add_deny(const char *s, size_t n, void *ctx)
{
    struct deny_text *t = ctx;
    if (t->k + n + 2 > sizeof t->v)
        return true;
    t->v[t->k++] = ' ';
    memcpy(t->v + t->k, s, n);
    t->k += n;
    t->v[t->k] = '\0';
    return false;
}

/*
 * A new security descriptor whose DACL denies reading the object to the
 * usual readers (sddl.c says which rights: read_denied_to is set then): a
 * service through svcctl or its key under Services, a task through the
 * scheduler or its TaskCache\Tree key.
 */
static void check_hiding_sd(struct ind_ctx *x, const struct rpc_call *call)
{
    const char *who = args_get(x->a, "args.security_descriptor.read_denied_to");
    if (!who)
        return;
    enum indicator_id id = IND_COUNT;
    if (call->iface == &iface_svcctl && call->opnum == 5)
        id = IND_HIDDEN_SERVICE;
    else if (call->iface == &iface_tsch)
        id = IND_HIDDEN_TASK;
    else if (call->iface == &iface_winreg) {
        const char *key = args_get(x->a, "args.key");
        if (key && ci_find(key, "\\TaskCache\\Tree\\"))
            id = IND_HIDDEN_TASK;
        else if (key && ci_find(key, "SYSTEM\\") && ci_find(key, "\\Services\\"))
            id = IND_HIDDEN_SERVICE;
    }
    if (id == IND_COUNT)
        return;
    struct deny_text t = {{0}, 0};
    t.k = (size_t)snprintf(t.v, sizeof t.v, "denied to %s:", who);
    args_each(x->a, "args.security_descriptor.dacl_denies", add_deny, &t);
    const char *v = t.v;
    raise_ind(x, id, v, strlen(v));
}

void indicators_evaluate(struct worker *w, struct rpc_call *call)
{
    (void)w;
    struct rpc_args *a = call->args;
    if (!a || !call->iface || !(iface_call_target(call) || call->iface == &iface_winreg))
        return;
    struct ind_ctx x = {a, ARGS_NONE, &call->indicators};
    args_each(a, "args.binary_path", cmd_cb, &x);
    args_each(a, "args.service_dll", cmd_cb, &x);
    args_each(a, "args.failure_actions.command", cmd_cb, &x);
    args_each(a, "args.command", cmd_cb, &x);
    args_each(a, "args.task.actions.command", cmd_cb, &x);
    args_each(a, "args.task.actions.arguments", cmd_cb, &x);
    args_each(a, "args.task.actions.working_directory", cmd_cb, &x);

    bool creating = call->cls == RPC_CLASS_CREATE;
    const char *svc = args_get(a, "args.service_name");
    const char *display = args_get(a, "args.display_name");
    if (creating && svc && random_looking(svc))
        raise_ind(&x, IND_RANDOM_NAME, svc, strlen(svc));
    else if (creating && display && random_looking(display))
        raise_ind(&x, IND_RANDOM_NAME, display, strlen(display));
    const char *path = args_get(a, "args.path");
    if (creating && path) {
        const char *base = strrchr(path, '\\');
        base = base ? base + 1 : path;
        if (random_looking(base))
            raise_ind(&x, IND_RANDOM_NAME, base, strlen(base));
    }
    const struct rpc_arg *hidden = args_find(a, "args.task.hidden");
    if (hidden && hidden->type == ARG_BOOL && hidden->num)
        raise_ind(&x, IND_HIDDEN_TASK, "Hidden=true", 11);
    const char *hidden_by = args_get(a, "args.hidden_by");
    if (hidden_by && call->route)
        raise_ind(&x, IND_HIDDEN_TASK, hidden_by, strlen(hidden_by));
    const struct rpc_arg *saved = args_find(a, "args.hive_saved");
    if (saved && saved->type == ARG_BOOL && saved->num) {
        const char *what = args_get(a, "args.key");
        if (!what)
            what = args_get(a, "args.file");
        raise_ind(&x, IND_HIVE_SAVED, what ? what : "", what ? strlen(what) : 0);
    }
    check_hiding_sd(&x, call);
    const char *uid = args_get(a, "args.task.principal.user_id");
    if (uid && is_system(uid))
        raise_ind(&x, IND_RUNS_AS_SYSTEM, uid, strlen(uid));
    if (creating && !call->route && args_get(a, "args.binary_path")) {
        /* (through the registry the account may be the next value written) */
        /* a service without an account runs as LocalSystem */
        const char *start_name = args_get(a, "args.start_name");
        if (!start_name || is_system(start_name))
            raise_ind(&x, IND_RUNS_AS_SYSTEM, start_name ? start_name : "LocalSystem",
                      start_name ? strlen(start_name) : 11);
    }
}
