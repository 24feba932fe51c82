/* SPDX-License-Identifier: MIT */
/* The IC line format: the strict flat-JSON parser, the writer, base64, UTF-8, CRC-32. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../check-main.h"
#include <abi/ic_msg.h>

static int parse(const char *text, struct ic_msg *m)
{
        static char buf[IC_LINE_MAX];

        snprintf(buf, sizeof(buf), "%s", text);
        return ic_msg_parse(buf, strlen(buf), m);
}

START_TEST(test_parse_types)
{
        struct ic_msg m;
        const char *s;
        size_t len;
        int64_t i;
        bool b;

        ck_assert_int_eq(parse(" { \"type\" : \"set\", \"n\":-42,\"big\":9223372036854775807,"
                               "\"min\":-9223372036854775808,\"t\":true,\"f\":false,\"z\":null,"
                               "\"s\":\"a\\\"b\\\\c\\/d\\n\\t\\u00e9\\ud83d\\ude00\"}\r", &m), 0);
        ck_assert_str_eq(m.type, "set");
        ck_assert(ic_msg_is(&m, "set"));
        ck_assert_uint_eq(m.n, 8);
        ck_assert_int_eq(ic_msg_get_int(&m, "n", INT64_MIN, INT64_MAX, &i), 0);
        ck_assert_int_eq(i, -42);
        ck_assert_int_eq(ic_msg_get_int(&m, "big", 0, INT64_MAX, &i), 0);
        ck_assert_int_eq(i, INT64_MAX);
        ck_assert_int_eq(ic_msg_get_int(&m, "min", INT64_MIN, 0, &i), 0);
        ck_assert_int_eq(i, INT64_MIN);
        ck_assert_int_eq(ic_msg_get_int(&m, "n", 0, 10, &i), -ERANGE);
        ck_assert_int_eq(ic_msg_get_bool(&m, "t", &b), 0);
        ck_assert(b);
        ck_assert_int_eq(ic_msg_get_bool(&m, "f", &b), 0);
        ck_assert(!b);
        ck_assert_int_eq(ic_msg_get(&m, "z")->type, IC_VAL_NULL);
        ck_assert_int_eq(ic_msg_get_str(&m, "s", 100, &s, &len), 0);
        ck_assert_str_eq(s, "a\"b\\c/d\n\t\xc3\xa9\xf0\x9f\x98\x80");
        ck_assert_uint_eq(len, strlen(s));
        ck_assert_int_eq(ic_msg_get_str(&m, "s", 3, &s, &len), -E2BIG);
        ck_assert_int_eq(ic_msg_get_str(&m, "n", 100, &s, &len), -EBADMSG);
        ck_assert_int_eq(ic_msg_get_str(&m, "nope", 100, &s, &len), -ENOENT);
        ck_assert_int_eq(ic_msg_get_int(&m, "s", 0, 1, &i), -EBADMSG);
        ck_assert_int_eq(ic_msg_get_bool(&m, "n", &b), -EBADMSG);
        /* raw UTF-8 passes through */
        ck_assert_int_eq(parse("{\"type\":\"x\",\"v\":\"gr\xc3\xbc\xc3\x9f\"}", &m), 0);
        ck_assert_str_eq(ic_msg_get(&m, "v")->s, "gr\xc3\xbc\xc3\x9f");
        ck_assert_int_eq(parse("{\"type\":\"\"}", &m), 0);
}
END_TEST

START_TEST(test_parse_rejects)
{
        static const char *const bad[] = {
                "", "   ", "[]", "{", "}", "{\"type\":\"a\"", "{\"type\":\"a\"}x", "{\"type\":\"a\"}{}",
                "{}",                                   /* no type */
                "{\"type\":1}",                         /* type not a string */
                "{\"type\":\"a\",}", "{,\"type\":\"a\"}", "{\"type\" \"a\"}", "{type:\"a\"}",
                "{\"type\":\"a\",\"o\":{}}",            /* nested */
                "{\"type\":\"a\",\"o\":[1]}",
                "{\"type\":\"a\",\"f\":1.5}", "{\"type\":\"a\",\"f\":1e3}", "{\"type\":\"a\",\"f\":01}",
                "{\"type\":\"a\",\"f\":-}", "{\"type\":\"a\",\"f\":+1}",
                "{\"type\":\"a\",\"f\":9223372036854775808}",
                "{\"type\":\"a\",\"f\":-9223372036854775809}",
                "{\"type\":\"a\",\"f\":tru}", "{\"type\":\"a\",\"f\":nul}",
                "{\"type\":\"a\",\"type\":\"b\"}",     /* duplicate */
                "{\"type\":\"a\",\"\":1}",              /* empty name */
                "{\"type\":\"a\",\"s\":\"\\x\"}",       /* bad escape */
                "{\"type\":\"a\",\"s\":\"\\u12\"}",
                "{\"type\":\"a\",\"s\":\"\\u0000\"}",   /* NUL */
                "{\"type\":\"a\",\"s\":\"\\ud800\"}",   /* lone surrogates */
                "{\"type\":\"a\",\"s\":\"\\udc00\"}",
                "{\"type\":\"a\",\"s\":\"\\ud800\\u0041\"}",
                "{\"type\":\"a\",\"s\":\"\xc3\"}",      /* truncated UTF-8 */
                "{\"type\":\"a\",\"s\":\"\xc0\xaf\"}",  /* overlong */
                "{\"type\":\"a\",\"s\":\"\xed\xa0\x80\"}", /* encoded surrogate */
                "{\"type\":\"a\",\"s\":\"\xff\"}",
                "{\"type\":\"a\",\"s\":\"tab\there\"}", /* raw control character */
                "{\"type\":\"a\",\"s\":\"open}",
        };
        struct ic_msg m;

        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                int r = parse(bad[i], &m);

                if (r != -EBADMSG)
                        ck_abort_msg("'%s' gave %d", bad[i], r);
        }
}
END_TEST

START_TEST(test_parse_limits)
{
        char line[4096];
        struct ic_msg m;
        size_t n;

        n = (size_t)snprintf(line, sizeof(line), "{\"type\":\"a\"");
        for (unsigned i = 1; i < IC_MSG_MEMBERS_MAX; i++)
                n += (size_t)snprintf(line + n, sizeof(line) - n, ",\"k%u\":%u", i, i);
        snprintf(line + n, sizeof(line) - n, "}");
        ck_assert_int_eq(parse(line, &m), 0);
        ck_assert_uint_eq(m.n, IC_MSG_MEMBERS_MAX);
        snprintf(line + n, sizeof(line) - n, ",\"one\":1}");
        ck_assert_int_eq(parse(line, &m), -E2BIG);

        snprintf(line, sizeof(line), "{\"type\":\"a\",\"%0*d\":1}", (int)IC_MSG_NAME_MAX, 0);
        ck_assert_int_eq(parse(line, &m), 0);
        snprintf(line, sizeof(line), "{\"type\":\"a\",\"%0*d\":1}", (int)IC_MSG_NAME_MAX + 1, 0);
        ck_assert_int_eq(parse(line, &m), -E2BIG);
}
END_TEST

START_TEST(test_writer)
{
        char buf[256], copy[256];
        struct ic_writer w;
        struct ic_msg m;
        const char *s;
        int n;

        ic_writer_begin(&w, buf, sizeof(buf), "set");
        ic_writer_cstr(&w, "key", "quote\" back\\ nl\n ctl\x01 tab\t \xc3\xa9");
        ic_writer_int(&w, "n", INT64_MIN);
        ic_writer_bool(&w, "b", true);
        ic_writer_base64(&w, "d", "hello", 5);
        n = ic_writer_end(&w);
        ck_assert_int_gt(n, 0);
        ck_assert_int_eq(buf[n - 1], '\n');
        ck_assert_ptr_null(memchr(buf, '\n', (size_t)n - 1));
        memcpy(copy, buf, (size_t)n - 1);
        ck_assert_int_eq(ic_msg_parse(copy, (size_t)n - 1, &m), 0);
        ck_assert_str_eq(m.type, "set");
        ck_assert_int_eq(ic_msg_get_str(&m, "key", 100, &s, NULL), 0);
        ck_assert_str_eq(s, "quote\" back\\ nl\n ctl\x01 tab\t \xc3\xa9");
        ck_assert_int_eq(ic_msg_get(&m, "n")->i, INT64_MIN);
        ck_assert_str_eq(ic_msg_get(&m, "d")->s, "aGVsbG8=");

        /* Too small: refused as a whole. */
        ic_writer_begin(&w, buf, 20, "set");
        ic_writer_cstr(&w, "key", "0123456789");
        ck_assert_int_eq(ic_writer_end(&w), -ENOBUFS);
        ic_writer_begin(&w, buf, 20, "a");
        ic_writer_base64(&w, "d", "0123456789", 10);
        ck_assert_int_eq(ic_writer_end(&w), -ENOBUFS);
}
END_TEST

START_TEST(test_base64)
{
        uint8_t in[100], out[100];
        char enc[IC_BASE64_LEN(100)];
        size_t len;

        for (size_t i = 0; i < sizeof(in); i++)
                in[i] = (uint8_t)(i * 37 + 11);
        for (size_t n = 0; n <= sizeof(in); n++) {
                size_t e = ic_base64_encode(in, n, enc);

                ck_assert_uint_eq(e, IC_BASE64_LEN(n));
                ck_assert_int_eq(ic_base64_decode(enc, e, out, sizeof(out), &len), 0);
                ck_assert_uint_eq(len, n);
                ck_assert_mem_eq(in, out, n);
                if (n > 3)
                        ck_assert_int_eq(ic_base64_decode(enc, e, out, n - 1, &len), -ENOBUFS);
        }
        ck_assert_int_eq(ic_base64_decode("Zm9vYg==", 8, out, sizeof(out), &len), 0);
        ck_assert_uint_eq(len, 4);
        ck_assert_mem_eq(out, "foob", 4);
        ck_assert_int_eq(ic_base64_decode("Zm9", 3, out, sizeof(out), &len), -EBADMSG);
        ck_assert_int_eq(ic_base64_decode("Zm9*", 4, out, sizeof(out), &len), -EBADMSG);
        ck_assert_int_eq(ic_base64_decode("Zg==Zm9v", 8, out, sizeof(out), &len), -EBADMSG);
        ck_assert_int_eq(ic_base64_decode("Z===", 4, out, sizeof(out), &len), -EBADMSG);
        ck_assert_int_eq(ic_base64_decode("Zm=v", 4, out, sizeof(out), &len), -EBADMSG);
        ck_assert_int_eq(ic_base64_decode("Zh==", 4, out, sizeof(out), &len), -EBADMSG); /* not canonical */
}
END_TEST

START_TEST(test_crc32_utf8_names)
{
        ck_assert_uint_eq(ic_crc32(0, "123456789", 9), 0xcbf43926u);
        ck_assert_uint_eq(ic_crc32(ic_crc32(0, "1234", 4), "56789", 5), 0xcbf43926u);
        ck_assert_uint_eq(ic_crc32(0, "", 0), 0);
        ck_assert(ic_utf8_valid("", 0));
        ck_assert(ic_utf8_valid("\xf4\x8f\xbf\xbf", 4));
        ck_assert(!ic_utf8_valid("\xf4\x90\x80\x80", 4));
        ck_assert(!ic_utf8_valid("\xe0\x80\x80", 3));
        ck_assert(ic_kvp_key_valid("NetworkAddressIPv4", 18));
        ck_assert(ic_kvp_key_valid("a.b_c:d-e", 9));
        ck_assert(!ic_kvp_key_valid("a b", 3));
        ck_assert(!ic_kvp_key_valid("", 0));
        ck_assert_int_eq(ic_service_from_port("org.vmms.kvp", 12), IC_SVC_KVP);
        ck_assert_int_eq(ic_service_from_port("org.vmms.kv", 11), -ENOENT);
        ck_assert_str_eq(ic_service_port(IC_SVC_FCOPY), IC_PORT_FCOPY);
        ck_assert_str_eq(ic_service_name(IC_SVC_TIMESYNC), "timesync");
        ck_assert_ptr_null(ic_service_name(IC_SVC_COUNT));
        ck_assert_str_eq(ic_error_name(IC_ERR_CHECKSUM), "checksum mismatch");
        ck_assert_str_eq(ic_error_name(999), "unknown error");
}
END_TEST

CHECK_MAIN("ic-msg", test_parse_types, test_parse_rejects, test_parse_limits, test_writer,
           test_base64, test_crc32_utf8_names)
