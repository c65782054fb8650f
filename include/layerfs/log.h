/* Logging for tools and the FUSE glue; libraries return errors and do not log. */
#pragma once

#include <stdbool.h>
#include "layerfs/macro.h"

enum lf_log_level {
	LF_LOG_ERR = 0,
	LF_LOG_WARNING,
	LF_LOG_INFO,
	LF_LOG_DEBUG,
};

void lf_log_set_level(enum lf_log_level level);
enum lf_log_level lf_log_get_level(void);
/* Prefix for every message, normally the program's name. The string is not copied. */
void lf_log_set_prog(const char *prog);
/* When true, messages also go to syslog (daemonized mounts). */
void lf_log_set_syslog(bool on);

void lf_log(enum lf_log_level level, const char *fmt, ...) _printf_(2, 3);
/* Logs fmt followed by ": strerror(-r)" and returns r (a negative errno). */
int lf_log_errno(enum lf_log_level level, int r, const char *fmt, ...) _printf_(3, 4);
