/* promfmt.h: figures in the Prometheus text exposition format, built in a
 * buffer. */
/* SPDX-License-Identifier: ISC */
#ifndef PROMFMT_H
#define PROMFMT_H

#include <stddef.h>
#include <stdint.h>

/* The text so far; nomem once an allocation failed (the text is then
 * incomplete and must not be written). */
struct promfmt {
	char *buf;
	size_t len, size;
	int nomem;
};

/* Room promfmt_label needs for len bytes of value. */
#define PROMFMT_LABELMAX(len) ((len)*5)

size_t promfmt_label(char *out, const char *s, size_t len);
int promfmt_name_ok(const char *name);
void promfmt_head(struct promfmt *p, const char *name, const char *type,
		  const char *help);
void promfmt_value(struct promfmt *p, const char *name, uint64_t v);
void promfmt_ms(struct promfmt *p, const char *name, uint64_t ms);
void promfmt_labeled(struct promfmt *p, const char *name, const char *label,
		     const char *value, size_t vlen, uint64_t v);
void promfmt_free(struct promfmt *p);

#endif
