/* SPDX-License-Identifier: ISC */
/* outbox-fuzz.c: libFuzzer target for open-smtp.outbox lines and whole
 * outboxes as roamsync reads them (outbox_parse_line). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip.h"
#include "openlist.h"
#include "outbox.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
broken(const char *what, size_t size)
{
	fprintf(stderr, "outbox-fuzz: invariant broken: %s (input %zu bytes)\n",
		what, size);
	abort();
}

/* The address is canonical, it re-parses to itself, and it opens alone. */
static void
check_ip(const char *ip, size_t size)
{
	char again[IP_FMTLEN];
	size_t n = strlen(ip);

	if (n == 0 || n >= IP_FMTLEN)
		broken("an event with no address", size);
	if (ip_canonical(again, ip, n) != n || strcmp(again, ip) != 0)
		broken("the event's address is not canonical", size);
	if (!ip_alone(ip))
		broken("the event's address is also a prefix", size);
}

/* An event as the writers write it (outbox_format) reads back as the
 * same event. */
static void
check_written(enum outbox_kind k, const struct outbox_event *ev, size_t size)
{
	char line[OUTBOX_LINEMAX];
	struct outbox_event back;
	size_t n =
	    outbox_format(line, k, ev->ip, ev->account, ev->alen, ev->ms);

	if (n == 0 || line[n - 1] != '\n')
		broken("an event does not fit its line", size);
	if (outbox_parse_line(line, n - 1, &back) != k ||
	    strcmp(back.ip, ev->ip) != 0 || back.ms != ev->ms ||
	    back.alen != ev->alen || (!back.account) != (!ev->account) ||
	    (ev->alen && memcmp(back.account, ev->account, ev->alen) != 0))
		broken("an event written back reads differently", size);
}

/* One line: the kind and the event agree with the line. */
static enum outbox_kind
check_line(const char *line, size_t len, size_t size)
{
	struct outbox_event ev;
	struct openentry e;
	enum outbox_kind k;

	memset(&ev, 0x5a, sizeof ev);
	k = outbox_parse_line(line, len, &ev);
	switch (k) {
	case OUTBOX_EMPTY:
		if (len != 0)
			broken("a non-empty line read as empty", size);
		/* fall through */
	case OUTBOX_BAD:
		if (ev.ip[0] || ev.ms != 0 || ev.account || ev.alen)
			broken("no event, but a partial one left", size);
		if (k == OUTBOX_BAD && len == 0)
			broken("an empty line read as bad", size);
		break;
	case OUTBOX_LOGIN:
		/* "+IP<TAB>time", or exactly a good open-smtp line. */
		if (line[0] == '-' ||
		    (line[0] != '+' &&
		     (openlist_parse_line(line, len, &e) != LINE_ENTRY ||
		      strcmp(e.ip, ev.ip) != 0 ||
		      ev.ms != (e.ts > UINT64_MAX / 1000 ? UINT64_MAX
							 : e.ts * 1000))))
			broken("a login is not the line it says", size);
		/* An account lies within the line, and only a '+' has one. */
		if (ev.account &&
		    (line[0] != '+' || ev.alen == 0 || ev.alen > ACCOUNT_MAX ||
		     ev.account < line || ev.account + ev.alen != line + len))
			broken("an account outside its line", size);
		if (!ev.account && ev.alen)
			broken("an account's length without one", size);
		check_ip(ev.ip, size);
		check_written(k, &ev, size);
		break;
	case OUTBOX_CLOSE:
		if (ev.account || ev.alen)
			broken("a close with an account", size);
		if (line[0] != '-' || !memchr(line, '\t', len))
			broken("a close without its dash or TAB", size);
		check_ip(ev.ip, size);
		check_written(k, &ev, size);
		break;
	default:
		broken("unexpected kind", size);
	}
	return k;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	size_t pos = 0;

	/* The whole input as one line, then as an outbox, split as
	 * roamsync splits it. */
	check_line(text, size, size);
	while (pos < size) {
		const char *line = text + pos,
			   *nl = memchr(line, '\n', size - pos);
		size_t n = nl ? (size_t)(nl - line) : size - pos;

		check_line(line, n, size);
		pos += n + 1;
	}
	return 0;
}
