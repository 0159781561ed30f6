#include "reload.h"

void lr_reload_init(struct lr_reload *r, const char *path, struct lr_sink *errors,
		    const struct lr_reload_ops *ops, void *ctx)
{
	/* A store, not atomic_init: hooks may be reading it already. */
	atomic_store_explicit(&r->next_check_ns, 0, memory_order_relaxed);
	r->path = path;
	r->errors = errors;
	r->ops = ops;
	r->ctx = ctx;
	r->loaded = false;
	r->attempted = (struct lr_file_id){ 0 };
}

bool lr_reload_claim(struct lr_reload *r)
{
	if (!r->loaded)
		return true;
	long long now = r->ops->now_ns();
	long long due = atomic_load_explicit(&r->next_check_ns, memory_order_relaxed);
	/* Of the callers that found it due, the one whose swap lands looks;
	 * the others go on with the rules in force. */
	return now >= due && atomic_compare_exchange_strong(&r->next_check_ns, &due,
							    now + LR_RELOAD_INTERVAL_NS);
}

void lr_reload_run(struct lr_reload *r)
{
	bool first = !r->loaded;
	struct lr_file_id id = lr_file_id_of(r->path);
	if (!first && (lr_file_id_equal(&id, &r->attempted) || lr_file_being_written(&id)))
		return;
	r->attempted = id;
	if (!first && !id.exists) {
		lr_log_parts(r->errors, r->path, ": rule file removed; keeping the rules in force",
			     NULL);
		return;
	}
	struct lr_file_id read = id;
	void *fresh = r->ops->build(r->ctx, &id, &read);
	if (first) {
		/* Whatever the first look found is in force, rules or none. */
		r->loaded = true;
		r->ops->swap(r->ctx, fresh, true);
		atomic_store_explicit(&r->next_check_ns, r->ops->now_ns() + LR_RELOAD_INTERVAL_NS,
				      memory_order_relaxed);
		return;
	}
	if (!fresh)
		return; /* bad rules: those in force stay, until the file changes again */
	/* The one read is the one in force, and a newer one is read at the
	 * next look. An empty one may be a write in progress: read it again
	 * then (size -1 matches no file). */
	r->attempted = read;
	if (lr_file_being_written(&read)) {
		r->ops->discard(r->ctx, fresh);
		r->attempted.size = -1;
		return;
	}
	r->ops->swap(r->ctx, fresh, false);
}
