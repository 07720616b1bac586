/* SPDX-License-Identifier: ISC */
/* ip.c: client addresses, parsed strictly and printed as tcpserver does. */
#include <arpa/inet.h>
#include <string.h>

#include "ip.h"

/* "a.b.c.d" and its NUL; out has room for 16 bytes. */
static size_t
ip4_fmt(char *out, const unsigned char ip[4])
{
	size_t o = 0;

	for (int i = 0; i < 4; i++) {
		unsigned v = ip[i];

		if (v >= 100)
			out[o++] = (char)('0' + v / 100);
		if (v >= 10)
			out[o++] = (char)('0' + v / 10 % 10);
		out[o++] = (char)('0' + v % 10);
		out[o++] = i < 3 ? '.' : '\0';
	}
	return o - 1;
}

/* One group in lowercase hex without leading zeros. */
static size_t
hex_fmt(char *out, unsigned v)
{
	static const char digit[] = "0123456789abcdef";
	size_t n = 0;
	int shift = 12;

	while (shift > 0 && !(v >> shift & 0xf))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		out[n++] = digit[v >> shift & 0xf];
	return n;
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
		return 7 + ip4_fmt(out + 7, ip + 12);
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
		o += hex_fmt(out + o,
			     (unsigned)(ip[2 * k] << 8 | ip[2 * k + 1]));
		if (k < 7)
			out[o++] = ':';
	}
	out[o] = '\0';
	return o;
}

/*
 * Whether s is a dotted quad as glibc's inet_pton takes it: four decimal
 * parts of 0 to 255, no leading zeros, nothing else. Such text is its own
 * canonical form.
 */
static int
ip4_ok(const char *s, size_t len)
{
	unsigned part = 0, digits = 0, dots = 0;

	for (size_t i = 0; i < len; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			if (digits && part == 0)
				return 0;
			part = part * 10 + (unsigned)(s[i] - '0');
			if (part > 255)
				return 0;
			digits++;
		} else if (s[i] == '.' && digits && dots < 3) {
			dots++;
			part = digits = 0;
		} else
			return 0;
	}
	return dots == 3 && digits;
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

	if (len == 0 || len >= sizeof buf)
		return 0;
	if (!memchr(s, ':', len)) {
		if (!ip4_ok(s, len))
			return 0;
		memcpy(out, s, len);
		out[len] = '\0';
		return len;
	}
	if (memchr(s, '\0', len))
		return 0;
	memcpy(buf, s, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET6, buf, ip) != 1)
		return 0;
	if (memcmp(ip, mapped, 12) == 0)
		return ip4_fmt(out, ip + 12);
	return ip6_fmt(out, ip);
}

/*
 * Whether a rule keyed by this canonical address opens it alone. The IPv6
 * tcpserver also looks up every prefix of its text form that ends in ':',
 * so a key ending in "::" (2001:db8:1::) is the prefix of a whole range as
 * well (2001:db8:1::77): no rule can open such an address by itself.
 */
int
ip_alone(const char *canonical)
{
	size_t n = strlen(canonical);

	return n && canonical[n - 1] != ':';
}
