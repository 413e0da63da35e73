/* The configuration file, through libyaml's event parser. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "rpcsentry/conffile.h"

static bool add(struct conf_file *c, const char *key, const char *value, unsigned line)
{
    struct conf_pair *p = realloc(c->pairs, (c->n + 1) * sizeof *p);
    if (!p)
        return false;
    c->pairs = p;
    p[c->n].key = strdup(key);
    p[c->n].value = strdup(value);
    p[c->n].line = line;
    if (!p[c->n].key || !p[c->n].value) {
        free(p[c->n].key);
        free(p[c->n].value);
        return false;
    }
    c->n++;
    return true;
}

void conf_file_free(struct conf_file *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->pairs[i].key);
        free(c->pairs[i].value);
    }
    free(c->pairs);
    c->pairs = NULL;
    c->n = 0;
}

bool conf_file_read(const char *path, struct conf_file *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    yaml_parser_t y;
    yaml_parser_initialize(&y);
    yaml_parser_set_input_file(&y, f);
    /* states: before the mapping, expecting a key, expecting its value, inside a sequence */
    enum { TOP, KEY, VALUE, SEQ, DONE } st = TOP;
    char key[128] = "";
    bool ok = true;
    while (ok) {
        yaml_event_t e;
        if (!yaml_parser_parse(&y, &e)) {
            snprintf(err, errlen, "%s:%zu: %s", path, y.problem_mark.line + 1,
                     y.problem ? y.problem : "not YAML");
            ok = false;
            break;
        }
        unsigned line = (unsigned)e.start_mark.line + 1;
        yaml_event_type_t t = e.type;
        const char *scalar = t == YAML_SCALAR_EVENT ? (const char *)e.data.scalar.value : NULL;
        switch (st) {
        case TOP:
            if (t == YAML_MAPPING_START_EVENT)
                st = KEY;
            else if (t == YAML_STREAM_END_EVENT)
                st = DONE; /* an empty file */
            else if (t == YAML_SCALAR_EVENT || t == YAML_SEQUENCE_START_EVENT) {
                snprintf(err, errlen, "%s:%u: expected `option: value` lines", path, line);
                ok = false;
            }
            break;
        case KEY:
            if (t == YAML_MAPPING_END_EVENT)
                st = DONE;
            else if (t == YAML_SCALAR_EVENT) {
                snprintf(key, sizeof key, "%s", scalar);
                st = VALUE;
            } else {
                snprintf(err, errlen, "%s:%u: expected an option name", path, line);
                ok = false;
            }
            break;
        case VALUE:
            if (t == YAML_SCALAR_EVENT) {
                ok = add(out, key, scalar, line);
                st = KEY;
            } else if (t == YAML_SEQUENCE_START_EVENT) {
                st = SEQ;
            } else {
                snprintf(err, errlen, "%s:%u: %s: a value or a list of values, not a mapping", path,
                         line, key);
                ok = false;
            }
            break;
        case SEQ:
            if (t == YAML_SCALAR_EVENT)
                ok = add(out, key, scalar, line);
            else if (t == YAML_SEQUENCE_END_EVENT)
                st = KEY;
            else {
                snprintf(err, errlen, "%s:%u: %s: a list of plain values", path, line, key);
                ok = false;
            }
            break;
        case DONE: break;
        }
        bool end = t == YAML_STREAM_END_EVENT;
        yaml_event_delete(&e);
        if (end)
            break;
    }
    yaml_parser_delete(&y);
    fclose(f);
    if (!ok)
        conf_file_free(out);
    return ok;
}
