/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Who may connect. The socket file's mode already gates connect(2); the
 * same rule is checked again on the peer's credentials (SO_PEERCRED,
 * SO_PEERGROUPS), because a connection can be made through another path
 * to the same socket (a bind mount, /proc/PID/fd/...), and then the
 * allowed uid/gid lists on top. Root is always allowed. */
#include "port/port_int.h"

#include <errno.h>
#include <stdlib.h>

static bool in_gids(const gid_t *v, size_t n, gid_t g)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == g)
			return true;
	return false;
}

/* The peer's supplementary groups (Linux >= 4.13). */
static size_t peer_groups(int fd, gid_t *v, size_t cap)
{
	socklen_t len = (socklen_t)(cap * sizeof(gid_t));

	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, v, &len))
		return 0;
	return len / sizeof(gid_t);
}

int port_peer_allowed(const struct port_server *srv, int fd,
		      const struct flt_port_peer *peer)
{
	gid_t groups[256];
	size_t ngroups;
	bool ok;

	if (peer->uid == 0)
		return 0;
	ngroups = peer_groups(fd, groups, 256);
	/* the file permission rule: owner, else group, else other */
	if (peer->uid == srv->owner)
		ok = srv->mode & 0200;
	else if (peer->gid == srv->group ||
		 in_gids(groups, ngroups, srv->group))
		ok = srv->mode & 0020;
	else
		ok = srv->mode & 0002;
	if (!ok)
		return -EACCES;
	if (!srv->nuids && !srv->ngids)
		return 0;
	for (size_t i = 0; i < srv->nuids; i++)
		if (srv->uids[i] == peer->uid)
			return 0;
	for (size_t i = 0; i < srv->ngids; i++)
		if (srv->gids[i] == peer->gid ||
		    in_gids(groups, ngroups, srv->gids[i]))
			return 0;
	return -EACCES;
}
