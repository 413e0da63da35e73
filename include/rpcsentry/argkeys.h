/*
 * The record floor's argument keys: the names decoders give the arguments that
 * stories, the report and the rule shortcuts look for. A key renamed here is
 * renamed everywhere; a key misspelt where it is used does not compile.
 * ARGS(key) is a key's path from the top of a call's arguments, as args_get()
 * and the rules' rpc.arg take it ("args.binary_path").
 */
#ifndef RPCSENTRY_ARGKEYS_H
#define RPCSENTRY_ARGKEYS_H

#define ARG_SERVICE_NAME "service_name" /* svcctl: the service */
#define ARG_BINARY_PATH "binary_path"   /* svcctl: its command line */
#define ARG_START_NAME "start_name"     /* svcctl: the account it runs as */
#define ARG_PATH "path"                 /* tsch: the task's path */
#define ARG_TASK "task"                 /* tsch: the task's XML, decoded */
#define ARG_ACTIONS "actions"           /* a task's actions; svcctl: failure actions */
#define ARG_COMMAND "command"           /* an action's command; atsvc: the job's */
#define ARG_ARGUMENTS "arguments"       /* an action's arguments */
#define ARG_SERVICE_DLL "service_dll"   /* winreg: a service's ServiceDll value */
#define ARG_HIDDEN_BY "hidden_by"       /* winreg: how a task was hidden ("SD deleted") */
#define ARG_HIVE_SAVED "hive_saved"     /* winreg: a key saved to a file (BaseRegSaveKey) */

#define ARGS(key) "args." key
#define ARG_TASK_ACTIONS ARG_TASK "." ARG_ACTIONS

#endif
