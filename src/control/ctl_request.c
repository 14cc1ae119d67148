/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The requests of the control channel: status, load, attach, detach,
 * unload. Each takes a parsed JSON object and builds the response. */
#include "control/ctl.h"
#include "control/ctl_int.h"
#include "core/core.h"
#include "lower/lower.h"

#include <errno.h>
#include <json-c/json.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>

static struct json_object *ok(void)
{
	struct json_object *o = json_object_new_object();

	if (o)
		json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

__attribute__((format(printf, 2, 3)))
struct json_object *ctl_error(int err, const char *fmt, ...)
{
	struct json_object *o = json_object_new_object();
	char msg[1024];
	va_list ap;

	if (!o)
		return NULL;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	json_object_object_add(o, "errno",
			       json_object_new_string(ctl_errno_name(err)));
	return o;
}

/* Optional fields: absent is fine, the wrong type is not. */
static int get_string(struct json_object *req, const char *key,
		      const char **out)
{
	struct json_object *v;

	*out = NULL;
	if (!json_object_object_get_ex(req, key, &v) || json_object_is_type(
			v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_string))
		return -EINVAL;
	*out = json_object_get_string(v);
	return 0;
}

static int get_altitude(struct json_object *req, uint32_t *out)
{
	struct json_object *v;
	int64_t n;

	*out = 0;
	if (!json_object_object_get_ex(req, "altitude", &v) ||
	    json_object_is_type(v, json_type_null))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EINVAL;
	n = json_object_get_int64(v);
	if (n < 0 || n > UINT32_MAX)
		return -ERANGE;
	*out = (uint32_t)n;
	return 0;
}

static bool get_force(struct json_object *req)
{
	struct json_object *v;

	return json_object_object_get_ex(req, "force", &v) &&
	       json_object_get_boolean(v);
}

static struct json_object *attach_error(const struct ctl_volume *v,
					const char *name, uint32_t altitude,
					int ret)
{
	switch (ret) {
	case -ENOENT:
		return ctl_error(ret, "no filter named '%s' (built-in "
				 "filters are listed by fsfilter --help; load "
				 "a .so with fsfilter load)", name);
	case -EEXIST:
		return ctl_error(ret, "cannot attach '%s' to %s: it is "
				 "attached already, or altitude %u is taken "
				 "(see fsfilter status; give another "
				 "--altitude)", name, v->mountpoint, altitude);
	case -EINVAL:
		return ctl_error(ret, "filter '%s' declined %s: bad "
				 "arguments or not started (see the "
				 "daemon's log)", name, v->mountpoint);
	default:
		return ctl_error(ret, "filter '%s' declined %s: %s", name,
				 v->mountpoint, strerror(-ret));
	}
}

static struct json_object *attached(const char *name, uint32_t altitude)
{
	struct json_object *o = ok();

	if (o) {
		json_object_object_add(o, "filter",
				       json_object_new_string(name));
		json_object_object_add(o, "altitude",
				       json_object_new_int64(altitude));
	}
	return o;
}

static struct json_object *do_attach(const struct ctl_volume *v,
				     const char *name, uint32_t altitude,
				     const char *args)
{
	struct flt_instance *inst;
	int ret = core_volume_attach(v->vol, name, altitude, args, &inst);

	if (ret)
		return attach_error(v, name, altitude, ret);
	flt_log(LOG_NOTICE, "control: attached %s at %u to %s", name,
		flt_instance_altitude(inst), v->mountpoint);
	return attached(name, flt_instance_altitude(inst));
}

static struct json_object *req_attach(const struct ctl_volume *v,
				      struct json_object *req)
{
	const char *name, *args;
	uint32_t altitude;

	if (get_string(req, "name", &name) || !name ||
	    get_string(req, "args", &args) || get_altitude(req, &altitude))
		return ctl_error(EINVAL, "attach wants \"name\" (string), "
				 "optional \"altitude\" (0 to 4294967295) and "
				 "\"args\" (string)");
	return do_attach(v, name, altitude, args);
}

static struct json_object *req_load(const struct ctl_volume *v,
				    struct json_object *req)
{
	const char *path, *args, *want;
	char name[32], err[1024];
	struct json_object *resp;
	uint32_t altitude;
	bool was_loaded;
	int ret;

	if (get_string(req, "path", &path) || !path ||
	    get_string(req, "args", &args) || get_altitude(req, &altitude) ||
	    get_string(req, "name", &want))
		return ctl_error(EINVAL, "load wants \"path\" (string), "
				 "optional \"altitude\", \"args\" and \"name\"");
	if (path[0] != '/')
		return ctl_error(EINVAL, "%s: give an absolute path (the "
				 "daemon's directory is /)", path);
	/* A file loaded before only gets attached (to this volume); one this
	 * request loaded is unloaded again if the attach fails, so a refused
	 * load leaves nothing behind. */
	was_loaded = core_filter_file_is_loaded(path);
	ret = core_load_filter_file_msg(path, name, sizeof(name), err,
					sizeof(err));
	if (ret)
		return ctl_error(-ret, "%s", err);
	/* fsfilter attach NAME found NAME.so: it must be filter NAME, as for
	 * mount --filter NAME (cli_check_filters) */
	if (want && strcmp(want, name)) {
		if (!was_loaded)
			core_unload_filter(name, true);
		return ctl_error(EINVAL, "%s registers the filter '%s', not "
				 "'%s'", path, name, want);
	}
	resp = do_attach(v, name, altitude, args);
	if (resp && !json_object_get_boolean(
			    json_object_object_get(resp, "ok")) &&
	    !was_loaded)
		core_unload_filter(name, true);
	if (resp && json_object_get_boolean(json_object_object_get(resp, "ok")))
		json_object_object_add(resp, "path",
				       json_object_new_string(path));
	return resp;
}

static struct json_object *req_detach(const struct ctl_volume *v,
				      struct json_object *req, bool unload)
{
	bool force = get_force(req);
	const char *name;
	char path[4096];
	int ret;

	if (get_string(req, "name", &name) || !name)
		return ctl_error(EINVAL, "%s wants \"name\" (string) and "
				 "optional \"force\" (bool)",
				 unload ? "unload" : "detach");
	if (unload && !core_filter_is_loaded_file(name, path, sizeof(path)))
		return ctl_error(core_find_filter(name) ? EPERM : ENOENT,
				 core_find_filter(name)
					 ? "filter '%s' is built in: it can "
					   "be detached, not unloaded"
					 : "no filter named '%s' is loaded",
				 name);
	if (unload)
		ret = core_unload_filter(name, force);
	else
		ret = core_volume_detach_filter(v->vol, name, force);
	if (ret == -ENOENT)
		return ctl_error(-ret, "filter '%s' is not attached to %s",
				 name, v->mountpoint);
	if (ret)
		return ctl_error(-ret, "filter '%s' vetoed the %s: %s (use "
				 "--force to %s anyway)", name,
				 unload ? "unload" : "detach", strerror(-ret),
				 unload ? "unload" : "detach");
	flt_log(LOG_NOTICE, "control: %s %s", unload ? "unloaded" : "detached",
		name);
	return ok();
}

/* {"cmd":"fault","spec":"pwrite:1:EIO"}: arm the lower layer's fault
 * injector (src/lower/fault.c); "" disarms. Answers how many faults the
 * previous spec fired. Only on a daemon started for it: a fault breaks
 * the volume's I/O on purpose. */
static struct json_object *req_fault(const struct ctl_volume *v,
				     struct json_object *req)
{
	struct json_object *o;
	const char *spec;
	uint64_t fired;
	int ret;

	if (!v->fault_injection)
		return ctl_error(EPERM, "fault injection is off (start the "
				 "daemon with --enable-fault-injection)");
	if (get_string(req, "spec", &spec) || !spec)
		return ctl_error(EINVAL, "fault wants a \"spec\" string");
	fired = lower_fault_fired();
	ret = lower_fault_arm(spec);
	if (ret)
		return ctl_error(-ret, "bad fault spec '%s' (expected "
				 "OP:N:ERRNO|short[:TIMES],...)", spec);
	o = ok();
	if (o)
		json_object_object_add(o, "fired",
				       json_object_new_int64((int64_t)fired));
	return o;
}

struct json_object *ctl_handle(const struct ctl_volume *v,
			       struct json_object *req)
{
	const char *cmd;

	if (!req || !json_object_is_type(req, json_type_object) ||
	    get_string(req, "cmd", &cmd) || !cmd)
		return ctl_error(EINVAL, "a request is one JSON object per "
				 "line with a \"cmd\" string");
	if (!strcmp(cmd, "status"))
		return ctl_status(v);
	if (!strcmp(cmd, "load"))
		return req_load(v, req);
	if (!strcmp(cmd, "attach"))
		return req_attach(v, req);
	if (!strcmp(cmd, "detach"))
		return req_detach(v, req, false);
	if (!strcmp(cmd, "unload"))
		return req_detach(v, req, true);
	if (!strcmp(cmd, "fault"))
		return req_fault(v, req);
	return ctl_error(EINVAL, "unknown cmd '%s' (expected status, load, "
			 "attach, detach, unload)", cmd);
}
