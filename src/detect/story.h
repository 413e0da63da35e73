/* Stories: sequences of calls on one target that add up to an execution. */
#ifndef RPCSENTRY_STORY_H
#define RPCSENTRY_STORY_H

#include "rpcsentry/detect.h"

struct worker;

/* A finished call: may add a piece to a story, and complete it. */
void story_note(struct worker *w, const struct rpc_call *c);

struct smb_file_record;
/* A file written over SMB: a later service binary or task command may name it. */
void story_file(struct worker *w, const struct smb_file_record *f);

/* Reports stories that have their execution but never got their clean-up. */
void story_flush(struct worker *w);

/* Frees the worker's story table. */
void story_free(struct worker *w);

/* Defined in detect.c: writes the story and runs the story rules. */
void detect_story(struct worker *w, const struct rpc_story *s);

#endif
