/*
 * Text helpers: wire strings to bounded, valid UTF-8, and time formatting.
 */
#ifndef RPCSENTRY_TEXT_H
#define RPCSENTRY_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rpcsentry/cursor.h"

/*
 * Converts `units` UTF-16 code units (little-endian, or big-endian when le is
 * false, as big-endian NDR carries them) read from c into UTF-8 in out (size
 * outsz, always NUL-terminated). Unpaired surrogates become U+FFFD; a NUL
 * unit ends the string early (the rest is still consumed). Text beyond
 * outsz is cut on a character boundary and *truncated is set. Returns the
 * UTF-8 length.
 */
size_t utf16_to_utf8(struct rd *c, size_t units, bool le, char *out, size_t outsz, bool *truncated);
static inline size_t utf16le_to_utf8(struct rd *c, size_t units, char *out, size_t outsz,
                                     bool *truncated)
{
    return utf16_to_utf8(c, units, true, out, outsz, truncated);
}

/*
 * Copies n single-byte characters (ASCII/OEM/Latin-1) from c into out as UTF-8:
 * bytes >= 0x80 are mapped as Latin-1. Same contract as utf16le_to_utf8.
 */
size_t latin1_to_utf8(struct rd *c, size_t n, char *out, size_t outsz, bool *truncated);

/* Code point cp (below 0x110000) as UTF-8 in b; returns its length, 1 to 4. */
size_t utf8_encode(uint32_t cp, char b[4]);

/*
 * Copies the text of p[0..n) up to its first NUL into out (size outsz, always
 * NUL-terminated), each byte outside printable ASCII as '?': for the short
 * single-byte names the wire carries (ports, pipes, hosts).
 */
void printable_copy(const uint8_t *p, size_t n, char *out, size_t outsz);

/* Suricata's timestamp form: 2026-11-22T02:23:58.123456+0000 (UTC). out >= 32 bytes. */
#define TS_STR_LEN 32
void ts_format(uint64_t ts_us, char out[TS_STR_LEN]);

/* IPv4 (alen 4) or IPv6 (alen 16) address to text; out >= 46 bytes. */
/* The decimal digits of v at out (at most 20), no NUL; returns where they end. */
char *dec_u64(char *out, uint64_t v);
/* The low `digits` hex digits of v, lower case with leading zeros, no NUL; returns the end. */
char *hex_u32(char *out, uint32_t v, int digits);
/* "0x" and eight hex digits, as status codes are written ("0x%08x"), NUL-terminated. */
#define HEX32_STR_LEN 11
void hex32_str(char out[HEX32_STR_LEN], uint32_t v);

#define ADDR_STR_LEN 46
void addr_format(const uint8_t *addr, int alen, char out[ADDR_STR_LEN]);

#endif
