/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * crypt: a reader/writer lock that a thread other than the locker may
 * release (pthread_rwlock may not), since an operation's pre-callback and
 * post-callback can run on different worker threads. Writers are
 * preferred so a stream of page-cache reads cannot starve a writer.
 */
#include "filters/crypt/crypt_int.h"

void crypt_lock_init(struct crypt_lock *l)
{
	pthread_mutex_init(&l->mu, NULL);
	pthread_cond_init(&l->cv, NULL);
	l->readers = 0;
	l->writer = false;
	l->writers_waiting = 0;
}

void crypt_lock_destroy(struct crypt_lock *l)
{
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cv);
}

void crypt_lock_shared(struct crypt_lock *l)
{
	pthread_mutex_lock(&l->mu);
	while (l->writer || l->writers_waiting)
		pthread_cond_wait(&l->cv, &l->mu);
	l->readers++;
	pthread_mutex_unlock(&l->mu);
}

void crypt_lock_excl(struct crypt_lock *l)
{
	pthread_mutex_lock(&l->mu);
	l->writers_waiting++;
	while (l->writer || l->readers)
		pthread_cond_wait(&l->cv, &l->mu);
	l->writers_waiting--;
	l->writer = true;
	pthread_mutex_unlock(&l->mu);
}

void crypt_unlock_shared(struct crypt_lock *l)
{
	pthread_mutex_lock(&l->mu);
	if (!--l->readers)
		pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}

void crypt_unlock_excl(struct crypt_lock *l)
{
	pthread_mutex_lock(&l->mu);
	l->writer = false;
	pthread_cond_broadcast(&l->cv);
	pthread_mutex_unlock(&l->mu);
}
