/* saturate.h - int64 millisecond arithmetic that saturates instead of
 * overflowing: deadlines computed from outside input (an event's
 * interval_ms, observed_at) stay defined whatever the input */
#ifndef ALERTQ_BASE_SATURATE_H
#define ALERTQ_BASE_SATURATE_H

#include <stdint.h>

/* a + b, or INT64_MAX / INT64_MIN when the sum would not fit. */
static inline int64_t aq_add_ms_sat(int64_t a, int64_t b)
{
	int64_t sum;
	if (__builtin_add_overflow(a, b, &sum))
		return b > 0 ? INT64_MAX : INT64_MIN;
	return sum;
}

/* a * b, or INT64_MAX / INT64_MIN when the product would not fit. */
static inline int64_t aq_mul_ms_sat(int64_t a, int64_t b)
{
	int64_t product;
	if (__builtin_mul_overflow(a, b, &product))
		return (a < 0) != (b < 0) ? INT64_MIN : INT64_MAX;
	return product;
}

#endif
