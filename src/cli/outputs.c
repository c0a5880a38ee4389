/* outputs.c — the file a command writes besides the database (eval
 * --logits, export -o), checked before any work (cli.h cli_check_output):
 * not a device, FIFO, link or directory, none of the command's inputs or
 * its results database, absent or an earlier output of its kind (files.h
 * output_target_ok: never another database, a checkpoint, an experiment
 * file...), and a file can be created where it is asked. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "cnnrun/files.h"
#include "cnnrun/util.h"

/* 1 (after saying so) when out is the file in, described as what_in */
static int clash(const char *out, const char *what, const char *in, const char *what_in)
{
    if (!same_file(out, in)) return 0;
    fprintf(stderr, "%s: cannot write %s there: it is %s (%s), which it would replace; choose "
                    "another path\n", out, what, what_in, in);
    return 1;
}

/* 1 when out is the results database or one of SQLite's files beside it */
static int clash_db(const char *out, const char *what, const char *db)
{
    static const char *suffix[] = {"", "-wal", "-shm", "-journal"};
    int hit = 0;
    for (size_t i = 0; i < sizeof suffix / sizeof suffix[0] && !hit; i++) {
        char *p = xmalloc(strlen(db) + 16);
        sprintf(p, "%s%s", db, suffix[i]);
        hit = clash(out, what, p, i ? "a file of the results database" : "the results database");
        free(p);
    }
    return hit;
}

/* 1 when out is a file of the data directory */
static int clash_data(const char *out, const char *what, const char *data_dir)
{
    DIR *d = data_dir ? opendir(data_dir) : NULL;
    if (!d) return 0;
    int hit = 0;
    struct dirent *de;
    while (!hit && (de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char *p = xmalloc(strlen(data_dir) + strlen(de->d_name) + 2);
        sprintf(p, "%s/%s", data_dir, de->d_name);
        hit = clash(out, what, p, "a file of the data directory");
        free(p);
    }
    closedir(d);
    return hit;
}

int cli_check_output(const CliOptions *o, const char *path, FileKind kind, const char *what,
                     const char *data_dir)
{
    struct stat st; /* a regular file: first the most telling words, what it is here */
    if (lstat(path, &st) == 0 && S_ISREG(st.st_mode)) {
        for (int i = 0; i < o->n_files; i++)
            if (clash(path, what, o->files[i], "an input of this command")) return CN_EXIT_USAGE;
        if (clash(path, what, o->weights, "the checkpoint of --weights") ||
            clash_db(path, what, o->db) || clash_data(path, what, data_dir))
            return CN_EXIT_USAGE;
    }
    if (output_target_ok(path, kind, what) != 0) return CN_EXIT_USAGE;
    char *tmp; /* where write_file_atomic writes first: can a file be made there? */
    int fd = temp_beside(path, &tmp);
    if (fd < 0) {
        fprintf(stderr, "%s: cannot write %s: %s\n", path, what, strerror(errno));
        return CN_EXIT_USAGE;
    }
    close(fd);
    unlink(tmp);
    free(tmp);
    return 0;
}
