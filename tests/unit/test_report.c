/*
 * report_parse_time: the timestamps of records (attacker-reachable: a record
 * file may hold anything) and of --since/--until. Expected values are those
 * of Python's datetime for the same strings.
 */
#include <stdint.h>

#include "../../src/output/report_internal.h"
#include "harness.h"

static int64_t at(const char *s, bool end)
{
    int64_t us = -42;
    return report_parse_time(s, end, &us) ? us : INT64_MIN;
}

TEST(report_time_of_records)
{
    CHECK(at("2023-11-15T00:43:20.402471+0000", false) == 1700009000402471LL);
    CHECK(at("2023-11-15T01:43:20.402471+01:00", false) == 1700009000402471LL);
    CHECK(at("2023-11-15 00:43:20.402471Z", false) == 1700009000402471LL);
    CHECK(at("2017-10-09T11:15:00-05:30", false) == 1507567500000000LL);
    CHECK(at("1969-12-31T23:59:59Z", false) == -1000000LL);
    CHECK(at("2000-02-29T12:00:00.5", false) == 951825600500000LL);
    /* digits past the microsecond are dropped, not rounded */
    CHECK(at("2000-02-29T12:00:00.5000009", false) == 951825600500000LL);
    /* the whole record timestamp: end changes nothing */
    CHECK(at("2023-11-15T00:43:20.402471+0000", true) == 1700009000402471LL);
}

TEST(report_time_end_of_period)
{
    CHECK(at("2017-10-09", false) == 1507507200000000LL);
    CHECK(at("2017-10-09", true) == 1507593599999999LL);
    CHECK(at("2017-10-09T16:45", false) == 1507567500000000LL);
    CHECK(at("2017-10-09T16:45", true) == 1507567559999999LL);
    CHECK(at("2017-10-09T16:45:00", true) == 1507567500999999LL);
    CHECK(at("2017-10-09T16:45:00.5", true) == 1507567500599999LL);
}

TEST(report_time_refusals)
{
    const char *bad[] = {"",
                         "yesterday",
                         "2023-11",
                         "2023-13-01",
                         "2023-00-10",
                         "2023-11-32",
                         "2023-11-15T25:00",
                         "2023-11-15T10:60",
                         "2023-11-15T10",
                         "2023-11-15T10:00:",
                         "2023-11-15T10:00:00.",
                         "2023-11-15T10:00:00+1",
                         "2023-11-15T10:00:00+0000x",
                         "2023-11-15x",
                         "+023-11-15",
                         "2023-1a-15"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        int64_t us = -42;
        if (report_parse_time(bad[i], false, &us) || us != -42)
            test_fail(__FILE__, __LINE__, "took \"%s\"", bad[i]);
    }
    int64_t us = -42;
    CHECK(!report_parse_time(NULL, false, &us));
    CHECK(us == -42);
}
