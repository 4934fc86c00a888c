/* job.h - deliverer runs (job.c), used by the scheduler (sched.c) */
#ifndef JOB_H
#define JOB_H
#include "qr.h"

unsigned int jobs_for(struct msg *m, unsigned long now, int flush);   /* queue jobs for due items (all with flush) */
void jobs_start(void);               /* start queued jobs within the limits */
unsigned int jobs_pending(void);     /* queued, not started */
void jobs_abandon(void);             /* drop queued jobs (shutdown) */
int jobs_paused(void);               /* load shedding or shutdown */
void sched_job_done(struct msg *m);  /* job.c -> sched.c: one job of m ended */
void job_result(struct work *w, const char *id, struct item *it, int res, const char *text, size_t len);
/* sched_dest_matches - does name (a held or administered destination)
 * cover an item for dest and addr: the destination itself, or the
 * recipient's domain (ASCII case ignored) */
int sched_dest_matches(const char *name, const char *dest, const char *addr);
#endif
