/* SPDX-License-Identifier: ISC */
/* unit.c: unit tests of the pure parsers and formatters; prints TAP. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip.h"
#include "log.h"
#include "openlist.h"
#include "outbox.h"
#include "promfmt.h"
#include "rules.h"
#include "safe.h"

static int failed, count;

static void
check(int ok, const char *what, const char *detail)
{
	char safe[600];

	if (detail) {
		size_t i;

		snprintf(safe, sizeof safe, "%s", detail);
		for (i = 0; safe[i]; i++)
			if ((unsigned char)safe[i] < ' ')
				safe[i] = ' ';
		detail = safe;
	}
	count++;
	if (!ok)
		failed++;
	printf("%s %d - %s%s%s\n", ok ? "ok" : "not ok", count, what,
	       detail ? ": " : "", detail ? detail : "");
}

/* input, expected canonical form ("" = refused) */
static const char *const ips[][2] = {
    {"127.0.0.1", "127.0.0.1"},
    {"0.0.0.0", "0.0.0.0"},
    {"255.255.255.255", "255.255.255.255"},
    {"::ffff:127.0.0.33", "127.0.0.33"},
    {"::FFFF:7f00:21", "127.0.0.33"},
    {"0:0:0:0:0:ffff:1.2.3.4", "1.2.3.4"},
    /* The forms Debian's IPv6 tcpserver printed for these clients. */
    {"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
    {"2001:db8:0:1:2:3:4:5", "2001:db8::1:2:3:4:5"},
    {"1:0:0:2:3:0:0:4", "1::2:3:0:0:4"},
    {"2001:DB8::0001", "2001:db8::1"},
    {"1:2:3:4:5:6:7:0", "1:2:3:4:5:6:7::"},
    {"0:0:0:0:0:0:0:5", "::5"},
    {"::1.2.3.4", "::102:304"},
    {"1:2:3:4:5:6:0:0", "1:2:3:4:5:6::"},
    {"::", "::"},
    {"::1", "::1"},
    {"fe80::1", "fe80::1"},
    {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
    {"1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"},
    {"", ""},
    {" 127.0.0.1", ""},
    {"127.0.0.1 ", ""},
    {"127.0.0.1\n", ""},
    {"127.0.0", ""},
    {"127.1", ""},
    {"127.0.0.1.", ""},
    {"127.0.0.256", ""},
    {"127.0.0.01", ""},
    {"0127.0.0.1", ""},
    {"0x7f.0.0.1", ""},
    {"1.2.3.4:allow", ""},
    {"1.2.3.4-5", ""},
    {"fe80::1%eth0", ""},
    {"[::1]", ""},
    {"::1:", ""},
    {"1:2:3:4:5:6:7:8:9", ""},
    {"12345::1", ""},
    {"g::1", ""},
    {"::ffff:1.2.3.04", ""},
    {"\"1.2.3.4\"", ""},
    {"1.2.3.4,RELAYCLIENT=\"\"", ""},
    {"=host", ""},
    {"ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.2555", ""},
};

static void
test_ip(void)
{
	char out[IP_FMTLEN], msg[200];
	size_t i, n;

	for (i = 0; i < sizeof ips / sizeof ips[0]; i++) {
		n = ip_canonical(out, ips[i][0], strlen(ips[i][0]));
		if (!n)
			out[0] = '\0';
		snprintf(msg, sizeof msg, "[%s] -> [%s], want [%s]", ips[i][0],
			 out, ips[i][1]);
		check(strcmp(out, ips[i][1]) == 0 && n == strlen(out),
		      "ip_canonical", msg);
	}
	check(!ip_canonical(out, "1.2.3.4\0x", 9), "ip_canonical",
	      "an embedded NUL is refused");
	/* A key ending in ':' is also a prefix to the IPv6 tcpserver. */
	check(!ip_alone("2001:db8:1::") && !ip_alone("::") &&
		  !ip_alone("1:2:3:4:5:6:7::") && !ip_alone(""),
	      "ip_alone", "an address whose form ends in :: is refused");
	check(ip_alone("2001:db8:1::1") && ip_alone("::1") &&
		  ip_alone("127.0.0.1") && ip_alone("1:0:0:2::3"),
	      "ip_alone", "any other address opens alone");
}

struct rec {
	char buf[4096];
	size_t n;
	int count;
};

/* Records each emitted record as "key=>data|" with NUL shown as '0'. */
static int
collect(void *ctx, const char *k, size_t kl, const char *d, size_t dl)
{
	struct rec *r = ctx;
	size_t i;

	r->count++;
	memcpy(r->buf + r->n, k, kl);
	r->n += kl;
	memcpy(r->buf + r->n, "=>", 2);
	r->n += 2;
	for (i = 0; i < dl; i++)
		r->buf[r->n++] = (char)(d[i] ? d[i] : '0');
	r->buf[r->n++] = '|';
	r->buf[r->n] = '\0';
	return 0;
}

static const struct {
	const char *line;
	int result;
	const char *records;
} rules[] = {
    {"1.2.3.4:deny\n", RULES_OK, "1.2.3.4=>D0|"},
    {"1.2.3.4:allow\n", RULES_OK, "1.2.3.4=>|"},
    {"1.2.3.4:allow,A=\"x\",B=/y:z/  \t\n", RULES_OK, "1.2.3.4=>+A=x0+B=y:z0|"},
    {"1.2.3.5-7:allow", RULES_OK, "1.2.3.5=>|1.2.3.6=>|1.2.3.7=>|"},
    {"1.2.3.-1:allow", RULES_OK, "1.2.3.0=>|1.2.3.1=>|"},
    {"1.2.3.254-999:deny", RULES_OK, "1.2.3.254=>D0|1.2.3.255=>D0|"},
    {"1.2.3.300-400:allow", RULES_OK, ""},
    {"10.1-2.:allow", RULES_OK, "10.1.=>|10.2.=>|"},
    {"=a-b:allow", RULES_OK, "=a-b=>|"},
    {"x@1.2.3.4-5:allow", RULES_OK, "x@1.2.3.4-5=>|"},
    {":allow", RULES_OK, "=>|"},
    {"::1:allow", RULES_OK, "::1=>|"},
    {"2001:db8::5:deny,X='a:allow'", RULES_OK, "2001:db8::5=>D0+X=a:allow0|"},
    {" 1.2.3.4:allow", RULES_OK, " 1.2.3.4=>|"},
    {"# 1.2.3.4:allow", RULES_SKIP, ""},
    {"\n", RULES_SKIP, ""},
    {"   \t\n", RULES_SKIP, ""},
    {"no colon here", RULES_SKIP, ""},
    {"1.2.3.4:permit", RULES_BAD, ""},
    {"1.2.3.4:allowx", RULES_BAD, ""},
    {"1.2.3.4:allow,X", RULES_BAD, ""},
    {"1.2.3.4:allow,X=", RULES_BAD, ""},
    {"1.2.3.4:allow,X=\"open", RULES_BAD, ""},
    {"1.2.3.4:allow\r\n", RULES_BAD, ""},
    {"1.2.3.x-5:allow", RULES_BAD, ""},
    {"2001:db8::1-5:allow", RULES_BAD, ""},
    {"a:b", RULES_BAD, ""},
};

static void
test_rules(void)
{
	char msg[5000];
	size_t i;

	for (i = 0; i < sizeof rules / sizeof rules[0]; i++) {
		struct rec r = {{0}, 0, 0};
		int got = rules_parse_line(rules[i].line, strlen(rules[i].line),
					   collect, &r);

		snprintf(msg, sizeof msg, "[%s] -> %d [%s], want %d [%s]",
			 rules[i].line, got, r.buf, rules[i].result,
			 rules[i].records);
		check(got == rules[i].result &&
			  strcmp(r.buf, rules[i].records) == 0,
		      "rules_parse_line", msg);
	}
}

static const struct {
	const char *line;
	int result;
	const char *ip;
} lines[] = {
    {"1.2.3.4:allow,RELAYCLIENT=\"\",RBLSMTPD=\"\"\t1700000000", 1, "1.2.3.4"},
    {"::ffff:1.2.3.4:allow,RELAYCLIENT=\"\"\t1700000000", 1, "1.2.3.4"},
    {"2001:DB8:0:0:1::1:allow,RELAYCLIENT=\"\"\t1", 1, "2001:db8::1:0:0:1"},
    {"", 0, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t17x", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t12345678901234567890", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t1700000000\r", -1, ""},
    {"1.2.3.:allow,RELAYCLIENT=\"\"\t1700000000", -1, ""},
    {"1.2.3.4-9:allow,RELAYCLIENT=\"\"\t1700000000", -1, ""},
    {":allow,RELAYCLIENT=\"\"\t1700000000", -1, ""},
    {"=host:allow\t1700000000", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT\t1700000000", -1, ""},
    {"# 1.2.3.4:allow\t1700000000", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\x01\"\t1700000000", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\x7f\"\t1700000000", -1, ""},
    /* A key ending in "::" is also a prefix to tcpserver: never a rule. */
    {"2001:db8:1:::allow,RELAYCLIENT=\"\"\t1700000000", -1, ""},
    {"2001:db8:1:0:0:0:0:0:allow,RELAYCLIENT=\"\"\t1700000000", -1, ""},
    {":::allow\t1", -1, ""},
    {"2001:db8:1::1:allow,RELAYCLIENT=\"\"\t1700000000", 1, "2001:db8:1::1"},
    /* vpopmail before 5.0: "<TAB><SPACE>epoch", an entry as its atoi
     * reads it; only that form. */
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t 1700000000", 1, "1.2.3.4"},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t 1", 1, "1.2.3.4"},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t ", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t  ", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t  1700000000", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t\t1700000000", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t \t1700000000", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t 1700000000 ", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t +1700000000", -1, ""},
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t 12345678901234567890", -1, ""},
};

static void
test_openlist(void)
{
	struct openentry e;
	char msg[300];
	size_t i;

	for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		int got = openlist_parse_line(lines[i].line,
					      strlen(lines[i].line), &e);

		snprintf(msg, sizeof msg, "[%s] -> %d [%s], want %d [%s]",
			 lines[i].line, got, e.ip, lines[i].result,
			 lines[i].ip);
		check(got == lines[i].result && strcmp(e.ip, lines[i].ip) == 0,
		      "openlist_parse_line", msg);
	}
}

/*
 * The cursor checks a rule once and takes it as read on the lines that
 * repeat it: each line of the table, after an entry with the usual rule
 * (and one with the table line's own rule, when it has one), reads as
 * openlist_parse_line reads it alone.
 */
static void
test_cursor(void)
{
	static const char *const good[] = {
	    "9.9.9.9:allow,RELAYCLIENT=\"\"\t1700000000\n",
	    "9.9.9.9:allow,RELAYCLIENT=\"\",RBLSMTPD=\"\"\t1700000000\n"};
	char text[1024], msg[400];
	size_t i, g;

	for (g = 0; g < 2; g++)
		for (i = 0; i < sizeof lines / sizeof lines[0]; i++) {
			struct openlist_cursor c;
			struct openentry e, want;
			const char *l = lines[i].line;
			int r, k, ok,
			    w = openlist_parse_line(l, strlen(l), &want);
			int n = snprintf(text, sizeof text, "%s%s\n%s\n",
					 good[g], l, l);

			if (n < 0 || (size_t)n >= sizeof text)
				continue;
			memset(&c, 0, sizeof c);
			c.text = text;
			c.len = (size_t)n;
			ok = openlist_next(&c, &e) == 1;
			/* The line twice: after good[g]'s rule, then after its
			 * own (or good[g]'s still, if it is malformed). */
			for (k = 0; k < 2 && ok; k++) {
				r = openlist_next(&c, &e);
				ok = r == w && strcmp(e.ip, want.ip) == 0 &&
				     e.ts == want.ts &&
				     e.rulelen == want.rulelen &&
				     (w != 1 || memcmp(e.rule, want.rule,
						       e.rulelen) == 0);
				if (w == 0)
					break;
			}
			snprintf(msg, sizeof msg, "[%s] after [%.40s]", l,
				 good[g]);
			check(ok,
			      "openlist_next reads a line as "
			      "openlist_parse_line",
			      msg);
		}
}

/*
 * vpopmail's "<TAB><SPACE>epoch" line is the entry it means, written back
 * without the space; the cursor counts the lines it cannot read, and
 * keeps the first, for one report per pass.
 */
static void
test_tally(void)
{
	static const char text[] =
	    "1.2.3.4:allow,RELAYCLIENT=\"\"\t 1700000000\n"
	    "garbage\n"
	    "\n"
	    "1.2.3.5:allow,RELAYCLIENT=\"\"\t1700000001\n"
	    "2001:db8:1:::allow,RELAYCLIENT=\"\"\t1700000002\n"
	    "more garbage\n";
	static const char want[] =
	    "1.2.3.4:allow,RELAYCLIENT=\"\"\t1700000000\n";
	struct openlist_cursor c;
	struct openentry e;
	char line[OPENLIST_LINEMAX];
	size_t n;
	int ok;

	memset(&c, 0, sizeof c);
	c.text = text;
	c.len = sizeof text - 1;
	ok = openlist_next(&c, &e) == LINE_ENTRY && e.ts == 1700000000;
	n = ok ? openlist_format(line, &e) : 0;
	check(ok && n == strlen(want) && memcmp(line, want, n) == 0,
	      "a TAB SPACE line is an entry, written back without the space",
	      0);
	while (openlist_next(&c, &e) != LINE_EMPTY)
		;
	check(c.bad.n == 3 && c.bad.lineno == 2 && c.bad.rawlen == 7 &&
		  memcmp(c.bad.raw, "garbage", 7) == 0 && c.ahead.n == 0,
	      "the cursor counts the bad lines and keeps the first", 0);
}

/* An outbox line, what it says, its address and time in ms. */
static const struct {
	const char *line;
	enum outbox_kind kind;
	const char *ip;
	uint64_t ms;
} outbox_lines[] = {
    {"", OUTBOX_EMPTY, "", 0},
    {"+1.2.3.4\t1700000000.123", OUTBOX_LOGIN, "1.2.3.4", 1700000000123},
    {"-1.2.3.4\t1700000000.004", OUTBOX_CLOSE, "1.2.3.4", 1700000000004},
    {"+2001:DB8::0001\t5.000", OUTBOX_LOGIN, "2001:db8::1", 5000},
    {"+1.2.3.4\t5", OUTBOX_LOGIN, "1.2.3.4", 5000},
    /* Earlier versions' lines, in whole seconds. */
    {"1.2.3.4:allow,RELAYCLIENT=\"\"\t1700000000", OUTBOX_LOGIN, "1.2.3.4",
     1700000000000},
    {"::FFFF:1.2.3.4:allow\t1", OUTBOX_LOGIN, "1.2.3.4", 1000},
    {"-1.2.3.4\t1700000000", OUTBOX_CLOSE, "1.2.3.4", 1700000000000},
    {"-2001:DB8::0001\t5", OUTBOX_CLOSE, "2001:db8::1", 5000},
    {"-::ffff:127.0.0.9\t5", OUTBOX_CLOSE, "127.0.0.9", 5000},
    /* Past what milliseconds hold: as far ahead as can be. */
    {"-1.2.3.4\t9999999999999999999", OUTBOX_CLOSE, "1.2.3.4", UINT64_MAX},
    {"+1.2.3.4\t18446744073709551.615", OUTBOX_LOGIN, "1.2.3.4", UINT64_MAX},
    {"1.2.3.4:allow\t9999999999999999999", OUTBOX_LOGIN, "1.2.3.4", UINT64_MAX},
    /* A close is never a list line, nor a list line a close. */
    {"-1.2.3.4:allow\t1700000000", OUTBOX_BAD, "", 0},
    {"+1.2.3.4:allow\t1700000000", OUTBOX_BAD, "", 0},
    {"1.2.3.4\t1700000000", OUTBOX_BAD, "", 0},
    {"-1.2.3.4", OUTBOX_BAD, "", 0},
    {"-1.2.3.4\t", OUTBOX_BAD, "", 0},
    {"-1.2.3.4\t 1", OUTBOX_BAD, "", 0},
    {"-1.2.3.4\t1x", OUTBOX_BAD, "", 0},
    {"-1.2.3.4\t99999999999999999999", OUTBOX_BAD, "", 0},
    {"+1.2.3.4\t1.", OUTBOX_BAD, "", 0},
    {"+1.2.3.4\t1.12", OUTBOX_BAD, "", 0},
    {"+1.2.3.4\t1.1234", OUTBOX_BAD, "", 0},
    {"+1.2.3.4\t.123", OUTBOX_BAD, "", 0},
    {"+1.2.3.4\t1.12x", OUTBOX_BAD, "", 0},
    {"+1.2.3.4\t1.2.3", OUTBOX_BAD, "", 0},
    {"-\t1", OUTBOX_BAD, "", 0},
    {"+\t1.000", OUTBOX_BAD, "", 0},
    {"--1.2.3.4\t1", OUTBOX_BAD, "", 0},
    {"+-1.2.3.4\t1", OUTBOX_BAD, "", 0},
    {"- 1.2.3.4\t1", OUTBOX_BAD, "", 0},
    {"-1.2.3.\t1", OUTBOX_BAD, "", 0},
    {"-=\t1", OUTBOX_BAD, "", 0},
    {"-1.2.3.4\t1\t2", OUTBOX_BAD, "", 0},
    /* Also a prefix to the IPv6 tcpserver: no rule opens it alone. */
    {"+2001:db8:1::\t1.000", OUTBOX_BAD, "", 0},
    {"-2001:db8:1::\t1.000", OUTBOX_BAD, "", 0},
    {"2001:db8:1:::allow\t1", OUTBOX_BAD, "", 0},
    {"-::\t1", OUTBOX_BAD, "", 0},
};

static void
test_outbox(void)
{
	struct outbox_event ev;
	char msg[OUTBOX_LINEMAX];

	for (size_t i = 0; i < sizeof outbox_lines / sizeof *outbox_lines;
	     i++) {
		const char *l = outbox_lines[i].line;
		enum outbox_kind k = outbox_parse_line(l, strlen(l), &ev);

		snprintf(msg, sizeof msg, "[%s] -> %d [%s] %llu", l, k, ev.ip,
			 (unsigned long long)ev.ms);
		check(k == outbox_lines[i].kind &&
			  strcmp(ev.ip, outbox_lines[i].ip) == 0 &&
			  ev.ms == outbox_lines[i].ms,
		      "outbox_parse_line", msg);
	}
	/* The writers' lines read back as what they say. */
	for (size_t i = 0; i < 3; i++) {
		static const uint64_t ms[] = {0, 1700000000007, UINT64_MAX};
		char line[OUTBOX_LINEMAX];
		size_t n =
		    outbox_format(line, i == 1 ? OUTBOX_CLOSE : OUTBOX_LOGIN,
				  "2001:db8::1", 0, 0, ms[i]);

		snprintf(msg, sizeof msg, "%llu: [%.*s]",
			 (unsigned long long)ms[i], (int)n, line);
		check(n > 0 && line[n - 1] == '\n' &&
			  outbox_parse_line(line, n - 1, &ev) ==
			      (i == 1 ? OUTBOX_CLOSE : OUTBOX_LOGIN) &&
			  ev.ms == ms[i] && strcmp(ev.ip, "2001:db8::1") == 0,
		      "outbox_format", msg);
	}
	check(outbox_format(msg, OUTBOX_LOGIN, "1.2.3.4", 0, 0,
			    1700000000123) == 24 &&
		  memcmp(msg, "+1.2.3.4\t1700000000.123\n", 24) == 0,
	      "outbox_format", "a login at 1700000000.123");
	check(outbox_format(msg, OUTBOX_LOGIN, "1.2.3.4", "a\"b c", 5,
			    1700000000123) == 30 &&
		  memcmp(msg, "+1.2.3.4\t1700000000.123\ta\"b c\n", 30) == 0,
	      "outbox_format", "a login with its account");
	check(outbox_format(msg, OUTBOX_LOGIN, "1.2.3.4", "a\tb", 3,
			    1700000000123) == 24,
	      "outbox_format", "an account with a TAB is left out");
	check(outbox_format(msg, OUTBOX_CLOSE, "1.2.3.4", "ab", 2,
			    1700000000123) == 24,
	      "outbox_format", "a close has no account");
	{
		static const char l[] = "+1.2.3.4\t1.500\tal\xc3\xaf"
					"ce@x";
		check(outbox_parse_line(l, sizeof l - 1, &ev) == OUTBOX_LOGIN &&
			  ev.ms == 1500 && ev.alen == 8 &&
			  memcmp(ev.account,
				 "al\xc3\xaf"
				 "ce@x",
				 8) == 0,
		      "outbox_parse_line", "a login with its account");
		check(outbox_parse_line("-1.2.3.4\t1.500\tal", 15, &ev) ==
			  OUTBOX_BAD,
		      "outbox_parse_line", "a close with an account");
		check(outbox_parse_line("+1.2.3.4\t1.500\t", 15, &ev) ==
			  OUTBOX_BAD,
		      "outbox_parse_line", "an empty account");
		check(outbox_parse_line("+1.2.3.4\t1.500\ta\tb", 18, &ev) ==
			  OUTBOX_BAD,
		      "outbox_parse_line", "an account with a TAB");
	}
}

static void
test_sanitize(void)
{
	char out[LOG_SAFE];

	log_sanitize(out, sizeof out, "a\nb\"c\x01", 6);
	check(strcmp(out, "\"a\\x0ab\\x22c\\x01\"") == 0, "log_sanitize", out);
	{
		char big[1000];

		memset(big, 'x', sizeof big);
		log_sanitize(out, sizeof out, big, sizeof big);
		check(strlen(out) < sizeof out &&
			  strcmp(out + strlen(out) - 4, "\"...") == 0,
		      "log_sanitize caps long text", 0);
	}
}

/* text of /etc/passwd, uid, found, gid */
static const struct {
	const char *text;
	unsigned uid;
	int found;
	unsigned gid;
} passwds[] = {
    {"root:x:0:0:root:/root:/bin/bash\n", 0, 1, 0},
    {"root:x:0:0::/:\nvpopmail:x:89:89::/home/vpopmail:/bin/false", 89, 1, 89},
    {"a:x:1000:100::/:\nb:x:1000:200::/:\n", 1000, 1, 100},
    {"a:x:10000:5::/:\n", 1000, 0, 0},
    {"a:x:1000\n", 1000, 0, 0},
    {"a:x:1000:\n", 1000, 0, 0},
    {"a:x:1000:12a:\n", 1000, 0, 0},
    {"a:x:01000:7:\n", 1000, 1, 7},
    {"a:x::7:\n", 0, 0, 0},
    {"", 0, 0, 0},
    {"a:x:99999999999:7:\n", 0, 0, 0},
};

static void
test_passwd(void)
{
	for (size_t i = 0; i < sizeof passwds / sizeof *passwds; i++) {
		gid_t gid = 4242;
		int found = passwd_gid(passwds[i].text, strlen(passwds[i].text),
				       passwds[i].uid, &gid);

		check(found == passwds[i].found &&
			  (!found || gid == passwds[i].gid),
		      "passwd_gid", passwds[i].text);
	}
}

/* The variable a rule sets, as tcpserver leaves it. */
static void
test_var(void)
{
	static const char line[] = "1.2.3.4:allow,RELAYCLIENT=\"\",ROAMUSER='"
				   "a\"b@x',X=\"1\",ROAMUSER=:c d:\t1";
	struct openentry e;
	char buf[8];

	check(openlist_parse_line(line, sizeof line - 1, &e) == LINE_ENTRY &&
		  openlist_var(&e, "ROAMUSER", buf, sizeof buf) == 3 &&
		  strcmp(buf, "c d") == 0,
	      "openlist_var", "the last of a name wins");
	check(openlist_var(&e, "RELAYCLIENT", buf, sizeof buf) == 0 &&
		  buf[0] == '\0' && openlist_var(&e, "ROAM", buf, 8) == -1 &&
		  openlist_var(&e, "X", buf, 1) == 1 && buf[0] == '\0',
	      "openlist_var", "empty, absent, cut to fit");
}

/* label value in, its text between the quotes out */
static const char *const labels[][2] = {
    {"alice@example.org", "alice@example.org"},
    {"", ""},
    {"a\"b", "a\\\"b"},
    {"c\\d", "c\\\\d"},
    {"e\nf", "e\\nf"},
    {"tab\there", "tab\there"},
    {"caf\xc3\xa9", "caf\xc3\xa9"},
    {"\xf0\x9f\x93\xa7", "\xf0\x9f\x93\xa7"},
    {"e\377f", "e\\\\xfff"},
    {"\xc3", "\\\\xc3"},
    {"\xc0\xaf", "\\\\xc0\\\\xaf"},	       /* overlong */
    {"\xed\xa0\x80", "\\\\xed\\\\xa0\\\\x80"}, /* surrogate */
    {"\\\"\n", "\\\\\\\"\\n"},
};

static void
test_promfmt(void)
{
	struct promfmt p = {0};
	char out[64];
	static const char want[] =
	    "# HELP m_x One\\\\two\\nthree.\n# TYPE m_x gauge\n"
	    "m_x 7\nm_x{a=\"q\\\"\"} 18446744073709551615\nm_s 0.042\n"
	    "m_s 12.345\n";

	for (size_t i = 0; i < sizeof labels / sizeof *labels; i++) {
		size_t n =
		    promfmt_label(out, labels[i][0], strlen(labels[i][0]));

		check(n == strlen(labels[i][1]) &&
			  memcmp(out, labels[i][1], n) == 0,
		      "promfmt_label", labels[i][1]);
	}
	check(promfmt_name_ok("checkpw_roam_x:y_1") && !promfmt_name_ok("") &&
		  !promfmt_name_ok("1x") && !promfmt_name_ok("a-b") &&
		  !promfmt_name_ok("a b"),
	      "promfmt_name_ok", "[a-zA-Z_:][a-zA-Z0-9_:]*");
	promfmt_head(&p, "m_x", "gauge", "One\\two\nthree.");
	promfmt_value(&p, "m_x", 7);
	promfmt_labeled(&p, "m_x", "a", "q\"", 2, UINT64_MAX);
	promfmt_ms(&p, "m_s", 42);
	promfmt_ms(&p, "m_s", 12345);
	check(!p.nomem && p.len == sizeof want - 1 &&
		  memcmp(p.buf, want, p.len) == 0,
	      "promfmt", "HELP escaped, TYPE, samples, ms as seconds");
	promfmt_free(&p);
}

int
main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : "";

	if (!*only || !strcmp(only, "ip"))
		test_ip();
	if (!*only || !strcmp(only, "rules"))
		test_rules();
	if (!*only || !strcmp(only, "openlist"))
		test_openlist();
	if (!*only || !strcmp(only, "openlist"))
		test_cursor();
	if (!*only || !strcmp(only, "openlist"))
		test_tally();
	if (!*only || !strcmp(only, "openlist"))
		test_var();
	if (!*only || !strcmp(only, "outbox"))
		test_outbox();
	if (!*only || !strcmp(only, "log"))
		test_sanitize();
	if (!*only || !strcmp(only, "passwd"))
		test_passwd();
	if (!*only || !strcmp(only, "promfmt"))
		test_promfmt();
	printf("1..%d\n", count);
	return failed ? 1 : 0;
}
