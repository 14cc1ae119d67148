/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Filter-initiated I/O: operations a filter issues below itself. They go
 * through the same dispatch as everything else, starting at the first
 * instance whose altitude is below the issuer's, so they can never reach
 * the issuer or a filter above it (and never re-enter the volume).
 */
#include "core/core_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
/* a cached object's public part is off limits, as if freed: a filter that
 * touches its callback data after flt_free_callback_data() is still caught */
#define FIO_POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define FIO_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define FIO_POISON(p, n) ((void)(p), (void)(n))
#define FIO_UNPOISON(p, n) ((void)(p), (void)(n))
#endif

/* Where a synchronous I/O is: the completer and the issuer meet on @state,
 * and only an issuer that finds the I/O still under way sleeps on the
 * condition variable (most complete before dispatch returns). */
enum fio_state {
	FIO_SENT,	/* dispatched, not completed, the issuer is awake */
	FIO_WAITING,	/* the issuer sleeps: the completer must signal */
	FIO_DONE,	/* completed */
};

struct fio_data {
	struct flt_callback_data data;	/* first: the public part */
	struct flt_instance *issuer;
	/* the issuer's volume, for freeing: the volume outlives any instance,
	 * so a free after the issuer's detach does not touch the instance */
	struct flt_volume *vol;
	flt_completed_io_callback cb;
	void *cb_context;
	/* synchronous waits (the lock and condition variable are initialised
	 * once and kept while the object is cached) */
	_Atomic int state;		/* enum fio_state */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool completed;			/* lock; FIO_WAITING only */
	struct fio_data *next_free;	/* in a thread's cache */
};

static struct fio_data *fio_of(struct flt_callback_data *data)
{
	return (struct fio_data *)data;
}

/*
 * Callback data are recycled per thread, like the dispatch's operation
 * state: flt_free_callback_data() parks the object in the freeing thread's
 * cache (up to FIO_CACHE_MAX; an object may well be freed on another thread
 * than the one that allocated it, it then simply joins that thread's
 * cache), and the next allocation on that thread takes it back. So the hot
 * path neither allocates nor initialises locks. Only free objects are
 * cached, so the volume's live count is unchanged by it. A thread's cache
 * is destroyed when the thread exits (the key's destructor) and the exiting
 * thread's at process exit (a destructor), so nothing is left for LSan.
 */
/* per thread: nested filter-initiated I/O is shallow */
#define FIO_CACHE_MAX 4
static __thread struct fio_data *fio_cache;
static __thread unsigned fio_cached;
static __thread bool fio_cache_armed;	/* the key's destructor will run */
static pthread_key_t fio_key;
static bool fio_key_ok;
static pthread_once_t fio_key_once = PTHREAD_ONCE_INIT;

static void fio_destroy(struct fio_data *fd)
{
	FIO_UNPOISON(&fd->data, sizeof(fd->data));
	pthread_mutex_destroy(&fd->lock);
	pthread_cond_destroy(&fd->cond);
	free(fd);
}

static void fio_cache_drain(void)
{
	struct fio_data *fd;

	while ((fd = fio_cache)) {
		fio_cache = fd->next_free;
		fio_destroy(fd);
	}
	fio_cached = 0;
}

static void fio_thread_exit(void *unused)
{
	(void)unused;
	fio_cache_drain();
	/* a later key destructor that frees callback data re-arms it (glibc
	 * then runs the destructors again) */
	fio_cache_armed = false;
}

__attribute__((destructor)) static void fio_process_exit(void)
{
	fio_cache_drain();
}

static void fio_key_create(void)
{
	fio_key_ok = pthread_key_create(&fio_key, fio_thread_exit) == 0;
}

static struct fio_data *fio_get(void)
{
	struct fio_data *fd = fio_cache;

	if (fd) {
		fio_cache = fd->next_free;
		fio_cached--;
		FIO_UNPOISON(&fd->data, sizeof(fd->data));
		return fd;
	}
	fd = malloc(sizeof(*fd));
	if (!fd)
		return NULL;
	pthread_mutex_init(&fd->lock, NULL);
	pthread_cond_init(&fd->cond, NULL);
	return fd;
}

static void fio_put(struct fio_data *fd)
{
	if (fio_cached < FIO_CACHE_MAX) {
		if (!fio_cache_armed) {
			/* the key's value only arms the destructor */
			pthread_once(&fio_key_once, fio_key_create);
			if (fio_key_ok &&
			    !pthread_setspecific(fio_key, &fio_cache))
				fio_cache_armed = true;
		}
		if (fio_cache_armed) {
			FIO_POISON(&fd->data, sizeof(fd->data));
			fd->next_free = fio_cache;
			fio_cache = fd;
			fio_cached++;
			return;
		}
	}
	fio_destroy(fd);
}

/* The daemon's pid, for the requestor of filter-initiated I/O: getpid() is
 * a system call, so it is asked once, and again in a forked child (the
 * front end daemonizes with fork()). */
static _Atomic pid_t fio_pid;
static pthread_once_t fio_pid_once = PTHREAD_ONCE_INIT;

static void fio_pid_forget(void)
{
	atomic_store_explicit(&fio_pid, 0, memory_order_relaxed);
}

static void fio_pid_atfork(void)
{
	pthread_atfork(NULL, NULL, fio_pid_forget);
}

static pid_t fio_self_pid(void)
{
	pid_t pid = atomic_load_explicit(&fio_pid, memory_order_relaxed);

	if (__builtin_expect(!pid, 0)) {
		pthread_once(&fio_pid_once, fio_pid_atfork);
		pid = getpid();
		atomic_store_explicit(&fio_pid, pid, memory_order_relaxed);
	}
	return pid;
}

int flt_allocate_callback_data(struct flt_instance *instance, enum flt_op op,
			       struct flt_callback_data **out)
{
	struct fio_data *fd;

	if (!instance || (unsigned)op >= FLT_OP_COUNT || !out)
		return -EINVAL;
	fd = fio_get();
	if (!fd)
		return -ENOMEM;
	core_data_init(&fd->data, op, 0);
	fd->data.flags = FLT_IO_FILTER_INITIATED;
	fd->data.requestor.pid = fio_self_pid();
	fd->issuer = instance;
	fd->vol = instance->volume;
	fd->cb = NULL;
	fd->cb_context = NULL;
	atomic_store_explicit(&fd->state, FIO_DONE, memory_order_relaxed);
	fd->completed = false;
	atomic_fetch_add(&fd->vol->live_callback_data, 1);
	*out = &fd->data;
	return 0;
}

void flt_free_callback_data(struct flt_callback_data *data)
{
	struct fio_data *fd;

	if (!data)
		return;
	fd = fio_of(data);
	core_data_cleanup(data);
	atomic_fetch_sub(&fd->vol->live_callback_data, 1);
	fio_put(fd);
}

uint64_t core_volume_live_callback_data(struct flt_volume *vol)
{
	return atomic_load(&vol->live_callback_data);
}

static void fio_done(struct flt_callback_data *data, void *cookie)
{
	struct fio_data *fd = fio_of(data);

	(void)cookie;
	if (fd->cb) {
		fd->cb(data, fd->cb_context);
		return;
	}
	/* Unless the issuer sleeps, it may return and free @fd as soon as
	 * it sees FIO_DONE: then @fd is not touched again. A sleeping issuer
	 * waits for @completed, set under the lock, so it cannot leave (and
	 * free @fd) before the unlock below, spurious wake-ups included. */
	if (atomic_exchange_explicit(&fd->state, FIO_DONE,
				     memory_order_acq_rel) != FIO_WAITING)
		return;
	pthread_mutex_lock(&fd->lock);
	fd->completed = true;
	pthread_cond_signal(&fd->cond);
	pthread_mutex_unlock(&fd->lock);
}

static void fio_send(struct fio_data *fd)
{
	fd->completed = false;
	atomic_store_explicit(&fd->state, FIO_SENT, memory_order_relaxed);
	fd->data.io_status.status = 0;
	fd->data.io_status.information = 0;
	dispatch_below(fd->issuer->volume, &fd->data, fd->issuer->altitude,
		       fio_done, NULL);
}

int flt_perform_synchronous_io(struct flt_callback_data *data)
{
	struct fio_data *fd = fio_of(data);
	int expect = FIO_SENT;

	fd->cb = NULL;
	fio_send(fd);
	/* the common case: completed on this thread, inside the dispatch */
	if (atomic_load_explicit(&fd->state, memory_order_acquire) ==
	    FIO_DONE)
		return data->io_status.status;
	pthread_mutex_lock(&fd->lock);
	if (atomic_compare_exchange_strong_explicit(&fd->state, &expect,
						    FIO_WAITING,
						    memory_order_acq_rel,
						    memory_order_acquire))
		while (!fd->completed)
			pthread_cond_wait(&fd->cond, &fd->lock);
	pthread_mutex_unlock(&fd->lock);
	return data->io_status.status;
}

void flt_perform_asynchronous_io(struct flt_callback_data *data,
				 flt_completed_io_callback cb, void *context)
{
	struct fio_data *fd = fio_of(data);

	fd->cb = cb;
	fd->cb_context = context;
	fio_send(fd);
}

/* ---- conveniences on top (FltReadFile, FltCreateFile, ...) ------------- */

/* Allocate @d for @op on @ino, run @body (which performs and frees it),
 * return the allocation error if there is one. */
#define FIO_RUN(inst, op, ino_, d, body)                                   \
	do {                                                               \
		int ret_ = flt_allocate_callback_data((inst), (op), &(d));  \
		if (ret_)                                                  \
			return ret_;                                       \
		(d)->ino = (ino_);                                         \
		body;                                                      \
	} while (0)

void flt_forget(struct flt_instance *instance, flt_ino_t ino,
		uint64_t nlookup)
{
	struct flt_callback_data *d;

	if (!nlookup || flt_allocate_callback_data(instance, FLT_OP_FORGET, &d))
		return;
	d->ino = ino;
	d->params.forget.nlookup = nlookup;
	flt_perform_synchronous_io(d);
	flt_free_callback_data(d);
}

static int lookup_one(struct flt_instance *instance, flt_ino_t parent,
		      const char *name, struct flt_entry *out)
{
	struct flt_callback_data *d;
	int ret;

	FIO_RUN(instance, FLT_OP_LOOKUP, parent, d, {
		d->params.lookup.parent = parent;
		d->params.lookup.name = name;
		ret = flt_perform_synchronous_io(d);
		if (!ret && d->results.entry.ino == 0)
			ret = -ENOENT;	/* a negative entry */
		if (!ret)
			*out = d->results.entry;
		flt_free_callback_data(d);
	});
	return ret;
}

/* Walk all components but the last; returns the parent with one lookup
 * reference (or the root, which needs none) and the last name. */
static int walk_parent(struct flt_instance *instance, char *path,
		       flt_ino_t *parent, char **last)
{
	flt_ino_t cur = FLT_ROOT_INO;
	char *save = NULL, *comp, *next;
	struct flt_entry e;
	int ret;

	while (*path == '/')
		path++;
	comp = strtok_r(path, "/", &save);
	if (!comp)
		return -EINVAL;
	while ((next = strtok_r(NULL, "/", &save))) {
		if (!strcmp(comp, "..") || !strcmp(comp, "."))
			ret = -EINVAL;
		else
			ret = lookup_one(instance, cur, comp, &e);
		if (cur != FLT_ROOT_INO)
			flt_forget(instance, cur, 1);
		if (ret)
			return ret;
		cur = e.ino;
		comp = next;
	}
	if (!strcmp(comp, "..") || !strcmp(comp, ".")) {
		if (cur != FLT_ROOT_INO)
			flt_forget(instance, cur, 1);
		return -EINVAL;
	}
	*parent = cur;
	*last = comp;
	return 0;
}

int flt_lookup_path(struct flt_instance *instance, const char *path,
		    struct flt_entry *out)
{
	flt_ino_t parent;
	char *copy, *last;
	int ret;

	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	ret = walk_parent(instance, copy, &parent, &last);
	if (!ret) {
		ret = lookup_one(instance, parent, last, out);
		if (parent != FLT_ROOT_INO)
			flt_forget(instance, parent, 1);
	}
	free(copy);
	return ret;
}

static int open_ino(struct flt_instance *instance, flt_ino_t ino, int flags,
		    int is_dir, uint64_t *fh)
{
	struct flt_callback_data *d;
	int ret;

	FIO_RUN(instance, is_dir ? FLT_OP_OPENDIR : FLT_OP_OPEN, ino, d, {
		d->params.open.flags = flags & ~(O_CREAT | O_EXCL);
		ret = flt_perform_synchronous_io(d);
		*fh = d->results.open.fh;
		flt_free_callback_data(d);
	});
	return ret;
}

static int create_in(struct flt_instance *instance, flt_ino_t parent,
		     const char *name, int flags, mode_t mode,
		     struct flt_file *out)
{
	struct flt_callback_data *d;
	int ret;

	FIO_RUN(instance, FLT_OP_CREATE, parent, d, {
		d->params.create.parent = parent;
		d->params.create.name = name;
		d->params.create.mode = mode;
		d->params.create.flags = flags;
		ret = flt_perform_synchronous_io(d);
		if (!ret) {
			out->ino = d->results.entry.ino;
			out->fh = d->results.open.fh;
			out->is_dir = 0;
		}
		flt_free_callback_data(d);
	});
	return ret;
}

int flt_create_file(struct flt_instance *instance, const char *path,
		    int flags, mode_t mode, struct flt_file *out)
{
	struct flt_entry e;
	flt_ino_t parent;
	char *copy, *last;
	int ret;

	copy = strdup(path);
	if (!copy)
		return -ENOMEM;
	ret = walk_parent(instance, copy, &parent, &last);
	if (ret)
		goto out_free;
	if (flags & O_CREAT) {
		ret = create_in(instance, parent, last, flags, mode, out);
		goto out_parent;
	}
	ret = lookup_one(instance, parent, last, &e);
	if (ret)
		goto out_parent;
	out->ino = e.ino;
	out->is_dir = S_ISDIR(e.attr.st_mode);
	if ((flags & O_DIRECTORY) && !out->is_dir)
		ret = -ENOTDIR;
	else
		ret = open_ino(instance, e.ino, flags, out->is_dir, &out->fh);
	if (ret)
		flt_forget(instance, e.ino, 1);
out_parent:
	if (parent != FLT_ROOT_INO)
		flt_forget(instance, parent, 1);
out_free:
	free(copy);
	return ret;
}

int flt_read_file(struct flt_instance *instance, const struct flt_file *file,
		  off_t offset, size_t size, void *buf, size_t *bytes_read)
{
	struct flt_callback_data *d;
	int ret;

	FIO_RUN(instance, FLT_OP_READ, file->ino, d, {
		d->params.read.fh = file->fh;
		d->params.read.offset = offset;
		d->params.read.size = size;
		d->params.read.buf = buf;
		ret = flt_perform_synchronous_io(d);
		if (bytes_read)
			*bytes_read = ret ? 0 : d->io_status.information;
		flt_free_callback_data(d);
	});
	return ret;
}

int flt_write_file(struct flt_instance *instance, const struct flt_file *file,
		   off_t offset, size_t size, const void *buf, size_t *written)
{
	struct flt_callback_data *d;
	int ret;

	FIO_RUN(instance, FLT_OP_WRITE, file->ino, d, {
		d->params.write.fh = file->fh;
		d->params.write.offset = offset;
		d->params.write.size = size;
		d->params.write.buf = buf;
		ret = flt_perform_synchronous_io(d);
		if (written)
			*written = ret ? 0 : d->io_status.information;
		flt_free_callback_data(d);
	});
	return ret;
}

int flt_query_information(struct flt_instance *instance, flt_ino_t ino,
			  struct stat *st)
{
	struct flt_callback_data *d;
	int ret;

	FIO_RUN(instance, FLT_OP_GETATTR, ino, d, {
		ret = flt_perform_synchronous_io(d);
		if (!ret)
			*st = d->results.attr;
		flt_free_callback_data(d);
	});
	return ret;
}

int flt_close(struct flt_instance *instance, struct flt_file *file)
{
	struct flt_callback_data *d;
	int ret;

	FIO_RUN(instance, file->is_dir ? FLT_OP_RELEASEDIR : FLT_OP_RELEASE,
		file->ino, d, {
		d->params.release.fh = file->fh;
		ret = flt_perform_synchronous_io(d);
		flt_free_callback_data(d);
	});
	flt_forget(instance, file->ino, 1);
	file->ino = 0;
	return ret;
}
