/*
 * The key store: NT hashes from --ntlm-secrets files (include/rpcsentry/keys.h).
 * Small and read-only once loaded: a lookup walks the entries (an operator's
 * file holds tens to thousands of accounts, and a lookup happens once per
 * NTLMSSP AUTHENTICATE, not per packet).
 */
#include "rpcsentry/keys.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys_internal.h"

struct key_entry {
    enum keys_kind kind;
    char domain[KEYS_NAME_MAX]; /* "" = any domain */
    char user[KEYS_NAME_MAX];
    uint8_t key[KEYS_NT_HASH_LEN];
    struct keys_smb3 smb3; /* KEYS_SMB3_SESSION */
};

struct keystore {
    struct key_entry *e;
    size_t n, cap;
};

bool keys_crypto_init(char *err, size_t errlen)
{
    if (gcry_control(GCRYCTL_INITIALIZATION_FINISHED_P))
        return true;
    if (!gcry_check_version(GCRYPT_VERSION)) {
        snprintf(err, errlen, "libgcrypt is older than %s, the version built against",
                 GCRYPT_VERSION);
        return false;
    }
    /* keys are wiped by us (explicit_bzero) and by libgcrypt when a handle closes */
    gcry_control(GCRYCTL_DISABLE_SECMEM, 0);
    gcry_control(GCRYCTL_INITIALIZATION_FINISHED, 0);
    if (gcry_fips_mode_active()) {
        snprintf(err, errlen,
                 "libgcrypt runs in FIPS mode: MD4 and RC4, which NTLM needs, are "
                 "refused there");
        return false;
    }
    return true;
}

struct keystore *keys_new(void)
{
    return calloc(1, sizeof(struct keystore));
}

size_t keys_count(const struct keystore *ks)
{
    return ks ? ks->n : 0;
}

static void wipe_entries(struct key_entry *e, size_t n)
{
    if (e)
        explicit_bzero(e, n * sizeof *e);
}

void keys_free(struct keystore *ks)
{
    if (!ks)
        return;
    wipe_entries(ks->e, ks->cap);
    free(ks->e);
    explicit_bzero(ks, sizeof *ks);
    free(ks);
}

/* Room for one more entry, its old copy wiped. */
static struct key_entry *entry_new(struct keystore *ks)
{
    if (ks->n == ks->cap) {
        size_t ncap = ks->cap ? ks->cap * 2 : 16;
        struct key_entry *ne = calloc(ncap, sizeof *ne);
        if (!ne)
            return NULL;
        if (ks->e)
            memcpy(ne, ks->e, ks->n * sizeof *ne);
        /* the old copy is wiped, not just let go (realloc would leave it behind) */
        wipe_entries(ks->e, ks->cap);
        free(ks->e);
        ks->e = ne;
        ks->cap = ncap;
    }
    return &ks->e[ks->n++];
}

bool keys_add_nt_hash(struct keystore *ks, const char *domain, const char *user,
                      const uint8_t hash[KEYS_NT_HASH_LEN])
{
    struct key_entry *k = entry_new(ks);
    if (!k)
        return false;
    k->kind = KEYS_NT_HASH;
    snprintf(k->domain, sizeof k->domain, "%s", domain ? domain : "");
    snprintf(k->user, sizeof k->user, "%s", user);
    memcpy(k->key, hash, KEYS_NT_HASH_LEN);
    return true;
}

size_t keys_nt_for_each(const struct keystore *ks, const char *domain, const char *user,
                        keys_nt_fn fn, void *ctx)
{
    size_t named = 0;
    if (!ks || !user)
        return 0;
    for (size_t i = 0; i < ks->n; i++) {
        const struct key_entry *k = &ks->e[i];
        if (k->kind != KEYS_NT_HASH || strcasecmp(k->user, user) != 0)
            continue;
        if (k->domain[0] && strcasecmp(k->domain, domain ? domain : "") != 0)
            continue;
        named++;
        if (fn && fn(k->key, ctx))
            break;
    }
    return named;
}

/* ---- the file ---- */

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* 32 hex digits to 16 bytes; false on anything else. */
static bool parse_hash(const char *s, size_t len, uint8_t out[KEYS_NT_HASH_LEN])
{
    if (len != 2 * KEYS_NT_HASH_LEN)
        return false;
    for (size_t i = 0; i < KEYS_NT_HASH_LEN; i++) {
        int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static bool all_digits(const char *s, size_t len)
{
    if (!len)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isdigit((unsigned char)s[i]))
            return false;
    return true;
}

/*
 * One account line (no newline). Returns NULL and fills the entry's names and
 * hash, or the reason it is malformed (which never quotes the line).
 */
static const char *parse_line(char *line, char *domain, char *user, uint8_t hash[16])
{
    char *f[8];
    size_t nf = 0;
    for (char *p = line;;) {
        if (nf == sizeof f / sizeof f[0])
            return "too many ':' fields";
        f[nf++] = p;
        char *c = strchr(p, ':');
        if (!c)
            break;
        *c = '\0';
        p = c + 1;
    }
    const char *nt;
    if (nf == 2) {
        nt = f[1];
    } else if (nf >= 4) {
        if (!all_digits(f[1], strlen(f[1])))
            return "the second field (rid) is not a number";
        if (!parse_hash(f[2], strlen(f[2]), hash))
            return "the LM hash field is not 32 hex digits";
        nt = f[3];
        for (size_t i = 4; i < nf; i++)
            if (f[i][0])
                return "unexpected text after the NT hash";
    } else {
        return "expected user:NTHASH or user:rid:LMHASH:NTHASH:::";
    }
    if (!parse_hash(nt, strlen(nt), hash))
        return "the NT hash field is not 32 hex digits";
    char *name = f[0];
    char *bs = strchr(name, '\\');
    const char *dom = "";
    if (bs) {
        *bs = '\0';
        dom = name;
        name = bs + 1;
    }
    if (!name[0])
        return "no user name";
    if (strlen(name) >= KEYS_NAME_MAX || strlen(dom) >= KEYS_NAME_MAX)
        return "name too long";
    snprintf(domain, KEYS_NAME_MAX, "%s", dom);
    snprintf(user, KEYS_NAME_MAX, "%s", name);
    return NULL;
}

/* Strips the newline and surrounding blanks in place; returns the start. */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

bool keys_open_private(const char *path, FILE **out, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return false;
    }
    if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
        snprintf(err, errlen,
                 "%s: permissions %04o are too open: a secrets file must not be readable or "
                 "writable by group or others (chmod 600 it)",
                 path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return false;
    }
    *out = fdopen(fd, "r");
    if (!*out) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    return true;
}

bool keys_load_ntlm(struct keystore *ks, const char *path, char *err, size_t errlen)
{
    FILE *f;
    if (!keys_open_private(path, &f, err, errlen))
        return false;
    /* stdio's buffer holds the file's text (the hashes): ours, so that it is wiped */
    char iobuf[4096];
    setvbuf(f, iobuf, _IOFBF, sizeof iobuf);
    size_t first = ks->n;
    char buf[KEYS_LINE_MAX];
    unsigned lineno = 0;
    bool ok = true;
    while (ok && fgets(buf, sizeof buf, f)) {
        lineno++;
        if (!strchr(buf, '\n') && !feof(f)) {
            snprintf(err, errlen, "%s:%u: line too long", path, lineno);
            ok = false;
            break;
        }
        char *s = trim(buf);
        if (!s[0] || s[0] == '#')
            continue;
        char domain[KEYS_NAME_MAX], user[KEYS_NAME_MAX];
        uint8_t hash[KEYS_NT_HASH_LEN];
        const char *why = parse_line(s, domain, user, hash);
        if (why) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
            ok = false;
        } else if (!keys_add_nt_hash(ks, domain, user, hash)) {
            snprintf(err, errlen, "%s:%u: out of memory", path, lineno);
            ok = false;
        }
        explicit_bzero(hash, sizeof hash);
    }
    if (ok && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        ok = false;
    }
    explicit_bzero(buf, sizeof buf);
    fclose(f);
    explicit_bzero(iobuf, sizeof iobuf);
    if (!ok) {
        wipe_entries(ks->e + first, ks->n - first);
        ks->n = first;
    }
    return ok;
}

/* ---- NT hash of a password ---- */

bool keys_nt_hash_of_password(const char *pw, uint8_t out[KEYS_NT_HASH_LEN])
{
    size_t n = strlen(pw);
    uint8_t *u16 = calloc(n + 1, 4);
    if (!u16)
        return false;
    size_t k = 0;
    const unsigned char *s = (const unsigned char *)pw;
    for (size_t i = 0; i < n;) {
        uint32_t cp = s[i];
        size_t len = cp < 0x80         ? 1
                     : (cp >> 5) == 6  ? 2
                     : (cp >> 4) == 14 ? 3
                     : (cp >> 3) == 30 ? 4
                                       : 0;
        if (!len || i + len > n) {
            cp = 0xfffd;
            len = 1;
        } else if (len > 1) {
            cp &= 0x3fu >> (len - 1);
            for (size_t j = 1; j < len; j++)
                cp = cp << 6 | (s[i + j] & 0x3f);
        }
        i += len;
        if (cp >= 0x10000) {
            cp -= 0x10000;
            uint32_t hi = 0xd800 | (cp >> 10), lo = 0xdc00 | (cp & 0x3ff);
            u16[k++] = (uint8_t)hi, u16[k++] = (uint8_t)(hi >> 8);
            u16[k++] = (uint8_t)lo, u16[k++] = (uint8_t)(lo >> 8);
        } else {
            u16[k++] = (uint8_t)cp, u16[k++] = (uint8_t)(cp >> 8);
        }
    }
    gcry_md_hash_buffer(GCRY_MD_MD4, out, u16, k);
    explicit_bzero(u16, (n + 1) * 4);
    free(u16);
    return true;
}

struct keystore *keys_load_files(const char *const *paths, size_t n, char *err, size_t errlen)
{
    if (!keys_crypto_init(err, errlen))
        return NULL;
    struct keystore *ks = keys_new();
    if (!ks) {
        snprintf(err, errlen, "out of memory for the key store");
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!keys_load_ntlm(ks, paths[i], err, errlen)) {
            keys_free(ks);
            return NULL;
        }
    return ks;
}

/* ---- SMB 3 session keys ---- */

bool keys_add_smb3(struct keystore *ks, const struct keys_smb3 *in)
{
    if (!in->session_key_len || in->session_key_len > KEYS_SMB3_MAX ||
        (in->dir_len && in->dir_len != 16 && in->dir_len != 32))
        return false;
    struct key_entry *k = entry_new(ks);
    if (!k)
        return false;
    k->kind = KEYS_SMB3_SESSION;
    k->smb3 = *in;
    return true;
}

bool keys_smb3_find(const struct keystore *ks, uint64_t session_id, struct keys_smb3 *out)
{
    if (!ks)
        return false;
    for (size_t i = ks->n; i-- > 0;) /* the last one given wins */
        if (ks->e[i].kind == KEYS_SMB3_SESSION && ks->e[i].smb3.session_id == session_id) {
            *out = ks->e[i].smb3;
            return true;
        }
    return false;
}

void keys_wipe_tail(struct keystore *ks, size_t first)
{
    wipe_entries(ks->e + first, ks->n - first);
    ks->n = first;
}

size_t keys_mark(const struct keystore *ks)
{
    return ks->n;
}
