/* log.h: one-line messages on stderr, and failures kept for the caller. */
#ifndef LOG_H
#define LOG_H

#include <stddef.h>

extern const char *log_prog;

/* A failure to report later: code 100 is bad input, 111 a system failure. */
struct fail {
	int code;
	char msg[768];
};

void log_msg(const char *level, ...);
void log_die(int code, ...) __attribute__((noreturn));
void fail_set(struct fail *f, int code, ...);
void fail_setsys(struct fail *f, ...);
size_t log_sanitize(char *out, size_t size, const char *in, size_t len);

/* Arguments are strings; the macros add the terminating null pointer. */
#define log_info(...) log_msg("info", __VA_ARGS__, (const char *)0)
#define log_warn(...) log_msg("warning", __VA_ARGS__, (const char *)0)
#define log_fatal(code, ...) log_die(code, __VA_ARGS__, (const char *)0)
#define FAIL(f, code, ...) fail_set(f, code, __VA_ARGS__, (const char *)0)
#define FAILSYS(f, ...) fail_setsys(f, __VA_ARGS__, (const char *)0)

/* Room for a sanitized excerpt of untrusted text, quotes included. */
#define LOG_SAFE 160

#endif
