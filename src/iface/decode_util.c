/* Helpers the interface decoders share: flag and enum names, strings, state. */
#include <stdio.h>
#include <string.h>

#include "iface_internal.h"
#include "rpcsentry/text.h"

void args_flags(struct rpc_args *a, uint16_t parent, const char *name, uint32_t v,
                const struct flag_name *names)
{
    uint16_t arr = args_arr(a, parent, name);
    uint32_t rest = v;
    /* composite values (all_access) first in the table take their bits with them */
    for (const struct flag_name *f = names; f->name; f++)
        if (f->bit && (rest & f->bit) == f->bit) {
            args_str(a, arr, NULL, f->name);
            rest &= ~f->bit;
        }
    if (rest) {
        char hex[HEX32_STR_LEN];
        hex32_str(hex, rest);
        args_str(a, arr, NULL, hex);
    }
}

void args_enum(struct rpc_args *a, uint16_t parent, const char *name, uint32_t v,
               const struct flag_name *names)
{
    for (const struct flag_name *f = names; f->name; f++)
        if (f->bit == v) {
            args_str(a, parent, name, f->name);
            return;
        }
    char num[16];
    snprintf(num, sizeof num, "%u", v);
    args_str(a, parent, name, num);
}

void args_ndr_string(struct rpc_args *a, uint16_t parent, const char *name, struct ndr *n,
                     bool wide)
{
    char s[ARG_STR_MAX];
    bool cut;
    uint64_t chars;
    ndr_string_len(n, wide, s, sizeof s, &cut, &chars);
    if (!ndr_ok(n))
        return;
    args_str(a, parent, name, s);
    if (cut)
        args_cut(a, parent, name, chars);
}

void args_ndr_unique_string(struct rpc_args *a, uint16_t parent, const char *name, struct ndr *n,
                            bool wide)
{
    if (ndr_ptr(n) == 0)
        return;
    args_ndr_string(a, parent, name, n, wide);
}

bool args_ndr_string_array(struct rpc_args *a, uint16_t parent, const char *name, struct ndr *n,
                           uint32_t argc, bool wide)
{
    if (!ndr_ptr(n))
        return true;
    uint64_t max = ndr_size(n);
    if (max != argc || max > 1024)
        return false;
    uint64_t refs[32];
    uint32_t shown = argc < 32 ? argc : 32;
    for (uint32_t i = 0; i < argc; i++) {
        uint64_t r = ndr_ptr(n);
        if (i < shown)
            refs[i] = r;
    }
    uint16_t arr = args_arr(a, parent, name);
    for (uint32_t i = 0; i < shown && ndr_ok(n); i++)
        if (refs[i])
            args_ndr_string(a, arr, NULL, n, wide);
    for (uint32_t i = shown; i < argc && ndr_ok(n); i++)
        ndr_skip_string(n, wide);
    return true;
}

struct iface_state *iface_state_get(struct worker *w, struct rpc_call *call)
{
    if (!call->iface_state)
        return NULL;
    if (!*call->iface_state)
        *call->iface_state = mem_calloc(&w->mem, MEM_APP, sizeof(struct iface_state));
    return *call->iface_state;
}

struct iface_handle *iface_handle_find(struct iface_state *st, const uint8_t h[20])
{
    for (unsigned i = 0; st && i < st->n; i++)
        if (memcmp(st->handles[i].h, h, 20) == 0)
            return &st->handles[i];
    return NULL;
}

struct iface_handle *iface_handle_slot(struct worker *w, struct iface_state *st,
                                       const uint8_t h[20])
{
    struct iface_handle *e = iface_handle_find(st, h);
    if (e)
        return e;
    if (st->n == st->cap && st->cap < IFACE_MAX_HANDLES) {
        unsigned cap = st->cap ? 2 * st->cap : IFACE_FIRST_HANDLES;
        struct iface_handle *t = mem_realloc(&w->mem, MEM_APP, st->handles,
                                             (size_t)st->cap * sizeof *t, (size_t)cap * sizeof *t);
        if (t)
            st->handles = t, st->cap = cap;
    }
    if (st->n < st->cap)
        e = &st->handles[st->n++];
    else if (st->cap)
        e = &st->handles[st->next++ % st->cap]; /* full, or no memory to grow */
    else
        return NULL;
    memset(e, 0, sizeof *e);
    memcpy(e->h, h, 20);
    return e;
}

void iface_handle_drop(struct rpc_call *call, const uint8_t h[20])
{
    struct iface_state *st = call->iface_state ? *call->iface_state : NULL;
    struct iface_handle *e = iface_handle_find(st, h);
    if (e)
        *e = st->handles[--st->n];
}

void iface_assoc_state_free(struct worker *w, void *state)
{
    struct iface_state *st = state;
    if (!st)
        return;
    mem_free(&w->mem, MEM_APP, st->handles, (size_t)st->cap * sizeof *st->handles);
    mem_free(&w->mem, MEM_APP, st, sizeof *st);
}

void iface_decode_failed(struct worker *w, struct rpc_call *call, uint16_t section)
{
    bool res = call->args && section < call->args->n && call->args->node[section].name &&
               strcmp(call->args->node[section].name, "result") == 0;
    anomaly_raise_call(w, call, NULL, ANOM_STUB_MALFORMED,
                       res ? "the response stub does not decode as the operation's result: "
                             "the result is incomplete"
                           : "the request stub does not decode as the operation's arguments: "
                             "the arguments are incomplete");
    if (call->args)
        args_bool(call->args, section, "decode_incomplete", true);
}
