#include "rpcsentry/args.h"

#include <string.h>

#include "rpcsentry/mem.h"

struct rpc_args *args_new(struct memacct *m)
{
    struct rpc_args *a = mem_alloc(m, MEM_ARGS, sizeof *a);
    if (!a)
        return NULL;
    a->n = 1;
    a->truncated = false;
    a->used = 0;
    memset(&a->node[0], 0, sizeof a->node[0]);
    a->node[0].type = ARG_OBJ;
    a->node[0].first = a->node[0].last = a->node[0].next = ARGS_NONE;
    return a;
}

void args_free(struct memacct *m, struct rpc_args *a)
{
    if (a)
        mem_free(m, MEM_ARGS, a, sizeof *a);
}

static uint16_t add(struct rpc_args *a, uint16_t parent, const char *name, uint8_t type)
{
    if (!a || parent == ARGS_NONE || parent >= a->n || a->n >= ARGS_MAX_NODES) {
        if (a)
            a->truncated = true;
        return ARGS_NONE;
    }
    struct rpc_arg *p = &a->node[parent];
    if (p->type != ARG_OBJ && p->type != ARG_ARR)
        return ARGS_NONE;
    uint16_t i = a->n++;
    struct rpc_arg *n = &a->node[i];
    memset(n, 0, sizeof *n);
    n->name = p->type == ARG_OBJ ? name : NULL;
    n->type = type;
    n->first = n->last = n->next = ARGS_NONE;
    if (p->last == ARGS_NONE)
        p->first = i;
    else
        a->node[p->last].next = i;
    p->last = i;
    return i;
}

uint16_t args_child(const struct rpc_args *a, uint16_t obj, const char *name)
{
    if (!a || obj >= a->n || a->node[obj].type != ARG_OBJ)
        return ARGS_NONE;
    for (uint16_t i = a->node[obj].first; i != ARGS_NONE; i = a->node[i].next)
        if (a->node[i].name && a->node[i].name[0] == name[0] && strcmp(a->node[i].name, name) == 0)
            return i;
    return ARGS_NONE;
}

uint16_t args_section(struct rpc_args *a, const char *name)
{
    uint16_t i = args_child(a, 0, name);
    return i != ARGS_NONE ? i : add(a, 0, name, ARG_OBJ);
}

uint16_t args_obj(struct rpc_args *a, uint16_t parent, const char *name)
{
    return add(a, parent, name, ARG_OBJ);
}

uint16_t args_arr(struct rpc_args *a, uint16_t parent, const char *name)
{
    return add(a, parent, name, ARG_ARR);
}

uint16_t args_strn(struct rpc_args *a, uint16_t parent, const char *name, const char *s, size_t n)
{
    if (!a)
        return ARGS_NONE;
    if (a->used + n + 1 > ARGS_ARENA) {
        /* keep what fits: a cut value still says more than none */
        if (a->used + 1 >= ARGS_ARENA) {
            a->truncated = true;
            return ARGS_NONE;
        }
        n = ARGS_ARENA - a->used - 1;
        /* do not cut inside a UTF-8 sequence */
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
        a->truncated = true;
    }
    uint16_t i = add(a, parent, name, ARG_STR);
    if (i == ARGS_NONE)
        return i;
    memcpy(a->arena + a->used, s, n);
    a->arena[a->used + n] = '\0';
    a->node[i].off = a->used;
    a->node[i].len = (uint32_t)n;
    a->used += (uint32_t)n + 1;
    return i;
}

uint16_t args_str(struct rpc_args *a, uint16_t parent, const char *name, const char *s)
{
    return args_strn(a, parent, name, s ? s : "", s ? strlen(s) : 0);
}

uint16_t args_num(struct rpc_args *a, uint16_t parent, const char *name, uint64_t v)
{
    uint16_t i = add(a, parent, name, ARG_NUM);
    if (i != ARGS_NONE)
        a->node[i].num = v;
    return i;
}

uint16_t args_bool(struct rpc_args *a, uint16_t parent, const char *name, bool v)
{
    uint16_t i = add(a, parent, name, ARG_BOOL);
    if (i != ARGS_NONE)
        a->node[i].num = v;
    return i;
}

const char *args_value(const struct rpc_args *a, uint16_t i)
{
    if (!a || i >= a->n || a->node[i].type != ARG_STR)
        return NULL;
    return a->arena + a->node[i].off;
}

/* The first node under i (arrays walked) matching the rest of the path. */
static const struct rpc_arg *find(const struct rpc_args *a, uint16_t i, const char *path)
{
    const struct rpc_arg *n = &a->node[i];
    if (n->type == ARG_ARR) {
        for (uint16_t k = n->first; k != ARGS_NONE; k = a->node[k].next) {
            const struct rpc_arg *r = find(a, k, path);
            if (r)
                return r;
        }
        return NULL;
    }
    if (*path == '\0')
        return n;
    if (n->type != ARG_OBJ)
        return NULL;
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    for (uint16_t k = n->first; k != ARGS_NONE; k = a->node[k].next) {
        const char *nm = a->node[k].name;
        if (nm && nm[0] == path[0] && strncmp(nm, path, len) == 0 && nm[len] == '\0') {
            const struct rpc_arg *r = find(a, k, dot ? dot + 1 : "");
            if (r)
                return r;
        }
    }
    return NULL;
}

const struct rpc_arg *args_find(const struct rpc_args *a, const char *path)
{
    return a ? find(a, 0, path) : NULL;
}

/* Visits the strings under node i that match the rest of the path. */
static bool walk(const struct rpc_args *a, uint16_t i, const char *path,
                 bool (*fn)(const char *, size_t, void *), void *ctx)
{
    const struct rpc_arg *n = &a->node[i];
    if (n->type == ARG_ARR) {
        for (uint16_t k = n->first; k != ARGS_NONE; k = a->node[k].next)
            if (walk(a, k, path, fn, ctx))
                return true;
        return false;
    }
    if (*path == '\0') {
        if (n->type == ARG_STR)
            return fn(a->arena + n->off, n->len, ctx);
        return false;
    }
    if (n->type != ARG_OBJ)
        return false;
    const char *dot = strchr(path, '.');
    size_t len = dot ? (size_t)(dot - path) : strlen(path);
    for (uint16_t k = n->first; k != ARGS_NONE; k = a->node[k].next) {
        const char *nm = a->node[k].name;
        if (nm && nm[0] == path[0] && strncmp(nm, path, len) == 0 && nm[len] == '\0' &&
            walk(a, k, dot ? dot + 1 : "", fn, ctx))
            return true;
    }
    return false;
}

bool args_each(const struct rpc_args *a, const char *path,
               bool (*fn)(const char *s, size_t n, void *ctx), void *ctx)
{
    return a && walk(a, 0, path, fn, ctx);
}

static bool first(const char *s, size_t n, void *ctx)
{
    (void)n;
    *(const char **)ctx = s;
    return true;
}

const char *args_get(const struct rpc_args *a, const char *path)
{
    const char *s = NULL;
    args_each(a, path, first, &s);
    return s;
}

void args_cut(struct rpc_args *a, uint16_t parent, const char *name, uint64_t chars)
{
    if (!name)
        return;
    uint16_t t = args_child(a, parent, "truncated");
    if (t == ARGS_NONE)
        t = args_obj(a, parent, "truncated");
    if (t != ARGS_NONE && args_child(a, t, name) == ARGS_NONE)
        args_num(a, t, name, chars);
}
