/* SPDX-License-Identifier: MIT */
/*
 * The guest's report protocol: lines on the serial console that tests and benchmarks parse.
 *
 *   #VMMS ready scenario=NAME vcpus=N mem_mib=M
 *   #VMMS info key=value ...
 *   #VMMS metric name=NAME value=NUMBER unit=UNIT
 *   #VMMS assert file=FILE line=N msg=TEXT     (a failed check inside the guest)
 *   #VMMS result scenario=NAME status=pass|fail|skip [reason=TEXT]
 *
 * Every report line starts with REPORT_PREFIX, fields are space-separated key=value pairs,
 * and the free text of msg=/reason= runs to the end of the line.
 */
#pragma once

#define REPORT_PREFIX        "#VMMS "
#define REPORT_READY         "ready"
#define REPORT_INFO          "info"
#define REPORT_METRIC        "metric"
#define REPORT_ASSERT        "assert"
#define REPORT_RESULT        "result"
#define REPORT_STATUS_PASS   "pass"
#define REPORT_STATUS_FAIL   "fail"
#define REPORT_STATUS_SKIP   "skip"
