/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Filters in shared objects (fsfilter load FILE.so, --filter FILE.so).
 *
 * A filter .so exports one symbol, FLT_REGISTRATION_SYMBOL, a pointer to
 * its struct flt_registration (FLT_DECLARE_FILTER). It links against
 * nothing of ours: the flt_* API comes from the host executable, which
 * exports exactly those symbols (src/core/flt_exports.list). The ABI check
 * reads size and version before anything of the registration is used, so
 * a filter built against another header is refused with a message that
 * says which version it has and which one we want.
 *
 * The object stays open while its filter is registered; core_unload_filter
 * calls loader_filter_unregistered(), which closes it. By then every
 * instance is torn down, so no code of the object runs any more (a filter
 * that leaves threads of its own running past FilterUnload is broken).
 */
#include "core/core_int.h"

#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

/* One loaded object. Protected by loader_lock. Lock order: loader_lock ->
 * registry_lock (a load registers the filter with it held; the unload
 * path takes it only after the registry is done). */
struct loaded {
	char path[PATH_MAX];	/* realpath, the identity of the object */
	char name[32];		/* the filter it registered */
	void *handle;
	struct loaded *next;
};

static pthread_mutex_t loader_lock = PTHREAD_MUTEX_INITIALIZER;
static struct loaded *loaded_list;	/* loader_lock */

__attribute__((format(printf, 3, 4)))
static void seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

/* The registration's fixed header is read before anything else, so an
 * object built against another version of filter.h is refused cleanly. */
static int check_abi(const char *path, const struct flt_registration *reg,
		     char *err, size_t errlen)
{
	if (reg->version != FLT_REGISTRATION_VERSION) {
		seterr(err, errlen, "%s: filter ABI version %u, but this "
		       "fsfilter supports version %u (rebuild the filter "
		       "against this fsfilter's <fsfilter/filter.h>)", path,
		       reg->version, FLT_REGISTRATION_VERSION);
		return -EPROTO;
	}
	if (reg->size < offsetof(struct flt_registration, contexts) ||
	    reg->size > sizeof(struct flt_registration)) {
		seterr(err, errlen, "%s: filter registration size %u, but "
		       "version %u has size %zu (rebuild the filter against "
		       "this fsfilter's <fsfilter/filter.h>)", path, reg->size,
		       FLT_REGISTRATION_VERSION,
		       sizeof(struct flt_registration));
		return -EPROTO;
	}
	return 0;
}

static struct loaded *find_path_locked(const char *path)
{
	for (struct loaded *l = loaded_list; l; l = l->next)
		if (!strcmp(l->path, path))
			return l;
	return NULL;
}

int core_load_filter_file_msg(const char *path, char *name_out, size_t len,
			      char *err, size_t errlen)
{
	const struct flt_registration *const *sym;
	const struct flt_registration *reg;
	struct flt_filter *filter;
	struct loaded *l;
	char real[PATH_MAX];
	void *handle;
	int ret;

	if (!realpath(path, real)) {
		ret = -errno;
		seterr(err, errlen, "%s: %s", path, strerror(errno));
		return ret;
	}
	pthread_mutex_lock(&loader_lock);
	l = find_path_locked(real);
	if (l) {		/* loaded already: "load if needed" */
		snprintf(name_out, len, "%s", l->name);
		pthread_mutex_unlock(&loader_lock);
		return 0;
	}
	l = calloc(1, sizeof(*l));
	if (!l) {
		ret = -ENOMEM;
		seterr(err, errlen, "out of memory");
		goto out_unlock;
	}
	handle = dlopen(real, RTLD_NOW | RTLD_LOCAL);
	if (!handle) {
		/* missing file, not an ELF object, or an flt_* symbol this
		 * fsfilter does not have */
		seterr(err, errlen, "%s: cannot load: %s", path, dlerror());
		ret = -ENOEXEC;
		goto out_free;
	}
	sym = dlsym(handle, FLT_REGISTRATION_SYMBOL);
	if (!sym || !*sym) {
		seterr(err, errlen, "%s: not an fsfilter filter (no symbol "
		       "%s; declare it with FLT_DECLARE_FILTER)", path,
		       FLT_REGISTRATION_SYMBOL);
		ret = -ENOEXEC;
		goto out_close;
	}
	reg = *sym;
	ret = check_abi(path, reg, err, errlen);
	if (ret)
		goto out_close;
	ret = flt_register_filter(reg, &filter);
	if (ret == -EEXIST) {
		seterr(err, errlen, "%s: a filter named '%s' is already "
		       "registered (built in or from another file)", path,
		       reg->name);
		goto out_close;
	}
	if (ret) {
		seterr(err, errlen, "%s: registration refused: %s (bad "
		       "name or tables; see the daemon log)", path,
		       strerror(-ret));
		goto out_close;
	}
	ret = flt_start_filtering(filter);
	if (ret) {
		seterr(err, errlen, "%s: cannot start filtering: %s", path,
		       strerror(-ret));
		flt_unregister_filter(filter);
		goto out_close;
	}
	snprintf(l->path, sizeof(l->path), "%s", real);
	snprintf(l->name, sizeof(l->name), "%s", flt_filter_name(filter));
	l->handle = handle;
	l->next = loaded_list;
	loaded_list = l;
	snprintf(name_out, len, "%s", l->name);
	pthread_mutex_unlock(&loader_lock);
	flt_log(LOG_NOTICE, "loaded filter %s from %s", name_out, real);
	return 0;

out_close:
	dlclose(handle);
out_free:
	free(l);
out_unlock:
	pthread_mutex_unlock(&loader_lock);
	flt_log(LOG_ERR, "%s", err && errlen ? err : "filter load failed");
	return ret;
}

int core_load_filter_file(const char *path, char *name_out, size_t len)
{
	char err[512];

	return core_load_filter_file_msg(path, name_out, len, err,
					 sizeof(err));
}

bool core_filter_is_loaded_file(const char *name, char *path, size_t len)
{
	bool found = false;

	pthread_mutex_lock(&loader_lock);
	for (struct loaded *l = loaded_list; l; l = l->next)
		if (!strcmp(l->name, name)) {
			if (path && len)
				snprintf(path, len, "%s", l->path);
			found = true;
			break;
		}
	pthread_mutex_unlock(&loader_lock);
	return found;
}

bool core_filter_file_is_loaded(const char *path)
{
	char real[PATH_MAX];
	bool found;

	if (!realpath(path, real))
		return false;
	pthread_mutex_lock(&loader_lock);
	found = find_path_locked(real) != NULL;
	pthread_mutex_unlock(&loader_lock);
	return found;
}

void loader_filter_unregistered(const char *name)
{
	struct loaded **pp, *l = NULL;

	pthread_mutex_lock(&loader_lock);
	for (pp = &loaded_list; *pp; pp = &(*pp)->next)
		if (!strcmp((*pp)->name, name)) {
			l = *pp;
			*pp = l->next;
			break;
		}
	pthread_mutex_unlock(&loader_lock);
	if (!l)
		return;		/* built in */
	flt_log(LOG_NOTICE, "unloaded filter %s (%s)", l->name, l->path);
	dlclose(l->handle);
	free(l);
}
