/* state_cache.c - check states kept between a worker's batches (see
 * state_cache.h for why a stale one is never wrong) */
#include "consume/state_cache.h"

#include <stdlib.h>
#include <string.h>

#include "alertq/util.h"

/* What malloc adds to each block it hands out, roughly. */
#define BLOCK_OVERHEAD 16

struct aq_state_cache_slot {
	char *name; /* the index's key: owned, outlives a state taken out */
	struct aq_state st;
	int held; /* st is the check's state; 0: taken, or never put */
	size_t bytes;
	int64_t put_ms; /* monotonic */
};

static size_t text_bytes(const char *s)
{
	return s ? strlen(s) + 1 + BLOCK_OVERHEAD : 0;
}

static size_t labels_bytes(const struct aq_label *labels, size_t n)
{
	size_t bytes = n ? n * sizeof(*labels) + BLOCK_OVERHEAD : 0;
	for (size_t i = 0; i < n; i++)
		bytes += text_bytes(labels[i].key) + text_bytes(labels[i].value);
	return bytes;
}

/* What a slot for check costs in memory beside its state, about: it stays
 * until the cache is cleared. */
static size_t slot_bytes(const char *check)
{
	return sizeof(struct aq_state_cache_slot) + text_bytes(check) + 2 * sizeof(size_t);
}

/* What st's own allocations cost, about. */
static size_t state_bytes(const struct aq_state *st)
{
	size_t bytes = text_bytes(st->check) + text_bytes(st->message) + text_bytes(st->inhibited_by) +
		labels_bytes(st->labels, st->nlabels) + labels_bytes(st->annotations, st->nannotations);
	if (st->ntold)
		bytes += st->ntold * sizeof(*st->told) + BLOCK_OVERHEAD;
	for (size_t i = 0; i < st->ntold; i++)
		bytes += text_bytes(st->told[i]);
	return bytes;
}

void aq_state_cache_init(struct aq_state_cache *c, size_t budget)
{
	memset(c, 0, sizeof(*c));
	aq_strmap_init(&c->index);
	c->budget = budget;
}

void aq_state_cache_clear(struct aq_state_cache *c)
{
	for (size_t i = 0; i < c->nslots; i++) {
		if (c->slots[i].held)
			aq_state_release(&c->slots[i].st);
		free(c->slots[i].name);
	}
	c->nslots = 0;
	c->bytes = 0;
	aq_strmap_clear(&c->index);
}

void aq_state_cache_release(struct aq_state_cache *c)
{
	aq_state_cache_clear(c);
	free(c->slots);
	aq_strmap_release(&c->index);
	memset(c, 0, sizeof(*c));
}

/* Drops what slot holds (a state moved out first leaves nothing to
 * release); its name stays in the index. */
static void slot_empty(struct aq_state_cache *c, struct aq_state_cache_slot *slot)
{
	aq_state_release(&slot->st);
	c->bytes -= slot->bytes;
	slot->bytes = 0;
	slot->held = 0;
}

int aq_state_cache_take(struct aq_state_cache *c, const char *check, int64_t now_ms, struct aq_state *out)
{
	size_t i;
	if (!aq_strmap_get(&c->index, check, &i) || !c->slots[i].held) {
		c->misses++;
		return 0;
	}
	struct aq_state_cache_slot *slot = &c->slots[i];
	if (now_ms - slot->put_ms >= AQ_STATE_CACHE_TTL_MS) {
		slot_empty(c, slot);
		c->misses++;
		return 0;
	}
	*out = slot->st;
	memset(&slot->st, 0, sizeof(slot->st));
	slot_empty(c, slot);
	c->hits++;
	return 1;
}

/* The slot of a name new to the cache, or NULL when out of memory. */
static struct aq_state_cache_slot *slot_add(struct aq_state_cache *c, const char *check)
{
	if (c->nslots == c->room) {
		size_t room = c->room ? 2 * c->room : 1024;
		struct aq_state_cache_slot *slots = realloc(c->slots, room * sizeof(*slots));
		if (!slots)
			return NULL;
		/* the index borrows the names, not the slots: moving them is fine */
		c->slots = slots;
		c->room = room;
	}
	struct aq_state_cache_slot *slot = &c->slots[c->nslots];
	memset(slot, 0, sizeof(*slot));
	slot->name = strdup(check);
	if (!slot->name || aq_strmap_put(&c->index, slot->name, c->nslots, NULL) != 0) {
		free(slot->name);
		return NULL;
	}
	c->nslots++;
	c->bytes += slot_bytes(check);
	return slot;
}

void aq_state_cache_put(struct aq_state_cache *c, struct aq_state *st, int64_t now_ms)
{
	if (!st->check) {
		aq_state_release(st);
		return;
	}
	size_t bytes = state_bytes(st);
	size_t i;
	struct aq_state_cache_slot *slot = NULL;
	if (aq_strmap_get(&c->index, st->check, &i)) {
		slot = &c->slots[i];
		slot_empty(c, slot);
	}
	size_t more = bytes + (slot ? 0 : slot_bytes(st->check));
	if (more > c->budget) {
		aq_state_release(st); /* bigger than the whole budget: not kept */
		return;
	}
	if (c->bytes + more > c->budget) {
		c->cleared_states = 0;
		for (size_t k = 0; k < c->nslots; k++)
			c->cleared_states += (size_t)c->slots[k].held;
		aq_state_cache_clear(c);
		c->clears++;
		slot = NULL;
	}
	if (!slot)
		slot = slot_add(c, st->check);
	if (!slot) {
		aq_state_release(st); /* out of memory: simply not kept */
		return;
	}
	slot->st = *st;
	slot->held = 1;
	slot->bytes = bytes;
	slot->put_ms = now_ms;
	c->bytes += bytes;
	memset(st, 0, sizeof(*st));
}
