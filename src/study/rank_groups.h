/* rank_groups.h — `cnnrun run --ranks-per-run K` under mpirun
 * (rank_groups.c): the study's runs shared among groups of K ranks. Private
 * to src/study. */
#ifndef CNNRUN_RANK_GROUPS_H
#define CNNRUN_RANK_GROUPS_H

#include <stddef.h>

#include "cnnrun/study.h"
#include "cnnrun/results.h"

/* Trains this rank's group's share of the `total` runs of
 * grids[0..o->n_files) (every one validated; the ranks split already:
 * dist_split). db: world rank 0's database, open (NULL on the other ranks;
 * closed here). Every rank calls it; returns the worst exit status of all. */
int rank_groups_run(StudyOptions *o, Grid *grids, long total, ResultsDb *db);

/* The database of a group whose rank 0 is on another host than world rank
 * 0: "<db without .db>.<host>.db" beside db. */
void rank_groups_host_db(char *buf, size_t size, const char *db, const char *host);

#endif
