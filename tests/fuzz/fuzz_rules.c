/*
 * The rule parser on arbitrary text, and every rule it accepts matched
 * against a call whose stub is the same bytes: parse errors must be
 * messages, never crashes; matching must stay inside its buffers.
 */
#include <stdlib.h>
#include <string.h>

#include "../../src/detect/detect_internal.h"
#include "rpcsentry/flow.h"
#include "rpcsentry/rpc_call.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384)
        return 0;
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char err[512];
    err[0] = '\0';
    struct rule *r = rule_parse(text, "fuzz.rules", 1, err, sizeof err);
    if (!r) {
        if (!memchr(err, '\0', sizeof err) || !err[0])
            abort(); /* a refusal always says why */
        free(text);
        return 0;
    }
    static struct flow_ref fr = {.key = {.ipver = 4, .port = {50000, 445}}};
    static uint64_t tx;
    static struct rpc_transport t = {
        .kind = RPC_TRANSPORT_NP, .flow = &fr, .tx_counter = &tx, .pipe = "svcctl"};
    struct rpc_call c;
    memset(&c, 0, sizeof c);
    c.kind = RPC_KIND_REQUEST;
    c.res_ptype = 2;
    c.transport = &t;
    c.opnum = 12;
    c.le = size & 1;
    uuid_parse("367abb81-9844-35f1-ad32-98f038001003", &c.ctx.uuid);
    c.ctx.ver_major = 2;
    /* the stub and the response: the input's bytes, each an exact-size copy */
    uint8_t *stub = malloc(size ? size : 1);
    memcpy(stub, data, size);
    c.req_stub = stub;
    c.req_stub_avail = c.req_stub_len = size;
    c.res_stub = stub;
    c.res_stub_avail = c.res_stub_len = size;
    for (int at_response = 0; at_response < 2; at_response++)
        if (rule_match_call(r, &c, at_response))
            (void)rule_match_patterns(r, &c, at_response);
    (void)rule_match_stream(r, stub, size);
    free(stub);
    rule_free(r);
    free(text);
    return 0;
}
