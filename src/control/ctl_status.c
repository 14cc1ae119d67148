/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The status response (the !fltkd view): the volume's totals, its
 * instances top-down with per-operation counters, and every operation in
 * flight with its requestor, age and completion node stack.
 *
 * core_volume_status() calls back under the volume lock, so the callbacks
 * only copy into arrays; JSON is built (and /proc read for process names,
 * and the loader asked where a filter came from) after the lock is gone.
 */
#include "control/ctl_int.h"
#include "core/core.h"
#include "lower/lower.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_INSTANCES 64
#define MAX_OPS 1024

struct snap {
	struct core_instance_status inst[MAX_INSTANCES];
	char args[MAX_INSTANCES][256];
	size_t ninst;
	struct core_op_status *ops;	/* MAX_OPS */
	size_t nops, ops_total;
};

static void inst_cb(const struct core_instance_status *is, void *arg)
{
	struct snap *s = arg;

	if (s->ninst == MAX_INSTANCES)
		return;
	s->inst[s->ninst] = *is;
	/* args is only valid during the callback */
	snprintf(s->args[s->ninst], sizeof(s->args[0]), "%s",
		 is->args ? is->args : "");
	s->inst[s->ninst].args = NULL;
	s->ninst++;
}

static void op_cb(const struct core_op_status *os, void *arg)
{
	struct snap *s = arg;

	s->ops_total++;
	if (s->nops < MAX_OPS)
		s->ops[s->nops++] = *os;
}

static void process_name(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(buf, len, "?");
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
}

static void add_u64(struct json_object *o, const char *k, uint64_t v)
{
	json_object_object_add(o, k, json_object_new_uint64(v));
}

static struct json_object *counters(const uint64_t *c)
{
	struct json_object *o = json_object_new_object();

	for (int op = 0; op < FLT_OP_COUNT; op++)
		if (c[op])
			add_u64(o, flt_op_name((enum flt_op)op), c[op]);
	return o;
}

static struct json_object *instance_json(const struct core_instance_status *is,
					 const char *args)
{
	struct json_object *o = json_object_new_object();
	char path[4096];

	json_object_object_add(o, "filter", json_object_new_string(is->filter));
	add_u64(o, "altitude", is->altitude);
	json_object_object_add(o, "args", json_object_new_string(args));
	json_object_object_add(o, "source",
			       json_object_new_string(
				       core_filter_is_loaded_file(
					       is->filter, path, sizeof(path))
					       ? path
					       : "builtin"));
	json_object_object_add(o, "pre", counters(is->npre));
	json_object_object_add(o, "post", counters(is->npost));
	return o;
}

static struct json_object *flags_json(unsigned flags)
{
	struct json_object *a = json_object_new_array();

	if (flags & FLT_IO_PAGING)
		json_object_array_add(a, json_object_new_string("paging"));
	if (flags & FLT_IO_DIRECT)
		json_object_array_add(a, json_object_new_string("direct"));
	if (flags & FLT_IO_FILTER_INITIATED)
		json_object_array_add(a, json_object_new_string(
						 "filter-initiated"));
	return a;
}

static struct json_object *op_json(const struct core_op_status *os)
{
	struct json_object *o = json_object_new_object(), *nodes;
	char comm[64];

	json_object_object_add(o, "op", json_object_new_string(
						flt_op_name(os->op)));
	add_u64(o, "ino", os->ino);
	json_object_object_add(o, "flags", flags_json(os->flags));
	json_object_object_add(o, "pid", json_object_new_int(os->requestor.pid));
	add_u64(o, "uid", os->requestor.uid);
	add_u64(o, "gid", os->requestor.gid);
	process_name(os->requestor.pid, comm, sizeof(comm));
	json_object_object_add(o, "process", json_object_new_string(comm));
	json_object_object_add(o, "age_ms", json_object_new_double(
						    (double)os->age_ns / 1e6));
	json_object_object_add(o, "phase", json_object_new_string(
						   os->in_post ? "post" : "pre"));
	json_object_object_add(o, "cancelled",
			       json_object_new_boolean(os->cancelled));
	json_object_object_add(o, "pended_by",
			       os->pended_by[0]
				       ? json_object_new_string(os->pended_by)
				       : NULL);
	nodes = json_object_new_array();
	for (size_t i = 0; i < os->nnodes && i < 16; i++) {
		struct json_object *n = json_object_new_object();

		json_object_object_add(n, "filter", json_object_new_string(
							    os->nodes[i].filter));
		add_u64(n, "altitude", os->nodes[i].altitude);
		json_object_object_add(n, "sync", json_object_new_boolean(
							  os->nodes[i].sync));
		json_object_array_add(nodes, n);
	}
	json_object_object_add(o, "completion_nodes", nodes);
	add_u64(o, "completion_nodes_total", os->nnodes);
	return o;
}

/* The filters' own figures, added to their instance's object (matched by
 * filter name and altitude: the stack may have changed between the two
 * snapshots, and a filter has at most one instance per volume). */
struct figs_arg {
	struct json_object *insts;
};

static void figures_cb(const char *filter, uint32_t altitude, int ret,
		       const struct core_figure *figs, size_t nfigs,
		       size_t dropped, void *arg)
{
	struct figs_arg *fa = arg;
	struct json_object *in = NULL, *o;

	for (size_t i = 0; i < json_object_array_length(fa->insts); i++) {
		struct json_object *c = json_object_array_get_idx(fa->insts, i);

		if (!strcmp(json_object_get_string(json_object_object_get(
				    c, "filter")), filter) &&
		    json_object_get_uint64(json_object_object_get(
			    c, "altitude")) == altitude)
			in = c;
	}
	if (!in)
		return;
	o = json_object_new_object();
	for (size_t i = 0; i < nfigs; i++)
		json_object_object_add(o, figs[i].key,
				       figs[i].is_str
					       ? json_object_new_string(
							 figs[i].str)
					       : json_object_new_uint64(
							 figs[i].u64));
	json_object_object_add(in, "figures", o);
	if (dropped)
		add_u64(in, "figures_dropped", dropped);
	if (ret)
		json_object_object_add(in, "figures_error",
				       json_object_new_string(strerror(-ret)));
}

struct json_object *ctl_status(const struct ctl_volume *v)
{
	struct figs_arg fa;
	struct json_object *resp, *vol, *insts, *ops;
	struct snap *s = calloc(1, sizeof(*s));

	if (!s || !(s->ops = calloc(MAX_OPS, sizeof(*s->ops)))) {
		free(s);
		return ctl_error(ENOMEM, "out of memory");
	}
	core_volume_status(v->vol, inst_cb, op_cb, s);

	resp = json_object_new_object();
	json_object_object_add(resp, "ok", json_object_new_boolean(1));
	vol = json_object_new_object();
	json_object_object_add(vol, "mountpoint",
			       json_object_new_string(v->mountpoint));
	json_object_object_add(vol, "lower", v->lower_path
			       ? json_object_new_string(v->lower_path) : NULL);
	json_object_object_add(vol, "pid", json_object_new_int(getpid()));
	add_u64(vol, "owner_uid", v->owner);
	add_u64(vol, "dispatched", core_volume_dispatched(v->vol));
	add_u64(vol, "inflight", core_volume_inflight(v->vol));
	add_u64(vol, "live_callback_data",
		core_volume_live_callback_data(v->vol));
	if (v->lower) {
		add_u64(vol, "lower_inodes", lower_inode_count(v->lower));
		add_u64(vol, "lower_handles", lower_handle_count(v->lower));
		/* the attribute/entry timeout replies carry now, and
		 * whether changes in the lower directory are watched */
		json_object_object_add(vol, "timeout", json_object_new_double(
			lower_effective_timeout(v->lower)));
		json_object_object_add(vol, "lower_watch",
			json_object_new_boolean(lower_watching(v->lower)));
	}
	json_object_object_add(resp, "volume", vol);

	insts = json_object_new_array();
	for (size_t i = 0; i < s->ninst; i++)
		json_object_array_add(insts,
				      instance_json(&s->inst[i], s->args[i]));
	fa.insts = insts;
	core_volume_figures(v->vol, figures_cb, &fa);
	json_object_object_add(resp, "instances", insts);

	ops = json_object_new_array();
	for (size_t i = 0; i < s->nops; i++)
		json_object_array_add(ops, op_json(&s->ops[i]));
	json_object_object_add(resp, "operations", ops);
	add_u64(resp, "operations_total", s->ops_total);
	free(s->ops);
	free(s);
	return resp;
}
