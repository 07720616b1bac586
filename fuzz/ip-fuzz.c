/* SPDX-License-Identifier: ISC */
/* ip-fuzz.c: libFuzzer target for client addresses (ip_canonical, ip6_fmt),
 * checked against glibc's inet_pton and inet_ntop. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ip.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const unsigned char mapped[12] = {0, 0, 0, 0, 0,	   0,
					 0, 0, 0, 0, 0xff, 0xff};

static void
broken(const char *what, const char *got, const char *want)
{
	fprintf(stderr, "ip-fuzz: invariant broken: %s: got [%s], want [%s]\n",
		what, got ? got : "", want ? want : "");
	abort();
}

/* Length below IP_FMTLEN, NUL-terminated, only [0-9a-f:.]. */
static void
check_text(const char *out, size_t n, const char *what)
{
	size_t i;

	if (n == 0 || n >= IP_FMTLEN || strlen(out) != n)
		broken(what, out, "a length from 1 to IP_FMTLEN - 1");
	for (i = 0; i < n; i++)
		if (!strchr("0123456789abcdef:.", out[i]))
			broken(what, out, "only [0-9a-f:.]");
}

/*
 * What inet_ntop would print, adjusted to the two places where tcpserver's
 * form differs: a single zero group is compressed too, and ::a.b.c.d
 * (IPv4-compatible) is written in hex. Only for addresses not v4-mapped.
 */
static void
expected6(char *want, const unsigned char ip[16])
{
	unsigned w[8];
	int best = -1, bestlen = 0, run = -1, k;
	size_t o = 0;

	for (k = 0; k < 8; k++)
		w[k] = (unsigned)ip[2 * (size_t)k] << 8 | ip[2 * (size_t)k + 1];
	for (k = 0; k <= 8; k++) {
		int zero = k < 8 && w[k] == 0;

		if (zero && run < 0)
			run = k;
		if (!zero && run >= 0) {
			if (k - run > bestlen) {
				bestlen = k - run;
				best = run;
			}
			run = -1;
		}
	}
	if (bestlen >= 2 && !(best == 0 && bestlen == 6)) {
		/* inet_ntop's own form is tcpserver's here. */
		if (!inet_ntop(AF_INET6, ip, want, INET6_ADDRSTRLEN))
			abort();
		return;
	}
	/* Otherwise build it from inet_ntop's groups: the same hex, and
	 * "::" for the zero run. */
	for (k = 0; k < 8; k++) {
		if (k == best) {
			o += (size_t)snprintf(want + o, 8, k == 0 ? "::" : ":");
			k += bestlen - 1;
			continue;
		}
		o += (size_t)snprintf(want + o, 8, "%x%s", w[k],
				      k < 7 ? ":" : "");
	}
}

/* ip6_fmt over any 16 bytes. */
static void
check_fmt(const unsigned char ip[16])
{
	char out[IP_FMTLEN], want[INET6_ADDRSTRLEN + 8], again[IP_FMTLEN];
	unsigned char back[16];
	size_t n = ip6_fmt(out, ip);

	check_text(out, n, "ip6_fmt");
	if (inet_pton(AF_INET6, out, back) != 1 || memcmp(back, ip, 16) != 0)
		broken("ip6_fmt does not parse back to its bytes", out, 0);
	if (memcmp(ip, mapped, 12) == 0) {
		char v4[INET_ADDRSTRLEN];

		if (!inet_ntop(AF_INET, ip + 12, v4, sizeof v4))
			abort();
		snprintf(want, sizeof want, "::ffff:%s", v4);
		if (strcmp(out, want) != 0)
			broken("ip6_fmt of a v4-mapped address", out, want);
		/* ip_canonical gives the plain IPv4 address for it. */
		if (ip_canonical(again, out, n) != strlen(v4) ||
		    strcmp(again, v4) != 0)
			broken("ip_canonical of ::ffff:a.b.c.d", again, v4);
		return;
	}
	expected6(want, ip);
	if (strcmp(out, want) != 0)
		broken("ip6_fmt against inet_ntop", out, want);
	if (ip_canonical(again, out, n) != n || strcmp(again, out) != 0)
		broken("ip_canonical of ip6_fmt's text", again, out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[IP_FMTLEN], again[IP_FMTLEN], s[IP_FMTLEN + 1];
	unsigned char ip[16];
	size_t n = ip_canonical(out, (const char *)data, size);
	int ok = 0;

	/* What glibc accepts: one address, no NUL, no longer than the
	 * longest text form (45 bytes). */
	if (size < sizeof s && !memchr(data, '\0', size)) {
		memcpy(s, data, size);
		s[size] = '\0';
		if (memchr(s, ':', size))
			ok = inet_pton(AF_INET6, s, ip) == 1 ? 6 : 0;
		else
			ok = inet_pton(AF_INET, s, ip) == 1 ? 4 : 0;
	}
	if (!n != !ok)
		broken(n ? "accepted what inet_pton refuses"
			 : "refused what inet_pton accepts",
		       n ? out : "", 0);
	if (n) {
		check_text(out, n, "ip_canonical");
		/* Idempotent: the canonical text is its own canonical text. */
		if (ip_canonical(again, out, n) != n || strcmp(again, out) != 0)
			broken("ip_canonical is not idempotent", again, out);
		/* The same address as inet_pton read it: plain IPv4 for IPv4
		 * and v4-mapped, else the IPv6 bytes. */
		if (ok == 6 && memcmp(ip, mapped, 12) != 0) {
			unsigned char back[16];

			if (!memchr(out, ':', n) ||
			    inet_pton(AF_INET6, out, back) != 1 ||
			    memcmp(back, ip, 16) != 0)
				broken("IPv6 canonical text of another address",
				       out, 0);
			check_fmt(ip);
		} else {
			char v4[INET_ADDRSTRLEN];

			if (!inet_ntop(AF_INET, ok == 6 ? ip + 12 : ip, v4,
				       sizeof v4))
				abort();
			if (strcmp(out, v4) != 0)
				broken("IPv4 canonical text against inet_ntop",
				       out, v4);
		}
	}
	/* The formatter alone, on the first 16 bytes as an address, and on
	 * them as the tail of a v4-mapped one. */
	if (size >= 16) {
		unsigned char m[16];

		check_fmt(data);
		memcpy(m, mapped, 12);
		memcpy(m + 12, data, 4);
		check_fmt(m);
	}
	return 0;
}
