/*
 * The progress callback as a C function pointer: called with progress_arg passed
 * through unchanged, at least once before the end and once at the end (done ==
 * total); any non-zero return stops the copy with -ECANCELED,
 * zc_stats.failed_step ZC_STEP_CANCEL and the destination as it was, for each
 * path copy.
 *
 * usage: callback DIR
 */
#include "helpers.h"

struct seen {
    int calls;
    uint64_t last_done, last_total;
    int stop_with; /* returned from the first call on; 0: go on */
};

static int on_progress(uint64_t done, uint64_t total, void *arg) {
    struct seen *s = arg;
    s->calls++;
    s->last_done = done;
    s->last_total = total;
    return s->stop_with;
}

int main(int argc, char **argv) {
    int fds = t_fixture_main(argc, argv);
    t_name = "progress";
    char *big = t_path(t_okdir, "big"), *ok = t_ok_path("ok");
    size_t n = 5 * 1048576 + 3;
    unsigned char *want = t_make_file(big, n, 11);
    char input[64];
    for (int k = 0; k < T_NPATH; k++) {
        t_path_fn f = T_PATH_FNS[k].f;
        struct seen s = {0, 0, 0, 0};
        zc_options o;
        zc_options_init(&o);
        o.progress = on_progress;
        o.progress_arg = &s;
        CHECK_EQ(f(big, ok, &o, NULL), 0);
        CHECK(s.calls >= 2);
        CHECK_EQ(s.last_done, n);
        CHECK_EQ(s.last_total, n);
        CHECK(t_file_is(ok, want, n));
        unlink(ok);
        const int stops[] = {1, -1, 2, INT_MIN};
        for (int i = 0; i < 4; i++) {
            struct seen c = {0, 0, 0, stops[i]};
            o.progress_arg = &c;
            zc_stats st;
            zc_stats_init(&st);
            snprintf(input, sizeof input, "progress returns %d", stops[i]);
            char call[96];
            snprintf(call, sizeof call, "%s(big, dst_old, &o, &st)", T_PATH_FNS[k].name);
            EXPECT_AS(input, call, f(big, t_dst_old, &o, &st), -ECANCELED);
            CHECK_EQ(st.failed_step, ZC_STEP_CANCEL);
            CHECK_EQ(c.calls, 1);
            snprintf(call, sizeof call, "%s(big, dst_new, &o, NULL)", T_PATH_FNS[k].name);
            EXPECT_AS(input, call, f(big, t_dst_new, &o, NULL), -ECANCELED);
        }
    }
    unlink(big);
    free(big);
    free(ok);
    free(want);
    return t_fixture_finish("callback", fds);
}
