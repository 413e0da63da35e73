/*
 * The key store: NT hashes from --ntlm-secrets files and Kerberos keys from
 * --keytab files (include/rpcsentry/keys.h). Small and read-only once
 * loaded: a lookup walks the entries (an operator's file holds tens to
 * thousands of accounts, and a lookup happens once per NTLMSSP AUTHENTICATE
 * or Kerberos AP-REQ, not per packet). Keytabs are read with MIT krb5; its
 * copies of the keys are freed with krb5_free_keytab_entry_contents, which
 * zeroes them.
 */
#include "rpcsentry/keys.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <gcrypt.h>
#include <krb5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "keys_internal.h"

#define KEYS_PRINCIPAL_MAX 256

struct key_entry {
    enum keys_kind kind;
    char domain[KEYS_NAME_MAX]; /* NT hash: "" = any domain */
    char user[KEYS_NAME_MAX];
    char principal[KEYS_PRINCIPAL_MAX]; /* Kerberos */
    uint32_t kvno;
    int32_t enctype;
    uint8_t key_len;
    uint8_t key[KEYS_KEY_MAX]; /* an NT hash, a Kerberos key */
    struct keys_smb3 smb3;     /* KEYS_SMB3_SESSION */
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

size_t keys_count_kind(const struct keystore *ks, enum keys_kind kind)
{
    size_t n = 0;
    for (size_t i = 0; ks && i < ks->n; i++)
        n += ks->e[i].kind == kind;
    return n;
}

/* Room for one more entry at the end (zeroed), its old copy wiped; NULL when out of memory. */
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
    k->key_len = KEYS_NT_HASH_LEN;
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

bool keys_add_krb5(struct keystore *ks, const char *principal, uint32_t kvno, int32_t enctype,
                   const uint8_t *key, size_t len)
{
    if (len > KEYS_KEY_MAX)
        return false;
    struct key_entry *k = entry_new(ks);
    if (!k)
        return false;
    k->kind = KEYS_KRB5;
    snprintf(k->principal, sizeof k->principal, "%s", principal ? principal : "");
    k->kvno = kvno;
    k->enctype = enctype;
    k->key_len = (uint8_t)len;
    memcpy(k->key, key, len);
    return true;
}

size_t keys_krb5_for_each(const struct keystore *ks, int32_t enctype, uint32_t kvno,
                          keys_krb5_fn fn, void *ctx)
{
    size_t named = 0;
    if (!ks)
        return 0;
    /* two passes: the keys of the ticket's kvno, then the others of its enctype */
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < ks->n; i++) {
            const struct key_entry *k = &ks->e[i];
            if (k->kind != KEYS_KRB5 || k->enctype != enctype || (k->kvno == kvno) != (pass == 0))
                continue;
            named++;
            struct keys_krb5 v = {k->principal, k->kvno, k->enctype, k->key, k->key_len};
            if (fn && fn(&v, ctx))
                return named;
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

char *keys_trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

static int open_private_fd(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return -1;
    }
    if (st.st_mode & (S_IRGRP | S_IWGRP | S_IROTH | S_IWOTH)) {
        snprintf(err, errlen,
                 "%s: permissions %04o are too open: a secrets file must not be readable or "
                 "writable by group or others (chmod 600 it)",
                 path, (unsigned)(st.st_mode & 07777));
        close(fd);
        return -1;
    }
    return fd;
}

bool keys_open_private(const char *path, FILE **out, char *err, size_t errlen)
{
    int fd = open_private_fd(path, err, errlen);
    if (fd < 0)
        return false;
    *out = fdopen(fd, "r");
    if (!*out) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        close(fd);
        return false;
    }
    return true;
}

bool keys_read_lines(struct keystore *ks, const char *path, keys_line_fn fn, char *err,
                     size_t errlen)
{
    FILE *f;
    if (!keys_open_private(path, &f, err, errlen))
        return false;
    /* stdio's buffer holds the file's text (the keys): ours, so that it is wiped */
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
        char *line = keys_trim(buf);
        if (!line[0] || line[0] == '#')
            continue;
        const char *why = fn(ks, line);
        if (why) {
            snprintf(err, errlen, "%s:%u: %s", path, lineno, why);
            ok = false;
        }
    }
    if (ok && ferror(f)) {
        snprintf(err, errlen, "%s: read error", path);
        ok = false;
    }
    explicit_bzero(buf, sizeof buf);
    fclose(f);
    explicit_bzero(iobuf, sizeof iobuf);
    if (!ok)
        keys_wipe_tail(ks, first);
    return ok;
}

/* One --ntlm-secrets line: parsed, then added; the reason it is not, or NULL. */
static const char *ntlm_line(struct keystore *ks, char *line)
{
    char domain[KEYS_NAME_MAX], user[KEYS_NAME_MAX];
    uint8_t hash[KEYS_NT_HASH_LEN];
    const char *why = parse_line(line, domain, user, hash);
    if (!why && !keys_add_nt_hash(ks, domain, user, hash))
        why = "out of memory";
    explicit_bzero(hash, sizeof hash);
    return why;
}

bool keys_load_ntlm(struct keystore *ks, const char *path, char *err, size_t errlen)
{
    return keys_read_lines(ks, path, ntlm_line, err, errlen);
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

/* ---- keytabs ---- */

bool keys_load_keytab(struct keystore *ks, const char *path, char *err, size_t errlen)
{
    /* the permissions are ours to check; MIT krb5 reads any keytab it may open */
    int fd = open_private_fd(path, err, errlen);
    if (fd < 0)
        return false;
    close(fd);
    krb5_context ctx;
    if (krb5_init_context(&ctx) != 0) {
        snprintf(err, errlen, "%s: MIT krb5 could not make a context", path);
        return false;
    }
    size_t first = ks->n;
    char name[16 + 4096];
    snprintf(name, sizeof name, "FILE:%s", path);
    krb5_keytab kt = NULL;
    krb5_kt_cursor cur;
    bool ok = false, started = false;
    krb5_error_code ret = krb5_kt_resolve(ctx, name, &kt);
    if (!ret)
        ret = krb5_kt_start_seq_get(ctx, kt, &cur);
    if (ret) {
        const char *m = krb5_get_error_message(ctx, ret);
        snprintf(err, errlen, "%s: not a keytab MIT krb5 can read (%s)", path, m);
        krb5_free_error_message(ctx, m);
        goto out;
    }
    started = true;
    ok = true;
    krb5_keytab_entry e;
    unsigned n = 0;
    while (ok && (ret = krb5_kt_next_entry(ctx, kt, &e, &cur)) == 0) {
        n++;
        char *pname = NULL;
        if (krb5_unparse_name(ctx, e.principal, &pname) != 0) {
            snprintf(err, errlen, "%s: entry %u: its principal cannot be read", path, n);
            ok = false;
        } else if (!keys_add_krb5(ks, pname, e.vno, e.key.enctype, e.key.contents, e.key.length)) {
            snprintf(err, errlen, "%s: entry %u: key too long or out of memory", path, n);
            ok = false;
        }
        krb5_free_unparsed_name(ctx, pname);
        krb5_free_keytab_entry_contents(ctx, &e);
    }
    if (ok && ret != KRB5_KT_END) {
        const char *m = krb5_get_error_message(ctx, ret);
        snprintf(err, errlen, "%s: entry %u cannot be read (%s)", path, n + 1, m);
        krb5_free_error_message(ctx, m);
        ok = false;
    }
    if (ok && !n) {
        snprintf(err, errlen, "%s: the keytab holds no key", path);
        ok = false;
    }
out:
    if (started)
        krb5_kt_end_seq_get(ctx, kt, &cur);
    if (kt)
        krb5_kt_close(ctx, kt);
    krb5_free_context(ctx);
    if (!ok) {
        wipe_entries(ks->e + first, ks->n - first);
        ks->n = first;
    }
    return ok;
}

struct keystore *keys_load_files(const struct keys_files *f, char *err, size_t errlen)
{
    if (!keys_crypto_init(err, errlen))
        return NULL;
    struct keystore *ks = keys_new();
    if (!ks) {
        snprintf(err, errlen, "out of memory for the key store");
        return NULL;
    }
    char why[1024];
    for (size_t i = 0; i < f->n_ntlm; i++)
        if (!keys_load_ntlm(ks, f->ntlm[i], why, sizeof why)) {
            snprintf(err, errlen, "--ntlm-secrets: %s", why);
            keys_free(ks);
            return NULL;
        }
    for (size_t i = 0; i < f->n_keytab; i++)
        if (!keys_load_keytab(ks, f->keytab[i], why, sizeof why)) {
            snprintf(err, errlen, "--keytab: %s", why);
            keys_free(ks);
            return NULL;
        }
    for (size_t i = 0; i < f->n_smb; i++)
        if (!keys_load_smb(ks, f->smb[i], why, sizeof why)) {
            snprintf(err, errlen, "--smb-keys: %s", why);
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
