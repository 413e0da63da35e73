/* Telling systemd how the service is doing (Type=notify, WatchdogSec). */
#ifndef RPCSENTRY_NOTIFY_H
#define RPCSENTRY_NOTIFY_H

#include <stdbool.h>
#include <stdint.h>

/* Sends "READY=1", "STATUS=...", "WATCHDOG=1", "STOPPING=1", "RELOADING=1"; false if not under
 * systemd. */
bool notify_systemd(const char *state);

/* The watchdog interval systemd expects pings within, in microseconds; 0 when none. */
uint64_t notify_watchdog_usec(void);

#endif
