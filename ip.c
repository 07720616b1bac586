/* ip.c: client addresses, parsed strictly and printed as tcpserver does. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "ip.h"

static size_t
ip4_fmt(char *out, size_t size, const unsigned char ip[4])
{
	int n = snprintf(out, size, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);

	return n > 0 ? (size_t)n : 0;
}

/*
 * The text form Debian's IPv6 tcpserver puts in TCPREMOTEIP and looks up in
 * its rules: lowercase hex without leading zeros, the longest run of zero
 * groups (the first of equal runs, even a single group) written as "::",
 * and a v4-mapped address as ::ffff:a.b.c.d. This differs from inet_ntop,
 * which never compresses a single group.
 */
size_t
ip6_fmt(char out[IP_FMTLEN], const unsigned char ip[16])
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0,	   0,
						 0, 0, 0, 0, 0xff, 0xff};
	int best = -1, bestlen = 0, run = -1;
	size_t k;
	size_t o = 0;

	if (memcmp(ip, mapped, 12) == 0) {
		memcpy(out, "::ffff:", 7);
		return 7 + ip4_fmt(out + 7, IP_FMTLEN - 7, ip + 12);
	}
	for (k = 0; k <= 8; k++) {
		int zero = k < 8 && ip[2 * k] == 0 && ip[2 * k + 1] == 0;

		if (zero && run < 0)
			run = (int)k;
		if (!zero && run >= 0) {
			if ((int)k - run > bestlen) {
				bestlen = (int)k - run;
				best = run;
			}
			run = -1;
		}
	}
	for (k = 0; k < 8; k++) {
		if ((int)k == best) {
			if (k == 0)
				out[o++] = ':';
			out[o++] = ':';
			k += (size_t)bestlen - 1;
			continue;
		}
		o += (size_t)snprintf(
		    out + o, IP_FMTLEN - o, "%x",
		    (unsigned)(ip[2 * k] << 8 | ip[2 * k + 1]));
		if (k < 7)
			out[o++] = ':';
	}
	out[o] = '\0';
	return o;
}

/*
 * Parses an IPv4 dotted quad (four decimal parts, no leading zeros) or an
 * IPv6 address in any inet_pton form, and writes the key tcpserver looks
 * up: v4-mapped IPv6 becomes plain IPv4. Returns 0 for anything else:
 * empty, overlong, embedded NUL, spaces, scope ids, brackets, short forms.
 */
size_t
ip_canonical(char out[IP_FMTLEN], const char *s, size_t len)
{
	static const unsigned char mapped[12] = {0, 0, 0, 0, 0,	   0,
						 0, 0, 0, 0, 0xff, 0xff};
	char buf[IP_FMTLEN];
	unsigned char ip[16];

	if (len == 0 || len >= sizeof buf || memchr(s, '\0', len))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (!memchr(buf, ':', len)) {
		/* glibc's inet_pton refuses leading zeros and short forms. */
		if (inet_pton(AF_INET, buf, ip) != 1)
			return 0;
		return ip4_fmt(out, IP_FMTLEN, ip);
	}
	if (inet_pton(AF_INET6, buf, ip) != 1)
		return 0;
	if (memcmp(ip, mapped, 12) == 0)
		return ip4_fmt(out, IP_FMTLEN, ip + 12);
	return ip6_fmt(out, ip);
}
