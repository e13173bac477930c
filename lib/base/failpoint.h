/* failpoint.h - named points where a test can make a process pause, stop,
 * crash or fail, to hit the narrow windows where alertq's promises are
 * decided (a batch between COMMIT and the Kafka commit, a delivery before
 * its outcome is recorded...) on purpose rather than by chance.
 *
 * Switched on by the environment, read once at start:
 *
 *   ALERTQ_FAILPOINTS="batch.before_commit=crash;dispatch.after_deliver=2*stop"
 *
 * Each entry is NAME=[N*]ACTION: the action runs on the N-th time the point
 * is reached (default the first), once; a point may have several entries
 * ("P=1*sleep(900);P=2*sleep(900)" pauses its first two hits). Actions:
 *   crash      _exit(137), as kill -9 would leave it
 *   abort      abort()
 *   stop       raise(SIGSTOP): the whole process freezes (heartbeats too)
 *              until someone sends SIGCONT
 *   sleep(MS)  this thread sleeps MS milliseconds
 *   error      the point returns -1, which the code treats as the failure
 *              of the step it guards
 * The process says on stderr when a failpoint fires. Without the variable
 * every point costs one predictable branch on a global flag; a build with
 * -DALERTQ_FAILPOINTS=OFF (CMake) has none at all. */
#ifndef ALERTQ_BASE_FAILPOINT_H
#define ALERTQ_BASE_FAILPOINT_H

extern int aq_failpoints_armed;

/* Reads ALERTQ_FAILPOINTS; call once from main() before any thread starts.
 * Returns 0, or -1 with a message on stderr when the variable cannot be
 * read (the program should then refuse to start). */
int aq_failpoints_init(void);

/* Forgets every failpoint read, as if the variable were unset, so that
 * aq_failpoints_init may read it again (for tests of the parser). */
void aq_failpoints_reset(void);

/* Runs the action of the failpoint name if it is due. Returns -1 when the
 * action is "error", else 0. */
int aq_failpoint_hit(const char *name);

/* 0, or -1 when the failpoint name fires with "error". */
#ifdef ALERTQ_NO_FAILPOINTS
#define AQ_FAILPOINT(name) ((void)(name), 0)
#else
#define AQ_FAILPOINT(name) (__builtin_expect(aq_failpoints_armed, 0) ? aq_failpoint_hit(name) : 0)
#endif

#endif
