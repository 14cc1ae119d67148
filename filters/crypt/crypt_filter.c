/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt: the filter's callbacks. Data operations (read, write, size
 * changes) are completed here with filter-initiated I/O on the lower
 * handle (crypt_io.c); sizes coming back up (lookup, getattr, setattr,
 * create, readdirplus, ...) are turned from ciphertext into plaintext
 * sizes; the volume config file is hidden and protected. With raw=LIST,
 * listed processes get twins of regular files (crypt_raw.c) whose
 * operations go down unchanged, read-only.
 */
#include "filters/crypt/crypt.h"
#include "filters/crypt/crypt_int.h"

#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

int crypt_instance_setup(const struct flt_related_objects *objs);

/* ---- contexts ----------------------------------------------------------- */

static void vol_cleanup(void *ctx, enum flt_context_type type)
{
	struct crypt_vol *v = ctx;

	crypt_wipe(v->master, sizeof(v->master));
	crypt_twins_destroy(&v->twins);
}

static void node_cleanup(void *ctx, enum flt_context_type type)
{
	struct crypt_node *n = ctx;

	crypt_wipe(&n->fk, sizeof(n->fk));
	crypt_lock_destroy(&n->lock);
	pthread_mutex_destroy(&n->key_mu);
}

static struct flt_filter *crypt_filter;	/* set by the first setup */

int crypt_node_get(struct flt_instance *inst, flt_ino_t ino,
		   struct crypt_node **out)
{
	struct crypt_node *n, *old = NULL;
	int ret;

	if (!flt_get_stream_context(inst, ino, (void **)out))
		return 0;
	ret = flt_allocate_context(crypt_filter, FLT_STREAM_CONTEXT, sizeof(*n),
				   (void **)&n);
	if (ret)
		return ret;
	crypt_lock_init(&n->lock);
	pthread_mutex_init(&n->key_mu, NULL);
	ret = flt_set_stream_context(inst, ino, FLT_SET_CONTEXT_KEEP_IF_EXISTS,
				     n, (void **)&old);
	if (ret == -EEXIST) {
		flt_release_context(n);
		*out = old;
		return 0;
	}
	if (ret) {
		flt_release_context(n);
		return ret;
	}
	*out = n;	/* our allocation reference; the set holds another */
	return 0;
}

void crypt_node_set_name(struct crypt_node *n, const char *name)
{
	pthread_mutex_lock(&n->key_mu);
	snprintf(n->name, sizeof(n->name), "%s", name);
	pthread_mutex_unlock(&n->key_mu);
}

static int op_begin(const struct flt_related_objects *objs, flt_ino_t ino,
		    uint64_t fh, struct crypt_op *op)
{
	int ret;

	memset(op, 0, sizeof(*op));
	op->inst = objs->instance;
	op->file.ino = ino;
	op->file.fh = fh;
	ret = flt_get_instance_context(objs->instance, (void **)&op->vol);
	if (ret)
		return ret;
	ret = crypt_node_get(objs->instance, ino, &op->node);
	if (ret) {
		flt_release_context(op->vol);
		op->vol = NULL;
	}
	return ret;
}

static void op_end(struct crypt_op *op)
{
	if (op->node)
		flt_release_context(op->node);
	if (op->vol)
		flt_release_context(op->vol);
}

static enum flt_preop_status complete(struct flt_callback_data *d, int status,
				      uint64_t info)
{
	d->io_status.status = status;
	d->io_status.information = status ? 0 : info;
	return FLT_PREOP_COMPLETE;
}

/* ---- the raw view: twins ------------------------------------------------ */

/* A completion context that is a twin id (bit 63 set, which no user-space
 * pointer has): the operation was rewritten to the twin's lower inode and
 * its post puts the id back for the filters above. */
#define TWIN_CTX(id) ((void *)(uintptr_t)(id))

static flt_ino_t twin_of_ctx(void *ctx)
{
	uintptr_t v = (uintptr_t)ctx;

	return (v & FLT_INO_FILTER_OWNED) ? (flt_ino_t)v : 0;
}

/* If @d is on a twin, send it down on the lower inode: returns the twin
 * id (0: not a twin). The caller restores d->ino before completing. */
static flt_ino_t twin_down(struct flt_callback_data *d,
			   const struct flt_related_objects *objs)
{
	struct crypt_vol *v;
	flt_ino_t id = d->ino, lower;

	if (!(id & FLT_INO_FILTER_OWNED) ||
	    flt_get_instance_context(objs->instance, (void **)&v))
		return 0;
	lower = crypt_twin_lower(&v->twins, id);
	flt_release_context(v);
	if (!lower)
		return 0;
	d->ino = lower;
	flt_set_callback_data_dirty(d);
	return id;
}

static bool raw_requestor(const struct crypt_vol *v,
			  const struct flt_callback_data *d)
{
	return v->raw_on && !(d->flags & FLT_IO_FILTER_INITIATED) &&
	       flt_scope_match(&v->raw, d);
}

/* Is the requestor of @d in the raw view? */
static bool requestor_is_raw(const struct flt_callback_data *d,
			     const struct flt_related_objects *objs)
{
	struct crypt_vol *v;
	bool raw;

	if (flt_get_instance_context(objs->instance, (void **)&v))
		return false;
	raw = raw_requestor(v, d);
	flt_release_context(v);
	return raw;
}

/* Operations that pass through on a twin (flush, release, fsync, xattrs,
 * access, statfs, lseek): down on the lower inode, then the id back. */
static enum flt_preop_status pre_twin(struct flt_callback_data *d,
				      const struct flt_related_objects *objs,
				      void **ctx)
{
	flt_ino_t id = twin_down(d, objs);

	if (!id)
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	*ctx = TWIN_CTX(id);
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

static enum flt_postop_status post_twin(struct flt_callback_data *d,
					const struct flt_related_objects *objs,
					void *ctx, unsigned flags)
{
	flt_ino_t id = twin_of_ctx(ctx);

	if (id)
		d->ino = id;
	return FLT_POSTOP_FINISHED_PROCESSING;
}

/* A twin's handle closes: no longer one to release at detach. */
static enum flt_preop_status pre_release(struct flt_callback_data *d,
					 const struct flt_related_objects *objs,
					 void **ctx)
{
	struct crypt_vol *v;

	if ((d->ino & FLT_INO_FILTER_OWNED) &&
	    !flt_get_instance_context(objs->instance, (void **)&v)) {
		crypt_twin_close(&v->twins, d->ino, d->params.release.fh);
		flt_release_context(v);
	}
	return pre_twin(d, objs, ctx);
}

/* Detach or unmount: what the twins hold below goes back (crypt_raw.c). */
static void teardown_complete(const struct flt_related_objects *objs)
{
	struct crypt_vol *v;
	uint64_t handles;
	size_t n;

	if (flt_get_instance_context(objs->instance, (void **)&v))
		return;
	n = crypt_twins_teardown(objs->instance, &v->twins, &handles);
	if (n)
		flt_log(LOG_INFO, "crypt: teardown dropped %zu raw-view "
			"twin(s) and %llu handle(s) still held by the kernel",
			n, (unsigned long long)handles);
	flt_release_context(v);
}

/* The twin's kernel inode forgets: drop its references and pass them
 * down as the lower inode's. */
static enum flt_preop_status pre_forget(struct flt_callback_data *d,
					const struct flt_related_objects *objs,
					void **ctx)
{
	struct crypt_vol *v;
	flt_ino_t lower;

	if (!(d->ino & FLT_INO_FILTER_OWNED) ||
	    flt_get_instance_context(objs->instance, (void **)&v))
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	lower = crypt_twin_forget(objs->instance, &v->twins, d->ino,
				  d->params.forget.nlookup);
	flt_release_context(v);
	if (lower) {
		d->ino = lower;
		flt_set_callback_data_dirty(d);
	}
	return FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* ---- sizes going up ---------------------------------------------------- */

static void fix_attr(struct stat *st)
{
	if (S_ISREG(st->st_mode))
		st->st_size = (off_t)crypt_plain_size((uint64_t)st->st_size);
}

static int is_conf(flt_ino_t parent, const char *name)
{
	return parent == FLT_ROOT_INO && name && !strcmp(name, CRYPT_CONF_NAME);
}

static void remember_name(const struct flt_related_objects *objs,
			  const struct flt_entry *e, const char *name)
{
	struct crypt_node *n;

	if (!e->ino || !S_ISREG(e->attr.st_mode) ||
	    crypt_node_get(objs->instance, e->ino, &n))
		return;
	crypt_node_set_name(n, name);
	flt_release_context(n);
}

/*
 * An entry going up (it holds one lookup reference on e->ino). Regular
 * files: a raw-view requestor gets the twin with the stored size; anyone
 * else the plaintext size. With a raw view configured, regular files'
 * names are not cached, so that every path walk picks its view (the cost:
 * one LOOKUP per open or stat by path). -ENOMEM: no twin could be made
 * (the lower reference has been dropped).
 */
static int entry_up(const struct flt_callback_data *d,
		    const struct flt_related_objects *objs,
		    struct flt_entry *e)
{
	struct crypt_vol *v;
	flt_ino_t id;
	int ret = 0;

	if (!e->ino || !S_ISREG(e->attr.st_mode))
		return 0;
	if (flt_get_instance_context(objs->instance, (void **)&v)) {
		fix_attr(&e->attr);
		return 0;
	}
	if (v->raw_on && raw_requestor(v, d)) {
		ret = crypt_twin_ref(objs->instance, &v->twins, e->ino, &id);
		if (ret) {
			flt_forget(objs->instance, e->ino, 1);
			e->ino = 0;
		} else {
			e->ino = id;
			/* raw sizes change with every plaintext write */
			e->attr_timeout = 0;
		}
		e->entry_timeout = 0;
		flt_release_context(v);
		return ret;
	}
	if (v->raw_on)
		e->entry_timeout = 0;
	flt_release_context(v);
	fix_attr(&e->attr);
	return 0;
}

static enum flt_postop_status post_entry(struct flt_callback_data *d,
					 const struct flt_related_objects *objs,
					 void *ctx, unsigned flags)
{
	flt_ino_t id = twin_of_ctx(ctx);
	int ret;

	if (id)
		d->ino = id;	/* link of a twin */
	if (d->io_status.status || !d->results.entry.ino)
		return FLT_POSTOP_FINISHED_PROCESSING;
	ret = entry_up(d, objs, &d->results.entry);
	if (ret) {
		d->io_status.status = ret;
		return FLT_POSTOP_FINISHED_PROCESSING;
	}
	if (d->op == FLT_OP_LOOKUP)
		remember_name(objs, &d->results.entry, d->params.lookup.name);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

static enum flt_preop_status pre_getattr(struct flt_callback_data *d,
					 const struct flt_related_objects *objs,
					 void **ctx)
{
	*ctx = TWIN_CTX(twin_down(d, objs));
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

static enum flt_postop_status post_attr(struct flt_callback_data *d,
					const struct flt_related_objects *objs,
					void *ctx, unsigned flags)
{
	flt_ino_t id = twin_of_ctx(ctx);

	if (id) {
		d->ino = id;	/* raw: the stored size, never cached */
		d->results.attr_timeout = 0;
	} else if (!d->io_status.status) {
		fix_attr(&d->results.attr);
	}
	return FLT_POSTOP_FINISHED_PROCESSING;
}

static enum flt_postop_status post_readdir(struct flt_callback_data *d,
					   const struct flt_related_objects *objs,
					   void *ctx, unsigned flags)
{
	struct flt_dirents *ds = &d->results.dirents;
	bool raw;

	if (d->io_status.status)
		return FLT_POSTOP_FINISHED_PROCESSING;
	/* the raw view shows the config: a backup of it must mount */
	raw = requestor_is_raw(d, objs);
	for (size_t i = 0; i < ds->n; i++) {
		struct flt_dirent *e = &ds->v[i];

		if (!raw && is_conf(d->ino, e->name)) {
			if (e->entry.ino)	/* its lookup reference */
				flt_forget(objs->instance, e->entry.ino, 1);
			memmove(e, e + 1, (ds->n - i - 1) * sizeof(*e));
			ds->n--;
			i--;
			continue;
		}
		if (d->params.readdir.plus && e->entry.ino)
			entry_up(d, objs, &e->entry);	/* ino 0 on failure:
							   a plain entry */
	}
	return FLT_POSTOP_FINISHED_PROCESSING;
}

/* ---- namespace: the config file is invisible and untouchable ------------ */

static enum flt_preop_status pre_lookup(struct flt_callback_data *d,
					const struct flt_related_objects *objs,
					void **ctx)
{
	if (is_conf(d->params.lookup.parent, d->params.lookup.name) &&
	    !requestor_is_raw(d, objs))
		return complete(d, -ENOENT, 0);
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

static enum flt_preop_status pre_name(struct flt_callback_data *d,
				      const struct flt_related_objects *objs,
				      void **ctx)
{
	int hit = 0;
	flt_ino_t id;

	switch (d->op) {
	case FLT_OP_MKNOD:
		hit = is_conf(d->params.mknod.parent, d->params.mknod.name);
		/* the raw view is read-only: no new regular file in it */
		if (!hit && S_ISREG(d->params.mknod.mode) &&
		    requestor_is_raw(d, objs))
			return complete(d, -EROFS, 0);
		break;
	case FLT_OP_MKDIR:
		hit = is_conf(d->params.mkdir.parent, d->params.mkdir.name);
		break;
	case FLT_OP_UNLINK:
	case FLT_OP_RMDIR:
		hit = is_conf(d->params.unlink.parent, d->params.unlink.name);
		break;
	case FLT_OP_SYMLINK:
		hit = is_conf(d->params.symlink.parent, d->params.symlink.name);
		break;
	case FLT_OP_LINK:
		hit = is_conf(d->params.link.newparent, d->params.link.newname);
		break;
	case FLT_OP_RENAME:
		hit = is_conf(d->params.rename.parent, d->params.rename.name) ||
		      is_conf(d->params.rename.newparent,
			      d->params.rename.newname);
		break;
	default:
		break;
	}
	if (hit)
		return complete(d, -EPERM, 0);
	if (d->op == FLT_OP_LINK && (id = twin_down(d, objs)))
		*ctx = TWIN_CTX(id);
	return d->op == FLT_OP_MKNOD || d->op == FLT_OP_LINK
		       ? FLT_PREOP_SUCCESS_WITH_CALLBACK
		       : FLT_PREOP_SUCCESS_NO_CALLBACK;
}

/* ---- open / create ------------------------------------------------------ */

/* Writes are read-modify-write of whole blocks, so the lower file must be
 * readable; appends are placed by the kernel (it owns the file position
 * and knows the plaintext size), never by the lower O_APPEND. O_DIRECT
 * stays above: stored blocks (4124 bytes after a 96-byte header) are never
 * aligned, so a lower O_DIRECT read or write would fail with EINVAL; the
 * kernel still sends the application's direct I/O straight to us. */
static int lower_flags(int flags)
{
	if ((flags & O_ACCMODE) == O_WRONLY)
		flags = (flags & ~O_ACCMODE) | O_RDWR;
	return flags & ~(O_APPEND | O_DIRECT);
}

static enum flt_preop_status pre_open(struct flt_callback_data *d,
				      const struct flt_related_objects *objs,
				      void **ctx)
{
	int flags = lower_flags(d->params.open.flags);
	struct crypt_node *n;
	flt_ino_t id = twin_down(d, objs);

	if (id) {
		/* the raw view is read-only: writing ciphertext back would
		 * race the plaintext side's read-modify-write of the same
		 * blocks (restores go into the lower directory, unmounted) */
		if ((d->params.open.flags & O_ACCMODE) != O_RDONLY ||
		    (d->params.open.flags & O_TRUNC)) {
			d->ino = id;
			return complete(d, -EROFS, 0);
		}
		*ctx = TWIN_CTX(id);
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	}
	if (flags != d->params.open.flags) {
		d->params.open.flags = flags;
		flt_set_callback_data_dirty(d);
	}
	if (!(flags & O_TRUNC))
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	/* the lower open truncates: no reader or writer in between */
	if (crypt_node_get(objs->instance, d->ino, &n))
		return complete(d, -ENOMEM, 0);
	crypt_lock_excl(&n->lock);
	*ctx = n;
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

static void forget_key(struct crypt_node *n)
{
	pthread_mutex_lock(&n->key_mu);
	n->have_key = false;
	crypt_wipe(&n->fk, sizeof(n->fk));
	pthread_mutex_unlock(&n->key_mu);
}

static enum flt_postop_status post_open(struct flt_callback_data *d,
					const struct flt_related_objects *objs,
					void *ctx, unsigned flags)
{
	struct crypt_node *n = ctx;
	flt_ino_t id = twin_of_ctx(ctx);

	if (id) {
		struct crypt_vol *v;

		/* no page cache for the raw view: every read is current
		 * (plaintext writes change the stored blocks under it) */
		d->ino = id;
		d->results.open.direct_io = 1;
		d->results.open.keep_cache = 0;
		/* kept for a detach (crypt_raw.c); out of memory, the
		 * handle only stays open below after a detach */
		if (!d->io_status.status &&
		    !flt_get_instance_context(objs->instance, (void **)&v)) {
			crypt_twin_open(&v->twins, id, d->results.open.fh);
			flt_release_context(v);
		}
		return FLT_POSTOP_FINISHED_PROCESSING;
	}
	/* not a twin: pre_open asks for this callback only with a node */
	assert(n);
	if (!d->io_status.status)
		forget_key(n);
	crypt_unlock_excl(&n->lock);
	flt_release_context(n);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

static enum flt_preop_status pre_create(struct flt_callback_data *d,
					const struct flt_related_objects *objs,
					void **ctx)
{
	int flags = lower_flags(d->params.create.flags);

	if (is_conf(d->params.create.parent, d->params.create.name))
		return complete(d, -EPERM, 0);
	if (requestor_is_raw(d, objs))
		return complete(d, -EROFS, 0);	/* the raw view: read-only */
	if (flags != d->params.create.flags) {
		d->params.create.flags = flags;
		flt_set_callback_data_dirty(d);
	}
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

static enum flt_postop_status post_create(struct flt_callback_data *d,
					  const struct flt_related_objects *objs,
					  void *ctx, unsigned flags)
{
	struct crypt_node *n;

	if (d->io_status.status || !d->results.entry.ino)
		return FLT_POSTOP_FINISHED_PROCESSING;
	entry_up(d, objs, &d->results.entry);	/* never raw: refused in pre */
	if (crypt_node_get(objs->instance, d->results.entry.ino, &n))
		return FLT_POSTOP_FINISHED_PROCESSING;
	crypt_node_set_name(n, d->params.create.name);
	if (d->params.create.flags & O_TRUNC)
		forget_key(n);	/* an existing file may have been cut */
	flt_release_context(n);
	return FLT_POSTOP_FINISHED_PROCESSING;
}

/* ---- data --------------------------------------------------------------- */

static enum flt_preop_status pre_read(struct flt_callback_data *d,
				      const struct flt_related_objects *objs,
				      void **ctx)
{
	struct crypt_op op;
	size_t done = 0;
	int ret;
	flt_ino_t id = twin_down(d, objs);

	if (id) {	/* the raw view: the stored bytes */
		*ctx = TWIN_CTX(id);
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	}
	ret = op_begin(objs, d->ino, d->params.read.fh, &op);
	if (ret)
		return complete(d, ret, 0);
	crypt_lock_shared(&op.node->lock);
	ret = crypt_do_read(&op, (uint64_t)d->params.read.offset,
			    d->params.read.size, d->params.read.buf, &done);
	crypt_unlock_shared(&op.node->lock);
	op_end(&op);
	return complete(d, ret, done);
}

static enum flt_preop_status pre_write(struct flt_callback_data *d,
				       const struct flt_related_objects *objs,
				       void **ctx)
{
	struct crypt_op op;
	int ret;

	if (d->ino & FLT_INO_FILTER_OWNED)
		return complete(d, -EROFS, 0);	/* a twin: opened read-only */
	if (d->params.write.offset < 0)
		return complete(d, -EINVAL, 0);
	ret = op_begin(objs, d->ino, d->params.write.fh, &op);
	if (ret)
		return complete(d, ret, 0);
	crypt_lock_excl(&op.node->lock);
	ret = crypt_do_write(&op, (uint64_t)d->params.write.offset,
			     d->params.write.size, d->params.write.buf);
	crypt_unlock_excl(&op.node->lock);
	op_end(&op);
	return complete(d, ret, d->params.write.size);
}

/* Open @ino read-write below the instance (truncate by path). */
static int open_below(struct flt_instance *inst, flt_ino_t ino, uint64_t *fh)
{
	struct flt_callback_data *d;
	int ret = flt_allocate_callback_data(inst, FLT_OP_OPEN, &d);

	if (ret)
		return ret;
	d->ino = ino;
	d->params.open.flags = O_RDWR;
	ret = flt_perform_synchronous_io(d);
	*fh = d->results.open.fh;
	flt_free_callback_data(d);
	return ret;
}

void crypt_release_below(struct flt_instance *inst, flt_ino_t ino,
			 uint64_t fh, int flags)
{
	struct flt_callback_data *d;

	if (flt_allocate_callback_data(inst, FLT_OP_RELEASE, &d))
		return;
	d->ino = ino;
	d->params.release.fh = fh;
	d->params.release.flags = flags;
	flt_perform_synchronous_io(d);
	flt_free_callback_data(d);
}

/* Set the plaintext size under the node lock; with @fh 0, through a
 * handle of our own. */
static int set_size(const struct flt_related_objects *objs, flt_ino_t ino,
		    uint64_t fh, uint64_t size)
{
	bool own = !fh;
	struct crypt_op op;
	int ret;

	ret = op_begin(objs, ino, fh, &op);
	if (ret)
		return ret;
	if (own) {
		ret = open_below(objs->instance, ino, &op.file.fh);
		if (ret)
			goto out;
	}
	crypt_lock_excl(&op.node->lock);
	ret = crypt_do_truncate(&op, size, true);
	crypt_unlock_excl(&op.node->lock);
	if (own)
		crypt_release_below(objs->instance, ino, op.file.fh, O_RDWR);
out:
	op_end(&op);
	return ret;
}

static enum flt_preop_status pre_setattr(struct flt_callback_data *d,
					 const struct flt_related_objects *objs,
					 void **ctx)
{
	unsigned to_set = d->params.setattr.to_set;
	struct stat st;
	int ret;
	flt_ino_t id = twin_down(d, objs);

	if (id) {
		if (to_set & FLT_SET_SIZE) {
			d->ino = id;
			return complete(d, -EROFS, 0);
		}
		*ctx = TWIN_CTX(id);	/* chmod, utimes, ...: as they are */
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	}
	if (!(to_set & FLT_SET_SIZE))
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	ret = flt_query_information(objs->instance, d->ino, &st);
	if (ret)
		return complete(d, ret, 0);
	if (!S_ISREG(st.st_mode))
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	if (d->params.setattr.attr.st_size < 0)
		return complete(d, -EINVAL, 0);
	ret = set_size(objs, d->ino,
		       (to_set & FLT_SET_HAS_FH) ? d->params.setattr.fh : 0,
		       (uint64_t)d->params.setattr.attr.st_size);
	if (ret)
		return complete(d, ret, 0);
	/* the rest (mode, times, ...) goes down as usual */
	d->params.setattr.to_set = to_set & ~FLT_SET_SIZE;
	flt_set_callback_data_dirty(d);
	return FLT_PREOP_SUCCESS_WITH_CALLBACK;
}

static enum flt_preop_status pre_fallocate(struct flt_callback_data *d,
					   const struct flt_related_objects *objs,
					   void **ctx)
{
	int mode = d->params.fallocate.mode;
	uint64_t end;
	struct stat st;
	int ret;

	if (d->ino & FLT_INO_FILTER_OWNED)
		return complete(d, -EROFS, 0);	/* a twin: read-only */
	if (mode & ~FALLOC_FL_KEEP_SIZE)
		return complete(d, -EOPNOTSUPP, 0);	/* punch, zero, ... */
	if (d->params.fallocate.offset < 0 || d->params.fallocate.length <= 0)
		return complete(d, -EINVAL, 0);
	if (mode & FALLOC_FL_KEEP_SIZE)
		return complete(d, 0, 0);	/* nothing reserved: holes */
	end = (uint64_t)d->params.fallocate.offset +
	      (uint64_t)d->params.fallocate.length;
	ret = flt_query_information(objs->instance, d->ino, &st);
	if (!ret && crypt_plain_size((uint64_t)st.st_size) < end)
		ret = set_size(objs, d->ino, d->params.fallocate.fh, end);
	return complete(d, ret, 0);
}

static enum flt_preop_status pre_lseek(struct flt_callback_data *d,
				       const struct flt_related_objects *objs,
				       void **ctx)
{
	off_t off = d->params.lseek.offset, size;
	struct stat st;
	int ret;
	flt_ino_t id = twin_down(d, objs);

	if (id) {	/* the raw view: the lower file's own answer */
		*ctx = TWIN_CTX(id);
		return FLT_PREOP_SUCCESS_WITH_CALLBACK;
	}
	ret = flt_query_information(objs->instance, d->ino, &st);
	if (ret)
		return complete(d, ret, 0);
	size = (off_t)crypt_plain_size((uint64_t)st.st_size);
	switch (d->params.lseek.whence) {
	case SEEK_DATA:
	case SEEK_HOLE: {
		struct crypt_op op;
		uint64_t res = 0;

		if (off < 0 || off >= size)
			return complete(d, -ENXIO, 0);
		ret = op_begin(objs, d->ino, d->params.lseek.fh, &op);
		if (ret)
			return complete(d, ret, 0);
		crypt_lock_shared(&op.node->lock);
		/* the size again, under the lock: no writer in between */
		ret = crypt_lower_stat(&op, &st);
		if (!ret)
			ret = crypt_do_seek(&op, d->params.lseek.whence,
					    (uint64_t)off,
					    crypt_plain_size((uint64_t)st.st_size),
					    &res);
		crypt_unlock_shared(&op.node->lock);
		op_end(&op);
		d->results.offset = (off_t)res;
		return complete(d, ret, 0);
	}
	case SEEK_END:
		d->results.offset = size + off;
		return complete(d, 0, 0);
	default:
		return FLT_PREOP_SUCCESS_NO_CALLBACK;
	}
}

static enum flt_preop_status pre_copy_range(struct flt_callback_data *d,
					    const struct flt_related_objects *objs,
					    void **ctx)
{
	/* a lower copy would copy ciphertext bound to another file id; the
	 * kernel falls back to splicing through READ and WRITE */
	return complete(d, -EOPNOTSUPP, 0);
}

static int instance_setup(const struct flt_related_objects *objs)
{
	crypt_filter = objs->filter;
	return crypt_instance_setup(objs);
}

static const struct flt_operation_registration crypt_ops[] = {
	{ FLT_OP_LOOKUP, 0, pre_lookup, post_entry },
	{ FLT_OP_FORGET, 0, pre_forget, NULL },
	{ FLT_OP_GETATTR, 0, pre_getattr, post_attr },
	{ FLT_OP_SETATTR, 0, pre_setattr, post_attr },
	{ FLT_OP_MKNOD, 0, pre_name, post_entry },
	{ FLT_OP_MKDIR, 0, pre_name, NULL },
	{ FLT_OP_UNLINK, 0, pre_name, NULL },
	{ FLT_OP_RMDIR, 0, pre_name, NULL },
	{ FLT_OP_SYMLINK, 0, pre_name, NULL },
	{ FLT_OP_RENAME, 0, pre_name, NULL },
	{ FLT_OP_LINK, 0, pre_name, post_entry },
	{ FLT_OP_OPEN, 0, pre_open, post_open },
	{ FLT_OP_CREATE, 0, pre_create, post_create },
	{ FLT_OP_READ, 0, pre_read, post_twin },
	{ FLT_OP_WRITE, 0, pre_write, NULL },
	{ FLT_OP_READDIR, 0, NULL, post_readdir },
	{ FLT_OP_FALLOCATE, 0, pre_fallocate, NULL },
	{ FLT_OP_COPY_FILE_RANGE, 0, pre_copy_range, NULL },
	{ FLT_OP_LSEEK, 0, pre_lseek, post_twin },
	/* only a twin's id to translate: close needs no round trip of
	 * its own where the lower layer's does nothing */
	{ FLT_OP_FLUSH, FLT_OPREG_FLUSH_IF_SENT, pre_twin, post_twin },
	{ FLT_OP_RELEASE, 0, pre_release, post_twin },
	{ FLT_OP_FSYNC, 0, pre_twin, post_twin },
	{ FLT_OP_STATFS, 0, pre_twin, post_twin },
	{ FLT_OP_SETXATTR, 0, pre_twin, post_twin },
	{ FLT_OP_GETXATTR, 0, pre_twin, post_twin },
	{ FLT_OP_LISTXATTR, 0, pre_twin, post_twin },
	{ FLT_OP_REMOVEXATTR, 0, pre_twin, post_twin },
	{ FLT_OP_ACCESS, 0, pre_twin, post_twin },
	FLT_OPERATION_END
};

static const struct flt_context_registration crypt_contexts[] = {
	{ FLT_INSTANCE_CONTEXT, 0, vol_cleanup, sizeof(struct crypt_vol) },
	{ FLT_STREAM_CONTEXT, 0, node_cleanup, sizeof(struct crypt_node) },
	FLT_CONTEXT_END
};

static const struct flt_registration crypt_registration = {
	FLT_REGISTRATION_INIT,
	.name = "crypt",
	.default_altitude = CRYPT_DEFAULT_ALTITUDE,
	.operations = crypt_ops,
	.instance_setup = instance_setup,
	.instance_teardown_complete = teardown_complete,
	.contexts = crypt_contexts,
	/* a READ here is a lower read, decryption and the reply in a row:
	 * 128 KiB READs (gocryptfs's size) spread a 1 MiB readahead window
	 * over the workers, where one 1 MiB READ kept one busy and the
	 * reader waiting, stalled whenever that worker lost its CPU (cold
	 * sequential read on a loaded machine: 0.91x-2.39x in three series,
	 * more the heavier the load; bench/results/crypt-20261122.txt) */
	.max_read = 128u << 10,
};

const struct flt_registration *crypt_filter_registration(void)
{
	return &crypt_registration;
}
