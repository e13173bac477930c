/* strmap.c - the one name -> index table: open addressing over borrowed keys */
#include "base/strmap.h"

#include <stdlib.h>
#include <string.h>

struct aq_strmap_slot {
	const char *key; /* NULL: empty */
	uint64_t hash;
	size_t index;
};

uint64_t aq_strmap_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

void aq_strmap_init(struct aq_strmap *m)
{
	memset(m, 0, sizeof(*m));
}

void aq_strmap_release(struct aq_strmap *m)
{
	free(m->slots);
	aq_strmap_init(m);
}

void aq_strmap_clear(struct aq_strmap *m)
{
	if (m->slots)
		memset(m->slots, 0, (m->mask + 1) * sizeof(*m->slots));
	m->n = 0;
}

/* Places a slot's content in a table known to have room. */
static void place(struct aq_strmap_slot *slots, size_t mask, const struct aq_strmap_slot *from)
{
	size_t at = from->hash & mask;
	while (slots[at].key)
		at = (at + 1) & mask;
	slots[at] = *from;
}

int aq_strmap_reserve(struct aq_strmap *m, size_t n)
{
	size_t want = 16;
	while (want < 2 * n)
		want *= 2;
	if (m->slots && want <= m->mask + 1)
		return 0;
	struct aq_strmap_slot *slots = calloc(want, sizeof(*slots));
	if (!slots)
		return -1;
	if (m->slots) {
		for (size_t i = 0; i <= m->mask; i++)
			if (m->slots[i].key)
				place(slots, want - 1, &m->slots[i]);
		free(m->slots);
	}
	m->slots = slots;
	m->mask = want - 1;
	return 0;
}

/* The slot holding key, or the empty slot where it would go. */
static struct aq_strmap_slot *find(const struct aq_strmap *m, const char *key, uint64_t hash)
{
	size_t at = hash & m->mask;
	while (m->slots[at].key) {
		if (m->slots[at].hash == hash && strcmp(m->slots[at].key, key) == 0)
			break;
		at = (at + 1) & m->mask;
	}
	return &m->slots[at];
}

int aq_strmap_get(const struct aq_strmap *m, const char *key, size_t *index)
{
	if (!m->slots)
		return 0;
	const struct aq_strmap_slot *slot = find(m, key, aq_strmap_hash(key));
	if (!slot->key)
		return 0;
	*index = slot->index;
	return 1;
}

int aq_strmap_put(struct aq_strmap *m, const char *key, size_t index, size_t *existing)
{
	if (aq_strmap_reserve(m, m->n + 1) != 0)
		return -1;
	uint64_t hash = aq_strmap_hash(key);
	struct aq_strmap_slot *slot = find(m, key, hash);
	if (slot->key) {
		if (existing)
			*existing = slot->index;
		return 1;
	}
	slot->key = key;
	slot->hash = hash;
	slot->index = index;
	m->n++;
	return 0;
}
