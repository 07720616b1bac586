/* SPDX-License-Identifier: ISC */
/* digits.h: a field of 1 to max decimal digits, nothing else, as a number. */
#ifndef DIGITS_H
#define DIGITS_H

#include <stddef.h>
#include <stdint.h>

/* max at most 19, so that the value fits. */
static inline int
digits_scan(const char *s, size_t n, size_t max, uint64_t *v)
{
	*v = 0;
	if (n == 0 || n > max)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		*v = *v * 10 + (uint64_t)(s[i] - '0');
	}
	return 1;
}

#endif
