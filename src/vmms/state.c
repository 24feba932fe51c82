/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmms/macro.h"
#include "state.h"

static const char *const state_names[_VMMS_STATE_MAX] = {
        [VMMS_STATE_OFF] = "Off",
        [VMMS_STATE_STARTING] = "Starting",
        [VMMS_STATE_RUNNING] = "Running",
        [VMMS_STATE_PAUSED] = "Paused",
        [VMMS_STATE_SAVING] = "Saving",
        [VMMS_STATE_SAVED] = "Saved",
        [VMMS_STATE_STOPPING] = "Stopping",
        [VMMS_STATE_CRITICAL] = "Critical",
};

#define S(x) (1u << VMMS_STATE_##x)
#define ALL_STATES ((1u << _VMMS_STATE_MAX) - 1)

/* The table: which verb each state accepts. */
static const struct {
        const char *name;
        unsigned states;
} verbs[_VMMS_VERB_MAX] = {
        [VMMS_VERB_GET]      = { "get",      ALL_STATES },
        [VMMS_VERB_SET]      = { "set",      S(OFF) | S(CRITICAL) },
        [VMMS_VERB_DELETE]   = { "delete",   S(OFF) | S(SAVED) | S(CRITICAL) },
        [VMMS_VERB_START]    = { "start",    S(OFF) | S(SAVED) | S(CRITICAL) },
        [VMMS_VERB_STOP]     = { "stop",     S(RUNNING) | S(PAUSED) },
        [VMMS_VERB_TURN_OFF] = { "turn off", S(STARTING) | S(RUNNING) | S(PAUSED) | S(STOPPING) |
                                             S(SAVED) | S(CRITICAL) },
        [VMMS_VERB_PAUSE]    = { "pause",    S(RUNNING) },
        [VMMS_VERB_RESUME]   = { "resume",   S(PAUSED) },
        [VMMS_VERB_CONSOLE]  = { "console",  S(STARTING) | S(RUNNING) | S(PAUSED) | S(STOPPING) },
        [VMMS_VERB_KVP]      = { "kvp",      S(RUNNING) | S(PAUSED) },
        [VMMS_VERB_COPY]     = { "copy",     S(RUNNING) },
        [VMMS_VERB_SAVE]     = { "save",     S(RUNNING) | S(PAUSED) },
};

const char *vmms_state_to_string(enum vmms_state s)
{
        return (unsigned)s < _VMMS_STATE_MAX ? state_names[s] : "Unknown";
}

int vmms_state_from_string(const char *s)
{
        for (unsigned i = 0; i < _VMMS_STATE_MAX; i++)
                if (strcmp(state_names[i], s) == 0)
                        return (int)i;
        return -EINVAL;
}

const char *vmms_verb_to_string(enum vmms_verb v)
{
        return (unsigned)v < _VMMS_VERB_MAX ? verbs[v].name : "unknown";
}

bool vmms_verb_allowed(enum vmms_verb v, enum vmms_state s)
{
        return (unsigned)v < _VMMS_VERB_MAX && (unsigned)s < _VMMS_STATE_MAX && (verbs[v].states & (1u << s));
}

const char *vmms_verb_allowed_states(enum vmms_verb v, char *buf, size_t len)
{
        unsigned n = 0, total = 0;
        size_t pos = 0;

        buf[0] = 0;
        if ((unsigned)v >= _VMMS_VERB_MAX)
                return buf;
        for (unsigned i = 0; i < _VMMS_STATE_MAX; i++)
                total += !!(verbs[v].states & (1u << i));
        for (unsigned i = 0; i < _VMMS_STATE_MAX && pos < len; i++) {
                if (!(verbs[v].states & (1u << i)))
                        continue;
                n++;
                pos += (size_t)snprintf(buf + pos, len - pos, "%s%s", n == 1 ? "" : n == total ? " or " : ", ",
                                        state_names[i]);
        }
        return buf;
}

bool vmms_state_has_worker(enum vmms_state s)
{
        return s == VMMS_STATE_STARTING || s == VMMS_STATE_RUNNING || s == VMMS_STATE_PAUSED ||
               s == VMMS_STATE_SAVING || s == VMMS_STATE_STOPPING;
}
