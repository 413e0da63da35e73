#include "taskxml.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "rpcsentry/argkeys.h"
#include "rpcsentry/text.h"

#define XML_MAX_DEPTH 32
#define XML_TEXT_MAX 2048 /* the start of an element's text kept */
#define XML_TAIL 2048     /* and its end */
#define XML_NAME_MAX 64

struct xml {
    const char *p, *end;
    char stack[XML_MAX_DEPTH][XML_NAME_MAX]; /* local names of open elements */
    int depth;
    /* an element's text: its start in text, and once that is full its last XML_TAIL
       octets in a ring (an attacker pads the start to push the rest out of a record) */
    char text[XML_TEXT_MAX + XML_TAIL + 4];
    size_t text_len;
    bool text_cut;
    char tail[XML_TAIL];
    size_t tail_len;   /* octets that went to the ring */
    size_t text_chars; /* characters of the whole text */
    /* where the task's pieces go */
    struct rpc_args *a;
    uint16_t task, actions, triggers, principal, action, trigger;
};

static bool name_char(unsigned char c)
{
    return c >= 0x80 || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.' || c == ':';
}

static void text_reset(struct xml *x)
{
    x->text_len = 0;
    x->text[0] = '\0';
    x->text_cut = false;
    x->tail_len = 0;
    x->text_chars = 0;
}

static void text_put(struct xml *x, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        x->text_chars += ((unsigned char)s[i] & 0xc0) != 0x80;
    size_t room = x->text_len < XML_TEXT_MAX - 1 ? XML_TEXT_MAX - 1 - x->text_len : 0;
    size_t head = n < room ? n : room;
    memcpy(x->text + x->text_len, s, head);
    x->text_len += head;
    x->text[x->text_len] = '\0';
    for (size_t i = head; i < n; i++, x->tail_len++) { /* the rest: the ring keeps the end */
        x->tail[x->tail_len % XML_TAIL] = s[i];
        x->text_cut = true;
    }
}

/* A cut text whole again as far as it can be: its start, "…", its end (on characters). */
static void text_join(struct xml *x)
{
    if (!x->text_cut)
        return;
    size_t h = x->text_len;
    while (h > 0 && ((unsigned char)x->text[h] & 0xc0) == 0x80)
        h--;
    memcpy(x->text + h, "\xe2\x80\xa6", 3);
    size_t keep = x->tail_len < XML_TAIL ? x->tail_len : XML_TAIL;
    size_t from = x->tail_len - keep, o = h + 3;
    bool started = false;
    for (size_t i = from; i < x->tail_len; i++) {
        char ch = x->tail[i % XML_TAIL];
        if (!started && ((unsigned char)ch & 0xc0) == 0x80)
            continue; /* the middle of a character */
        started = true;
        x->text[o++] = ch;
    }
    x->text[o] = '\0';
    x->text_len = o;
}

/* Appends code point cp as UTF-8. */
static void text_cp(struct xml *x, unsigned long cp)
{
    char b[4];
    if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000))
        cp = 0xfffd;
    text_put(x, b, utf8_encode((uint32_t)cp, b));
}

/* Character data up to '<', with the five predefined entities and numeric references. */
static bool read_text(struct xml *x, const char *stop_at, char until)
{
    while (x->p < stop_at && *x->p != until) {
        if (*x->p != '&') {
            const char *s = x->p;
            while (x->p < stop_at && *x->p != until && *x->p != '&')
                x->p++;
            text_put(x, s, (size_t)(x->p - s));
            continue;
        }
        const char *semi =
            memchr(x->p, ';', (size_t)(stop_at - x->p) < 12 ? (size_t)(stop_at - x->p) : 12);
        if (!semi)
            return false;
        const char *e = x->p + 1;
        size_t n = (size_t)(semi - e);
        if (n >= 2 && e[0] == '#') {
            unsigned long v = 0;
            bool hex = e[1] == 'x' || e[1] == 'X';
            for (const char *d = e + (hex ? 2 : 1); d < semi; d++) {
                int dv = (*d >= '0' && *d <= '9')                          ? *d - '0'
                         : hex && (*d | 0x20) >= 'a' && (*d | 0x20) <= 'f' ? (*d | 0x20) - 'a' + 10
                                                                           : -1;
                if (dv < 0 || v > 0x10ffff)
                    return false;
                v = v * (hex ? 16 : 10) + (unsigned long)dv;
            }
            text_cp(x, v);
        } else if (n == 2 && memcmp(e, "lt", 2) == 0) {
            text_put(x, "<", 1);
        } else if (n == 2 && memcmp(e, "gt", 2) == 0) {
            text_put(x, ">", 1);
        } else if (n == 3 && memcmp(e, "amp", 3) == 0) {
            text_put(x, "&", 1);
        } else if (n == 4 && memcmp(e, "quot", 4) == 0) {
            text_put(x, "\"", 1);
        } else if (n == 4 && memcmp(e, "apos", 4) == 0) {
            text_put(x, "'", 1);
        } else {
            return false; /* only the predefined entities exist without a DTD */
        }
        x->p = semi + 1;
    }
    return true;
}

/* needle inside [hay, hay+n), or NULL: the document is not NUL-terminated. */
static const char *find_in(const char *hay, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0)
            return hay + i;
    return NULL;
}

static const char *local(const char *name)
{
    const char *c = strrchr(name, ':');
    return c ? c + 1 : name;
}

static bool parent_is(const struct xml *x, int up, const char *name)
{
    return x->depth - 1 - up >= 0 && strcmp(x->stack[x->depth - 1 - up], name) == 0;
}

static const char *trigger_kind(const char *el)
{
    static const struct {
        const char *el, *kind;
    } k[] = {{"TimeTrigger", "time"},
             {"CalendarTrigger", "calendar"},
             {"BootTrigger", "boot"},
             {"LogonTrigger", "logon"},
             {"IdleTrigger", "idle"},
             {"EventTrigger", "event"},
             {"RegistrationTrigger", "registration"},
             {"SessionStateChangeTrigger", "session_state_change"},
             {"WnfStateChangeTrigger", "wnf_state_change"}};
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        if (strcmp(el, k[i].el) == 0)
            return k[i].kind;
    return NULL;
}

/* An element opened at depth x->depth (already pushed). */
static void on_open(struct xml *x, const char *el, const char *attrs, size_t alen)
{
    struct rpc_args *a = x->a;
    if (parent_is(x, 1, "Actions")) {
        if (x->actions == ARGS_NONE)
            x->actions = args_arr(a, x->task, ARG_ACTIONS);
        x->action = args_obj(a, x->actions, NULL);
        const char *t = strcmp(el, "Exec") == 0          ? "exec"
                        : strcmp(el, "ComHandler") == 0  ? "com_handler"
                        : strcmp(el, "SendEmail") == 0   ? "send_email"
                        : strcmp(el, "ShowMessage") == 0 ? "show_message"
                                                         : el;
        args_str(a, x->action, "type", t);
    } else if (parent_is(x, 1, "Triggers")) {
        const char *kind = trigger_kind(el);
        if (x->triggers == ARGS_NONE)
            x->triggers = args_arr(a, x->task, "triggers");
        x->trigger = args_obj(a, x->triggers, NULL);
        args_str(a, x->trigger, "type", kind ? kind : el);
    } else if (strcmp(el, "Principal") == 0 && parent_is(x, 1, "Principals")) {
        if (x->principal == ARGS_NONE)
            x->principal = args_obj(a, x->task, "principal");
    } else if (strcmp(el, "Actions") == 0 && parent_is(x, 1, "Task")) {
        /* Context="..." names the principal the actions run as */
        const char *c = attrs ? find_in(attrs, alen, "Context=") : NULL;
        size_t rest = c ? alen - (size_t)(c - attrs) : 0;
        if (c && rest > 9 && (c[8] == '"' || c[8] == '\'')) {
            const char *v = c + 9, *e = memchr(v, c[8], rest - 9);
            if (e)
                args_strn(a, x->task, "actions_context", v, (size_t)(e - v));
        }
    }
}

/* An element closes: its text goes where it belongs. */
static void on_close(struct xml *x, const char *el)
{
    struct rpc_args *a = x->a;
    text_join(x);
    const char *t = x->text;
    /* trim surrounding whitespace */
    while (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n')
        t++;
    size_t n = strlen(t);
    while (n && (t[n - 1] == ' ' || t[n - 1] == '\t' || t[n - 1] == '\r' || t[n - 1] == '\n'))
        n--;

    if (parent_is(x, 1, "Exec") && parent_is(x, 2, "Actions")) {
        const char *k = strcmp(el, "Command") == 0            ? ARG_COMMAND
                        : strcmp(el, "Arguments") == 0        ? ARG_ARGUMENTS
                        : strcmp(el, "WorkingDirectory") == 0 ? "working_directory"
                                                              : NULL;
        if (k && x->action != ARGS_NONE) {
            args_strn(a, x->action, k, t, n);
            if (x->text_cut)
                args_cut(a, x->action, k, x->text_chars);
        }
    } else if (parent_is(x, 1, "ComHandler") && parent_is(x, 2, "Actions")) {
        const char *k = strcmp(el, "ClassId") == 0 ? "class_id"
                        : strcmp(el, "Data") == 0  ? "data"
                                                   : NULL;
        if (k && x->action != ARGS_NONE)
            args_strn(a, x->action, k, t, n);
    } else if (parent_is(x, 1, "Principal") && x->principal != ARGS_NONE) {
        const char *k = strcmp(el, "UserId") == 0      ? "user_id"
                        : strcmp(el, "GroupId") == 0   ? "group_id"
                        : strcmp(el, "LogonType") == 0 ? "logon_type"
                        : strcmp(el, "RunLevel") == 0  ? "run_level"
                                                       : NULL;
        if (k)
            args_strn(a, x->principal, k, t, n);
    } else if (x->trigger != ARGS_NONE && x->depth >= 3 && strcmp(x->stack[1], "Triggers") == 0) {
        const char *k = strcmp(el, "StartBoundary") == 0  ? "start_boundary"
                        : strcmp(el, "Interval") == 0     ? "interval"
                        : strcmp(el, "DaysInterval") == 0 ? "days_interval"
                        : strcmp(el, "Delay") == 0        ? "delay"
                        : strcmp(el, "UserId") == 0       ? "user_id"
                        : strcmp(el, "Subscription") == 0 ? "subscription"
                                                          : NULL;
        if (k)
            args_strn(a, x->trigger, k, t, n);
    } else if (parent_is(x, 1, "Settings") && strcmp(el, "Hidden") == 0) {
        args_bool(a, x->task, "hidden", n == 4 && strncasecmp(t, "true", 4) == 0);
    } else if (parent_is(x, 1, "RegistrationInfo")) {
        const char *k = strcmp(el, "Author") == 0        ? "author"
                        : strcmp(el, "Description") == 0 ? "description"
                        : strcmp(el, "URI") == 0         ? "uri"
                                                         : NULL;
        if (k)
            args_strn(a, x->task, k, t, n);
    }
    if (parent_is(x, 1, "Actions"))
        x->action = ARGS_NONE;
    if (parent_is(x, 1, "Triggers"))
        x->trigger = ARGS_NONE;
}

enum taskxml_status taskxml_parse(const char *xml, size_t len, struct rpc_args *a, uint16_t parent)
{
    /* not zeroed whole: its 8 KiB of name stack and text are written before they are read
       (depth, text_len and tail_len say how far), and clearing them was 1% of the
       instructions on the RPC-dense bench input */
    struct xml x;
    x.depth = 0;
    text_reset(&x);
    x.p = xml;
    x.end = xml + len;
    x.a = a;
    x.task = args_obj(a, parent, ARG_TASK);
    x.actions = x.triggers = x.principal = x.action = x.trigger = ARGS_NONE;
    /* a UTF-8 byte order mark, as converted from UTF-16 */
    if (len >= 3 && memcmp(xml, "\xef\xbb\xbf", 3) == 0)
        x.p += 3;
    bool seen_root = false;
    while (x.p < x.end) {
        if (*x.p != '<') {
            if (!read_text(&x, x.end, '<'))
                return TASKXML_MALFORMED;
            continue;
        }
        size_t left = (size_t)(x.end - x.p);
        if (left >= 4 && memcmp(x.p, "<!--", 4) == 0) {
            const char *e = NULL;
            for (const char *q = x.p + 4; q + 3 <= x.end; q++)
                if (q[0] == '-' && q[1] == '-' && q[2] == '>') {
                    e = q;
                    break;
                }
            if (!e)
                return TASKXML_MALFORMED;
            x.p = e + 3;
            continue;
        }
        if (left >= 9 && memcmp(x.p, "<![CDATA[", 9) == 0) {
            const char *e = NULL;
            for (const char *q = x.p + 9; q + 3 <= x.end; q++)
                if (q[0] == ']' && q[1] == ']' && q[2] == '>') {
                    e = q;
                    break;
                }
            if (!e)
                return TASKXML_MALFORMED;
            text_put(&x, x.p + 9, (size_t)(e - x.p - 9));
            x.p = e + 3;
            continue;
        }
        if (left >= 2 && x.p[1] == '!')
            return TASKXML_DOCTYPE;
        if (left >= 2 && x.p[1] == '?') {
            const char *e = NULL;
            for (const char *q = x.p + 2; q + 2 <= x.end; q++)
                if (q[0] == '?' && q[1] == '>') {
                    e = q;
                    break;
                }
            if (!e)
                return TASKXML_MALFORMED;
            x.p = e + 2;
            continue;
        }
        bool closing = left >= 2 && x.p[1] == '/';
        const char *ns = x.p + (closing ? 2 : 1);
        const char *ne = ns;
        while (ne < x.end && name_char((unsigned char)*ne))
            ne++;
        if (ne == ns || (size_t)(ne - ns) >= XML_NAME_MAX)
            return TASKXML_MALFORMED;
        /* the end of the tag, outside quoted attribute values */
        const char *gt = ne;
        char quote = 0;
        while (gt < x.end && (quote || *gt != '>')) {
            if (quote && *gt == quote)
                quote = 0;
            else if (!quote && (*gt == '"' || *gt == '\''))
                quote = *gt;
            gt++;
        }
        if (gt >= x.end)
            return TASKXML_MALFORMED;
        char name[XML_NAME_MAX];
        memcpy(name, ns, (size_t)(ne - ns));
        name[ne - ns] = '\0';
        const char *el = local(name);
        if (closing) {
            if (x.depth == 0 || strcmp(x.stack[x.depth - 1], el) != 0)
                return TASKXML_MALFORMED;
            on_close(&x, el);
            x.depth--;
        } else {
            bool empty = gt > ne && gt[-1] == '/';
            if (x.depth == 0 && seen_root)
                return TASKXML_MALFORMED;
            if (x.depth >= XML_MAX_DEPTH)
                return TASKXML_TOO_DEEP;
            seen_root = true;
            memcpy(x.stack[x.depth++], el, strlen(el) + 1); /* shorter than XML_NAME_MAX */
            text_reset(&x);
            on_open(&x, el, ne, (size_t)(gt - ne));
            if (empty) {
                on_close(&x, el);
                x.depth--;
            }
        }
        text_reset(&x);
        x.p = gt + 1;
    }
    return x.depth == 0 && seen_root ? TASKXML_OK : TASKXML_MALFORMED;
}
