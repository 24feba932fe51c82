/* SPDX-License-Identifier: MIT */
/* The state table: which verb each VM state accepts, written out once more by hand. */
#include "check-main.h"
#include <string.h>

#include "../../src/vmms/state.h"

START_TEST(test_names)
{
        static const char *const names[] = {
                "Off", "Starting", "Running", "Paused", "Saving", "Saved", "Stopping", "Critical",
        };

        ck_assert_int_eq(_VMMS_STATE_MAX, 8);
        for (int i = 0; i < _VMMS_STATE_MAX; i++) {
                ck_assert_str_eq(vmms_state_to_string(i), names[i]);
                ck_assert_int_eq(vmms_state_from_string(names[i]), i);
        }
        ck_assert_int_lt(vmms_state_from_string("off"), 0);
        ck_assert_int_lt(vmms_state_from_string(""), 0);
        ck_assert_str_eq(vmms_state_to_string(_VMMS_STATE_MAX), "Unknown");
}
END_TEST

START_TEST(test_table)
{
        /*                      Off Sta Run Pau Svg Svd Stp Cri */
        static const int expect[_VMMS_VERB_MAX][_VMMS_STATE_MAX] = {
                [VMMS_VERB_GET]      = { 1, 1, 1, 1, 1, 1, 1, 1 },
                [VMMS_VERB_SET]      = { 1, 0, 0, 0, 0, 0, 0, 1 },
                [VMMS_VERB_DELETE]   = { 1, 0, 0, 0, 0, 1, 0, 1 },
                [VMMS_VERB_START]    = { 1, 0, 0, 0, 0, 1, 0, 1 },
                [VMMS_VERB_STOP]     = { 0, 0, 1, 1, 0, 0, 0, 0 },
                [VMMS_VERB_TURN_OFF] = { 0, 1, 1, 1, 0, 1, 1, 1 },
                [VMMS_VERB_PAUSE]    = { 0, 0, 1, 0, 0, 0, 0, 0 },
                [VMMS_VERB_RESUME]   = { 0, 0, 0, 1, 0, 0, 0, 0 },
                [VMMS_VERB_CONSOLE]  = { 0, 1, 1, 1, 0, 0, 1, 0 },
                [VMMS_VERB_KVP]      = { 0, 0, 1, 1, 0, 0, 0, 0 },
                [VMMS_VERB_COPY]     = { 0, 0, 1, 0, 0, 0, 0, 0 },
                [VMMS_VERB_SAVE]     = { 0, 0, 1, 1, 0, 0, 0, 0 },
        };

        for (int v = 0; v < _VMMS_VERB_MAX; v++)
                for (int s = 0; s < _VMMS_STATE_MAX; s++)
                        ck_assert_msg(vmms_verb_allowed(v, s) == (bool)expect[v][s], "%s in %s: table says %d",
                                      vmms_verb_to_string(v), vmms_state_to_string(s), vmms_verb_allowed(v, s));
        /* Out of range is never allowed. */
        ck_assert(!vmms_verb_allowed(_VMMS_VERB_MAX, VMMS_STATE_OFF));
        ck_assert(!vmms_verb_allowed(VMMS_VERB_GET, _VMMS_STATE_MAX));
}
END_TEST

START_TEST(test_messages)
{
        char buf[128];

        ck_assert_str_eq(vmms_verb_allowed_states(VMMS_VERB_DELETE, buf, sizeof(buf)), "Off, Saved or Critical");
        ck_assert_str_eq(vmms_verb_allowed_states(VMMS_VERB_PAUSE, buf, sizeof(buf)), "Running");
        ck_assert_str_eq(vmms_verb_allowed_states(VMMS_VERB_STOP, buf, sizeof(buf)), "Running or Paused");
        ck_assert_str_eq(vmms_verb_allowed_states(VMMS_VERB_SET, buf, sizeof(buf)), "Off or Critical");
        ck_assert_str_eq(vmms_verb_to_string(VMMS_VERB_TURN_OFF), "turn off");
        /* A short buffer is cut, never overrun. */
        ck_assert_uint_lt(strlen(vmms_verb_allowed_states(VMMS_VERB_GET, buf, 8)), 8);
}
END_TEST

START_TEST(test_worker_states)
{
        ck_assert(!vmms_state_has_worker(VMMS_STATE_OFF));
        ck_assert(vmms_state_has_worker(VMMS_STATE_STARTING));
        ck_assert(vmms_state_has_worker(VMMS_STATE_RUNNING));
        ck_assert(vmms_state_has_worker(VMMS_STATE_PAUSED));
        ck_assert(vmms_state_has_worker(VMMS_STATE_STOPPING));
        ck_assert(!vmms_state_has_worker(VMMS_STATE_SAVED));
        ck_assert(!vmms_state_has_worker(VMMS_STATE_CRITICAL));
}
END_TEST

CHECK_MAIN("vmms-state", test_names, test_table, test_messages, test_worker_states)
