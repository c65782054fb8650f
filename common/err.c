/* Error context carried from libraries to the tool that reports it. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "layerfs/err.h"

int lf_err_set(struct lf_err *e, int r, const char *fmt, ...)
{
	va_list ap;

	if (!e || e->msg[0])
		return r;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return r;
}

int lf_err_prefix(struct lf_err *e, int r, const char *fmt, ...)
{
	char prefix[LF_ERR_MAX], old[LF_ERR_MAX];
	va_list ap;

	if (!e)
		return r;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (!e->msg[0]) {
		snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, strerror(r < 0 ? -r : r));
		return r;
	}
	memcpy(old, e->msg, sizeof(old));
	snprintf(e->msg, sizeof(e->msg), "%s: %s", prefix, old);
	return r;
}

const char *lf_err_str(const struct lf_err *e, int r)
{
	if (e && e->msg[0])
		return e->msg;
	return strerror(r < 0 ? -r : r);
}
