/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Per-process scope of rules (placeholder until rules carry a scope). */
#include "filters/redirect/redir.h"

bool redir_scope_excluded(struct redir_inst *ri,
			  const struct flt_callback_data *d)
{
	(void)ri;
	(void)d;
	return false;
}
