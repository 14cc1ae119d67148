/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Filters from shared objects and the control channel, without a mount:
 * the example filter loaded into this (exporting) test executable, the ABI
 * check, and every control request through ctl_handle() and the socket.
 * HELLO_SO and BADABI_SO are the built objects (set by CMake).
 */
#include "control/ctl.h"
#include "core/core.h"

#include <errno.h>
#include <json-c/json.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

static void mem_bottom(void *ctx, struct flt_callback_data *d)
{
	d->io_status.status = 0;
	switch (d->op) {
	case FLT_OP_LOOKUP:
		d->results.entry.ino = 42;
		d->results.entry.attr.st_mode = S_IFREG | 0644;
		break;
	case FLT_OP_OPEN:
		d->results.open.fh = 7;
		break;
	case FLT_OP_READ:
		memset(d->params.read.buf, 'h', d->params.read.size);
		d->io_status.information = d->params.read.size;
		break;
	default:
		break;
	}
}

static void done(struct flt_callback_data *d, void *cookie)
{
	*(int *)cookie = d->io_status.status;
}

static int run(struct flt_volume *vol, struct flt_callback_data *d)
{
	int status = 1;

	core_dispatch(vol, d, done, &status);
	assert_int_not_equal(status, 1);	/* no pending in hello */
	return status;
}

static struct json_object *request(const struct ctl_volume *v,
				   const char *json)
{
	struct json_object *req = json_tokener_parse(json), *resp;

	assert_non_null(req);
	resp = ctl_handle(v, req);
	json_object_put(req);
	assert_non_null(resp);
	return resp;
}

static bool resp_ok(struct json_object *r)
{
	return json_object_get_boolean(json_object_object_get(r, "ok"));
}

static const char *resp_str(struct json_object *r, const char *k)
{
	return json_object_get_string(json_object_object_get(r, k));
}

static void test_load_hello_and_control(void **state)
{
	struct core_bottom bottom = { mem_bottom, NULL };
	struct flt_callback_data d;
	struct flt_volume *vol;
	struct json_object *r, *inst;
	char name[32], err[512], buf[100], path[4096], req[4200];
	struct ctl_volume cv = { .mountpoint = "/test", .owner = 0 };

	assert_int_equal(core_volume_create("ctl", &bottom, &vol), 0);
	cv.vol = vol;

	/* load through the control channel: the object is loaded once */
	snprintf(req, sizeof(req), "{\"cmd\":\"load\",\"path\":\"%s\","
		 "\"args\":\"deny\"}", HELLO_SO);
	r = request(&cv, req);
	assert_true(resp_ok(r));
	assert_string_equal(resp_str(r, "filter"), "hello");
	assert_int_equal(json_object_get_int(json_object_object_get(
				 r, "altitude")), 320000);
	json_object_put(r);
	assert_true(core_filter_is_loaded_file("hello", path, sizeof(path)));
	assert_true(core_filter_file_is_loaded(HELLO_SO));
	assert_int_equal(core_load_filter_file_msg(HELLO_SO, name,
						   sizeof(name), err,
						   sizeof(err)), 0);
	assert_string_equal(name, "hello");

	/* it filters: *.forbidden is refused, other files are read */
	core_data_init(&d, FLT_OP_LOOKUP, FLT_ROOT_INO);
	d.params.lookup.parent = FLT_ROOT_INO;
	d.params.lookup.name = "x.forbidden";
	assert_int_equal(run(vol, &d), 0);
	core_data_cleanup(&d);
	core_data_init(&d, FLT_OP_OPEN, 42);
	assert_int_equal(run(vol, &d), -EACCES);
	core_data_cleanup(&d);
	core_stream_gone(vol, 42);

	core_data_init(&d, FLT_OP_LOOKUP, FLT_ROOT_INO);
	d.params.lookup.parent = FLT_ROOT_INO;
	d.params.lookup.name = "fine.txt";
	assert_int_equal(run(vol, &d), 0);
	core_data_cleanup(&d);
	core_data_init(&d, FLT_OP_OPEN, 42);
	assert_int_equal(run(vol, &d), 0);
	core_data_cleanup(&d);
	core_data_init(&d, FLT_OP_READ, 42);
	d.params.read.fh = 7;
	d.params.read.buf = buf;
	d.params.read.size = sizeof(buf);
	assert_int_equal(run(vol, &d), 0);
	core_data_cleanup(&d);

	/* status shows it with its source, args and counters */
	r = request(&cv, "{\"cmd\":\"status\"}");
	assert_true(resp_ok(r));
	inst = json_object_array_get_idx(json_object_object_get(r,
								"instances"), 0);
	assert_non_null(inst);
	assert_string_equal(resp_str(inst, "filter"), "hello");
	assert_string_equal(resp_str(inst, "args"), "deny");
	assert_string_equal(resp_str(inst, "source"), path);
	assert_int_equal(json_object_get_int(json_object_object_get(
			json_object_object_get(inst, "pre"), "open")), 2);
	assert_int_equal(json_object_get_int(json_object_object_get(
			json_object_object_get(inst, "post"), "read")), 1);
	assert_int_equal(json_object_get_int(json_object_object_get(
			json_object_object_get(r, "volume"), "inflight")), 0);
	json_object_put(r);

	/* attach twice: refused; detach, attach again by name, unload */
	r = request(&cv, "{\"cmd\":\"attach\",\"name\":\"hello\"}");
	assert_false(resp_ok(r));
	assert_string_equal(resp_str(r, "errno"), "EEXIST");
	json_object_put(r);
	r = request(&cv, "{\"cmd\":\"detach\",\"name\":\"hello\"}");
	assert_true(resp_ok(r));
	json_object_put(r);
	assert_int_equal(core_volume_instance_count(vol), 0);
	r = request(&cv, "{\"cmd\":\"detach\",\"name\":\"hello\"}");
	assert_false(resp_ok(r));
	assert_string_equal(resp_str(r, "errno"), "ENOENT");
	json_object_put(r);
	r = request(&cv, "{\"cmd\":\"attach\",\"name\":\"hello\","
		    "\"altitude\":5000,\"args\":\"bogus\"}");
	assert_false(resp_ok(r));	/* instance setup declines "bogus" */
	json_object_put(r);
	r = request(&cv, "{\"cmd\":\"attach\",\"name\":\"hello\","
		    "\"altitude\":5000}");
	assert_true(resp_ok(r));
	json_object_put(r);
	r = request(&cv, "{\"cmd\":\"unload\",\"name\":\"hello\"}");
	assert_true(resp_ok(r));
	json_object_put(r);
	assert_null(core_find_filter("hello"));
	assert_false(core_filter_file_is_loaded(HELLO_SO));
	assert_int_equal(core_volume_instance_count(vol), 0);

	/* load with "name" (fsfilter attach NAME from the filter directory):
	 * a file registering another filter is refused and not kept */
	snprintf(req, sizeof(req), "{\"cmd\":\"load\",\"path\":\"%s\","
		 "\"name\":\"other\"}", HELLO_SO);
	r = request(&cv, req);
	assert_false(resp_ok(r));
	assert_string_equal(resp_str(r, "errno"), "EINVAL");
	assert_non_null(strstr(resp_str(r, "error"),
			       "registers the filter 'hello', not 'other'"));
	json_object_put(r);
	assert_null(core_find_filter("hello"));
	assert_false(core_filter_file_is_loaded(HELLO_SO));
	assert_int_equal(core_volume_instance_count(vol), 0);
	snprintf(req, sizeof(req), "{\"cmd\":\"load\",\"path\":\"%s\","
		 "\"name\":\"hello\"}", HELLO_SO);
	r = request(&cv, req);
	assert_true(resp_ok(r));
	json_object_put(r);
	r = request(&cv, "{\"cmd\":\"unload\",\"name\":\"hello\"}");
	assert_true(resp_ok(r));
	json_object_put(r);

	assert_int_equal(core_volume_live_callback_data(vol), 0);
	core_volume_destroy(vol);
}

/* A filter's own figures (flt_registration.instance_status) in the status
 * response: numbers and strings in order, invalid keys and pairs over the
 * limit dropped and counted, a callback error reported; instances without
 * the callback get no "figures". */
static int figs_status(const struct flt_related_objects *objs,
		       struct flt_status_writer *w)
{
	char key[32];

	flt_status_add_u64(w, "answer", 42);
	flt_status_add_str(w, "altitude.name", flt_filter_name(objs->filter));
	flt_status_add_u64(w, "bad key", 1);		/* space: dropped */
	flt_status_add_u64(w, "", 1);			/* empty: dropped */
	for (int i = 0; i < 260; i++) {		/* 254 fit */
		snprintf(key, sizeof(key), "n.%d", i);
		flt_status_add_u64(w, key, (uint64_t)i);
	}
	return flt_instance_altitude(objs->instance) == 200 ? -EIO : 0;
}

static void test_filter_figures(void **state)
{
	static const struct flt_operation_registration no_ops[] = {
		FLT_OPERATION_END
	};
	struct flt_registration reg = {
		FLT_REGISTRATION_INIT,
		.name = "figs",
		.default_altitude = 100,
		.operations = no_ops,
		.instance_status = figs_status,
	};
	struct flt_registration plain = reg;
	struct core_bottom bottom = { mem_bottom, NULL };
	struct ctl_volume cv = { .mountpoint = "/test", .owner = 0 };
	struct flt_filter *f, *g;
	struct flt_instance *inst;
	struct flt_volume *vol;
	struct json_object *r, *insts, *figs;

	(void)state;
	plain.name = "plainfig";
	plain.instance_status = NULL;
	assert_int_equal(flt_register_filter(&reg, &f), 0);
	assert_int_equal(flt_start_filtering(f), 0);
	assert_int_equal(flt_register_filter(&plain, &g), 0);
	assert_int_equal(flt_start_filtering(g), 0);
	assert_int_equal(core_volume_create("figs", &bottom, &vol), 0);
	cv.vol = vol;
	assert_int_equal(core_volume_attach(vol, "figs", 200, NULL, &inst), 0);
	assert_int_equal(core_volume_attach(vol, "plainfig", 100, NULL, &inst),
			 0);

	r = request(&cv, "{\"cmd\":\"status\"}");
	assert_true(resp_ok(r));
	insts = json_object_object_get(r, "instances");
	assert_int_equal(json_object_array_length(insts), 2);
	figs = json_object_object_get(json_object_array_get_idx(insts, 0),
				      "figures");
	assert_non_null(figs);
	assert_int_equal(json_object_get_int(json_object_object_get(
				 figs, "answer")), 42);
	assert_string_equal(resp_str(figs, "altitude.name"), "figs");
	assert_null(json_object_object_get(figs, "bad key"));
	assert_int_equal(json_object_object_length(figs), 256);
	assert_int_equal(json_object_get_int(json_object_object_get(
				 figs, "n.253")), 253);
	assert_null(json_object_object_get(figs, "n.254"));
	/* 2 bad keys + 6 over the limit */
	assert_int_equal(json_object_get_int(json_object_object_get(
				 json_object_array_get_idx(insts, 0),
				 "figures_dropped")), 8);
	assert_non_null(json_object_object_get(
		json_object_array_get_idx(insts, 0), "figures_error"));
	assert_null(json_object_object_get(json_object_array_get_idx(insts, 1),
					   "figures"));
	json_object_put(r);

	assert_int_equal(core_volume_detach_filter(vol, "figs", false), 0);
	assert_int_equal(core_volume_detach_filter(vol, "plainfig", false), 0);
	core_volume_destroy(vol);
	flt_unregister_filter(f);
	flt_unregister_filter(g);
}

static void test_bad_abi_refused(void **state)
{
	char name[32] = "", err[512] = "";
	int ret = core_load_filter_file_msg(BADABI_SO, name, sizeof(name), err,
					    sizeof(err));

	assert_int_equal(ret, -EPROTO);
	assert_non_null(strstr(err, BADABI_SO));
	assert_non_null(strstr(err, "ABI version 42"));
	assert_non_null(strstr(err, "supports version 1"));
	assert_null(core_find_filter("badabi"));
	assert_false(core_filter_file_is_loaded(BADABI_SO));

	/* not an object at all */
	ret = core_load_filter_file_msg("/etc/hostname", name, sizeof(name),
					err, sizeof(err));
	assert_int_equal(ret, -ENOEXEC);
	assert_non_null(strstr(err, "cannot load"));
	ret = core_load_filter_file_msg("/nonexistent/x.so", name,
					sizeof(name), err, sizeof(err));
	assert_int_equal(ret, -ENOENT);
}

static void test_bad_requests(void **state)
{
	struct core_bottom bottom = { mem_bottom, NULL };
	struct ctl_volume cv = { .mountpoint = "/test" };
	static const char *const bad[] = {
		"[1,2]", "{\"cmd\":\"frobnicate\"}", "{\"cmd\":42}",
		"{\"cmd\":\"attach\"}",
		"{\"cmd\":\"attach\",\"name\":\"x\",\"altitude\":-1}",
		"{\"cmd\":\"attach\",\"name\":\"x\",\"altitude\":\"high\"}",
		"{\"cmd\":\"load\",\"path\":\"relative.so\"}",
		"{\"cmd\":\"unload\",\"name\":\"nosuch\"}",
		"{\"cmd\":\"attach\",\"name\":\"nosuch\"}",
	};
	struct json_object *r;

	assert_int_equal(core_volume_create("bad", &bottom, &cv.vol), 0);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = request(&cv, bad[i]);
		assert_false(resp_ok(r));
		assert_non_null(resp_str(r, "error"));
		assert_non_null(resp_str(r, "errno"));
		json_object_put(r);
	}
	r = ctl_handle(&cv, NULL);	/* unparsable line */
	assert_false(resp_ok(r));
	json_object_put(r);
	core_volume_destroy(cv.vol);
}

static void test_socket_round_trip(void **state)
{
	struct core_bottom bottom = { mem_bottom, NULL };
	struct ctl_volume cv = { .mountpoint = "/test", .owner = getuid() };
	char tmpl[] = "/tmp/ctltest.XXXXXX", dir[256], sock[300], err[256];
	struct ctl_server *srv, *second;
	struct json_object *req, *resp = NULL;
	struct stat st;

	assert_non_null(mkdtemp(tmpl));
	snprintf(dir, sizeof(dir), "%s/run/vol", tmpl);
	snprintf(sock, sizeof(sock), "%s/control", dir);
	assert_int_equal(core_volume_create("sock", &bottom, &cv.vol), 0);
	assert_int_equal(ctl_start(dir, &cv, &srv), 0);
	assert_int_equal(stat(sock, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* a second daemon on the same volume is refused */
	assert_int_equal(ctl_start(dir, &cv, &second), -EADDRINUSE);

	for (int i = 0; i < 20; i++) {
		req = json_tokener_parse("{\"cmd\":\"status\"}");
		assert_int_equal(ctl_call(sock, req, &resp, err, sizeof(err), 5000),
				 0);
		json_object_put(req);
		assert_true(resp_ok(resp));
		assert_string_equal(resp_str(json_object_object_get(
					resp, "volume"), "mountpoint"), "/test");
		json_object_put(resp);
	}
	/* another file in the runtime dir (a port) keeps the dir alive */
	{
		char other[320];
		FILE *f;

		snprintf(other, sizeof(other), "%s/someport", dir);
		f = fopen(other, "w");
		assert_non_null(f);
		fclose(f);
		ctl_stop(srv);
		assert_int_equal(stat(dir, &st), 0);
		assert_int_not_equal(stat(sock, &st), 0);
		unlink(other);
	}
	assert_int_equal(ctl_start(dir, &cv, &srv), 0);
	ctl_stop(srv);
	assert_int_not_equal(stat(dir, &st), 0);	/* empty: removed */
	req = json_tokener_parse("{\"cmd\":\"status\"}");
	assert_int_equal(ctl_call(sock, req, &resp, err, sizeof(err), 5000),
			 -ENOENT);
	assert_non_null(strstr(err, "no control socket"));
	json_object_put(req);
	snprintf(dir, sizeof(dir), "%s/run", tmpl);
	rmdir(dir);
	rmdir(tmpl);
	core_volume_destroy(cv.vol);
}

/* A daemon that does not answer (stopped, hung): a listening socket that
 * nobody accepts on. The first clients complete in the backlog and wait
 * for an answer; once the backlog is full connect(2) itself blocks. Every
 * ctl_call must give up with ETIMEDOUT instead of waiting forever. */
static void test_call_times_out(void **state)
{
	char tmpl[] = "/tmp/ctltest.XXXXXX", err[256];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct json_object *req, *resp = NULL;
	int lfd;

	assert_non_null(mkdtemp(tmpl));
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control", tmpl);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(lfd, 1), 0);
	req = json_tokener_parse("{\"cmd\":\"status\"}");
	/* backlog 1: the first calls wait for an answer, the later ones
	 * for connect */
	for (int i = 0; i < 4; i++) {
		err[0] = '\0';
		assert_int_equal(ctl_call(sa.sun_path, req, &resp, err,
					  sizeof(err), 100), -ETIMEDOUT);
		assert_null(resp);
		assert_non_null(strstr(err, "no answer within 0.1 s"));
	}
	json_object_put(req);
	close(lfd);
	unlink(sa.sun_path);
	rmdir(tmpl);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_load_hello_and_control),
		cmocka_unit_test(test_bad_abi_refused),
		cmocka_unit_test(test_filter_figures),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_socket_round_trip),
		cmocka_unit_test(test_call_times_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
