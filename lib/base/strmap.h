/* strmap.h - the one name -> index table: open addressing over borrowed keys */
#ifndef ALERTQ_BASE_STRMAP_H
#define ALERTQ_BASE_STRMAP_H

#include <stddef.h>
#include <stdint.h>

/* Maps NUL-terminated names to indexes. Keys are borrowed: each must stay
 * valid and unchanged while it is in the table. One probe per lookup on
 * average, whatever the number of names. */
struct aq_strmap {
	struct aq_strmap_slot *slots;
	size_t mask; /* slots - 1; 0 before the first put */
	size_t n;
};

void aq_strmap_init(struct aq_strmap *m);
void aq_strmap_release(struct aq_strmap *m);

/* Empties the table, keeping its memory. */
void aq_strmap_clear(struct aq_strmap *m);

/* Makes room for n names in all without growing again. Returns 0, or -1
 * when out of memory (the table is unchanged). */
int aq_strmap_reserve(struct aq_strmap *m, size_t n);

/* Returns 1 and sets *index when key is present, else 0. */
int aq_strmap_get(const struct aq_strmap *m, const char *key, size_t *index);

/* Adds key -> index. When key is present already, nothing changes and
 * *existing (if not NULL) gets its index. Returns 0 added, 1 present,
 * -1 out of memory (nothing changed). */
int aq_strmap_put(struct aq_strmap *m, const char *key, size_t index, size_t *existing);

/* The 64-bit FNV-1a hash of s, which the table uses. */
uint64_t aq_strmap_hash(const char *s);

#endif
