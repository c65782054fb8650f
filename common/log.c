/* Logging: "prog: message" on stderr, optionally syslog for daemonized mounts. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

#include "layerfs/log.h"

static enum lf_log_level max_level = LF_LOG_WARNING;
static const char *prog = "layerfs";
static bool use_syslog;

void lf_log_set_level(enum lf_log_level level)
{
	max_level = level;
}

enum lf_log_level lf_log_get_level(void)
{
	return max_level;
}

void lf_log_set_prog(const char *p)
{
	prog = p;
}

void lf_log_set_syslog(bool on)
{
	use_syslog = on;
}

static void emit(enum lf_log_level level, const char *msg)
{
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	static const char *const tag[] = { "", "warning: ", "", "debug: " };

	if (use_syslog)
		syslog(prio[level], "%s", msg);
	else
		fprintf(stderr, "%s: %s%s\n", prog, tag[level], msg);
}

void lf_log(enum lf_log_level level, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(level, buf);
}

int lf_log_errno(enum lf_log_level level, int r, const char *fmt, ...)
{
	char buf[2048];
	va_list ap;
	int n;

	if (level > max_level)
		return r;
	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n < sizeof(buf))
		snprintf(buf + n, sizeof(buf) - n, ": %s", strerror(r < 0 ? -r : r));
	emit(level, buf);
	return r;
}
