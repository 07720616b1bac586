/* SPDX-License-Identifier: ISC */
/* passwd-fuzz.c: libFuzzer target for passwd_gid, the /etc/passwd reader
 * of the directory's trust check. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "safe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A decimal field as the reader takes it: 1 to 10 digits. */
static int
num(const char *s, size_t n, unsigned long *v)
{
	char buf[16];

	if (n == 0 || n > 10 || strspn(s, "0123456789") < n)
		return 0;
	memcpy(buf, s, n);
	buf[n] = '\0';
	*v = strtoul(buf, 0, 10);
	return 1;
}

/* The reference: the first line with four colons whose third field is
 * uid and fourth a number. */
static int
reference(const char *text, size_t len, unsigned long uid, unsigned long *gid)
{
	const char *end = text + len, *line = text;

	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *stop = nl ? nl : end, *c[4], *p = line;
		unsigned long u;
		int k;

		for (k = 0; k < 4; k++) {
			c[k] = memchr(p, ':', (size_t)(stop - p));
			if (!c[k])
				break;
			p = c[k] + 1;
		}
		if (k == 4 && num(c[1] + 1, (size_t)(c[2] - c[1] - 1), &u) &&
		    u == uid && num(c[2] + 1, (size_t)(c[3] - c[2] - 1), gid))
			return 1;
		line = stop + 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	static const uid_t uids[] = {0, 1, 89, 1000, 65534, 4294967295u};

	for (size_t i = 0; i < sizeof uids / sizeof *uids; i++) {
		gid_t gid = 0;
		unsigned long want = 0;
		int found = passwd_gid(text, size, uids[i], &gid);

		if (found != reference(text, size, uids[i], &want) ||
		    (found && gid != (gid_t)want)) {
			fprintf(stderr, "passwd-fuzz: differs from the reference\n");
			abort();
		}
	}
	return 0;
}
