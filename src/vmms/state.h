/* SPDX-License-Identifier: MIT */
/*
 * VM states (Hyper-V's names) and the one table that says which API verb is allowed in
 * which state. A verb in a wrong state is answered at once with an error naming the state.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

enum vmms_state {
        VMMS_STATE_OFF,
        VMMS_STATE_STARTING,
        VMMS_STATE_RUNNING,
        VMMS_STATE_PAUSED,
        VMMS_STATE_SAVING,
        VMMS_STATE_SAVED,
        VMMS_STATE_STOPPING,
        VMMS_STATE_CRITICAL,    /* the worker died or the guest crashed; the VM keeps the reason */
        _VMMS_STATE_MAX,
};

enum vmms_verb {
        VMMS_VERB_GET,          /* vm.get, vm.list */
        VMMS_VERB_SET,          /* vm.set */
        VMMS_VERB_DELETE,       /* vm.delete */
        VMMS_VERB_START,        /* vm.start */
        VMMS_VERB_STOP,         /* vm.stop: the graceful shutdown */
        VMMS_VERB_TURN_OFF,     /* vm.stop {turn_off: true} */
        VMMS_VERB_PAUSE,        /* vm.pause */
        VMMS_VERB_RESUME,       /* vm.resume */
        VMMS_VERB_CONSOLE,      /* vm.console */
        VMMS_VERB_KVP,          /* vm.kvp.get, vm.kvp.set, vm.kvp.delete */
        VMMS_VERB_COPY,         /* vm.copy_to */
        VMMS_VERB_SAVE,         /* vm.save */
        _VMMS_VERB_MAX,
};

const char *vmms_state_to_string(enum vmms_state s);
int vmms_state_from_string(const char *s);
const char *vmms_verb_to_string(enum vmms_verb v);
bool vmms_verb_allowed(enum vmms_verb v, enum vmms_state s);
/* "Off, Saved or Critical": the states a verb accepts, for messages. */
const char *vmms_verb_allowed_states(enum vmms_verb v, char *buf, size_t len);
/* A worker runs (or is being started or stopped) in this state. */
bool vmms_state_has_worker(enum vmms_state s);
