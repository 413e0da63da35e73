/*
 * Stories: the calls of one remote execution, recognised as a whole.
 *
 *   service_create_start_delete   create a service, start it, delete it (PsExec, smbexec)
 *   service_create_start          the same, the delete not seen (yet)
 *   service_binary_swap           change a service's binary, start it, change it back
 *   service_binary_change_start   change a service's binary and start it
 *   task_register_run_delete      register a task, run it, delete it (atexec)
 *   task_register_run             register and run
 *   task_register_delete          register and delete: it ran from its own trigger
 *   service_create_hide           create a service and hide it (a DACL that denies query)
 *   task_register_hide            register a task and hide it (its SD denies reading, or
 *                                 its TaskCache Tree key's SD deleted or Index zeroed)
 *
 * Pieces are grouped by client, target (server) and the service or task name
 * ("" for sealed calls, whose names are unreadable): one machine's sequence
 * of calls on another, over one connection or several. A story is
 * reported once: when its clean-up completes it, or, lacking one, when its
 * window passes or the capture ends.
 *
 * A file written over SMB to ADMIN$ or a drive share ($C, ...) of the target is kept
 * a while (the last STORY_DROPS): a service binary or task command that names the
 * same file on that target (as %SystemRoot%\x.exe, C:\Windows\x.exe or
 * \\host\ADMIN$\x.exe) within the window after it brings the file into its story.
 */
#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rpcsentry/argkeys.h"
#include "rpcsentry/args.h"
#include "rpcsentry/catalog.h"
#include "rpcsentry/lockwait.h"
#include "rpcsentry/smb_file.h"
#include "rpcsentry/text.h"
#include "rpcsentry/worker.h"
#include "story.h"

#define STORY_SLOTS 4096 /* stories in progress at most; the oldest gives way */
#define STORY_BUCKETS 1024
#define STORY_CHUNK 64 /* slots allocated at a time, as needed */
#define STORY_WINDOW_US (600ULL * 1000000)

enum step {
    ST_CREATE = 1,
    ST_CHANGE = 2,
    ST_START = 4,
    ST_DELETE = 8,
    ST_RESTORE = 16,
    ST_REGISTER = 32,
    ST_RUN = 64,
    ST_TASK_DELETE = 128,
    ST_HIDE = 256, /* a call with the hidden_service or hidden_task indicator */
};
enum domain { DOM_SERVICE, DOM_TASK };

struct slot {
    struct slot *hnext;         /* bucket chain */
    struct slot *older, *newer; /* by last piece, oldest first */
    uint32_t hash;
    bool used;
    uint8_t domain;
    uint8_t server[16], client[16];
    char key[256]; /* lower-cased name; "" when sealed */
    uint32_t steps;
    uint64_t last_us;
    struct rpc_story s;
};

/* A file written to a target over SMB, by its Windows path (lower case). */
#define STORY_DROPS 64
struct drop {
    bool used;
    uint8_t server[16], client[16];
    char local[400];
    struct story_file file;
};

struct story_chunk {
    struct story_chunk *next;
    struct slot slot[STORY_CHUNK];
};

/*
 * Stories in progress, found by (domain, server, name) through a hash, and
 * kept in order of their last piece so that windows close from the oldest
 * and a full table gives up its oldest story.
 */
struct story_table {
    struct slot *bucket[STORY_BUCKETS];
    struct slot *oldest, *newest;
    struct slot *free;
    struct story_chunk *chunks;
    unsigned used, allocated;
    struct drop drops[STORY_DROPS];
    unsigned next_drop;
    /* several workers' calls go to one table (a story's calls may ride different connections) */
    bool shared;
    pthread_mutex_t lock;
};

struct story_table *story_table_new_shared(void)
{
    struct story_table *t = calloc(1, sizeof *t);
    if (t) {
        t->shared = true;
        pthread_mutex_init(&t->lock, NULL);
    }
    return t;
}

void story_table_free_shared(struct story_table *t)
{
    if (!t)
        return;
    while (t->chunks) {
        struct story_chunk *c = t->chunks;
        t->chunks = c->next;
        free(c);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

void story_free(struct worker *w)
{
    struct story_table *t = w->stories;
    if (!t || t->shared) {
        w->stories = NULL; /* a shared table belongs to whoever made it */
        return;
    }
    while (t->chunks) {
        struct story_chunk *c = t->chunks;
        t->chunks = c->next;
        mem_free(&w->mem, MEM_APP, c, sizeof *c);
    }
    mem_free(&w->mem, MEM_APP, t, sizeof *t);
    w->stories = NULL;
}

static void lru_remove(struct story_table *t, struct slot *s)
{
    if (s->older)
        s->older->newer = s->newer;
    else
        t->oldest = s->newer;
    if (s->newer)
        s->newer->older = s->older;
    else
        t->newest = s->older;
    s->older = s->newer = NULL;
}

static void lru_append(struct story_table *t, struct slot *s)
{
    s->older = t->newest;
    s->newer = NULL;
    if (t->newest)
        t->newest->newer = s;
    else
        t->oldest = s;
    t->newest = s;
}

static void unhash(struct story_table *t, struct slot *s)
{
    struct slot **pp = &t->bucket[s->hash % STORY_BUCKETS];
    while (*pp && *pp != s)
        pp = &(*pp)->hnext;
    if (*pp)
        *pp = s->hnext;
}

/* A slot goes back to the pool. */
static void release(struct story_table *t, struct slot *s)
{
    unhash(t, s);
    lru_remove(t, s);
    s->used = false;
    s->hnext = t->free;
    t->free = s;
    t->used--;
}

static uint32_t story_hash(uint8_t domain, const uint8_t server[16], const char *key,
                           const uint8_t client[16])
{
    uint32_t h = 2166136261u ^ domain;
    for (int i = 0; i < 16; i++)
        h = (h ^ server[i]) * 16777619u;
    for (const char *k = key; *k; k++)
        h = (h ^ (uint8_t)*k) * 16777619u;
    for (int i = 0; i < 16; i++)
        h = (h ^ client[i]) * 16777619u;
    return h;
}

/* The kind a slot's pieces make, complete (clean-up seen) or not. */
static const char *kind_of(const struct slot *s, bool *complete)
{
    uint32_t st = s->steps;
    *complete = false;
    if (s->domain == DOM_SERVICE) {
        if ((st & (ST_CREATE | ST_START | ST_DELETE)) == (ST_CREATE | ST_START | ST_DELETE))
            return *complete = true, "service_create_start_delete";
        if ((st & (ST_CHANGE | ST_START | ST_RESTORE)) == (ST_CHANGE | ST_START | ST_RESTORE))
            return *complete = true, "service_binary_swap";
        if ((st & (ST_CREATE | ST_HIDE)) == (ST_CREATE | ST_HIDE))
            return "service_create_hide";
        if ((st & (ST_CREATE | ST_START)) == (ST_CREATE | ST_START))
            return "service_create_start";
        if ((st & (ST_CHANGE | ST_START)) == (ST_CHANGE | ST_START))
            return "service_binary_change_start";
        return NULL;
    }
    if ((st & (ST_REGISTER | ST_RUN | ST_TASK_DELETE)) == (ST_REGISTER | ST_RUN | ST_TASK_DELETE))
        return *complete = true, "task_register_run_delete";
    if ((st & (ST_REGISTER | ST_TASK_DELETE)) == (ST_REGISTER | ST_TASK_DELETE))
        return *complete = true, "task_register_delete";
    if ((st & (ST_REGISTER | ST_HIDE)) == (ST_REGISTER | ST_HIDE))
        return "task_register_hide";
    if ((st & (ST_REGISTER | ST_RUN)) == (ST_REGISTER | ST_RUN))
        return "task_register_run";
    return NULL;
}

static void report(struct worker *w, struct slot *s, const char *kind)
{
    struct rpc_story *st = &s->s;
    st->kind = kind;
    char server[ADDR_STR_LEN];
    int srv = st->client_ep == 1 ? 0 : 1;
    addr_format(st->flow.key.addr[srv], flow_key_alen(&st->flow.key), server);
    const char *what = s->domain == DOM_SERVICE ? "service" : "task";
    const char *how =
        strcmp(kind, "service_create_start_delete") == 0 ? "created, started and deleted"
        : strcmp(kind, "service_create_start") == 0      ? "created and started"
        : strcmp(kind, "service_binary_swap") == 0
            ? "pointed at another binary, started, and restored"
        : strcmp(kind, "service_binary_change_start") == 0 ? "pointed at another binary and started"
        : strcmp(kind, "task_register_run_delete") == 0    ? "registered, run and deleted"
        : strcmp(kind, "task_register_delete") == 0        ? "registered and deleted"
        : strcmp(kind, "service_create_hide") == 0         ? "created and hidden"
        : strcmp(kind, "task_register_hide") == 0          ? "registered and hidden"
                                                           : "registered and run";
    /* the summary may cut a long detail: the record carries it whole */
    char head[640];
    /* hidden on the way, in a sequence that ended otherwise */
    bool hid = (s->steps & ST_HIDE) && !strstr(kind, "hide");
    snprintf(head, sizeof head, "%s %s%.256s%s %s%s on %s", what, st->name[0] ? "'" : "",
             st->name[0] ? st->name : "(name sealed)", st->name[0] ? "'" : "", how,
             hid ? " (hidden on the way)" : "", server);
    size_t used = strlen(head);
    memcpy(st->summary, head, used + 1);
    if (st->user[0] && used + 4 + strlen(st->user) < sizeof st->summary) {
        memcpy(st->summary + used, " by ", 4);
        memcpy(st->summary + used + 4, st->user, strlen(st->user) + 1);
        used = strlen(st->summary);
    }
    if (st->detail[0] && used + 3 < sizeof st->summary) {
        memcpy(st->summary + used, ": ", 2);
        size_t room = sizeof st->summary - used - 3, dl = strlen(st->detail);
        size_t take = dl < room ? dl : room;
        memcpy(st->summary + used + 2, st->detail, take);
        st->summary[used + 2 + take] = '\0';
    }
    if (st->file.seen) {
        used = strlen(st->summary);
        char sha[2 * 32 + 1] = "";
        for (int i = 0; st->file.whole && i < 32; i++)
            snprintf(sha + 2 * i, 3, "%02x", st->file.sha256[i]);
        snprintf(st->summary + used, sizeof st->summary - used,
                 st->file.by_time
                     ? "; an executable was written to %s over SMB just before (%llu bytes%s%s)"
                     : "; the binary was written to %s over SMB first (%llu bytes%s%s)",
                 st->file.path, (unsigned long long)st->file.size, sha[0] ? ", sha256 " : "", sha);
    }
    w->stats.stories++;
    detect_story(w, st);
}

/* Ends a slot: reported if it holds an execution, then freed. */
static void retire(struct worker *w, struct slot *s)
{
    bool complete;
    const char *kind = kind_of(s, &complete);
    if (kind) {
        s->s.transport = NULL; /* the call it came from may be gone */
        report(w, s, kind);
    }
    release(w->stories, s);
}

void story_flush(struct worker *w)
{
    struct story_table *t = w->stories;
    if (!t)
        return;
    if (t->shared)
        lock_counted(&t->lock, &w->stats.lock_story_waits, &w->stats.lock_story_wait_us);
    while (t->oldest)
        retire(w, t->oldest);
    /* the files written end with the capture too: a later capture's story is its own */
    memset(t->drops, 0, sizeof t->drops);
    if (t->shared)
        pthread_mutex_unlock(&t->lock);
}

/* A free slot: from the pool, a new chunk, or the oldest story (retired first). */
static struct slot *slot_new(struct worker *w, struct story_table *t)
{
    if (!t->free && t->allocated < STORY_SLOTS) {
        /* a shared table is nobody's memory to account */
        struct story_chunk *c =
            t->shared ? calloc(1, sizeof *c) : mem_calloc(&w->mem, MEM_APP, sizeof *c);
        if (c) {
            c->next = t->chunks;
            t->chunks = c;
            for (int i = STORY_CHUNK - 1; i >= 0; i--) {
                c->slot[i].hnext = t->free;
                t->free = &c->slot[i];
            }
            t->allocated += STORY_CHUNK;
        }
    }
    if (!t->free) {
        if (!t->oldest)
            return NULL;
        w->stats.stories_evicted++;
        retire(w, t->oldest);
    }
    struct slot *s = t->free;
    t->free = s->hnext;
    memset(s, 0, sizeof *s);
    t->used++;
    return s;
}

static void lower_copy(char *dst, size_t n, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < n; i++)
        dst[i] = (char)tolower((unsigned char)src[i]);
    dst[i] = '\0';
}

/* The step a call is, or 0. */
static uint32_t step_of(const struct rpc_call *c, uint8_t *domain)
{
    const char *name = c->iface->name;
    /* a descriptor that hides it, set on its own (not in the call that makes it) */
    if ((c->indicators & (1u << IND_HIDDEN_SERVICE)) && c->cls != RPC_CLASS_CREATE &&
        args_get(c->args, ARGS(ARG_SERVICE_NAME))) {
        *domain = DOM_SERVICE;
        return ST_HIDE;
    }
    if ((c->indicators & (1u << IND_HIDDEN_TASK)) && c->cls != RPC_CLASS_CREATE &&
        args_get(c->args, ARGS(ARG_PATH))) {
        *domain = DOM_TASK;
        return ST_HIDE;
    }
    if (strcmp(name, "svcctl") == 0) {
        *domain = DOM_SERVICE;
        switch (c->opnum) {
        case 12:
        case 24:
        case 44:
        case 45:
        case 60: return ST_CREATE;
        case 11:
        case 23:
            /* only a new binary makes a change an execution vehicle */
            return (c->sealed && !c->decrypted) || args_get(c->args, ARGS(ARG_BINARY_PATH))
                       ? ST_CHANGE
                       : 0;
        case 19:
        case 31: return ST_START;
        case 2: return ST_DELETE;
        default: return 0;
        }
    }
    if (c->route == RPC_ROUTE_REGISTRY && args_get(c->args, ARGS(ARG_SERVICE_NAME))) {
        /* a service made or pointed elsewhere through its registry key */
        *domain = DOM_SERVICE;
        if (c->cls == RPC_CLASS_CREATE)
            return ST_CREATE;
        return args_get(c->args, ARGS(ARG_BINARY_PATH)) || args_get(c->args, ARGS(ARG_SERVICE_DLL))
                   ? ST_CHANGE
                   : 0;
    }
    if (strcmp(name, "ITaskSchedulerService") == 0) {
        *domain = DOM_TASK;
        switch (c->opnum) {
        case 1: return c->cls == RPC_CLASS_READ ? 0 : ST_REGISTER;
        case 12: return ST_RUN;
        case 13: return ST_TASK_DELETE;
        default: return 0;
        }
    }
    return 0;
}

/*
 * The Windows path a share path or a command line names, lower case, in out: the
 * command's program (quoted, or up to its extension, or its first blank), with
 * %SystemRoot%, %windir%, \\host\ADMIN$ and \\host\X$ made C:\Windows and X:.
 * False when it names no local path.
 */
static bool local_path(const char *in, char *out, size_t n)
{
    char buf[400];
    size_t len = 0;
    while (*in == ' ')
        in++;
    if (*in == '"') {
        in++;
        while (in[len] && in[len] != '"' && len < sizeof buf - 1)
            len++;
    } else {
        static const char *const exts[] = {".exe", ".bat", ".cmd", ".ps1", ".dll", ".vbs", ".com"};
        size_t end = 0;
        for (size_t i = 0; in[i] && i < sizeof buf - 1 && !end; i++)
            for (size_t e = 0; in[i] == '.' && e < sizeof exts / sizeof exts[0] && !end; e++)
                if (strncasecmp(in + i, exts[e], 4) == 0 &&
                    (in[i + 4] == '\0' || in[i + 4] == ' ' || in[i + 4] == '"'))
                    end = i + 4;
        if (!end)
            while (in[end] && in[end] != ' ' && end < sizeof buf - 1)
                end++;
        len = end;
    }
    for (size_t i = 0; i < len; i++)
        buf[i] = in[i] == '/' ? '\\' : (char)tolower((unsigned char)in[i]);
    buf[len] = '\0';
    const char *rest = NULL;
    char drive = 0;
    if (strncmp(buf, "%systemroot%\\", 13) == 0)
        rest = buf + 13, drive = 'w';
    else if (strncmp(buf, "%windir%\\", 9) == 0)
        rest = buf + 9, drive = 'w';
    else if (strncmp(buf, "\\systemroot\\", 12) == 0)
        rest = buf + 12, drive = 'w';
    else if (strncmp(buf, "\\\\", 2) == 0) { /* \\host\share\rest */
        const char *share = strchr(buf + 2, '\\');
        const char *after = share ? strchr(share + 1, '\\') : NULL;
        if (!after)
            return false;
        size_t sl = (size_t)(after - share - 1);
        if (sl == 6 && strncmp(share + 1, "admin$", 6) == 0)
            drive = 'w';
        else if (sl == 2 && share[2] == '$' && share[1] >= 'a' && share[1] <= 'z')
            drive = share[1];
        else
            return false;
        rest = after + 1;
    } else if (buf[0] >= 'a' && buf[0] <= 'z' && buf[1] == ':' && buf[2] == '\\') {
        drive = buf[0];
        rest = buf + 3;
    } else {
        return false;
    }
    int r = drive == 'w' ? snprintf(out, n, "c:\\windows\\%s", rest)
                         : snprintf(out, n, "%c:\\%s", drive, rest);
    return r > 0 && (size_t)r < n; /* a path cut short names nothing */
}

/* A file written over SMB: remembered, by the Windows path its share and name make. */
static void file_note(struct worker *w, const struct smb_file_record *f)
{
    char share_path[400], local[400];
    snprintf(share_path, sizeof share_path, "%s%s%s", f->share, f->name[0] == '\\' ? "" : "\\",
             f->name);
    if (!local_path(share_path, local, sizeof local))
        return;
    if (!w->stories && !(w->stories = mem_calloc(&w->mem, MEM_APP, sizeof *w->stories)))
        return;
    struct story_table *t = w->stories;
    struct drop *d = &t->drops[t->next_drop++ % STORY_DROPS];
    memset(d, 0, sizeof *d);
    d->used = true;
    const struct flow_key *k = &f->flow->key;
    memcpy(d->client, k->addr[f->client_ep & 1], 16);
    memcpy(d->server, k->addr[1 - (f->client_ep & 1)], 16);
    snprintf(d->local, sizeof d->local, "%s", local);
    d->file.seen = true;
    d->file.whole = f->whole;
    d->file.pe = f->kind == SMB_FILE_PE;
    snprintf(d->file.path, sizeof d->file.path, "%s", share_path);
    memcpy(d->file.sha256, f->sha256, 32);
    d->file.size = f->size;
    d->file.flow_id = f->flow->flow_id;
    d->file.ts_us = f->ts_us;
    d->file.pcap_cnt = f->pcap_cnt;
}

void story_file(struct worker *w, const struct smb_file_record *f)
{
    struct story_table *t = w->stories;
    if (t && t->shared) {
        lock_counted(&t->lock, &w->stats.lock_story_waits, &w->stats.lock_story_wait_us);
        file_note(w, f);
        pthread_mutex_unlock(&t->lock);
    } else {
        file_note(w, f);
    }
}

/* The latest file written to server (by client) that command runs, within the window. */
static const struct story_file *file_for(const struct story_table *t, const uint8_t *server,
                                         const uint8_t *client, const char *command, uint64_t now)
{
    char local[400];
    if (!command || !local_path(command, local, sizeof local))
        return NULL;
    const struct story_file *best = NULL;
    for (unsigned i = 0; i < STORY_DROPS; i++) {
        const struct drop *d = &t->drops[i];
        if (d->used && memcmp(d->server, server, 16) == 0 && memcmp(d->client, client, 16) == 0 &&
            d->file.ts_us <= now && now - d->file.ts_us <= STORY_WINDOW_US &&
            strcmp(d->local, local) == 0 && (!best || d->file.ts_us > best->ts_us))
            best = &d->file;
    }
    return best;
}

/* Sealed calls name no binary: the executable client wrote to server last, shortly
 * before now (STORY_SEALED_US), stands for it. */
#define STORY_SEALED_US (120ULL * 1000000)
static const struct story_file *file_before(const struct story_table *t, const uint8_t *server,
                                            const uint8_t *client, uint64_t now)
{
    const struct story_file *best = NULL;
    for (unsigned i = 0; i < STORY_DROPS; i++) {
        const struct drop *d = &t->drops[i];
        if (d->used && d->file.pe && memcmp(d->server, server, 16) == 0 &&
            memcmp(d->client, client, 16) == 0 && d->file.ts_us <= now &&
            now - d->file.ts_us <= STORY_SEALED_US && (!best || d->file.ts_us > best->ts_us))
            best = &d->file;
    }
    return best;
}

static void note(struct worker *w, const struct rpc_call *c);

void story_note(struct worker *w, const struct rpc_call *c)
{
    if (!iface_call_target(c))
        return;
    struct story_table *t = w->stories;
    if (t && t->shared) {
        lock_counted(&t->lock, &w->stats.lock_story_waits, &w->stats.lock_story_wait_us);
        note(w, c);
        pthread_mutex_unlock(&t->lock);
    } else {
        note(w, c);
    }
}

static void note(struct worker *w, const struct rpc_call *c)
{
    uint8_t domain;
    uint32_t step = step_of(c, &domain);
    if (!step)
        return;
    if (!w->stories && !(w->stories = mem_calloc(&w->mem, MEM_APP, sizeof *w->stories)))
        return;
    struct story_table *t = w->stories;
    const struct flow_key *k = &c->transport->flow->key;
    const uint8_t *client = k->addr[c->client_ep & 1], *server = k->addr[1 - (c->client_ep & 1)];
    uint64_t now = c->req_ts_us ? c->req_ts_us : w->now_us;
    /*
     * A window closes when the capture's clock passes it: a story's fate is then
     * its own calls' and the clock's, not that of the calls of other hosts that
     * came between (which, with several workers, another worker has).
     */
    uint64_t clock = now > w->clock_us ? now : w->clock_us;
    clock = clock > w->now_us ? clock : w->now_us;
    char key[256];
    const char *name = domain == DOM_SERVICE ? args_get(c->args, ARGS(ARG_SERVICE_NAME))
                                             : args_get(c->args, ARGS(ARG_PATH));
    lower_copy(key, sizeof key, name);

    /* windows that passed end their stories, oldest first */
    while (t->oldest && t->oldest->last_us + STORY_WINDOW_US < clock)
        retire(w, t->oldest);
    uint32_t h = story_hash(domain, server, key, client);
    struct slot *found = NULL;
    for (struct slot *s = t->bucket[h % STORY_BUCKETS]; s && !found; s = s->hnext)
        if (s->hash == h && s->domain == domain && memcmp(s->server, server, 16) == 0 &&
            strcmp(s->key, key) == 0 && memcmp(s->client, client, 16) == 0)
            found = s;
    if (found && found->last_us + STORY_WINDOW_US < clock) {
        retire(w, found); /* its window passed, behind a younger story in the list */
        found = NULL;
    }
    if (!found) {
        if (step != ST_CREATE && step != ST_CHANGE && step != ST_REGISTER)
            return; /* a story starts with what creates or changes something */
        found = slot_new(w, t);
        if (!found)
            return;
        found->used = true;
        found->hash = h;
        found->domain = domain;
        memcpy(found->server, server, 16);
        memcpy(found->client, client, 16);
        snprintf(found->key, sizeof found->key, "%s", key);
        snprintf(found->s.name, sizeof found->s.name, "%s", name ? name : "");
        found->hnext = t->bucket[h % STORY_BUCKETS];
        t->bucket[h % STORY_BUCKETS] = found;
        lru_append(t, found);
    } else {
        lru_remove(t, found);
        lru_append(t, found);
    }
    struct slot *s = found;
    if (step == ST_CHANGE && (s->steps & ST_CHANGE) && (s->steps & ST_START))
        step = ST_RESTORE;
    s->steps |= step;
    s->last_us = now;
    struct rpc_story *st = &s->s;
    st->flow = *c->transport->flow;
    /* its records then need no SHA-1 of their own (a lateral_movement record and its alert
       per story: 2% of the instructions on the RPC-dense bench input) */
    if (c->transport->community_id)
        memcpy(st->community_id, c->transport->community_id, COMMUNITY_ID_LEN);
    else
        st->community_id[0] = '\0';
    st->client_ep = c->client_ep;
    st->transport = c->transport;
    st->ts_us = now;
    st->pcap_cnt = c->res_pcap_cnt ? c->res_pcap_cnt : c->req_pcap_cnt;
    st->sealed |= c->sealed && !c->decrypted; /* a decrypted piece names what it did */
    st->over_smb = c->transport->kind == RPC_TRANSPORT_NP;
    /* an anonymous or null session names no one: "DOMAIN\\" alone is not a user */
    if (c->identity && c->identity->valid && c->identity->user[0] && !st->user[0])
        snprintf(st->user, sizeof st->user, "%s%s%s", c->identity->domain,
                 c->identity->domain[0] ? "\\" : "", c->identity->user);
    if (!st->detail[0]) {
        const char *d = args_get(c->args, ARGS(ARG_BINARY_PATH));
        if (!d)
            d = args_get(c->args, ARGS(ARG_TASK_ACTIONS "." ARG_COMMAND));
        if (d) {
            const char *argv = args_get(c->args, ARGS(ARG_TASK_ACTIONS "." ARG_ARGUMENTS));
            snprintf(st->detail, sizeof st->detail, "%s%s%s", d, argv ? " " : "", argv ? argv : "");
            const struct story_file *f = file_for(t, server, client, d, now);
            if (f && !st->file.seen)
                st->file = *f;
        }
    }
    if (!st->file.seen && (step == ST_CREATE || step == ST_REGISTER) && c->sealed &&
        !c->decrypted) {
        const struct story_file *f = file_before(t, server, client, now);
        if (f) {
            st->file = *f;
            st->file.by_time = true;
        }
    }
    if (st->n_pieces < STORY_MAX_PIECES) {
        struct story_piece *p = &st->pieces[st->n_pieces++];
        p->ts_us = now;
        p->flow_id = c->transport->flow->flow_id;
        p->tx_id = c->tx_id;
        p->call_id = c->call_id;
        p->operation = c->op ? c->op->name : "";
        p->cls = c->cls;
    }
    bool complete;
    const char *kind = kind_of(s, &complete);
    if (kind && complete) {
        report(w, s, kind);
        release(t, s);
    }
}
