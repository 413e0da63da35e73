/*
 * Shared inside src/transport/ by the SMB engine: its limits, command codes,
 * tables (sessions, trees, pipes, pending requests, the registry shared
 * across connections of a session) and the helpers SMB2 (smb2.c) and SMB1
 * (smb1.c) use on them; smb.c holds the tables, the pipes and the framing.
 */
#ifndef RPCSENTRY_SMB_INTERNAL_H
#define RPCSENTRY_SMB_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <nettle/sha2.h>

#include "rpcsentry/buf.h"
#include "rpcsentry/cursor.h"
#include "rpcsentry/smb.h"
#include "rpcsentry/worker.h"

#define NBSS_HDR 4
#define SMB_BUF_MAX (1u << 20) /* messages buffered whole up to this size */
#define SMB_PEEK 1024          /* of larger ones, only this much is read (headers) */
#define SMB_MAX_PIPES 1024
#define SMB_MAX_PENDING 1024
#define SMB_MAX_SESSIONS 64
#define SMB_MAX_TREES 128
#define SMB_MAX_CHAIN 64 /* compounded / AndX commands followed per message */
#define SMB_NAME_MAX 128

#define SMB2_NEGOTIATE 0x00
#define SMB2_SESSION_SETUP 0x01
#define SMB2_TREE_CONNECT 0x03
#define SMB2_CREATE 0x05
#define SMB2_CLOSE 0x06
#define SMB2_READ 0x08
#define SMB2_WRITE 0x09
#define SMB2_IOCTL 0x0b

#define SMB2_FLAGS_RESPONSE 0x01
#define SMB2_FLAGS_ASYNC 0x02
#define SMB2_FLAGS_RELATED 0x04

#define SMB1_CLOSE 0x04
#define SMB1_TRANSACTION 0x25
#define SMB1_TRANSACTION_SECONDARY 0x26
#define SMB1_READ_ANDX 0x2e
#define SMB1_WRITE_ANDX 0x2f
#define SMB1_NEGOTIATE 0x72
#define SMB1_SESSION_SETUP_ANDX 0x73
#define SMB1_TREE_CONNECT_ANDX 0x75
#define SMB1_NT_CREATE_ANDX 0xa2
#define SMB1_FLAGS_REPLY 0x80
#define SMB1_FLAGS2_UNICODE 0x8000

#define STATUS_SUCCESS 0x00000000u
#define STATUS_PENDING 0x00000103u
#define STATUS_BUFFER_OVERFLOW 0x80000005u
#define STATUS_MORE_PROCESSING 0xc0000016u
#define FSCTL_PIPE_TRANSCEIVE 0x0011c017u
#define TRANS_TRANSACT_NMPIPE 0x0026

struct smb_session {
    struct smb_session *next;
    uint64_t id;
    struct rpc_identity identity;
};

struct smb_tree {
    struct smb_tree *next;
    uint64_t session;
    uint32_t id;
    bool ipc;
    char share[SMB_NAME_MAX];
};

struct smb_pipe {
    struct smb_pipe *next;
    uint8_t fid[16];     /* SMB2 FileId; SMB1 uses the first two bytes */
    bool open;           /* fid known (the CREATE answered, or adopted from traffic) */
    uint64_t create_msg; /* SMB2 MessageId / SMB1 MID of the CREATE, while not open */
    char name[SMB_NAME_MAX];
    char share[SMB_NAME_MAX];
    bool learned;        /* its first bind has been noted for the pipe name */
    uint8_t carries;     /* enum pipe_carries */
    char candidates[96]; /* the interfaces its name may carry, when several (info) */
    bool closing;        /* closed by the client while data for it awaits its answer */
    bool closed;         /* its CLOSE was seen */
    bool refused;        /* its CREATE failed */
    bool smb1;
    const char *tool;        /* the remote-execution tool its name belongs to, or NULL */
    uint64_t other_bytes[2]; /* what it carried that was not DCE/RPC, per endpoint */
    uint64_t open_us, open_cnt;
    unsigned n_held; /* entries of c->held for this pipe */
    struct rpc_transport info;
    struct dce_assoc *dce;
};

/* Whether a pipe carries DCE/RPC: known RPC pipe names do; others (\PSEXESVC, ...)
 * are judged by their first bytes. */
enum pipe_carries { PIPE_UNDECIDED, PIPE_RPC, PIPE_OTHER };

/* PEND_TRANS_PARTS: a TRANSACTION whose data comes in secondaries, being put together */
enum pend_kind {
    PEND_TREE,
    PEND_CREATE,
    PEND_READ,
    PEND_IOCTL,
    PEND_TRANS,
    PEND_TRANS_PARTS,
    PEND_WRITE,
    PEND_ANY /* smb_pend_take_kind: whatever the kind */
};

/*
 * What a client wrote to a pipe (WRITE, IOCTL transceive input, TransactNmPipe), held
 * until the server's answer says it was taken: a refused write reaches no pipe, as on
 * the server. In the order written, per connection: a pipe's data leaves in that order
 * whatever order the answers come in. The capture time and packet of the request go
 * with it, so that its call reads as if delivered at once.
 */
enum held_state { HELD_WAIT, HELD_OK, HELD_REFUSED };
struct smb_pending;
struct smb_held {
    struct smb_held *next;
    struct smb_pipe *pipe;
    struct smb_pending *q; /* the request awaiting its answer; NULL once it has none */
    const char *what;      /* the command, for the anomaly of a refusal */
    uint64_t now_us, pcap_cnt;
    uint64_t seq;    /* its request's place (struct smb_pending) */
    uint32_t status; /* of a refusal */
    uint32_t len;
    uint8_t ep, state;
    bool answer_lost; /* the server's bytes had a gap since: its answer may be in it */
    uint8_t data[];
};
#define SMB_MAX_HELD 256

/* The data of an SMB1 TRANSACTION sent in pieces (its primary and TRANSACTION_SECONDARY
 * requests, in any order): total bytes, those received, a bit per byte after the data. */
struct smb_trans_parts {
    uint32_t total, have;
    uint8_t data[];
};

struct smb_pending {
    struct smb_pending *next;
    uint64_t msg_id;
    uint8_t kind;
    bool by_create; /* the pipe was opened in the same chain: found by its CREATE */
    uint64_t create_msg;
    uint8_t fid[16];
    uint64_t session;
    char path[SMB_NAME_MAX];       /* share of a TREE_CONNECT */
    struct smb_trans_parts *parts; /* PEND_TRANS_PARTS */
    struct smb_held *held;         /* the data it wrote, until answered */
    uint64_t seq;                  /* its place among the connection's requests */
};

/* What the first bind on a pipe of some name told us, for later pipes of that name. */
struct learned_iface {
    char name[SMB_NAME_MAX];
    struct uuid uuid;
    uint16_t ver_major;
};

struct smb_file;
struct smb_dir {
    struct buf acc;
    /* the rest of a WRITE too big to hold goes to this file as it streams by */
    struct smb_file *sink;
    uint64_t sink_at, sink_left;
    uint32_t need;    /* bytes of the current message still to gather into acc */
    uint32_t skip;    /* bytes of the current message to discard */
    uint32_t msg_len; /* size of the current NBSS message body */
    bool synced;
};

/*
 * Sessions outlive connections: SMB 3 multichannel binds a new connection
 * to a session whose user and trees were set up on another. A bounded
 * per-worker registry keyed by (server address, session id) remembers them.
 */
#define SMB_REG_MAX 256
#define SMB_REG_TREES 16
struct smb_reg_tree {
    uint32_t id;
    bool ipc;
    char share[SMB_NAME_MAX];
};
/* A pipe of the session, so that another channel can use its FileId: name and first bind. */
#define SMB_REG_PIPES 8
struct smb_reg_pipe {
    uint8_t fid[16];
    char name[64];
    bool has_iface;
    struct uuid uuid;
    uint16_t ver_major;
};
struct smb_reg_entry {
    bool used, has_identity;
    uint8_t server[16];
    uint64_t session;
    struct rpc_identity identity;
    struct smb_reg_tree trees[SMB_REG_TREES];
    unsigned n_trees;
    struct smb_reg_pipe pipes[SMB_REG_PIPES];
    unsigned next_pipe;
};
/* Entries are found through a chained index on (server, session): each entry is a few KiB,
 * and a walk over all of them per SMB message was a cache miss per entry. */
#define SMB_REG_BUCKETS 512
struct smb_registry {
    struct smb_reg_entry e[SMB_REG_MAX];
    unsigned next;
    int16_t head[SMB_REG_BUCKETS]; /* first entry of each bucket, -1 for none */
    int16_t chain[SMB_REG_MAX];    /* the next entry in the same bucket */
};

#define SMB_CLOSED_FIDS 8

struct smb_conn {
    /* what nearly every message reads comes first, in the five lines the transport's
       prefetch takes ahead of the packet (transport_prefetch): with thousands of
       connections open, the rest of the 1.6 KiB is out of the cache */
    struct flow_ref *flow;
    int server_ep;     /* endpoint that answers, -1 until a message says */
    bool partial;      /* the message being parsed was cut to its first SMB_PEEK bytes */
    bool decrypting;   /* the message being parsed is the plaintext of a TRANSFORM_HEADER */
    bool answers_seen; /* a response was read: the server's side is in the capture */
    uint64_t *tx_counter;
    char *community_id;
    struct smb_dir dir[2];
    struct smb_pipe *pipes;
    struct smb_pending *pending;
    /* held writes, oldest first (struct smb_held) */
    struct smb_held *held, **held_tail;
    unsigned n_pipes, n_pending, n_held, n_sessions;
    uint64_t req_seq; /* requests pending so far */
    struct smb_session *sessions;
    struct smb_tree *trees;
    unsigned n_trees, n_files;
    const char *dialect;
    struct smb3_conn *s3;   /* SMB 3 encryption (smb3.c): only with a key store */
    struct smb_file *files; /* files opened for writing on disk shares (smb_file.c) */
    anomaly_mask anomalies_seen;
    /* read when a pipe learns its interface or a FileId comes back */
    struct learned_iface learned[8];
    unsigned n_learned;
    /* FileIds the client closed: gone, never adopted again (the last SMB_CLOSED_FIDS) */
    uint8_t closed[SMB_CLOSED_FIDS][16];
    uint8_t closed_next;
};

/*
 * A file opened for writing on a disk share: what its WRITEs put in it, hashed while
 * every byte comes in order from offset 0 (smb_file.c).
 */
#define SMB_MAX_FILES 64
#define SMB_FILE_NAME_MAX 260
struct smb_file {
    struct smb_file *next;
    uint8_t fid[16];
    bool open, smb1;
    uint64_t create_msg;
    uint64_t session;
    uint32_t tree;
    char share[SMB_NAME_MAX];
    char name[SMB_FILE_NAME_MAX];
    uint32_t disposition, action;
    uint64_t size_at_open;
    uint64_t open_us, open_cnt;
    uint64_t written, hashed, end; /* hashed: bytes [0, hashed) went into sha */
    bool out_of_order, gaps, refused;
    bool close_asked; /* closed in the CREATE's own compound, before its answer */
    uint8_t head[2], head_len;
    struct sha256_ctx sha;
};

/* CREATE of name on tree t (a disk share) with this access: followed if it may write.
 * The answer: smb_file_opened (ok false: the file is forgotten). */
struct smb_file *smb_file_create(struct worker *w, struct smb_conn *c, uint64_t msg,
                                 uint64_t session, uint32_t tree, const char *share,
                                 const char *name, uint32_t access, uint32_t disposition,
                                 uint32_t options, bool smb1);
void smb_file_opened(struct worker *w, struct smb_conn *c, uint64_t msg, bool ok,
                     const uint8_t fid[16], uint32_t action, uint64_t eof);
struct smb_file *smb_file_by_fid(struct smb_conn *c, const uint8_t fid[16]);
/* A WRITE request msg_id on fid: its total bytes of data at data_off in message m (what
 * is there of it; when the message was too big to hold, the rest streams by in
 * smb_file_stream); missing: the anomaly's reason when the message is whole but short. */
void smb_file_write_req(struct worker *w, struct smb_conn *c, struct smb_file *f, int ep,
                        uint64_t msg_id, const uint8_t fid[16], uint64_t offset, struct rd m,
                        size_t data_off, uint64_t total, const char *missing);
/* Bytes of a message being skipped from ep: the held-back part of a WRITE, if any. */
void smb_file_stream(struct smb_conn *c, int ep, const uint8_t *d, size_t n);
/* Bytes from ep were lost: a WRITE streaming by lost some. */
void smb_file_gap(struct smb_conn *c, int ep);
/* A WRITE to the file of fid was refused. */
void smb_file_refused(struct smb_conn *c, const uint8_t fid[16]);
/* The client closes f: its record, then it is gone (once its CREATE is answered). */
void smb_file_close(struct worker *w, struct smb_conn *c, struct smb_file *f);
/* The connection ends: a record for each file still open that was written to. */
void smb_files_free(struct worker *w, struct smb_conn *c);

/* A FileId closed on c (its CLOSE request): forgotten by the session's registry too, and
 * refused by smb_adopt until a CREATE hands it out again. */
void smb_fid_closed(struct worker *w, struct smb_conn *c, uint64_t session, const uint8_t fid[16]);
/* A FileId a CREATE response hands out: not closed any more. */
void smb_fid_opened(struct smb_conn *c, const uint8_t fid[16]);

static inline bool smb_fid_eq(const uint8_t *a, const uint8_t *b, size_t n)
{
    return memcmp(a, b, n) == 0;
}

void smb_anomaly(struct worker *w, struct smb_conn *c, enum anomaly_type t, const char *why);
void smb_tree_add(struct worker *w, struct smb_conn *c, uint32_t id, uint64_t session,
                  const char *share, bool ipc);
struct smb_tree *smb_tree_find(struct worker *w, struct smb_conn *c, uint64_t session, uint32_t id);
struct smb_pipe *smb_pipe_by_fid(struct smb_conn *c, const uint8_t *fid, size_t n);
struct smb_pipe *smb_pipe_by_create(struct smb_conn *c, uint64_t msg);
void smb_pend_set_pipe(struct smb_pending *q, const struct smb_pipe *p);
struct smb_pipe *smb_pend_pipe(struct smb_conn *c, const struct smb_pending *q);
void smb_pipe_free(struct worker *w, struct smb_conn *c, struct smb_pipe *p);
/* The user of a session (learned on this connection or another channel), or NULL. */
const struct rpc_identity *smb_identity_of(struct worker *w, struct smb_conn *c, uint64_t session);
void smb_session_learn(struct worker *w, struct smb_conn *c, uint64_t id,
                       const struct rpc_identity *ident);
struct smb_reg_pipe *smb_reg_pipe(struct worker *w, struct smb_conn *c, uint64_t session,
                                  const uint8_t *fid, bool create);
struct smb_pipe *smb_pipe_new(struct worker *w, struct smb_conn *c, const char *name,
                              const char *share, uint64_t session, uint32_t tree);
void smb_pipe_data(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                   const uint8_t *d, size_t n);
/* What the server answered request q with (READ, IOCTL, TransactNmPipe output): what was
 * written to the pipe before q goes first, answered or not; q NULL: everything held. */
void smb_pipe_reply(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                    const uint8_t *d, size_t n, const struct smb_pending *q);
struct smb_pending *smb_pend_add(struct worker *w, struct smb_conn *c, uint64_t msg,
                                 enum pend_kind kind);
struct smb_pending *smb_pend_take(struct smb_conn *c, uint64_t msg);
/* The same, for a request of one kind (an SMB1 AndX chain shares one MID). */
struct smb_pending *smb_pend_take_kind(struct smb_conn *c, uint64_t msg, enum pend_kind kind);

/*
 * What the client writes to pipe p (from ep): held in q until q's answer, when the
 * server's answers are in the capture; otherwise (a one-sided capture, no room) into
 * the pipe at once. smb_answer: q's answer came, with status; ok says whether the
 * data was taken. Data of a pipe leaves in the order written: a later write taken
 * waits for an earlier one still unanswered. smb_pipe_close: the client closed p (its
 * held data still goes, once answered).
 */
void smb_pipe_write(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                    const uint8_t *d, size_t n, struct smb_pending *q, const char *what);
/* A WRITE (or WRITE_ANDX) request msg's data for p: smb_pipe_write with the pending entry
 * of its answer, made here when answers are read. */
void smb_pipe_write_msg(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                        const uint8_t *d, size_t n, uint64_t msg, const char *what);
void smb_answer(struct worker *w, struct smb_conn *c, struct smb_pending *q, bool ok,
                uint32_t status);
void smb_pipe_close(struct worker *w, struct smb_conn *c, struct smb_pipe *p);
/* p's CREATE failed: what was written to it in the same compound was refused too. */
void smb_pipe_discard(struct worker *w, struct smb_conn *c, struct smb_pipe *p);
/* The pending entry of msg, left in place; NULL when none. */
struct smb_pending *smb_pend_find(struct smb_conn *c, uint64_t msg);
void smb_pend_free(struct worker *w, struct smb_pending *q);
bool smb_tree_may_hold_pipes(struct worker *w, struct smb_conn *c, uint64_t session,
                             uint32_t tree_id);
void smb_data_missing(struct worker *w, struct smb_conn *c, struct smb_pipe *p, int ep,
                      const char *what);
struct smb_pipe *smb_adopt(struct worker *w, struct smb_conn *c, const uint8_t *fid, size_t fidlen,
                           uint64_t session, uint32_t tree, const uint8_t *d, size_t n);

/* One SMB2 message (a compound: each command in turn), from ep. */
void smb2_message(struct worker *w, struct smb_conn *c, int ep, const uint8_t *msg, size_t len);
/* One SMB1 message (an AndX chain: each command in turn), from ep. */
void smb1_message(struct worker *w, struct smb_conn *c, int ep, const uint8_t *msg, size_t len);

/*
 * SMB 3 encryption (smb3.c). With no key store (w->cfg->keys NULL) these do
 * nothing; the caller raises smb.encrypted_session for a TRANSFORM_HEADER then.
 *
 * smb3_session_key is the entry point of any mechanism that learns a
 * session's key: NTLMSSP (smb3.c, from the operator's NT hashes) or
 * Kerberos (smb3.c, with a keytab: the AP-REP's subkey, handed at the final
 * SESSION_SETUP response, when the SessionId is known). It
 * derives the encryption keys from key[0, len) (16 bytes for NTLM, up to 32:
 * the full key AES-256 ciphers use) with what connection c negotiated and
 * the session's pre-authentication hash, and keeps them for every channel of
 * the session. A session's first keys stay (re-authentication changes
 * none). False when they cannot be made (the reason is kept for the
 * anomaly of its first encrypted message).
 */
bool smb3_session_key(struct worker *w, struct smb_conn *c, uint64_t session_id, const uint8_t *key,
                      size_t len);
/* A NEGOTIATE request or response: the whole command cmd[0, len), body its part after
 * the header. */
void smb3_negotiate(struct worker *w, struct smb_conn *c, bool response, uint32_t status,
                    const uint8_t *cmd, size_t len, struct rd body);
/* A SESSION_SETUP request or response of session id (0 in a first request), its
 * security buffer blob (may be NULL); binding: a request binding a new channel. */
void smb3_session_setup(struct worker *w, struct smb_conn *c, bool response, uint32_t status,
                        uint64_t id, bool binding, const uint8_t *cmd, size_t len,
                        const uint8_t *blob, size_t blob_len);
/* A TRANSFORM_HEADER message from ep: decrypted, verified and parsed as SMB2, or the
 * smb.encrypted_session anomaly with the reason. */
void smb3_transform(struct worker *w, struct smb_conn *c, int ep, const uint8_t *msg, size_t len);
void smb3_conn_free(struct worker *w, struct smb_conn *c);
/* Frees the worker's table of session keys, every key zeroed. */
void smb3_table_free(struct worker *w);

#endif
