/* SPDX-License-Identifier: MIT */
/*
 * Scope-bound cleanup for json-c objects. Apart from cleanup.h so that the layers that
 * never see JSON (the transport, the device models) do not depend on json-c.
 */
#pragma once

#include <json-c/json.h>

#include "vmms/cleanup.h"

static inline void json_object_putp(struct json_object **o) { if (*o) json_object_put(*o); }
#define _cleanup_json_ _cleanup_(json_object_putp)
