/*
 * The static strings: zc_strerror for either sign of an errno and for values that
 * are none (never NULL); zc_version against the header's macros; the names of
 * methods, engines and steps, NULL for values out of range.
 *
 * usage: version
 */
#include "helpers.h"

int main(void) {
    t_name = "strerror";
    CHECK(strcmp(zc_strerror(-EIO), zc_strerror(EIO)) == 0);
    CHECK(strcmp(zc_strerror(ENOENT), "No such file or directory") == 0);
    CHECK(strcmp(zc_strerror(-ENOENT), "No such file or directory") == 0);
    const int odd[] = {INT_MIN, INT_MAX, 0, 123456, -123456};
    for (int i = 0; i < 5; i++) CHECK(zc_strerror(odd[i]) != NULL && *zc_strerror(odd[i]));
    t_name = "version";
    CHECK(strcmp(zc_version(), ZCIO_VERSION_STRING) == 0);
    char v[32];
    snprintf(v, sizeof v, "%d.%d.%d", ZCIO_VERSION_MAJOR, ZCIO_VERSION_MINOR, ZCIO_VERSION_PATCH);
    CHECK(strcmp(zc_version(), v) == 0);
    t_name = "names";
    static const char *const methods[] = {"auto", "direct", "reflink", "copy_file_range",
                                          "sendfile", "splice", "mmap", "read_write"};
    for (uint32_t m = 0; m < ZC_METHOD_COUNT; m++)
        CHECK(zc_method_name(m) && strcmp(zc_method_name(m), methods[m]) == 0);
    CHECK(zc_method_name(ZC_METHOD_COUNT) == NULL);
    CHECK(zc_method_name(UINT32_MAX) == NULL);
    CHECK(strcmp(zc_engine_name(ZC_ENGINE_IO_URING), "io_uring") == 0);
    CHECK(strcmp(zc_engine_name(ZC_ENGINE_SYNC), "sync") == 0);
    CHECK(zc_engine_name(4) == NULL);
    CHECK(strcmp(zc_step_name(ZC_STEP_CANCEL), "cancel") == 0);
    CHECK(zc_step_name(ZC_STEP_RESOURCE + 1) == NULL);
    return t_finish("version");
}
