/* log.h -- messages to stderr, prefixed with the program name. */
#ifndef LOG_H
#define LOG_H

extern const char *log_progname;
extern int log_verbose;

void log_init(const char *argv0);
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void die(int status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3), noreturn));

#endif
