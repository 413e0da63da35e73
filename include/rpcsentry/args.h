/*
 * Decoded arguments of a call: a small tree of named values (objects,
 * arrays, strings, numbers, booleans) that decoders build and output and
 * detection read. Bounded: a fixed number of nodes and a fixed arena for
 * strings; what does not fit is dropped and `truncated` set. Names are
 * static strings. The root object holds "args" (the request), "result"
 * (the response) and "indicators".
 */
#ifndef RPCSENTRY_ARGS_H
#define RPCSENTRY_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ARGS_MAX_NODES 160
#define ARGS_ARENA 16384
#define ARGS_NONE 0xffff

enum arg_type { ARG_OBJ, ARG_ARR, ARG_STR, ARG_NUM, ARG_BOOL };

struct rpc_arg {
    const char *name; /* NULL inside arrays */
    uint8_t type;
    uint16_t first, last; /* children (objects, arrays) */
    uint16_t next;        /* next sibling */
    uint32_t off, len;    /* string in the arena */
    uint64_t num;         /* number, or boolean */
};

struct rpc_args {
    uint16_t n;
    bool truncated;
    uint32_t used;
    struct rpc_arg node[ARGS_MAX_NODES];
    char arena[ARGS_ARENA];
};

struct memacct;

/* A new tree with an empty root object; NULL when the account refuses. */
struct rpc_args *args_new(struct memacct *m);
void args_free(struct memacct *m, struct rpc_args *a);

/* The object named name under the root, created on first use ("args", "result"). */
uint16_t args_section(struct rpc_args *a, const char *name);

/* Adders: parent is an object (name given) or an array (name NULL). Return the new node. */
uint16_t args_obj(struct rpc_args *a, uint16_t parent, const char *name);
uint16_t args_arr(struct rpc_args *a, uint16_t parent, const char *name);
uint16_t args_str(struct rpc_args *a, uint16_t parent, const char *name, const char *s);
uint16_t args_strn(struct rpc_args *a, uint16_t parent, const char *name, const char *s, size_t n);
uint16_t args_num(struct rpc_args *a, uint16_t parent, const char *name, uint64_t v);
uint16_t args_bool(struct rpc_args *a, uint16_t parent, const char *name, bool v);

/*
 * Says that the string `name` under object parent was cut (its start and end
 * kept, "…" between): its whole length in characters, under parent's
 * "truncated" object. An array's strings (name NULL) show the "…" only.
 */
void args_cut(struct rpc_args *a, uint16_t parent, const char *name, uint64_t chars);

/* The string of node i (NUL-terminated in the arena), or NULL if it is not a string. */
const char *args_value(const struct rpc_args *a, uint16_t i);

/* Child of object node `obj` called name, or ARGS_NONE. */
uint16_t args_child(const struct rpc_args *a, uint16_t obj, const char *name);

/*
 * Calls fn for every string value at a dotted path from the root
 * ("args.binary_path", "args.task.actions.command"); arrays on the way are
 * walked, so every action's command is visited. Stops when fn returns true
 * and returns true then.
 */
bool args_each(const struct rpc_args *a, const char *path,
               bool (*fn)(const char *s, size_t n, void *ctx), void *ctx);

/* The first node (of any type) at a dotted path, or NULL. */
const struct rpc_arg *args_find(const struct rpc_args *a, const char *path);

/* The first string at a dotted path, or NULL. */
const char *args_get(const struct rpc_args *a, const char *path);

#endif
