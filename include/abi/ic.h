/* SPDX-License-Identifier: MIT */
/*
 * Integration services (IC): the guest/host contract of heartbeat, shutdown, time sync,
 * key-value exchange (KVP) and file copy, spoken over the named ports of a virtio-console
 * multiport device. The whole protocol is described in vmms-ic(7); this header holds its
 * names, limits and codes, shared by the host (src/vsp/ic*.c), the bundled guest kernel
 * (guest/kernel/ic*.c) and the Linux guest daemon (guest/linux/vmic).
 *
 * Framing, on every port: UTF-8 text, one JSON object per line ending in "\n" (a "\r"
 * before it is tolerated). Objects are flat: member values are strings, integers (no
 * fraction, no exponent, within int64), true, false or null; never objects or arrays.
 * At most IC_MSG_MEMBERS_MAX members with names of at most IC_MSG_NAME_MAX bytes, no
 * duplicate names; every object has a "type" string. Unknown members are ignored, unknown
 * types are answered with an error (IC_ERR_UNKNOWN_TYPE).
 *
 * Each service starts with the guest: once it opens the port it sends
 *   {"type":"hello","version":V,"agent":"..."}
 * and the host answers {"type":"hello","version":N,"service":"NAME",...} with
 * N = min(V, IC_PROTOCOL_VERSION), or an error IC_ERR_VERSION when V < IC_PROTOCOL_VERSION_MIN.
 * Nothing else is sent by either side before the hello exchange.
 *
 * Only <stdint.h> and friends: this header is compiled hosted and freestanding.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IC_PROTOCOL_VERSION           1u
#define IC_PROTOCOL_VERSION_MIN       1u

/* Services, in port order. The device assigns port ids; guests find ports by name. */
enum ic_service {
        IC_SVC_HEARTBEAT,
        IC_SVC_SHUTDOWN,
        IC_SVC_TIMESYNC,
        IC_SVC_KVP,
        IC_SVC_FCOPY,
        IC_SVC_COUNT,
};

#define IC_PORT_PREFIX                "org.vmms."
#define IC_PORT_HEARTBEAT             "org.vmms.heartbeat"
#define IC_PORT_SHUTDOWN              "org.vmms.shutdown"
#define IC_PORT_TIMESYNC              "org.vmms.timesync"
#define IC_PORT_KVP                   "org.vmms.kvp"
#define IC_PORT_FCOPY                 "org.vmms.fcopy"
#define IC_PORT_NAME_MAX              32u

/* The host's device: port ids 1..IC_SVC_COUNT, max_nr_ports = IC_SVC_COUNT + 1. */
#define IC_CONSOLE_FIRST_PORT         1u
#define IC_CONSOLE_MAX_PORTS          (IC_CONSOLE_FIRST_PORT + IC_SVC_COUNT)

/* --- framing limits ---------------------------------------------------------------- */
#define IC_LINE_MAX                   16384u    /* bytes per line incl. "\n", but fcopy */
#define IC_FCOPY_LINE_MAX             66560u    /* bytes per line on org.vmms.fcopy */
#define IC_MSG_MEMBERS_MAX            16u
#define IC_MSG_NAME_MAX               32u       /* member name, bytes */
#define IC_AGENT_MAX                  128u      /* hello "agent", bytes */

/*
 * What the host accepts from a guest on one port before it pushes back (it stops taking
 * the guest's buffers until the budget refills) and what it counts as misbehaviour.
 * IC_DEGRADED_VIOLATIONS violations (bad JSON, over-long lines, values over their limits,
 * unknown or unexpected messages) within IC_DEGRADED_WINDOW_MS mark the service degraded
 * for IC_DEGRADED_HOLD_MS: the host then drops everything the guest sends on that port.
 */
#define IC_RATE_LINES_PER_SEC         200u
#define IC_RATE_LINES_BURST           400u
#define IC_RATE_BYTES_PER_SEC         (4u << 20)
#define IC_RATE_BYTES_BURST           (1u << 20)
#define IC_DEGRADED_VIOLATIONS        20u
#define IC_DEGRADED_WINDOW_MS         10000u
#define IC_DEGRADED_HOLD_MS           30000u

/* --- message types ("type") ---------------------------------------------------------- */
#define IC_MSG_HELLO                  "hello"   /* all: both ways */
#define IC_MSG_ERROR                  "error"   /* all: both ways */
#define IC_MSG_ACK                    "ack"     /* all: both ways */
#define IC_MSG_PING                   "ping"    /* heartbeat: host → guest */
#define IC_MSG_PONG                   "pong"    /* heartbeat: guest → host */
#define IC_MSG_SHUTDOWN               "shutdown" /* shutdown: host → guest */
#define IC_MSG_TIME                   "time"    /* timesync: host → guest */
#define IC_MSG_REQUEST                "request" /* timesync: guest → host */
#define IC_MSG_SET                    "set"     /* kvp: both ways */
#define IC_MSG_DELETE                 "delete"  /* kvp: both ways */
#define IC_MSG_GET                    "get"     /* kvp: host → guest */
#define IC_MSG_VALUE                  "value"   /* kvp: guest → host */
#define IC_MSG_START                  "start"   /* fcopy: host → guest */
#define IC_MSG_DATA                   "data"    /* fcopy: host → guest */
#define IC_MSG_END                    "end"     /* fcopy: host → guest */
#define IC_MSG_CANCEL                 "cancel"  /* fcopy: host → guest */
#define IC_MSG_DONE                   "done"    /* fcopy: guest → host */
#define IC_MSG_STAT                   "stat"    /* fcopy: both ways */

/* --- error codes ("error" member of an error message) --------------------------------- */
#define IC_ERR_BAD_MESSAGE            1u        /* not a valid line/object, member missing or mistyped */
#define IC_ERR_UNKNOWN_TYPE           2u        /* "type" not known on this port */
#define IC_ERR_VERSION                3u        /* no common protocol version */
#define IC_ERR_TOO_LARGE              4u        /* a key, value, path or line over its limit */
#define IC_ERR_NOT_FOUND              5u        /* no such key or file */
#define IC_ERR_NO_SPACE               6u        /* pool or file table full, disk full */
#define IC_ERR_ACCESS                 7u        /* the guest refuses the path or operation */
#define IC_ERR_INVALID_PATH           8u        /* not absolute, "..", missing directory */
#define IC_ERR_CHECKSUM               9u        /* CRC-32 of a chunk or file does not match */
#define IC_ERR_SEQUENCE               10u       /* chunk out of order, unknown transfer id */
#define IC_ERR_BUSY                   11u       /* another transfer or request is running */
#define IC_ERR_EXISTS                 12u       /* the file exists and "overwrite" is false */
#define IC_ERR_IO                     13u       /* an I/O error on either side */
#define IC_ERR_REFUSED                14u       /* the guest refuses to shut down */
#define IC_ERR_CANCELLED              15u       /* the transfer was cancelled */
#define IC_ERR_TIMEOUT                16u       /* no answer in time (host-side only) */
#define IC_ERR_NOT_CONNECTED          17u       /* the port closed (host-side only) */
#define IC_ERR_MAX                    17u

/* --- heartbeat ------------------------------------------------------------------------ */
/*
 * host → guest  {"type":"ping","seq":N}  every IC_HEARTBEAT_INTERVAL_MS once connected
 * guest → host  {"type":"pong","seq":N[,"status":"ok"|"critical"]}
 * The host shows OK while a pong arrived within IC_HEARTBEAT_LOST_INTERVALS intervals,
 * Lost after that, No contact while the service never connected since the port opened.
 */
#define IC_HEARTBEAT_INTERVAL_MS      2000u
#define IC_HEARTBEAT_LOST_INTERVALS   3u
#define IC_HEARTBEAT_STATUS_OK        "ok"
#define IC_HEARTBEAT_STATUS_CRITICAL  "critical"

/* --- shutdown ------------------------------------------------------------------------- */
/*
 * host → guest  {"type":"shutdown","id":N,"action":"poweroff"|"reboot","reason":"..."}
 * guest → host  {"type":"ack","id":N}, then it shuts down; or an error (IC_ERR_REFUSED).
 */
#define IC_SHUTDOWN_POWEROFF          "poweroff"
#define IC_SHUTDOWN_REBOOT            "reboot"
#define IC_SHUTDOWN_REASON_MAX        256u
#define IC_SHUTDOWN_ACK_TIMEOUT_MS    5000u

/* --- timesync ------------------------------------------------------------------------- */
/*
 * host → guest  {"type":"time","seq":N,"sec":S,"nsec":NS,"reason":R}  UTC (Unix epoch)
 * guest → host  {"type":"ack","seq":N,"offset_ms":GUEST_MINUS_HOST,"action":"step"|"slew"|"none"}
 * guest → host  {"type":"request"}  asks for a "time" now (at most one per second)
 * A guest steps its clock when it is off by more than IC_TIMESYNC_STEP_MS, else slews.
 */
#define IC_TIMESYNC_START             "start"
#define IC_TIMESYNC_RESUME            "resume"
#define IC_TIMESYNC_PERIODIC          "periodic"
#define IC_TIMESYNC_ON_REQUEST        "request"
#define IC_TIMESYNC_PERIOD_MS         60000u
#define IC_TIMESYNC_STEP_MS           1000u

/* --- kvp ------------------------------------------------------------------------------ */
/*
 * Two pools: "host" (written by the host, read by the guest) and "guest" (written by the
 * guest, read by the host). Keys: 1 to IC_KVP_KEY_MAX bytes of [A-Za-z0-9._:-]; values:
 * 0 to IC_KVP_VALUE_MAX bytes of UTF-8 without NUL; at most IC_KVP_POOL_MAX keys a pool.
 *
 * host → guest  {"type":"set","pool":"host","key":K,"value":V,"id":N}   → ack / error
 * host → guest  {"type":"delete","pool":"host","key":K,"id":N}          → ack / error
 * host → guest  {"type":"get","pool":"host"|"guest","key":K,"id":N}
 *                                  → {"type":"value","id":N,"key":K,"value":V} / error
 * guest → host  {"type":"set","pool":"guest","key":K,"value":V[,"id":N]} → ack/error if id
 * guest → host  {"type":"delete","pool":"guest","key":K[,"id":N]}
 * After the hello the host sends its whole pool as "set" messages.
 */
#define IC_KVP_POOL_HOST              "host"
#define IC_KVP_POOL_GUEST             "guest"
#define IC_KVP_KEY_MAX                256u
#define IC_KVP_VALUE_MAX              2048u
#define IC_KVP_POOL_MAX               128u
/* What a guest reports about itself (guest pool). */
#define IC_KVP_OS_NAME                "OSName"
#define IC_KVP_OS_VERSION             "OSVersion"
#define IC_KVP_OS_KERNEL              "OSKernelVersion"
#define IC_KVP_HOSTNAME               "FullyQualifiedDomainName"
#define IC_KVP_IPV4                   "NetworkAddressIPv4"      /* ";"-separated */
#define IC_KVP_IPV6                   "NetworkAddressIPv6"      /* ";"-separated */
#define IC_KVP_AGENT                  "IntegrationServicesVersion"

static inline bool ic_kvp_key_char_ok(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               c == '.' || c == '_' || c == ':' || c == '-';
}

static inline bool ic_kvp_key_valid(const char *k, size_t len)
{
        if (len < 1 || len > IC_KVP_KEY_MAX)
                return false;
        for (size_t i = 0; i < len; i++)
                if (!ic_kvp_key_char_ok(k[i]))
                        return false;
        return true;
}

/* --- fcopy ---------------------------------------------------------------------------- */
/*
 * host → guest  {"type":"start","id":T,"path":P,"size":N,"mode":M,"overwrite":B,"mkdirs":B}
 *                                        → {"type":"ack","id":T} / error
 * host → guest  {"type":"data","id":T,"seq":S,"offset":O,"size":L,"crc32":C,"data":BASE64}
 *                                        → {"type":"ack","id":T,"seq":S} / error
 *               S counts from 0; at most IC_FCOPY_WINDOW chunks are unacknowledged;
 *               L <= IC_FCOPY_CHUNK; C is the CRC-32 of the L decoded bytes.
 * host → guest  {"type":"end","id":T,"size":N,"crc32":C}   C over the whole file
 *                                        → {"type":"done","id":T,"size":N,"crc32":C} / error
 * host → guest  {"type":"cancel","id":T} → {"type":"ack","id":T}
 * host → guest  {"type":"stat","id":T,"path":P}
 *                                        → {"type":"stat","id":T,"path":P,"size":N,"crc32":C}
 * An error from the guest ends the transfer; so does the port closing.
 */
#define IC_FCOPY_CHUNK                49152u    /* raw bytes per "data" (65536 in base64) */
#define IC_FCOPY_WINDOW               4u
#define IC_FCOPY_PATH_MAX             1024u
#define IC_FCOPY_TIMEOUT_MS           30000u    /* no progress for this long: IC_ERR_TIMEOUT */

/* Base64 (RFC 4648, with padding) sizes. */
#define IC_BASE64_LEN(n)              ((((n) + 2u) / 3u) * 4u)

/*
 * CRC-32 (IEEE 802.3, reflected, polynomial 0xEDB88320, as zlib's crc32()): start with
 * crc = 0 and feed the bytes in order, ic_crc32(ic_crc32(0, a, n), b, m) == crc32(a || b).
 */
static inline uint32_t ic_crc32(uint32_t crc, const void *data, size_t len)
{
        static const uint32_t nibble[16] = {
                0x00000000, 0x1db71064, 0x3b6e20c8, 0x26d930ac, 0x76dc4190, 0x6b6b51f4,
                0x4db26158, 0x5005713c, 0xedb88320, 0xf00f9344, 0xd6d6a3e8, 0xcb61b38c,
                0x9b64c2b0, 0x86d3d2d4, 0xa00ae278, 0xbdbdf21c,
        };
        const uint8_t *p = data;

        crc = ~crc;
        while (len--) {
                crc ^= *p++;
                crc = (crc >> 4) ^ nibble[crc & 15];
                crc = (crc >> 4) ^ nibble[crc & 15];
        }
        return ~crc;
}
