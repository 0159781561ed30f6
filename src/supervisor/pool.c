#include "pool.h"

#include <pthread.h>
#include <stdlib.h>

/* At most this many calls block at once on their own threads; past that a
 * slow call waits for a thread, not the others. */
#define LR_POOL_MAX 256

struct job {
	void (*fn)(void *);
	void *arg;
	struct job *next;
};

/* The queue and the thread counts, under `lock`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t more = PTHREAD_COND_INITIALIZER;
static struct job *head, *tail;
static int threads, idle;

static void *pool_thread(void *unused)
{
	(void)unused;
	pthread_mutex_lock(&lock);
	for (;;) {
		while (!head) {
			idle++;
			pthread_cond_wait(&more, &lock);
			idle--;
		}
		struct job *j = head;
		head = j->next;
		if (!head)
			tail = NULL;
		pthread_mutex_unlock(&lock);
		j->fn(j->arg);
		free(j);
		pthread_mutex_lock(&lock);
	}
	return NULL;
}

void lr_pool_run(void (*fn)(void *), void *arg)
{
	struct job *j = malloc(sizeof(*j));
	if (!j) {
		fn(arg);
		return;
	}
	*j = (struct job){ .fn = fn, .arg = arg };
	pthread_mutex_lock(&lock);
	if (tail)
		tail->next = j;
	else
		head = j;
	tail = j;
	int start = idle == 0 && threads < LR_POOL_MAX;
	if (start)
		threads++;
	pthread_cond_signal(&more);
	pthread_mutex_unlock(&lock);
	if (start) {
		pthread_t t;
		pthread_attr_t a;
		pthread_attr_init(&a);
		pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&a, 256 * 1024);
		if (pthread_create(&t, &a, pool_thread, NULL) != 0) {
			/* No thread: with none running, nobody else would take
			 * the queue, and the program would wait for ever. */
			pthread_mutex_lock(&lock);
			struct job *run = --threads == 0 ? head : NULL;
			if (run)
				head = tail = NULL;
			pthread_mutex_unlock(&lock);
			while (run) {
				struct job *next = run->next;
				run->fn(run->arg);
				free(run);
				run = next;
			}
		}
		pthread_attr_destroy(&a);
	}
}
