/* SPDX-License-Identifier: ISC */
/* log.h: one-line messages on stderr (or where a login chain allows), and
 * failures kept for the caller. */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

extern const char *log_prog;

/* A failure to report later: code 100 is bad input, 111 a system failure. */
struct fail {
	int code;
	char msg[768];
};

int log_setup(void);
void log_onto_stderr(int null);
void log_parts(const char *level, const char *const *parts);
void log_die_parts(int code, const char *const *parts)
    __attribute__((noreturn));
void fail_parts(struct fail *f, int code, const char *const *parts);
void failsys_parts(struct fail *f, const char *const *parts);
size_t log_sanitize(char *out, size_t size, const char *in, size_t len);

/* The arguments are strings, joined into one line or message. */
#define LOG_PARTS(...) ((const char *const[]){__VA_ARGS__, (const char *)0})
#define log_info(...) log_parts("info", LOG_PARTS(__VA_ARGS__))
#define log_warn(...) log_parts("warning", LOG_PARTS(__VA_ARGS__))
#define log_fatal(code, ...) log_die_parts(code, LOG_PARTS(__VA_ARGS__))
#define FAIL(f, code, ...) fail_parts(f, code, LOG_PARTS(__VA_ARGS__))
#define FAILSYS(f, ...) failsys_parts(f, LOG_PARTS(__VA_ARGS__))

/* Room for a sanitized excerpt of untrusted text, quotes included. */
#define LOG_SAFE 160

#endif
