/* SPDX-License-Identifier: MIT */
/*
 * Key-value exchange (vmms-ic(7)): the host pool (the host writes, the guest reads) and
 * the guest pool (the guest writes, the host keeps a copy). Every key and value is checked
 * against the limits of abi/ic.h on the way in, from either side.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmms/macro.h"
#include "ic_internal.h"

static int pool_find(const struct ic_kvp_pool *pool, const char *key)
{
        for (unsigned i = 0; i < pool->n; i++)
                if (strcmp(pool->e[i]->key, key) == 0)
                        return (int)i;
        return -ENOENT;
}

static void entry_free(struct ic_kvp_entry *e)
{
        if (!e)
                return;
        free(e->key);
        free(e->value);
        free(e);
}

static void pool_remove(struct ic_kvp_pool *pool, unsigned i)
{
        entry_free(pool->e[i]);
        memmove(&pool->e[i], &pool->e[i + 1], (pool->n - i - 1) * sizeof(pool->e[0]));
        pool->n--;
}

static void pool_clear(struct ic_kvp_pool *pool)
{
        while (pool->n > 0)
                pool_remove(pool, pool->n - 1);
}

/* Insert or replace; the entry is returned marked dirty. */
static int pool_set(struct ic_kvp_pool *pool, const char *key, size_t key_len, const char *value,
                    size_t value_len, struct ic_kvp_entry **ret)
{
        struct ic_kvp_entry *e;
        char *v = strndup(value, value_len);
        int i;

        if (!v)
                return -ENOMEM;
        for (i = 0; i < (int)pool->n; i++)
                if (strlen(pool->e[i]->key) == key_len && memcmp(pool->e[i]->key, key, key_len) == 0)
                        break;
        if (i < (int)pool->n) {
                e = pool->e[i];
                free(e->value);
        } else {
                if (pool->n >= IC_KVP_POOL_MAX) {
                        free(v);
                        return -ENOSPC;
                }
                e = calloc(1, sizeof(*e));
                if (!e || !(e->key = strndup(key, key_len))) {
                        free(e);
                        free(v);
                        return -ENOMEM;
                }
                pool->e[pool->n++] = e;
        }
        e->value = v;
        e->dirty = true;
        e->deleted = false;
        if (ret)
                *ret = e;
        return 0;
}

static void drop_tombstones(struct ic_kvp_pool *pool)
{
        for (unsigned i = pool->n; i > 0; i--)
                if (pool->e[i - 1]->deleted)
                        pool_remove(pool, i - 1);
}

static bool host_dirty(struct vsp_ic *ic)
{
        for (unsigned i = 0; i < ic->kvp.host.n; i++)
                if (ic->kvp.host.e[i]->dirty)
                        return true;
        return false;
}

static void query_answer(struct vsp_ic *ic, struct ic_pending *q, unsigned error, const char *text,
                         const char *value, size_t value_len)
{
        struct vsp_ic_event *ev = ic_event_new(ic, VSP_IC_EVENT_KVP);

        ev->svc = IC_SVC_KVP;
        ev->id = q->id;
        ev->error = error;
        snprintf(ev->key, sizeof(ev->key), "%s", q->key);
        if (error)
                ic_event_message(ev, "%s", text);
        else if (value)
                ev->value = strndup(value, value_len);  /* NULL when out of memory: reads as "" */
        q->id = 0;
}

void ic_kvp_connect(struct vsp_ic *ic, bool connected)
{
        if (connected) {
                /* A new session: the guest reports afresh and gets the whole host pool. */
                pool_clear(&ic->kvp.guest);
                drop_tombstones(&ic->kvp.host);
                for (unsigned i = 0; i < ic->kvp.host.n; i++)
                        ic->kvp.host.e[i]->dirty = true;
                return;
        }
        drop_tombstones(&ic->kvp.host);
        for (unsigned i = 0; i < IC_KVP_QUERIES_MAX; i++)
                if (ic->kvp.queries[i].id)
                        query_answer(ic, &ic->kvp.queries[i], IC_ERR_NOT_CONNECTED,
                                     "the guest closed the kvp service", NULL, 0);
}

/* Send what changed in the host pool while the ring has room for a whole line. */
void ic_kvp_pump(struct vsp_ic *ic)
{
        struct ic_port *p = &ic->port[IC_SVC_KVP];

        for (unsigned i = 0; i < ic->kvp.host.n; i++) {
                struct ic_kvp_entry *e = ic->kvp.host.e[i];
                struct ic_writer w;
                uint64_t id;

                if (!e->dirty)
                        continue;
                if (ic_ring_free(&p->out) < IC_LINE_MAX)
                        return;
                id = ic_new_id(ic);
                ic_begin(ic, &w, e->deleted ? IC_MSG_DELETE : IC_MSG_SET);
                ic_writer_cstr(&w, "pool", IC_KVP_POOL_HOST);
                ic_writer_cstr(&w, "key", e->key);
                if (!e->deleted)
                        ic_writer_cstr(&w, "value", e->value);
                ic_writer_int(&w, "id", (int64_t)id);
                if (ic_send(ic, p, &w) < 0)
                        return;
                ic->kvp.last_set_id = id;
                e->dirty = false;
                if (e->deleted) {
                        pool_remove(&ic->kvp.host, i);
                        i--;
                }
        }
}

static void guest_set(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m, uint64_t id, bool del)
{
        const char *pool, *key, *value = NULL;
        size_t key_len, value_len = 0;
        int r;

        if (ic_msg_get_str(m, "pool", 16, &pool, NULL) < 0 || strcmp(pool, IC_KVP_POOL_GUEST) != 0) {
                ic_violation(ic, p, "kvp write outside the guest pool");
                ic_reply_error(ic, p, id, IC_ERR_ACCESS, "the guest writes only the \"guest\" pool");
                return;
        }
        r = ic_msg_get_str(m, "key", IC_KVP_KEY_MAX, &key, &key_len);
        if (r < 0 || !ic_kvp_key_valid(key, key_len)) {
                ic_violation(ic, p, r == -E2BIG ? "kvp key too long" : "bad kvp key");
                ic_reply_error(ic, p, id, r == -E2BIG ? IC_ERR_TOO_LARGE : IC_ERR_BAD_MESSAGE,
                               "keys are 1 to %u bytes of [A-Za-z0-9._:-]", IC_KVP_KEY_MAX);
                return;
        }
        if (del) {
                r = pool_find(&ic->kvp.guest, key);
                if (r < 0) {
                        ic_reply_error(ic, p, id, IC_ERR_NOT_FOUND, "no such key");
                        return;
                }
                pool_remove(&ic->kvp.guest, (unsigned)r);
        } else {
                r = ic_msg_get_str(m, "value", IC_KVP_VALUE_MAX, &value, &value_len);
                if (r < 0) {
                        ic_violation(ic, p, r == -E2BIG ? "kvp value too large" : "kvp set without a value");
                        ic_reply_error(ic, p, id, r == -E2BIG ? IC_ERR_TOO_LARGE : IC_ERR_BAD_MESSAGE,
                                       "values are strings of at most %u bytes", IC_KVP_VALUE_MAX);
                        return;
                }
                r = pool_set(&ic->kvp.guest, key, key_len, value, value_len, NULL);
                if (r == -ENOSPC)
                        ic_violation(ic, p, "kvp guest pool full");
                if (r < 0) {
                        ic_reply_error(ic, p, id, r == -ENOSPC ? IC_ERR_NO_SPACE : IC_ERR_IO,
                                       r == -ENOSPC ? "the pool holds at most %u keys" : "out of memory (%u)",
                                       IC_KVP_POOL_MAX);
                        return;
                }
        }
        if (id) {
                struct ic_writer w;

                ic_begin(ic, &w, IC_MSG_ACK);
                ic_writer_int(&w, "id", (int64_t)id);
                (void)ic_send(ic, p, &w);
        }
}

static struct ic_pending *query_find(struct vsp_ic *ic, uint64_t id)
{
        for (unsigned i = 0; id && i < IC_KVP_QUERIES_MAX; i++)
                if (ic->kvp.queries[i].id == id)
                        return &ic->kvp.queries[i];
        return NULL;
}

void ic_kvp_message(struct vsp_ic *ic, struct ic_port *p, const struct ic_msg *m)
{
        uint64_t id = ic_msg_id(m);
        struct ic_pending *q = query_find(ic, id);

        if (ic_msg_is(m, IC_MSG_SET) || ic_msg_is(m, IC_MSG_DELETE)) {
                guest_set(ic, p, m, id, ic_msg_is(m, IC_MSG_DELETE));
        } else if (ic_msg_is(m, IC_MSG_VALUE)) {
                const char *value;
                size_t len;
                int r;

                if (!q) {
                        ic_violation(ic, p, "kvp value for no query");
                        return;
                }
                r = ic_msg_get_str(m, "value", IC_KVP_VALUE_MAX, &value, &len);
                if (r < 0) {
                        ic_violation(ic, p, "kvp value without a valid value");
                        query_answer(ic, q, r == -E2BIG ? IC_ERR_TOO_LARGE : IC_ERR_BAD_MESSAGE,
                                     "the guest answered with a bad value", NULL, 0);
                        return;
                }
                query_answer(ic, q, 0, NULL, value, len);
        } else if (ic_msg_is(m, IC_MSG_ERROR)) {
                unsigned code;
                const char *text;

                ic_msg_error(m, &code, &text);
                if (q) {
                        query_answer(ic, q, code, text, NULL, 0);
                } else if (id && id <= ic->kvp.last_set_id) {
                        struct vsp_ic_event *ev = ic_event_new(ic, VSP_IC_EVENT_KVP);

                        ev->svc = IC_SVC_KVP;
                        ev->id = id;
                        ev->error = code;
                        ic_event_message(ev, "the guest refused a host pool update: %s", text);
                }
        } else if (ic_msg_is(m, IC_MSG_ACK)) {
                if (!id || id > ic->kvp.last_set_id)
                        ic_violation(ic, p, "kvp ack for nothing sent");
        } else {
                ic_unknown_type(ic, p, m);
        }
}

void ic_kvp_tick(struct vsp_ic *ic, uint64_t now, uint64_t *next)
{
        for (unsigned i = 0; i < IC_KVP_QUERIES_MAX; i++) {
                struct ic_pending *q = &ic->kvp.queries[i];

                if (!q->id)
                        continue;
                if (now >= q->deadline)
                        query_answer(ic, q, IC_ERR_TIMEOUT, "the guest did not answer", NULL, 0);
                else
                        *next = MIN(*next, q->deadline - now);
        }
}

void ic_kvp_done(struct vsp_ic *ic)
{
        pool_clear(&ic->kvp.host);
        pool_clear(&ic->kvp.guest);
}

static int check_key(const char *key)
{
        return key && ic_kvp_key_valid(key, strlen(key)) ? 0 : -EINVAL;
}

int vsp_ic_kvp_set(struct vsp_ic *ic, const char *key, const char *value)
{
        size_t len;
        int r;

        if (check_key(key) < 0 || !value)
                return -EINVAL;
        len = strlen(value);
        if (len > IC_KVP_VALUE_MAX)
                return -E2BIG;
        if (!ic_utf8_valid(value, len))
                return -EINVAL;
        if (!vsp_ic_enabled(ic, IC_SVC_KVP))
                return -EOPNOTSUPP;
        pthread_mutex_lock(&ic->lock);
        r = pool_set(&ic->kvp.host, key, strlen(key), value, len, NULL);
        if (r >= 0 && ic->port[IC_SVC_KVP].connected)
                ic_kvp_pump(ic);        /* now: a query that follows must not overtake it */
        if (r >= 0 && ic->wake)
                ic->wake(ic->wake_opaque);
        pthread_mutex_unlock(&ic->lock);
        return r;
}

int vsp_ic_kvp_delete(struct vsp_ic *ic, const char *key)
{
        int r;

        if (check_key(key) < 0)
                return -EINVAL;
        if (!vsp_ic_enabled(ic, IC_SVC_KVP))
                return -EOPNOTSUPP;
        pthread_mutex_lock(&ic->lock);
        r = pool_find(&ic->kvp.host, key);
        if (r >= 0 && ic->kvp.host.e[r]->deleted)
                r = -ENOENT;
        if (r >= 0) {
                if (ic->port[IC_SVC_KVP].connected) {
                        ic->kvp.host.e[r]->deleted = ic->kvp.host.e[r]->dirty = true;
                        ic_kvp_pump(ic);
                        if (ic->wake)
                                ic->wake(ic->wake_opaque);
                } else {
                        pool_remove(&ic->kvp.host, (unsigned)r);
                }
                r = 0;
        }
        pthread_mutex_unlock(&ic->lock);
        return r;
}

int vsp_ic_kvp_get(struct vsp_ic *ic, bool guest_pool, const char *key, char **ret_value)
{
        struct ic_kvp_pool *pool = guest_pool ? &ic->kvp.guest : &ic->kvp.host;
        char *v = NULL;
        int r;

        if (check_key(key) < 0)
                return -EINVAL;
        pthread_mutex_lock(&ic->lock);
        r = pool_find(pool, key);
        if (r >= 0 && pool->e[r]->deleted)
                r = -ENOENT;
        if (r >= 0) {
                v = strdup(pool->e[r]->value);
                r = v ? 0 : -ENOMEM;
        }
        pthread_mutex_unlock(&ic->lock);
        if (r >= 0)
                *ret_value = v;
        return r;
}

int vsp_ic_kvp_foreach(struct vsp_ic *ic, bool guest_pool,
                       int (*fn)(const char *key, const char *value, void *userdata), void *userdata)
{
        struct ic_kvp_pool *pool = guest_pool ? &ic->kvp.guest : &ic->kvp.host;
        int r = 0;

        pthread_mutex_lock(&ic->lock);
        for (unsigned i = 0; i < pool->n && r >= 0; i++)
                if (!pool->e[i]->deleted)
                        r = fn(pool->e[i]->key, pool->e[i]->value, userdata);
        pthread_mutex_unlock(&ic->lock);
        return r < 0 ? r : 0;
}

int vsp_ic_kvp_query(struct vsp_ic *ic, bool guest_pool, const char *key, uint64_t *ret_id)
{
        struct ic_port *p = &ic->port[IC_SVC_KVP];
        struct ic_pending *q = NULL;
        struct ic_writer w;
        int r;

        if (check_key(key) < 0)
                return -EINVAL;
        if (!p->enabled)
                return -EOPNOTSUPP;
        pthread_mutex_lock(&ic->lock);
        for (unsigned i = 0; i < IC_KVP_QUERIES_MAX && !q; i++)
                if (!ic->kvp.queries[i].id)
                        q = &ic->kvp.queries[i];
        if (p->connected && !p->degraded)
                ic_kvp_pump(ic);
        if (!p->connected || p->degraded)
                r = -ENOTCONN;
        else if (!q || host_dirty(ic))
                r = -EBUSY;     /* no query slot, or updates still to send: it would overtake them */
        else {
                uint64_t id = ic_new_id(ic);

                ic_begin(ic, &w, IC_MSG_GET);
                ic_writer_cstr(&w, "pool", guest_pool ? IC_KVP_POOL_GUEST : IC_KVP_POOL_HOST);
                ic_writer_cstr(&w, "key", key);
                ic_writer_int(&w, "id", (int64_t)id);
                r = ic_send(ic, p, &w);
                if (r >= 0) {
                        *q = (struct ic_pending) { .id = id, .guest_pool = guest_pool,
                                                   .deadline = ic_now(ic) + IC_KVP_QUERY_TIMEOUT_MS };
                        snprintf(q->key, sizeof(q->key), "%s", key);
                        if (ret_id)
                                *ret_id = id;
                }
        }
        pthread_mutex_unlock(&ic->lock);
        return r;
}
