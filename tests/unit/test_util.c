/* Cursor, UUID, hashes, text conversion, JSON writer. */
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "harness.h"
#include "rpcsentry/cursor.h"
#include "rpcsentry/hash.h"
#include "rpcsentry/json.h"
#include "rpcsentry/mem.h"
#include "rpcsentry/text.h"
#include "rpcsentry/uuid.h"

TEST(cursor_reads_and_fails_sticky)
{
    const uint8_t b[] = {1, 2, 3, 4, 5, 6, 7};
    struct rd c = rd_init(b, sizeof b);
    CHECK_EQ(rd_u8(&c), 1);
    CHECK_EQ(rd_u16le(&c), 0x0302);
    CHECK_EQ(rd_u16be(&c), 0x0405);
    CHECK(rd_ok(&c));
    CHECK_EQ(rd_u32le(&c), 0); /* only 2 bytes left */
    CHECK(!rd_ok(&c));
    CHECK_EQ(rd_u8(&c), 0); /* still failing */
    CHECK_EQ(rd_left(&c), 0);
}

TEST(cursor_align_and_sub)
{
    const uint8_t b[12] = {0xaa, 0, 0, 0, 0x11, 0x22, 0x33, 0x44, 9, 9, 9, 9};
    struct rd c = rd_init(b, sizeof b);
    rd_u8(&c);
    rd_align(&c, 4);
    CHECK_EQ(c.off, 4);
    CHECK_EQ(rd_u32be(&c), 0x11223344);
    struct rd s = rd_sub(&c, 2);
    CHECK_EQ(rd_left(&s), 2);
    CHECK_EQ(rd_u16le(&s), 0x0909);
    CHECK_EQ(rd_left(&c), 2);
    struct rd bad = rd_sub(&c, 3);
    CHECK(!rd_ok(&bad));
    CHECK(!rd_ok(&c));
}

TEST(cursor_empty_and_null)
{
    struct rd c = rd_init(NULL, 10);
    CHECK_EQ(rd_left(&c), 0);
    CHECK(rd_take(&c, 1) == NULL);
    CHECK(!rd_ok(&c));
}

TEST(uuid_wire_forms)
{
    /* ITaskSchedulerService as it appears with little-endian drep */
    const uint8_t le[16] = {0x49, 0x59, 0xd3, 0x86, 0xc9, 0x83, 0x44, 0x40,
                            0xb4, 0x24, 0xdb, 0x36, 0x32, 0x31, 0xfd, 0x0c};
    struct rd c = rd_init(le, 16);
    struct uuid u = rd_uuid(&c, true);
    char s[UUID_STR_LEN];
    uuid_fmt(&u, s);
    CHECK_STR(s, "86d35949-83c9-4044-b424-db363231fd0c");
    struct uuid p;
    CHECK(uuid_parse("86D35949-83c9-4044-B424-db363231fd0c", &p));
    CHECK(uuid_eq(&u, &p));
    uint8_t back[16];
    uuid_to_wire_le(&p, back);
    CHECK(memcmp(back, le, 16) == 0);
    CHECK(!uuid_parse("86d35949-83c9-4044-b424-db363231fd0", &p));
    CHECK(!uuid_parse("86d35949x83c9-4044-b424-db363231fd0c", &p));
    CHECK(!uuid_parse("86d35949-83c9-4044-b424-db363231fd0cc", &p));
    /* big-endian drep keeps text order */
    c = rd_init(le, 16);
    u = rd_uuid(&c, false);
    uuid_fmt(&u, s);
    CHECK_STR(s, "4959d386-c983-4440-b424-db363231fd0c");
}

TEST(sha1_known_answers)
{
    uint8_t d[SHA1_LEN];
    char hex[41];
    static const char *in[] = {"", "abc",
                               "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"};
    static const char *out[] = {"da39a3ee5e6b4b0d3255bfef95601890afd80709",
                                "a9993e364706816aba3e25717850c26c9cd0d89d",
                                "84983e441c3bd26ebaae4aa1f95129e5e54670f1"};
    for (int i = 0; i < 3; i++) {
        sha1(in[i], strlen(in[i]), d);
        for (int k = 0; k < SHA1_LEN; k++)
            snprintf(hex + 2 * k, 3, "%02x", d[k]);
        CHECK_STR(hex, out[i]);
    }
    char b64[16];
    base64_encode((const uint8_t *)"fo", 2, b64);
    CHECK_STR(b64, "Zm8=");
    base64_encode((const uint8_t *)"foob", 4, b64);
    CHECK_STR(b64, "Zm9vYg==");
}

/* The spec's own vectors: corelight/community-id-spec baseline files. */
static void check_baseline(const char *file, uint16_t seed)
{
    char path[1024];
    if (!test_shared_path(file, path, sizeof path)) {
        test_skip("../shared/reference/community-id not present");
        return;
    }
    FILE *f = fopen(path, "r");
    CHECK(f != NULL);
    if (!f)
        return;
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[n] = '\0';
    cJSON *arr = cJSON_Parse(text);
    CHECK(cJSON_IsArray(arr));
    int checked = 0;
    cJSON *e;
    cJSON_ArrayForEach(e, arr)
    {
        const char *sa = cJSON_GetObjectItem(e, "saddr")->valuestring;
        const char *da = cJSON_GetObjectItem(e, "daddr")->valuestring;
        int proto = cJSON_GetObjectItem(e, "proto")->valueint;
        cJSON *sp = cJSON_GetObjectItem(e, "sport"), *dp = cJSON_GetObjectItem(e, "dport");
        const char *want = cJSON_GetObjectItem(e, "communityid")->valuestring;
        uint8_t s6[16] = {0}, d6[16] = {0};
        size_t alen = strchr(sa, ':') ? 16 : 4;
        int af = alen == 16 ? 10 /* AF_INET6 */ : 2;
        extern int inet_pton(int, const char *, void *);
        CHECK(inet_pton(af, sa, s6) == 1 && inet_pton(af, da, d6) == 1);
        char got[COMMUNITY_ID_LEN];
        community_id_v1(seed, s6, d6, alen, (uint8_t)proto, sp ? (uint16_t)sp->valueint : 0,
                        dp ? (uint16_t)dp->valueint : 0, got);
        if (strcmp(got, want) != 0)
            test_fail(__FILE__, __LINE__, "%s %s->%s: %s != %s", file, sa, da, got, want);
        checked++;
    }
    CHECK(checked > 10);
    cJSON_Delete(arr);
}

TEST(community_id_reference_vectors)
{
    check_baseline("reference/community-id/baseline_deflt.json", 0);
    if (!test_skipped())
        check_baseline("reference/community-id/baseline_seed1.json", 1);
}

TEST(community_id_spec_examples)
{
    uint8_t s[4] = {128, 232, 110, 120}, d[4] = {66, 35, 250, 204};
    char got[COMMUNITY_ID_LEN];
    community_id_v1(0, s, d, 4, 6, 34855, 80, got);
    CHECK_STR(got, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    community_id_v1(0, d, s, 4, 6, 80, 34855, got); /* either direction */
    CHECK_STR(got, "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
}

/* Little-endian strings take a copying path for ASCII runs; big-endian ones the unit-by-unit
 * loop. The same strings byte-swapped must give the same text, cursor, error and cut. */
TEST(utf16_ascii_runs_agree_with_the_unit_loop)
{
    static const uint16_t pick[] = {'a',  'Z',    ' ',    '\\',   0x7f,   0,      0x80,
                                    0xe9, 0x20ac, 0xd83d, 0xde00, 0xdc00, 0xfffd, 0x100};
    uint64_t seed = 12345;
    for (int round = 0; round < 20000; round++) {
        uint8_t le[96], be[96];
        size_t nbytes = (seed = seed * 6364136223846793005ULL + 1442695040888963407ULL) >> 58;
        nbytes += nbytes & 1 ? 0 : 1; /* odd lengths too: a unit cut in half */
        for (size_t k = 0; k + 1 < nbytes; k += 2) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            uint16_t u = (seed >> 60) < 10 ? (uint16_t)('a' + (seed >> 40) % 26)
                                           : pick[(seed >> 33) % (sizeof pick / sizeof *pick)];
            le[k] = (uint8_t)u, le[k + 1] = (uint8_t)(u >> 8);
            be[k] = (uint8_t)(u >> 8), be[k + 1] = (uint8_t)u;
        }
        if (nbytes & 1)
            le[nbytes - 1] = be[nbytes - 1] = 'x';
        size_t units = (seed >> 20) % 40, outsz = (seed >> 10) % 48;
        char a[64], b[64];
        bool ta = false, tb = false;
        struct rd ca = rd_init(le, nbytes), cb = rd_init(be, nbytes);
        size_t na = utf16_to_utf8(&ca, units, true, a, outsz, &ta);
        size_t nb = utf16_to_utf8(&cb, units, false, b, outsz, &tb);
        CHECK(na == nb && ta == tb && ca.off == cb.off && ca.err == cb.err);
        if (outsz)
            CHECK_STR(a, b);
    }
}

TEST(utf16_conversion_is_bounded_and_valid)
{
    /* "Aé" + U+1F600 (surrogate pair) + lone low surrogate + NUL + "x" */
    const uint8_t s[] = {'A', 0, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde, 0x00, 0xdc, 0, 0, 'x', 0};
    struct rd c = rd_init(s, sizeof s);
    char out[32];
    bool trunc;
    size_t n = utf16le_to_utf8(&c, 7, out, sizeof out, &trunc);
    CHECK_STR(out, "A\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd");
    CHECK_EQ(n, 10);
    CHECK(!trunc);
    CHECK_EQ(rd_left(&c), 0); /* all 7 units consumed, even past the NUL */
    c = rd_init(s, sizeof s);
    utf16le_to_utf8(&c, 7, out, 4, &trunc); /* room for "Aé" only */
    CHECK_STR(out, "A\xc3\xa9");
    CHECK(trunc);
    c = rd_init(s, 3); /* odd length: the cursor runs out */
    utf16le_to_utf8(&c, 7, out, sizeof out, &trunc);
    CHECK(!rd_ok(&c));
    CHECK_STR(out, "A");
}

TEST(json_writer_escapes_and_repairs)
{
    struct json j;
    json_init(&j);
    json_obj_open(&j, NULL);
    json_str(&j, "a", "q\"b\\\n\x01");
    json_strn(&j, "bad", "x\xff\xc3", 3);
    json_u64(&j, "n", 18446744073709551615ULL);
    json_arr_open(&j, "l");
    json_bool(&j, NULL, true);
    json_str(&j, NULL, "\xe2\x82\xac");
    json_arr_close(&j);
    json_obj_open(&j, "o");
    json_obj_close(&j);
    json_obj_close(&j);
    CHECK_STR(j.buf, "{\"a\":\"q\\\"b\\\\\\n\\u0001\",\"bad\":\"x\xef\xbf\xbd\xef\xbf\xbd\","
                     "\"n\":18446744073709551615,\"l\":[true,\"\xe2\x82\xac\"],\"o\":{}}");
    cJSON *parsed = cJSON_Parse(j.buf);
    CHECK(parsed != NULL);
    cJSON_Delete(parsed);
    json_free(&j);
}

/* A byte at a time, written from RFC 8259 and RFC 3629 on their own: the reference. */
static size_t escape_slowly(const unsigned char *s, size_t n, char *out)
{
    size_t o = 0;
    out[o++] = '"';
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c == '"' || c == '\\') {
            out[o++] = '\\', out[o++] = (char)c, i++;
        } else if (c == '\n' || c == '\r' || c == '\t') {
            out[o++] = '\\', out[o++] = c == '\n' ? 'n' : c == '\r' ? 'r' : 't', i++;
        } else if (c < 0x20) {
            o += (size_t)sprintf(out + o, "\\u%04x", c), i++;
        } else if (c < 0x80) {
            out[o++] = (char)c, i++;
        } else {
            size_t len = c >= 0xf0 && c <= 0xf4   ? 4
                         : c >= 0xe0 && c <= 0xef ? 3
                         : c >= 0xc2 && c <= 0xdf ? 2
                                                  : 0;
            unsigned cp = len == 4 ? c & 7 : len == 3 ? c & 15 : c & 31;
            bool ok = len && i + len <= n;
            for (size_t k = 1; ok && k < len; k++) {
                ok = (s[i + k] & 0xc0) == 0x80;
                cp = cp << 6 | (s[i + k] & 0x3f);
            }
            if (ok && len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
                ok = false;
            if (ok && len == 4 && (cp < 0x10000 || cp > 0x10ffff))
                ok = false;
            if (ok) {
                memcpy(out + o, s + i, len), o += len, i += len;
            } else {
                memcpy(out + o, "\xef\xbf\xbd", 3), o += 3, i++;
            }
        }
    }
    out[o++] = '"';
    out[o] = '\0';
    return o;
}

TEST(json_strings_equal_a_bytewise_escaper)
{
    /* bytes on both sides of every class the writer tells apart, at every offset
       of its 8- and 16-byte steps; half the rounds are plain letters with one or two
       such bytes, so that long plain runs end in every lane too */
    static const unsigned char alphabet[] = {
        0x00, 0x01, 0x09, 0x0a, 0x1f, 0x20, 0x21, 0x22, 0x23, 0x5b, 0x5c, 0x5d, 0x7e, 0x7f,
        0x80, 0xbf, 0xc2, 0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xed, 0xa0, 0xf0, 0x9f, 0x98, 0x80,
        0xf4, 0x90, 0xff, 'a',  'a',  'a',  'a',  'a',  'a',  'a',  'a',  'a',  'a',  'a',
    };
    uint32_t seed = 12345;
    struct json j;
    json_init(&j);
    static char want[64 * 6 + 8];
    int bad = 0;
    for (int round = 0; round < 20000; round++) {
        unsigned char s[64];
        seed = seed * 1103515245u + 12345u;
        size_t n = (seed >> 16) % sizeof s;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            s[i] = alphabet[(seed >> 16) % sizeof alphabet];
        }
        if (round % 2 && n) {
            memset(s, 'a', n);
            for (int k = 0; k < 1 + round % 4 / 2; k++) {
                seed = seed * 1103515245u + 12345u;
                size_t at = (seed >> 16) % n;
                seed = seed * 1103515245u + 12345u;
                s[at] = alphabet[(seed >> 16) % sizeof alphabet];
            }
        }
        json_reset(&j);
        json_arr_open(&j, NULL);
        json_strn(&j, NULL, (const char *)s, n);
        size_t wn = escape_slowly(s, n, want);
        /* after the "[" the array opened */
        if (j.len != wn + 1 || memcmp(j.buf + 1, want, wn) != 0)
            bad++;
    }
    CHECK_EQ(bad, 0);
    json_free(&j);
}

TEST(timestamp_format_matches_suricata)
{
    char ts[TS_STR_LEN];
    ts_format(1513755625123456ULL, ts);
    CHECK_STR(ts, "2017-12-20T07:40:25.123456+0000");
}

/* The date is computed, not asked of gmtime_r: it agrees with gmtime_r and strftime over
 * leap years, century years (2000 a leap year, 2100 not), month and year ends, and 9999. */
TEST(timestamp_date_agrees_with_gmtime)
{
    static const uint64_t secs[] = {0,          59,         86399,      86400,
                                    951782399,  951782400,  951868800,  978307199,
                                    1078012800, 1509000000, 1700000000, 4107542399,
                                    4107542400, 4107628800, 4133894400, 253402300799ULL};
    for (size_t i = 0; i < sizeof secs / sizeof *secs; i++)
        for (uint64_t step = 0; step < 3 * 86400; step += 3 * 3600 + 7) {
            uint64_t s = secs[i] + step;
            if (s > 253402300799ULL)
                continue;
            char ts[TS_STR_LEN], want[64];
            ts_format(s * 1000000 + 42, ts);
            time_t t = (time_t)s;
            struct tm tm;
            gmtime_r(&t, &tm);
            size_t n = strftime(want, sizeof want, "%Y-%m-%dT%H:%M:%S", &tm);
            snprintf(want + n, sizeof want - n, ".000042+0000");
            CHECK_STR(ts, want);
        }
}

/* Decimal digits, two at a time: every power of ten and its neighbours, and the largest. */
TEST(decimal_digits_agree_with_printf)
{
    uint64_t p = 1;
    for (int k = 0; k < 20; k++, p *= 10)
        for (int d = -1; d <= 1; d++) {
            uint64_t v = p + (uint64_t)(int64_t)d;
            char got[24], want[24];
            *dec_u64(got, v) = '\0';
            snprintf(want, sizeof want, "%llu", (unsigned long long)v);
            CHECK_STR(got, want);
        }
    char got[24];
    *dec_u64(got, UINT64_MAX) = '\0';
    CHECK_STR(got, "18446744073709551615");
    *dec_u64(got, 0) = '\0';
    CHECK_STR(got, "0");
}

/* A flow the sensor does not decode costs its record and a share of a bucket: 256 bytes at most. */
#include "rpcsentry/flow.h"
TEST(flow_record_fits_the_budget)
{
    CHECK(sizeof(struct flow) + sizeof(void *) <= 256);
    /* a lookup reads one cache line; a packet writes one more */
    CHECK(offsetof(struct flow, ref.key) + sizeof(struct flow_key) <= 64);
    CHECK(offsetof(struct flow, checksum_good) < 128 && offsetof(struct flow, last_us) >= 64);
    CHECK(offsetof(struct flow, ref.alerted) < 64); /* detect marks it on the line a lookup reads */
    CHECK_EQ(sizeof(struct flow), 192);
}

/* Decoded arguments may pass the global cap by a sixteenth of it; nothing else may. */
TEST(mem_args_reserve)
{
    struct memacct m;
    memset(&m, 0, sizeof m);
    m.total_cap = 1600;
    CHECK(mem_charge(&m, MEM_APP, 1600));
    CHECK(!mem_charge(&m, MEM_APP, 1));
    CHECK(!mem_charge(&m, MEM_FLOW, 1));
    CHECK(mem_charge(&m, MEM_ARGS, 100));
    CHECK(!mem_charge(&m, MEM_ARGS, 1));
    CHECK_EQ(m.refused[MEM_ARGS], 1);
    CHECK_EQ(m.total_peak, 1700);
    mem_release(&m, MEM_ARGS, 100);
    mem_release(&m, MEM_APP, 1600);
    CHECK_EQ(m.total_used, 0);
}

/*
 * The flow table puts a flow in bucket hash & mask. Keys as a busy server sees them (a few
 * hundred clients, sequential ephemeral ports, one service port) must fill the buckets as
 * evenly as random numbers would, and every bit of the key must move the hash.
 */
static void v4_key(struct flow_key *k, uint32_t client, uint16_t cport)
{
    memset(k, 0, sizeof *k);
    uint8_t srv[4] = {10, 0, 0, 5};
    uint8_t cli[4] = {10, 1, (uint8_t)(client >> 8), (uint8_t)client};
    memcpy(k->addr[0], srv, 4), memcpy(k->addr[1], cli, 4);
    k->port[0] = 445, k->port[1] = cport;
    k->proto = 6, k->ipver = 4;
}

TEST(flow_key_hash_spreads_and_uses_every_bit)
{
    enum { NB = 1 << 16, NK = 3 * NB };
    static uint16_t count[NB];
    memset(count, 0, sizeof count);
    struct flow_key k;
    unsigned max = 0;
    for (uint32_t i = 0; i < NK; i++) {
        v4_key(&k, i % 300, (uint16_t)(49152 + i / 300));
        uint64_t h = hash_words5(&k, 0x5253454e54525931ULL);
        unsigned c = ++count[h & (NB - 1)];
        max = c > max ? c : max;
    }
    /* 3 keys a bucket: random hashing gives chains of 13 or so at most, never 20 */
    CHECK(max < 20);
    unsigned empty = 0;
    for (unsigned b = 0; b < NB; b++)
        empty += count[b] == 0;
    /* e^-3 of the buckets stay empty when the hash is random: 3,263 of 65,536 */
    CHECK(empty > 2900 && empty < 3650);

    v4_key(&k, 7, 50000);
    uint64_t h0 = hash_words5(&k, 1);
    for (unsigned bit = 0; bit < 8 * sizeof k; bit++) {
        struct flow_key m = k;
        ((uint8_t *)&m)[bit / 8] ^= (uint8_t)(1u << (bit % 8));
        unsigned d = (unsigned)__builtin_popcountll(h0 ^ hash_words5(&m, 1));
        CHECK(d >= 12 && d <= 52); /* about half of the 64 bits change */
    }
}
