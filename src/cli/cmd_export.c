/* cmd_export.c — `cnnrun export FILE.ini --weights PATH -o MODEL.onnx`: the
 * network of FILE.ini with a checkpoint's weights, written as an ONNX model
 * (src/export/onnx.c) atomically: MODEL.onnx is complete or untouched. Exit
 * status 2 for a wrong command line, file, checkpoint of another network or
 * an output where nothing can be created; 1 for a damaged checkpoint or a
 * write that failed (disk full). */
#include <stdio.h>

#include "cli.h"
#include "cnnrun/data.h"
#include "cnnrun/export.h"
#include "cnnrun/util.h"

int cmd_export(CliOptions *o)
{
#ifndef CNNRUN_ONNX
    (void)o;
    fprintf(stderr, "cnnrun export: this cnnrun was built without ONNX export (it needs "
                    "protobuf-c and onnx.proto: Debian libprotobuf-c-dev, protobuf-c-compiler, "
                    "libonnx-dev; then meson setup --reconfigure -Donnx=enabled)\n");
    return CN_EXIT_USAGE;
#else
    if (!o->output) {
        fprintf(stderr, "cnnrun export: -o MODEL.onnx is required\n");
        return CN_EXIT_USAGE;
    }
    int rc = cli_check_output(o, o->output, FILE_ONNX, "the ONNX model", NULL);
    if (rc != 0) return rc;
    Trained t;
    rc = cli_load_trained(o, "export", false, &t);
    if (rc != 0) return rc;
    const char *clash = onnx_reserved_name(&t.m);
    if (clash) {
        fprintf(stderr, "%s: the layer '%s' has a name the ONNX graph gives a tensor of its own "
                        "(input, normalized, logits, output); rename its section to export it\n",
                o->files[0], clash);
        cli_free_trained(&t);
        return CN_EXIT_USAGE;
    }
    OnnxExportInfo info = {.experiment = t.e.name, .source = o->weights,
                           .normalize = t.e.normalize != NORM_NONE,
                           .mean = t.e.normalize == NORM_DATASET ? t.e.norm_mean : NULL,
                           .std = t.e.normalize == NORM_DATASET ? t.e.norm_std : NULL,
                           .class_names = (const char *const *)t.data.names};
    rc = onnx_export(&t.m, &info, o->output);
    rc = rc == 0 ? CN_EXIT_OK : rc == -1 ? CN_EXIT_USAGE : CN_EXIT_FAIL;
    if (rc == CN_EXIT_OK)
        printf("%s: %s with the weights of %s (run %lld, epoch %d), ONNX opset %d, input RGB "
               "in [0, 1] NCHW (N, 3, 32, 32), output logits (N, %d)\n",
               o->output, t.e.name, o->weights, (long long)t.meta.run_id, t.meta.epoch,
               ONNX_OPSET, t.m.classes);
    cli_free_trained(&t);
    return rc;
#endif
}
