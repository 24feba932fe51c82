/* SPDX-License-Identifier: MIT */
/*
 * A virtual NIC's configuration, shared by vmwp's command line, vmctl and the VM's JSON
 * document (key "nics": an array of objects with keys tap, mac, queues, bridge, switch):
 *
 *   tap=NAME[,mac=XX:XX:XX:XX:XX:XX][,queues=N][,bridge=BR]
 *   fd=N[:N...][,mac=...]          TAPs opened by someone else (vmms): one fd per queue pair
 *   switch=NAME[,mac=...][,queues=N]   a vmms virtual switch; vmms turns it into TAP fds
 *
 * tap= opens (or creates) the TAP interface NAME in the worker's network namespace;
 * bridge= then attaches it to the Linux bridge BR. Without mac= the worker derives a
 * stable, locally administered address from the VM's name and the NIC's index.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct json_object;

#define NIC_QUEUES_MAX   16u     /* queue pairs */
#define NIC_IFNAME_MAX   15u     /* IFNAMSIZ - 1 */
#define NIC_MAC_LEN      6u
#define NIC_MAC_STRLEN   18u     /* "xx:xx:xx:xx:xx:xx" + NUL */

struct nic_config {
        char *tap;              /* interface name to open, or NULL */
        int fds[NIC_QUEUES_MAX];/* fd=: open TAP fds, one per queue pair */
        unsigned n_fds;         /* 0: open tap by name */
        char *bridge;           /* attach the TAP to this bridge, or NULL */
        char *switch_name;      /* a vmms switch, or NULL */
        uint8_t mac[NIC_MAC_LEN];
        bool has_mac;
        unsigned queues;        /* queue pairs, 1..NIC_QUEUES_MAX */
};

/* Defaults: nothing attached, no fds, no MAC, one queue pair. */
void nic_config_init(struct nic_config *c);
/* Frees the names; does not close fds (whoever passed them owns them). */
void nic_config_done(struct nic_config *c);
/* Deep copy (fds are copied as numbers, not duplicated). */
int nic_config_copy(const struct nic_config *src, struct nic_config *ret);

/*
 * Parse the command-line syntax into *ret (initialised here). On failure returns -EINVAL
 * (or -ENOMEM) and writes a message that names the bad option to err.
 */
int nic_config_parse(const char *s, char *err, size_t err_len, struct nic_config *ret);
/* Cross-field rules: exactly one of tap/fd/switch, queues vs fds. Same messages. */
int nic_config_validate(const struct nic_config *c, char *err, size_t err_len);

/* Field setters shared with the JSON reader; the messages name the key. */
int nic_config_set_mac(struct nic_config *c, const char *s, char *err, size_t err_len);
int nic_config_set_queues(struct nic_config *c, unsigned long long n, char *err, size_t err_len);
int nic_config_set_tap(struct nic_config *c, const char *s, char *err, size_t err_len);
int nic_config_set_bridge(struct nic_config *c, const char *s, char *err, size_t err_len);
int nic_config_set_switch(struct nic_config *c, const char *s, char *err, size_t err_len);

/* One element of "nics" (key names it in messages, e.g. "nics[0]"), and back. */
int nic_config_from_json(struct json_object *o, const char *key, char *err, size_t err_len,
                         struct nic_config *ret);
int nic_config_to_json(const struct nic_config *c, struct json_object **ret);

/* "52:54:00:12:34:56" (also with '-'); -EINVAL if malformed. */
int nic_mac_parse(const char *s, uint8_t ret[NIC_MAC_LEN]);
const char *nic_mac_format(const uint8_t mac[NIC_MAC_LEN], char buf[NIC_MAC_STRLEN]);
/* A unicast, non-zero address. */
bool nic_mac_is_valid_unicast(const uint8_t mac[NIC_MAC_LEN]);
/* A locally administered unicast address: stable for (seed, index), random if seed is NULL. */
void nic_mac_derive(const char *seed, unsigned index, uint8_t ret[NIC_MAC_LEN]);
/* An interface name the kernel accepts: 1..15 bytes, no '/', ':' or whitespace. */
bool nic_ifname_is_valid(const char *s);
