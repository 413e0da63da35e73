/*
 * Hashes: SHA-1 and base64 for Community ID, and a fast keyed hash for tables.
 */
#ifndef RPCSENTRY_HASH_H
#define RPCSENTRY_HASH_H

#include <stddef.h>
#include <stdint.h>

#define SHA1_LEN 20

void sha1(const void *data, size_t len, uint8_t out[SHA1_LEN]);

/* Standard base64 with padding; out must hold 4*ceil(len/3)+1 bytes. Returns the length. */
size_t base64_encode(const uint8_t *in, size_t len, char *out);

/* A fast 64-bit keyed hash over a short key (flow tuples, table keys). */
uint64_t hash64(const void *key, size_t len, uint64_t seed);

/* The same, faster, over exactly 40 bytes (five 64-bit words: a flow key). */
uint64_t hash_words5(const void *key, uint64_t seed);

/*
 * Community ID v1 (corelight/community-id-spec) over one packet's tuple.
 * saddr/daddr are 4 or 16 bytes (alen), ports in host order. out gets
 * "1:" + base64 (31 bytes with NUL). Ordering of the endpoints is done here.
 */
#define COMMUNITY_ID_LEN 32
void community_id_v1(uint16_t seed, const uint8_t *saddr, const uint8_t *daddr, size_t alen,
                     uint8_t proto, uint16_t sport, uint16_t dport, char out[COMMUNITY_ID_LEN]);

#endif
