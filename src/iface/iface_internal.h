/* Shared by the interface tables in src/iface: the registry's view of them. */
#ifndef RPCSENTRY_IFACE_INTERNAL_H
#define RPCSENTRY_IFACE_INTERNAL_H

#include "rpcsentry/iface.h"

extern const struct iface_def iface_tsch;
extern const struct iface_def iface_atsvc;
extern const struct iface_def iface_sasec;
extern const struct iface_def iface_svcctl;
/* iface_epm is public: the engine and the endpoint mapper tracking use it */

/* Interfaces named for context only (no target operations), in common.c. */
extern const struct iface_def iface_common[];
extern const size_t iface_common_count;

#endif
