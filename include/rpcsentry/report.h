/* `rpcsentry report`: the human summary of EVE files (src/output/report.c). */
#ifndef RPCSENTRY_REPORT_H
#define RPCSENTRY_REPORT_H

#include <stdio.h>

/* argv[0] is "report"; returns the exit status. */
int report_main(int argc, char **argv, FILE *out, FILE *err);

#endif
