/*
 * Error context carried out of libraries: a negative errno is the result, and struct lf_err
 * holds the one-line message a tool prints ("'img.tar': layer sha256:...: entry '../x': path
 * escapes the layer"). Libraries fill it and never log.
 */
#pragma once

#include <stddef.h>
#include "layerfs/macro.h"

#define LF_ERR_MAX 1024

struct lf_err {
	char msg[LF_ERR_MAX];
};

/* Sets the message (if e is not NULL and has no message yet) and returns r. */
int lf_err_set(struct lf_err *e, int r, const char *fmt, ...) _printf_(3, 4);
/* Prefixes an existing message with "prefix: " (or sets it if empty); returns r. */
int lf_err_prefix(struct lf_err *e, int r, const char *fmt, ...) _printf_(3, 4);
/* The message, or strerror(-r) if none was set. */
const char *lf_err_str(const struct lf_err *e, int r);
