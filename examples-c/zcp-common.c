/*
 * cp's command line and the copies that are not trees, shared by zcp and zcp-mpi
 * (see zcp-common.h). GNU cp 9.1 is the model: the same options, destination
 * rules, messages and file names quoted the same way. Files go through
 * zc_copy_file(); what cp decides per entry and the tree call cannot be asked
 * (-v's lines, -i's questions, read-only files) comes from a walk made first,
 * only when needed. Trees go to the program's own run_tree.
 *
 * Several file sources are copied by up to 4 threads at once (-j): a small file's
 * copy mostly waits for the disk, and the waits overlap.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <langinfo.h>
#include <libgen.h>
#include <locale.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>
#include <wctype.h>

#include "zcp-common.h"

volatile sig_atomic_t interrupted;

/* Held while writing to the terminal and while a worker takes the next file. */
pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;

struct cfg C;
struct prog P;
struct totals R;

/* The program running, and the start of its messages ("zcp: "). */
static const struct cp_program *prog;
static char prefix[64] = "zcp: ";

void cp_set_prefix(const char *p) { snprintf(prefix, sizeof prefix, "%s", p); }

/* The first Ctrl-C cancels the copy cleanly at its next progress report; a second
 * one, for a copy blocked on a stalled pipe, exits at once (an unfinished copy is
 * an unnamed temporary file, which the kernel removes). */
static void on_sigint(int sig) {
    (void)sig;
    if (interrupted) _exit(130);
    interrupted = 1;
}

double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void oom(void) {
    fprintf(stderr, "%smemory exhausted\n", prefix);
    _exit(1);
}

char *xstrdup(const char *s) {
    char *p = strdup(s);
    if (!p) oom();
    return p;
}

/* ---- Strings and messages ---------------------------------------------------- */

struct sbuf {
    char *p;
    size_t len, cap;
};

static void sb_putn(struct sbuf *b, const char *s, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 128;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) oom();
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}

static void sb_puts(struct sbuf *b, const char *s) { sb_putn(b, s, strlen(s)); }
static void sb_putc(struct sbuf *b, char c) { sb_putn(b, &c, 1); }

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0) sb_putn(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* Whether `c` needs no quoting in either '...' or "..." (gnulib's table). */
static int plain_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           strchr("%+,-./:]_", c) != NULL;
}

/* One pass of gnulib's shell-escape-always quoting of `s` (see sb_quote);
 * `in_dollar` says whether it starts inside $'...'. Returns whether it ends
 * inside one; *squote and *compat_all tell whether `s` has an apostrophe and
 * whether every character of it reads the same between '...' and "...". */
static int quote_pass(struct sbuf *b, const char *s, int in_dollar, int *squote, int *compat_all) {
    size_t n = strlen(s);
    int multibyte = MB_CUR_MAX > 1;
    *squote = 0;
    *compat_all = 1;
    sb_putc(b, '\'');
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        int compat = 0;
        size_t m = 1;
        int printable = 1;
        switch (c) {
        case '\a': esc = "a"; break;
        case '\b': esc = "b"; break;
        case '\f': esc = "f"; break;
        case '\n': esc = "n"; break;
        case '\r': esc = "r"; break;
        case '\t': esc = "t"; break;
        case '\v': esc = "v"; break;
        case '{': case '}': compat = n == 1; break;
        case '#': case '~': compat = i == 0; break;
        case ' ': compat = 1; break;
        case '\'': *squote = compat = 1; break;
        case '!': case '"': case '$': case '&': case '(': case ')': case '*': case ';':
        case '<': case '=': case '>': case '[': case '^': case '`': case '|': case '?':
        case '\\':
            break;
        default:
            if (plain_char(c)) {
                compat = 1;
            } else if (!multibyte || c < 0x80) {
                printable = c >= 0x20 && c < 0x7f;
                compat = printable;
            } else {
                mbstate_t st;
                memset(&st, 0, sizeof st);
                wchar_t w;
                size_t r = mbrtowc(&w, s + i, n - i, &st);
                if (r == (size_t)-1 || r == 0) printable = 0;
                else if (r == (size_t)-2) printable = 0, m = n - i;
                else printable = iswprint((wint_t)w) != 0, m = r;
                compat = printable;
            }
        }
        if (esc || !printable) {
            /* $'...' for what a plain quote cannot hold. */
            if (!in_dollar) sb_puts(b, "'$'"), in_dollar = 1;
            if (esc) {
                sb_putc(b, '\\');
                sb_puts(b, esc);
            } else {
                for (size_t k = 0; k < m; k++) sb_printf(b, "\\%03o", (unsigned char)s[i + k]);
            }
            *compat_all = 0;
            i += m;
            continue;
        }
        if (c == '\'') {
            sb_puts(b, "'\\''");
            in_dollar = 0;
        } else {
            if (in_dollar) sb_puts(b, "''"), in_dollar = 0;
            sb_putn(b, s + i, m);
        }
        if (!compat) *compat_all = 0;
        i += m;
    }
    sb_putc(b, '\'');
    return in_dollar;
}

/* Appends the file name `s` quoted as cp quotes it (gnulib's shell-escape-always
 * style), so messages match cp's byte for byte: 'a b', "it's", 'a'$'\n''b'. */
static void sb_quote(struct sbuf *b, const char *s) {
    size_t start = b->len;
    int squote, compat;
    int in_dollar = quote_pass(b, s, 0, &squote, &compat);
    if (squote && compat) {
        /* An apostrophe and nothing else special: "it's" reads better. */
        b->len = start;
        sb_putc(b, '"');
        sb_puts(b, s);
        sb_putc(b, '"');
    } else if (squote && in_dollar) {
        /* gnulib writes such a name in a second pass that starts in the $'...'
         * state its first pass ended in, and cp 9.1 prints that: for "it's" and
         * a newline, '''it'\''s'$'\n'. */
        b->len = start;
        quote_pass(b, s, 1, &squote, &compat);
    }
}

/* Appends an argument quoted as cp's argmatch messages do: ‘x’ in a UTF-8 locale. */
static void sb_lquote(struct sbuf *b, const char *s) {
    int utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
    sb_puts(b, utf8 ? "\xe2\x80\x98" : "'");
    sb_puts(b, s);
    sb_puts(b, utf8 ? "\xe2\x80\x99" : "'");
}

/* printf-like: %s text, %q a file name as cp quotes it, %Q an argument, %d, %u,
 * %o a mode (4 digits), %% a percent sign. */
static void sb_vfmt(struct sbuf *b, const char *fmt, va_list ap) {
    for (const char *p = fmt; *p; p++) {
        if (*p != '%') {
            sb_putc(b, *p);
            continue;
        }
        switch (*++p) {
        case 's': sb_puts(b, va_arg(ap, const char *)); break;
        case 'q': sb_quote(b, va_arg(ap, const char *)); break;
        case 'Q': sb_lquote(b, va_arg(ap, const char *)); break;
        case 'd': sb_printf(b, "%d", va_arg(ap, int)); break;
        case 'u': sb_printf(b, "%u", va_arg(ap, unsigned)); break;
        case 'o': sb_printf(b, "%04o", va_arg(ap, unsigned)); break;
        case 0: return;
        default: sb_putc(b, *p); break;
        }
    }
}

/* ---- The progress bar -------------------------------------------------------- */

/* "1.5 GiB" style sizes. */
void human(char *buf, size_t len, double bytes) {
    const char *units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = 0;
    while (bytes >= 1024 && u < 5) {
        bytes /= 1024;
        u++;
    }
    snprintf(buf, len, u ? "%.1f %s" : "%.0f %s", bytes, units[u]);
}

static int term_width(void) {
    struct winsize ws;
    if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
    return 80;
}

static void bar_clear(void) {
    if (P.drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
        P.drawn = 0;
    }
}

/* Draws the bar with out_lock held: "[====>   ]  45% 1.2 GiB / 2.6 GiB  80.0 MiB/s
 * ETA 0:16  12/40 files", dropping parts (files, rate, sizes, the bar itself) until
 * the line fits the terminal, so it never wraps. */
static void bar_draw(void) {
    uint64_t done = atomic_load(&P.done_bytes), edone = atomic_load(&P.done_entries);
    uint64_t known = P.file_bytes + atomic_load(&P.tree_bytes);
    uint64_t eknown = P.nfiles + atomic_load(&P.tree_entries);
    for (int i = 0; i < P.nworkers; i++) done += atomic_load_explicit(&P.workers[i].cur, memory_order_relaxed);
    int final = P.trees_left == 0;
    if (atomic_load(&P.t_on)) {
        done += atomic_load(&P.t_done);
        known += atomic_load(&P.t_known);
        edone += atomic_load(&P.t_edone);
        eknown += atomic_load(&P.t_eknown);
        final = P.trees_left == 1 && atomic_load(&P.t_walked);
    }
    double t = now(), secs = t - P.start;
    double rate = secs > 0 ? (double)done / secs : 0;
    int pct = known ? (int)(100.0 * (double)done / (double)known) : (final ? 100 : 0);
    if (pct > 100) pct = 100;
    char d[32], k[32], r[32], eta[32] = "--:--";
    human(d, sizeof d, (double)done);
    human(k, sizeof k, (double)known);
    human(r, sizeof r, rate);
    if (final && rate > 0 && known > done) {
        long left = (long)((double)(known - done) / rate);
        snprintf(eta, sizeof eta, "%ld:%02ld", left / 60, left % 60);
    } else if (final && known <= done) {
        snprintf(eta, sizeof eta, "0:00");
    }
    const char *plus = final ? "" : "+"; /* totals still growing */
    char tails[5][256];
    snprintf(tails[0], sizeof tails[0], " %3d%% %s / %s%s  %s/s  ETA %s  %llu/%llu%s files", pct, d, k, plus, r,
             eta, (unsigned long long)edone, (unsigned long long)eknown, plus);
    snprintf(tails[1], sizeof tails[1], " %3d%% %s / %s%s  %s/s  ETA %s", pct, d, k, plus, r, eta);
    snprintf(tails[2], sizeof tails[2], " %3d%% %s / %s%s  ETA %s", pct, d, k, plus, eta);
    snprintf(tails[3], sizeof tails[3], " %3d%%  ETA %s", pct, eta);
    snprintf(tails[4], sizeof tails[4], " %3d%%", pct);
    int avail = term_width() - 1; /* the last column would wrap on some terminals */
    char line[320];
    int chosen = -1, width = 0;
    for (int i = P.multi ? 0 : 1; i < 5 && chosen < 0; i++) {
        int room = avail - (int)strlen(tails[i]) - 2;
        if (room >= 10) chosen = i, width = room > 50 ? 50 : room;
    }
    if (chosen >= 0) {
        int fill = width * pct / 100;
        char bar[64];
        for (int i = 0; i < width; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
        bar[width] = 0;
        snprintf(line, sizeof line, "[%s]%s", bar, tails[chosen]);
    } else {
        /* Too narrow for a bar: the shortest tail, cut to fit. */
        const char *tail = tails[4] + 1;
        for (int i = 1; i < 5; i++)
            if ((int)strlen(tails[i]) - 1 <= avail) {
                tail = tails[i] + 1;
                break;
            }
        snprintf(line, sizeof line, "%.*s", avail > 0 ? avail : 0, tail);
    }
    fprintf(stderr, "\r%s\033[K", line);
    fflush(stderr);
    P.drawn = 1;
    P.last = t;
}

/* Draws the bar if its time has come; never waits for the terminal. */
void bar_tick(void) {
    if (P.on && pthread_mutex_trylock(&out_lock) == 0) {
        if (now() - P.last >= 0.1) bar_draw();
        pthread_mutex_unlock(&out_lock);
    }
}

/* Prints a message (the bar cleared first) on `f`; an error message when `f` is
 * stderr, which -q silences. */
static void vemit(FILE *f, int err, const char *fmt, va_list ap) {
    if (f == stderr && C.quiet) return;
    struct sbuf b = {0};
    if (f == stderr) sb_puts(&b, prefix);
    sb_vfmt(&b, fmt, ap);
    if (err) {
        sb_puts(&b, ": ");
        sb_puts(&b, zc_strerror(err));
    }
    sb_putc(&b, '\n');
    pthread_mutex_lock(&out_lock);
    bar_clear();
    fputs(b.p, f);
    if (f == stderr) fflush(stdout);
    pthread_mutex_unlock(&out_lock);
    free(b.p);
}

/* "NAME: MESSAGE[: strerror(err)]" on standard error. */
void say(int err, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vemit(stderr, err, fmt, ap);
    va_end(ap);
}

/* A line on standard output (-v, --debug). */
void out(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vemit(stdout, 0, fmt, ap);
    va_end(ap);
}

/* cp's -v line: 'SRC' -> 'DST'. */
static void verbose_line(const char *src, const char *dst) {
    if (C.verbose) out("%q -> %q", src, dst);
}

/* Asks on standard error and reads the answer from standard input, as cp -i:
 * yes when the line starts with y or Y; no at end of input. */
static int ask(const char *fmt, ...) {
    struct sbuf b = {0};
    sb_puts(&b, prefix);
    va_list ap;
    va_start(ap, fmt);
    sb_vfmt(&b, fmt, ap);
    va_end(ap);
    fflush(stdout);
    fputs(b.p, stderr);
    fflush(stderr);
    free(b.p);
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, stdin);
    int yes = n > 0 && (line[0] == 'y' || line[0] == 'Y');
    free(line);
    return yes;
}

/* ---- Paths ------------------------------------------------------------------- */

/* DIR/NAME, with no doubled slash when DIR ends in one (as cp names entries). */
static char *join(const char *dir, const char *name) {
    size_t dl = strlen(dir), nl = strlen(name);
    int slash = dl > 0 && dir[dl - 1] != '/';
    char *p = malloc(dl + slash + nl + 1);
    if (!p) oom();
    memcpy(p, dir, dl);
    if (slash) p[dl] = '/';
    memcpy(p + dl + slash, name, nl + 1);
    return p;
}

/* DIR/basename(SRC), with SRC's trailing slashes ignored. */
static char *into_dir(const char *dir, const char *src) {
    char *copy = xstrdup(src);
    size_t n = strlen(copy);
    while (n > 1 && copy[n - 1] == '/') copy[--n] = 0;
    char *out = join(dir, basename(copy));
    free(copy);
    return out;
}

static int same_inode(const struct stat *a, const struct stat *b) {
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Whether `dst` is the directory `src` or lies inside it: `dst` (when it exists)
 * or any directory above it is `src`. */
static int inside(const struct stat *src, const char *dst) {
    char *copy = xstrdup(dst);
    int fd = open(copy, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    free(copy);
    for (int depth = 0; fd >= 0 && depth < 4096; depth++) {
        struct stat st, up;
        if (fstat(fd, &st) != 0) break;
        if (same_inode(&st, src)) {
            close(fd);
            return 1;
        }
        int ufd = openat(fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        close(fd);
        fd = ufd;
        if (fd >= 0 && (fstat(fd, &up) != 0 || same_inode(&up, &st))) break; /* the root */
    }
    if (fd >= 0) close(fd);
    return 0;
}

/* cp -u: whether the source is newer than the destination. */
static int newer(const struct stat *s, const struct stat *d) {
    if (s->st_mtim.tv_sec != d->st_mtim.tv_sec) return s->st_mtim.tv_sec > d->st_mtim.tv_sec;
    return s->st_mtim.tv_nsec > d->st_mtim.tv_nsec;
}

/* "rw-r--r--", as cp's "unwritable" question shows a mode. */
static void perm_string(mode_t m, char out[10]) {
    const char *rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++) out[i] = m & (0400 >> i) ? rwx[i] : '-';
    if (m & S_ISUID) out[2] = out[2] == 'x' ? 's' : 'S';
    if (m & S_ISGID) out[5] = out[5] == 'x' ? 's' : 'S';
    if (m & S_ISVTX) out[8] = out[8] == 'x' ? 't' : 'T';
    out[9] = 0;
}

/* ---- Jobs -------------------------------------------------------------------- */

static struct job *jobs;
static size_t njobs, capjobs;

static void add_repl(struct job *j, const char *src, const char *dst, int regular, int remove) {
    if (j->nrepl == j->caprepl) {
        j->caprepl = j->caprepl ? 2 * j->caprepl : 16;
        struct repl *r = realloc(j->repl, j->caprepl * sizeof *r);
        if (!r) oom();
        j->repl = r;
    }
    j->repl[j->nrepl++] = (struct repl){xstrdup(src), xstrdup(dst), regular, remove};
}

/* What to do with an existing destination entry. */
enum { D_COPY, D_REMOVE, D_SKIP, D_KEEP, D_FAIL, D_LIB };

/* Decides, as cp does, about the existing destination `d` (lstat `dl`) of the
 * non-directory source `st` (whose data is to be written when `regular`): skip
 * under -n or -u, ask under -i, refuse a file that cannot be written unless -f
 * (D_FAIL; then D_REMOVE: cp removes it and makes a new file). */
static int decide(const char *d, const struct stat *st, const struct stat *dl, int regular) {
    if (S_ISDIR(dl->st_mode)) return D_LIB; /* zcio refuses it; its error is told */
    if (C.interactive == ASK_NEVER) return D_SKIP;
    if (C.update) {
        struct stat t;
        if (!S_ISLNK(dl->st_mode) || stat(d, &t) != 0) t = *dl;
        if (!newer(st, &t)) return D_SKIP;
    }
    /* zcio replaces a file whatever its mode (a rename); cp opens it for writing,
     * which a read-only file refuses to anyone but root. */
    int writable = !regular || !S_ISREG(dl->st_mode) || C.root || faccessat(AT_FDCWD, d, W_OK, AT_EACCESS) == 0;
    if (C.interactive == ASK_USER) {
        int yes;
        char perms[10];
        perm_string(dl->st_mode, perms);
        unsigned mode = dl->st_mode & 07777;
        if (writable) yes = ask("overwrite %q? ", d);
        else if (C.force) yes = ask("replace %q, overriding mode %o (%s)? ", d, mode, perms);
        else yes = ask("unwritable %q (mode %o, %s); try anyway? ", d, mode, perms);
        if (!yes) return D_KEEP;
    }
    return writable ? D_COPY : C.force ? D_REMOVE : D_FAIL;
}

/* Whether cp unlinks the existing non-directory `dl` before copying `st` over it
 * (and -v says so first): when links are kept and it has other names, or when a
 * symlink or special file is copied as itself. zcp replaces it whole either way. */
static int cp_removes_first(const struct stat *st, const struct stat *dl, nlink_t nlink, int deref_never) {
    if (S_ISDIR(dl->st_mode)) return 0;
    return ((C.preserve & ZC_PRESERVE_LINKS) && nlink > 1) || (deref_never && !S_ISREG(st->st_mode));
}

/* After decide(): cp's -v lines (cp prints them before trying; `before`: it
 * removes the entry first), then what -f removes or why a read-only file is not
 * replaced. */
static void decided(int how, const char *s, const char *d, int before) {
    if (how != D_COPY && how != D_REMOVE && how != D_FAIL) return;
    if (how == D_COPY && before && C.verbose) out("removed %q", d);
    verbose_line(s, d);
    if (how == D_REMOVE && C.verbose) out("removed %q", d);
    if (how == D_FAIL) say(EACCES, "cannot create regular file %q", d);
}

/* ---- The walk before a tree copy: -v lines, -i questions, read-only files ---- */

struct ancestor {
    dev_t dev;
    ino_t ino;
    const struct ancestor *up;
};

struct ino_set {
    struct inode {
        dev_t dev;
        ino_t ino;
        unsigned count;
    } *v;
    size_t n, cap;
};

struct walk {
    struct job *j;
    int decide; /* the destination existed: look at each entry */
    dev_t root_dev;
    int failed;
    /* For -v's "removed" lines (links kept): the source files with several names
     * seen so far (a later name becomes a hard link), and how many names of each
     * destination file with several the copy has removed so far (cp removes an
     * entry first while its file still has other names). */
    struct ino_set seen, removed;
};

/* Adds `add` to the count of (dev, ino), which starts at 0; returns the count it
 * had. Only files with several names go in, so it stays small. */
static unsigned ino_count(struct ino_set *s, dev_t dev, ino_t ino, unsigned add) {
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 64;
        struct inode *v = calloc(cap, sizeof *v);
        if (!v) oom();
        for (size_t i = 0; i < s->cap; i++)
            if (s->v[i].ino) {
                size_t h = (size_t)(s->v[i].ino * 0x9e3779b97f4a7c15ull ^ s->v[i].dev) & (cap - 1);
                while (v[h].ino) h = (h + 1) & (cap - 1);
                v[h] = s->v[i];
            }
        free(s->v);
        s->v = v;
        s->cap = cap;
    }
    size_t h = (size_t)(ino * 0x9e3779b97f4a7c15ull ^ dev) & (s->cap - 1);
    for (; s->v[h].ino; h = (h + 1) & (s->cap - 1))
        if (s->v[h].ino == ino && s->v[h].dev == dev) {
            unsigned had = s->v[h].count;
            s->v[h].count += add;
            return had;
        }
    s->v[h] = (struct inode){dev, ino, add};
    s->n++;
    return 0;
}

struct name {
    char *name;
    ino_t ino;
    size_t order;
};

/* By inode number, as cp and zcio read a directory; ties in listing order. */
static int by_inode(const void *a, const void *b) {
    const struct name *x = a, *y = b;
    if (x->ino != y->ino) return x->ino < y->ino ? -1 : 1;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void walk_entry(struct walk *w, int dfd, const char *name, const char *s, const char *d, int dexists,
                       const struct ancestor *anc);

/* Walks the source directory `s` (open as `fd`, which this takes) in the order the
 * copy goes; `d` is where it is copied, `dexists` whether it exists already. */
static void walk_dir(struct walk *w, int fd, const char *s, const char *d, int dexists,
                     const struct ancestor *anc) {
    DIR *dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return; /* the copy tells why */
    }
    struct name *names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dir))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            struct name *p = realloc(names, cap * sizeof *p);
            if (!p) oom();
            names = p;
        }
        names[n] = (struct name){xstrdup(e->d_name), e->d_ino, n};
        n++;
    }
    if (n) qsort(names, n, sizeof *names, by_inode);
    for (size_t i = 0; i < n; i++) {
        if (!interrupted) {
            char *cs = join(s, names[i].name), *cd = join(d, names[i].name);
            walk_entry(w, dirfd(dir), names[i].name, cs, cd, dexists, anc);
            free(cs);
            free(cd);
        }
        free(names[i].name);
    }
    free(names);
    closedir(dir);
}

static void walk_entry(struct walk *w, int dfd, const char *name, const char *s, const char *d, int dexists,
                       const struct ancestor *anc) {
    int follow = w->j->follow == ZC_FOLLOW_ALL;
    struct stat st, dl;
    if (fstatat(dfd, name, &st, follow ? 0 : AT_SYMLINK_NOFOLLOW) != 0) return; /* the copy tells */
    int de = dexists && lstat(d, &dl) == 0;
    if (S_ISDIR(st.st_mode)) {
        if (de && !S_ISDIR(dl.st_mode)) return; /* zcio refuses it */
        for (const struct ancestor *a = anc; a; a = a->up)
            if (a->dev == st.st_dev && a->ino == st.st_ino) return; /* a loop under -L */
        if (!de) verbose_line(s, d);
        if (C.one_fs && st.st_dev != w->root_dev) return; /* a mount point: copied empty */
        int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC | (follow ? 0 : O_NOFOLLOW));
        if (fd < 0) return;
        struct ancestor here = {st.st_dev, st.st_ino, anc};
        walk_dir(w, fd, s, d, de, &here);
        return;
    }
    int regular = S_ISREG(st.st_mode), never = w->j->follow == ZC_FOLLOW_NEVER;
    int links = C.verbose && (C.preserve & ZC_PRESERVE_LINKS);
    /* A later name of a file with several is linked: cp says "removed" after,
     * unless it removed the entry first. */
    int linked = links && regular && st.st_nlink > 1 && ino_count(&w->seen, st.st_dev, st.st_ino, 1) > 0;
    /* The names the destination file still has, as cp's removals so far leave it. */
    nlink_t nlink = de ? dl.st_nlink : 0;
    if (links && nlink > 1) nlink -= ino_count(&w->removed, dl.st_dev, dl.st_ino, 0);
    int before = de && cp_removes_first(&st, &dl, nlink, never);
    int how = D_COPY;
    if (de && w->decide) {
        how = decide(d, &st, &dl, regular);
        decided(how, s, d, before);
    } else if (de && (S_ISDIR(dl.st_mode) || C.interactive == ASK_NEVER || (C.update && !newer(&st, &dl)))) {
        return; /* kept by the copy, or refused: no line, as cp */
    } else {
        if (before && C.verbose) out("removed %q", d);
        verbose_line(s, d);
    }
    if (how == D_COPY && de && linked && !before) out("removed %q", d);
    if (how == D_COPY && de && links && dl.st_nlink > 1 && (before || linked))
        ino_count(&w->removed, dl.st_dev, dl.st_ino, 1);
    if (!de || !w->decide) return;
    switch (how) {
    case D_COPY: add_repl(w->j, s, d, regular, 0); break;
    case D_REMOVE: add_repl(w->j, s, d, regular, 1); w->j->keep = 1; break;
    case D_FAIL: w->failed = 1; w->j->keep = 1; break;
    case D_KEEP: w->j->keep = 1; break;
    default: break;
    }
}

/* ---- Planning: each source checked, questions asked, in order ---------------- */

static struct job *new_job(const char *src, char *dst, int kind, const struct stat *st) {
    if (njobs == capjobs) {
        capjobs = capjobs ? 2 * capjobs : 16;
        struct job *p = realloc(jobs, capjobs * sizeof *p);
        if (!p) oom();
        jobs = p;
    }
    struct job *j = &jobs[njobs++];
    memset(j, 0, sizeof *j);
    j->src = src;
    j->dst = dst;
    j->kind = kind;
    j->st = *st;
    j->existing = C.interactive == ASK_NEVER ? ZC_EXISTING_KEEP : C.update ? ZC_EXISTING_NEWER : ZC_EXISTING_REPLACE;
    j->follow = C.deref == DEREF_ALWAYS ? ZC_FOLLOW_ALL : C.deref == DEREF_CMDLINE ? ZC_FOLLOW_TOP : ZC_FOLLOW_NEVER;
    return j;
}

/* Checks one source as cp does and queues its copy; 0 when queued or rightly
 * skipped, 1 after an error (told). */
static int plan(const char *src, const char *target, int to_dir) {
    int follow = C.deref == DEREF_ALWAYS || C.deref == DEREF_CMDLINE;
    struct stat st;
    if ((follow ? stat(src, &st) : lstat(src, &st)) != 0) {
        say(errno, "cannot stat %q", src);
        return 1;
    }
    int isdir = S_ISDIR(st.st_mode);
    if (isdir && !C.recursive) {
        say(0, "-r not specified; omitting directory %q", src);
        return 1;
    }
    char *dst = to_dir ? into_dir(target, src) : xstrdup(target);
    /* A destination this run made already. */
    for (size_t i = 0; i < njobs; i++) {
        if (strcmp(jobs[i].dst, dst)) continue;
        if (same_inode(&jobs[i].st, &st)) {
            say(0, "warning: source %s %q specified more than once", isdir ? "directory" : "file", src);
            free(dst);
            return 0;
        }
        if (!isdir || !S_ISDIR(jobs[i].st.st_mode)) {
            say(0, "will not overwrite just-created %q with %q", dst, src);
            free(dst);
            return 1;
        }
    }
    struct stat dl, ds;
    int dexists = lstat(dst, &dl) == 0;
    if (!dexists && errno != ENOENT) {
        say(errno, "cannot stat %q", dst);
        free(dst);
        return 1;
    }
    int dfollows = dexists && stat(dst, &ds) == 0;
    if (isdir) {
        if (dexists && !(dfollows && S_ISDIR(ds.st_mode))) {
            say(0, "cannot overwrite non-directory %q with directory %q", dst, src);
            free(dst);
            return 1;
        }
        if (dexists && same_inode(&st, &ds)) {
            say(0, "%q and %q are the same file", src, dst);
            free(dst);
            return 1;
        }
        if (inside(&st, dst)) {
            say(0, "cannot copy a directory, %q, into itself, %q", src, dst);
            free(dst);
            return 1;
        }
        struct job *j = new_job(src, dst, J_TREE, &st);
        /* The walk is needed for -v's lines, and when merging into an existing
         * directory for -i's questions and the read-only files cp would refuse. */
        int decide_each = dexists && (C.interactive == ASK_USER || (C.interactive == ASK_DEFAULT && !C.root));
        if (C.verbose || decide_each) {
            struct walk w = {j, decide_each, st.st_dev, 0, {NULL, 0, 0}, {NULL, 0, 0}};
            if (!dexists) verbose_line(src, dst);
            int fd = open(src, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
            if (fd >= 0) {
                struct ancestor top = {st.st_dev, st.st_ino, NULL};
                walk_dir(&w, fd, src, dst, dexists, &top);
            }
            free(w.seen.v);
            free(w.removed.v);
            /* Nothing must stay: the tree replaces what it finds, no entry alone. */
            if (!j->keep) {
                for (size_t i = 0; i < j->nrepl; i++) free(j->repl[i].src), free(j->repl[i].dst);
                j->nrepl = 0;
            }
            return w.failed;
        }
        return 0;
    }
    /* A symlink not followed is copied as a symlink; under -r a FIFO, device or
     * socket is made anew, otherwise its data is read. */
    int as_entry = S_ISLNK(st.st_mode) || (C.recursive && !S_ISREG(st.st_mode));
    int remove = 0, removed_first = 0;
    if (dexists) {
        if (C.interactive == ASK_NEVER) {
            free(dst);
            return 0;
        }
        struct stat sf;
        int same = dfollows && (same_inode(&st, &ds) ||
                                (S_ISLNK(st.st_mode) && stat(src, &sf) == 0 && same_inode(&sf, &ds)));
        if (same) {
            say(0, "%q and %q are the same file", src, dst);
            free(dst);
            return 1;
        }
        if (dfollows && S_ISDIR(ds.st_mode)) {
            say(0, "cannot overwrite directory %q with non-directory", dst);
            free(dst);
            return 1;
        }
        if (S_ISLNK(dl.st_mode) && !dfollows && !S_ISLNK(st.st_mode)) {
            say(0, "not writing through dangling symlink %q", dst);
            free(dst);
            return 1;
        }
        int how = decide(dst, &st, dfollows && !as_entry ? &ds : &dl, !as_entry);
        if (how != D_COPY && how != D_REMOVE) {
            if (how == D_FAIL) decided(how, src, dst, 0);
            free(dst);
            return how == D_FAIL;
        }
        remove = how == D_REMOVE;
        removed_first = how == D_COPY && cp_removes_first(&st, &dl, dl.st_nlink, C.deref == DEREF_NEVER);
    }
    /* Two sources that are one file stay one file, as cp -a keeps them. */
    const char *link_to = NULL;
    if (!as_entry && (C.preserve & ZC_PRESERVE_LINKS) && st.st_nlink > 1)
        for (size_t i = 0; i < njobs && !link_to; i++)
            if (jobs[i].kind == J_FILE && same_inode(&jobs[i].st, &st)) link_to = jobs[i].dst;
    struct job *j = new_job(src, dst, link_to ? J_LINK : as_entry ? J_TREE : J_FILE, &st);
    j->link_to = link_to;
    if (C.interactive == ASK_NEVER) j->extra_flags |= ZC_F_EXCL;
    j->remove = remove;
    if (removed_first && C.verbose && !link_to) out("removed %q", dst);
    if (!C.debug || as_entry) verbose_line(src, dst);
    if (remove && C.verbose) out("removed %q", dst);
    return 0;
}

/* ---- Messages for what zcio reports ------------------------------------------ */

/* cp's message for `err` at `step` on the source entry `src` (copied to `dst`);
 * `kind` is the source's file type (0: look). */
void tell(const char *src, const char *dst, int err, uint32_t step, mode_t kind, int follow) {
    if (!kind) {
        struct stat st;
        if ((follow ? stat(src, &st) : lstat(src, &st)) == 0) kind = st.st_mode & S_IFMT;
    }
    int dir = S_ISDIR(kind), lnk = S_ISLNK(kind), reg = S_ISREG(kind) || !kind;
    if (reg && C.file.method == ZC_METHOD_REFLINK && (err == EOPNOTSUPP || err == EXDEV || err == EINVAL) &&
        step != ZC_STEP_OPEN_SRC) {
        say(err, "failed to clone %q from %q", dst, src);
        return;
    }
    const char *made = dir ? "cannot create directory %q" : lnk ? "cannot create symbolic link %q"
                       : S_ISFIFO(kind) ? "cannot create fifo %q" : reg ? "cannot create regular file %q"
                                                                         : "cannot create special file %q";
    switch (step) {
    case ZC_STEP_OPEN_SRC:
        if (err == ENOENT) say(err, "cannot stat %q", src);
        else if (dir) say(err, "cannot access %q", src);
        else if (lnk) say(err, "cannot read symbolic link %q", src);
        else if (err == ELOOP && follow) say(0, "cannot copy cyclic symbolic link %q", src);
        else say(err, "cannot open %q for reading", src);
        break;
    case ZC_STEP_READ:
        if (dir) say(err, "cannot access %q", src);
        else if (lnk) say(err, "cannot read symbolic link %q", src);
        else say(err, "error reading %q", src);
        break;
    case ZC_STEP_OPEN_DST:
    case ZC_STEP_COMMIT:
        if (err == EISDIR && !dir) say(0, "cannot overwrite directory %q with non-directory", dst);
        else if ((err == ENOTDIR || err == EEXIST) && dir)
            say(0, "cannot overwrite non-directory %q with directory %q", dst, src);
        else if (err == EINVAL && dir) say(0, "cannot copy a directory, %q, into itself, %q", src, dst);
        else say(err, made, dst);
        break;
    case ZC_STEP_WRITE:
    case ZC_STEP_SYNC: say(err, "error writing %q", dst); break;
    case ZC_STEP_SIZE: say(err, "failed to extend %q", dst); break;
    case ZC_STEP_METADATA:
        if (C.preserve & ZC_PRESERVE_OWNERSHIP && err == EPERM) say(err, "failed to preserve ownership for %q", dst);
        else if (C.preserve & ZC_PRESERVE_MODE) say(err, "preserving permissions for %q", dst);
        else if (C.preserve & ZC_PRESERVE_TIMESTAMPS) say(err, "preserving times for %q", dst);
        else say(err, "setting permissions for %q", dst);
        break;
    default: say(err, "error copying %q to %q", src, dst); break;
    }
}

/* The destination of the source entry `path` of job `j`, as cp names it. */
char *dst_of(const struct job *j, const char *path) {
    size_t n = strlen(j->src);
    if (strncmp(path, j->src, n)) return xstrdup(path);
    const char *rel = path + n;
    while (*rel == '/') rel++;
    return *rel ? join(j->dst, rel) : xstrdup(j->dst);
}

/* --debug: the step at which a copy failed, as zcio names it. */
void debug_failed(const char *src, const char *dst, int err, uint32_t step) {
    const char *name = zc_step_name(step);
    if (C.debug) out("%q -> %q: failed at %s: %s", src, dst, name ? name : "?", zc_strerror(err));
}

int cp_tree_error(const char *path, int err, uint32_t step, void *arg) {
    struct job *j = arg;
    j->reported++;
    if (step != ZC_STEP_CANCEL) {
        char *dst = dst_of(j, path);
        tell(path, dst, err, step, 0, j->follow == ZC_FOLLOW_ALL);
        debug_failed(path, dst, err, step);
        free(dst);
    }
    return interrupted ? 1 : 0;
}

static int on_tree_progress(const zc_tree_progress *p, void *arg) {
    (void)arg;
    if (interrupted) return 1;
    /* Fields the calling library has (a newer one may have more). */
    if (p->size >= sizeof *p) {
        atomic_store(&P.t_done, p->bytes_done);
        atomic_store(&P.t_known, p->bytes_known);
        atomic_store(&P.t_edone, p->entries_done);
        atomic_store(&P.t_eknown, p->entries_known);
        atomic_store(&P.t_walked, (int)p->walk_done);
    }
    bar_tick();
    return 0;
}

/* ---- Copying ----------------------------------------------------------------- */

static uint32_t file_flags(void) {
    uint32_t f = C.file.flags;
    if (C.preserve & ZC_PRESERVE_MODE) f |= ZC_F_PRESERVE_MODE;
    if (C.preserve & ZC_PRESERVE_OWNERSHIP) f |= ZC_F_PRESERVE_OWNER;
    if (C.preserve & ZC_PRESERVE_TIMESTAMPS) f |= ZC_F_PRESERVE_TIMES;
    if (C.preserve & ZC_PRESERVE_XATTRS) f |= ZC_F_PRESERVE_XATTRS;
    if (C.no_preserve_mode) f |= ZC_F_DEFAULT_MODE;
    return f;
}

static void fallbacks(struct sbuf *b, const zc_stats *st) {
    int first = 1;
    for (uint32_t m = 0; m < ZC_METHOD_COUNT; m++) {
        if (!(st->fallbacks & (1u << m))) continue;
        int e = st->fallback_errno[m];
        sb_puts(b, first ? " (gave up " : "; ");
        sb_puts(b, zc_method_name(m));
        sb_puts(b, ": ");
        sb_puts(b, e ? zc_strerror(e) : "no data from it");
        first = 0;
    }
    if (!first) sb_putc(b, ')');
}

/* --debug: how one file was copied, its size and the data written told apart. */
static void debug_file(const char *src, const char *dst, const zc_stats *st) {
    struct sbuf b = {0};
    double secs = (double)st->elapsed_ns / 1e9;
    char size[32], data[32], rate[32];
    const char *method = zc_method_name(st->method);
    uint64_t fsize = st->file_size > st->bytes ? st->file_size : st->bytes;
    human(size, sizeof size, (double)fsize);
    human(data, sizeof data, (double)st->bytes);
    human(rate, sizeof rate, secs > 0 ? (double)st->bytes / secs : 0);
    sb_puts(&b, "method ");
    sb_puts(&b, method ? method : "?");
    if (st->method == ZC_METHOD_DIRECT)
        sb_printf(&b, " (engine %s, alignment %u)", zc_engine_name(st->engine), st->alignment);
    if (st->uncached == ZC_UNCACHED_DONTCACHE) sb_puts(&b, " (uncached: RWF_DONTCACHE)");
    if (st->uncached == ZC_UNCACHED_DROPPED) sb_puts(&b, " (uncached: pages dropped by zcio)");
    fallbacks(&b, st);
    if (st->method == ZC_METHOD_REFLINK) {
        sb_printf(&b, ", %s file, shared by reflink", size);
    } else {
        sb_printf(&b, ", %s file, %s of data written", size, data);
        if (fsize > st->bytes) {
            char holes[32];
            human(holes, sizeof holes, (double)(fsize - st->bytes));
            sb_printf(&b, " (%s of holes kept)", holes);
        }
    }
    sb_printf(&b, ", %.3f s, %s/s, %llu I/O calls", secs, rate, (unsigned long long)st->io_calls);
    if (st->xattrs_copied || st->xattrs_skipped)
        sb_printf(&b, ", xattrs %u copied, %u skipped", st->xattrs_copied, st->xattrs_skipped);
    out("%q -> %q: %s", src, dst, b.p);
    free(b.p);
}

static int on_file_progress(uint64_t done, uint64_t total, void *arg) {
    (void)total;
    struct worker *w = arg;
    if (interrupted) return 1;
    atomic_store_explicit(&w->cur, done, memory_order_relaxed);
    bar_tick();
    return 0;
}

/* Copies one file; 0 on success (or a skip under -n), 1 on failure, 130 when
 * interrupted. */
static int copy_file(struct worker *w, const char *src, const char *dst, uint32_t extra, int remove) {
    if (remove && unlink(dst) != 0 && errno != ENOENT) {
        say(errno, "cannot remove %q", dst);
        return 1;
    }
    zc_options o = C.file;
    o.flags = file_flags() | extra;
    o.progress = on_file_progress;
    o.progress_arg = w;
    zc_stats st;
    zc_stats_init(&st);
    int r = zc_copy_file(src, dst, &o, &st);
    if (r == -EEXIST && (extra & ZC_F_EXCL)) return 0;
    if (r == -ECANCELED && interrupted) {
        say(0, "interrupted: %q left as it was", dst);
        return 130;
    }
    if (r < 0) {
        int e = -r;
        struct stat a, b;
        if (e == EINVAL && st.failed_step == ZC_STEP_OPEN_DST && stat(src, &a) == 0 && stat(dst, &b) == 0 &&
            same_inode(&a, &b))
            say(0, "%q and %q are the same file", src, dst);
        else
            tell(src, dst, e, st.failed_step, S_IFREG, 1);
        debug_failed(src, dst, e, st.failed_step);
        return 1;
    }
    if (C.debug) debug_file(src, dst, &st);
    pthread_mutex_lock(&out_lock);
    R.files++;
    R.bytes += st.file_size > st.bytes ? st.file_size : st.bytes;
    pthread_mutex_unlock(&out_lock);
    return 0;
}

/* The file jobs from `first` up to `end`, taken in order by the workers. */
static struct {
    size_t next, end;
    int stopped, failed;
} Q;

static void *worker_main(void *arg) {
    struct worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&out_lock);
        /* After Ctrl-C no new file is started, even if no copy was running. */
        if (interrupted) Q.stopped = 1;
        size_t i = Q.stopped ? Q.end : Q.next++;
        pthread_mutex_unlock(&out_lock);
        if (i >= Q.end) break;
        struct job *j = &jobs[i];
        int rc = copy_file(w, j->src, j->dst, j->extra_flags, j->remove);
        pthread_mutex_lock(&out_lock);
        if (rc == 130) Q.stopped = 1;
        else if (rc) Q.failed = 1;
        atomic_store_explicit(&w->cur, 0, memory_order_relaxed);
        atomic_fetch_add(&P.done_bytes, (uint64_t)(j->st.st_size > 0 ? j->st.st_size : 0));
        atomic_fetch_add(&P.done_entries, 1);
        if (P.on && !Q.stopped && now() - P.last >= 0.1) bar_draw();
        pthread_mutex_unlock(&out_lock);
    }
    return NULL;
}

/* Copies the file jobs [first, end) with up to -j threads. */
static int run_files(size_t first, size_t end, struct worker *workers) {
    size_t n = end - first;
    int nw = C.jobs ? C.jobs : (n > 1 ? DEFAULT_JOBS : 1);
    if ((size_t)nw > n) nw = (int)n;
    Q.next = first;
    Q.end = end;
    Q.failed = 0;
    P.nworkers = nw;
    int started = 1;
    for (int i = 1; i < nw; i++) {
        if (pthread_create(&workers[i].tid, NULL, worker_main, &workers[i]) != 0) break;
        started++;
    }
    worker_main(&workers[0]);
    for (int i = 1; i < started; i++) pthread_join(workers[i].tid, NULL);
    P.nworkers = 0;
    if (Q.stopped || interrupted) return 130;
    return Q.failed;
}

/* Copies one entry of a tree on its own with the tree's rules (-i said yes to
 * replacing it). */
static int copy_entry_alone(struct job *j, struct worker *w, const struct repl *r) {
    if (r->regular) return copy_file(w, r->src, r->dst, 0, r->remove);
    zc_tree_options t;
    zc_tree_options_init(&t);
    t.preserve = C.preserve;
    t.follow = ZC_FOLLOW_NEVER;
    t.file = &C.file;
    struct job one = *j;
    one.src = r->src;
    one.dst = r->dst;
    one.reported = 0;
    t.on_error = cp_tree_error;
    t.error_arg = &one;
    zc_tree_stats ts;
    zc_tree_stats_init(&ts);
    int rc = zc_copy_tree(r->src, r->dst, &t, &ts);
    if (rc < 0 && !one.reported) tell(r->src, r->dst, -rc, ts.failed_step, 0, 0);
    return rc < 0;
}

/* Makes `j->dst` a hard link to the copy of the same file made before it (which
 * is complete: the file jobs before a link job have finished). */
static int run_link(struct job *j, struct worker *workers) {
    struct stat st;
    if (lstat(j->link_to, &st) != 0) return copy_file(&workers[0], j->src, j->dst, j->extra_flags, j->remove);
    if (unlink(j->dst) == 0 && C.verbose) out("removed %q", j->dst);
    if (link(j->link_to, j->dst) != 0) {
        say(errno, "cannot create hard link %q to %q", j->dst, j->link_to);
        return 1;
    }
    return 0;
}

/* --debug: what the tree copy did, counted by zcio. */
static void debug_tree(const struct job *j, const zc_tree_stats *ts) {
    struct sbuf b = {0};
    char w[32], rl[32], h[32];
    sb_printf(&b, "tree: %llu files", (unsigned long long)ts->files);
    int first = 1;
    for (uint32_t m = 0; m < ZC_METHOD_COUNT; m++) {
        if (!ts->files_by_method[m]) continue;
        sb_printf(&b, "%s%s %llu", first ? " (" : ", ", zc_method_name(m), (unsigned long long)ts->files_by_method[m]);
        first = 0;
    }
    if (!first) sb_putc(&b, ')');
    human(w, sizeof w, (double)ts->bytes);
    human(rl, sizeof rl, (double)ts->bytes_reflinked);
    human(h, sizeof h, (double)ts->bytes_in_holes);
    sb_printf(&b, ", %llu directories, %llu symlinks, %llu hard links, %llu special files",
              (unsigned long long)ts->dirs, (unsigned long long)ts->symlinks, (unsigned long long)ts->hardlinks,
              (unsigned long long)ts->specials);
    sb_printf(&b, "; %s written, %s reflinked, %s of holes kept; %llu skipped, %llu errors; %.3f s", w, rl, h,
              (unsigned long long)ts->skipped, (unsigned long long)ts->errors, (double)ts->elapsed_ns / 1e9);
    if (C.file.method == ZC_METHOD_DIRECT)
        sb_printf(&b, "; Direct I/O engine %s", zc_engine_name(C.file.engine));
    out("%q -> %q: %s", j->src, j->dst, b.p);
    free(b.p);
}

/* ---- A tree job, whoever copies it ------------------------------------------- */

int cp_tree_begin(struct job *j, struct worker *workers) {
    int failed = 0;
    /* The entries -i or the read-only rule pick go first, one by one; the tree then
     * keeps them and still gives the directories their times at the end. */
    for (size_t i = 0; i < j->nrepl && !interrupted; i++) failed |= copy_entry_alone(j, &workers[0], &j->repl[i]);
    return interrupted ? 130 : failed;
}

void cp_tree_options(struct job *j, zc_tree_options *t) {
    zc_tree_options_init(t);
    t->preserve = C.preserve;
    t->existing = j->keep ? ZC_EXISTING_KEEP : j->existing;
    t->follow = j->follow;
    t->flags = C.one_fs ? ZC_TREE_ONE_FILE_SYSTEM : 0;
    /* Only the bar shows byte totals; without it the walk need not stat each file. */
    if (!P.on) t->flags |= ZC_TREE_NO_BYTE_TOTALS;
    if (C.no_preserve_mode) t->flags |= ZC_TREE_DEFAULT_MODES;
    t->jobs = (uint32_t)C.jobs;
    t->file = &C.file;
    /* Always set: the progress callback is how Ctrl-C stops the copy. */
    t->progress = on_tree_progress;
    t->on_error = cp_tree_error;
    t->error_arg = j;
}

void cp_tree_start(void) {
    atomic_store(&P.t_done, 0);
    atomic_store(&P.t_known, 0);
    atomic_store(&P.t_edone, 0);
    atomic_store(&P.t_eknown, 0);
    atomic_store(&P.t_walked, 0);
    atomic_store(&P.t_on, 1);
}

int cp_tree_end(struct job *j, int r, const zc_tree_stats *ts, int failed) {
    pthread_mutex_lock(&out_lock);
    atomic_store(&P.t_on, 0);
    atomic_fetch_add(&P.done_bytes, atomic_load(&P.t_done));
    atomic_fetch_add(&P.tree_bytes, atomic_load(&P.t_known));
    atomic_fetch_add(&P.done_entries, atomic_load(&P.t_edone));
    atomic_fetch_add(&P.tree_entries, atomic_load(&P.t_eknown));
    P.trees_left--;
    R.files += ts->files + ts->symlinks + ts->hardlinks + ts->specials;
    R.dirs += ts->dirs;
    R.bytes += ts->bytes + ts->bytes_reflinked + ts->bytes_in_holes;
    pthread_mutex_unlock(&out_lock);
    if (r == -ECANCELED && interrupted) {
        say(0, "interrupted: the copy of %q to %q stopped; every file in it is complete or untouched", j->src,
            j->dst);
        return 130;
    }
    /* An error before the walk began (the root) has no callback. */
    if (r < 0 && !j->reported) {
        tell(j->src, j->dst, -r, ts->failed_step, j->st.st_mode & S_IFMT, j->follow != ZC_FOLLOW_NEVER);
        debug_failed(j->src, j->dst, -r, ts->failed_step);
    }
    if (C.debug && j->st.st_mode && S_ISDIR(j->st.st_mode)) debug_tree(j, ts);
    return r < 0 || failed;
}

/* ---- Options ----------------------------------------------------------------- */

static void usage(FILE *f) {
    fputs(prog->synopsis, f);
    fprintf(f,
            "cp's options:\n"
            "  -a, --archive          same as -dR --preserve=all\n"
            "  -d                     same as --no-dereference --preserve=links\n"
            "  -f, --force            replace existing files even when they are read-only\n"
            "  -i, --interactive      ask before replacing (overrides a previous -n)\n"
            "  -H                     follow symlinks named on the command line\n"
            "  -L, --dereference      always follow symlinks in SRC\n"
            "  -n, --no-clobber       never replace an existing file (overrides a previous -i)\n"
            "  -P, --no-dereference   never follow symlinks in SRC\n"
            "  -p                     same as --preserve=mode,ownership,timestamps\n"
            "      --preserve[=LIST]  keep these attributes (default: mode,ownership,\n"
            "                         timestamps); also links, xattr, context (ignored:\n"
            "                         SELinux labels are never copied), all\n"
            "      --no-preserve=LIST don't keep these attributes\n"
            "  -R, -r, --recursive    copy directories recursively\n"
            "      --reflink[=WHEN]   auto (default), always (the default WHEN: share the\n"
            "                         blocks or fail) or never\n"
            "      --sparse=WHEN      auto or always: holes stay holes; never: write them\n"
            "  -t, --target-directory=DIR  copy every SRC into DIR\n"
            "  -T, --no-target-directory   treat DST as a normal file\n"
            "  -u, --update           copy only when SRC is newer than DST, or DST is missing\n"
            "  -v, --verbose          say what is being done ('SRC' -> 'DST')\n"
            "  -x, --one-file-system  stay on this file system\n"
            "      --debug            say how each file was copied: method, methods given\n"
            "                         up and why, size and data written; for a tree, zcio's\n"
            "                         counts (implies -v)\n\n"
            "zcio's options:\n"
            "  -m, --method=M         auto (default), direct, reflink, copy_file_range,\n"
            "                         sendfile, splice, mmap or read_write\n"
            "      --direct           same as -m direct (O_DIRECT, no page cache)\n"
            "      --uncached         copy through the page cache but leave it as it was\n"
            "                         (any alignment; with -m auto or read_write)\n"
            "      --engine=E         Direct I/O engine: auto (default), io_uring, threads, sync\n"
            "      --queue-depth=N    Direct I/O: I/Os in flight (0: zcio's default)\n"
            "      --chunk-size=N     bytes per I/O, with an optional K or M (0: default)\n"
            "      --no-reflink       same as --reflink=never\n"
            "      --fsync            make each copy durable before going on\n"
            "      --in-place         write into the destination itself (no temporary file)\n"
            "  -j, --jobs=N           copy up to N files at once (default: 4 file sources,\n"
            "                         zcio's choice in a tree; 1: one after another)\n"
            "  -q, --quiet            print no error messages (the exit status still tells)\n"
            "      --progress[=WHEN]  progress bar on standard error: auto (when it is a\n"
            "                         terminal, the default), always or never\n"
            "  -h, --help             this text\n"
            "      --version          zcio's version\n\n"
            "Exit status: 0 all copied, 1 something failed, 2 bad usage, 130 interrupted.\n");
}

static void try_help(void) { fprintf(stderr, "Try '%s --help' for more information.\n", prog->name); }

/* A usage error about the operands: WHAT, then OP quoted as cp quotes it (none
 * when NULL), then the hint; 2, cp's status for it. */
static int operand_error(const char *what, const char *op) {
    struct sbuf b = {0};
    sb_puts(&b, prefix);
    sb_puts(&b, what);
    if (op) sb_quote(&b, op);
    sb_putc(&b, '\n');
    fputs(b.p, stderr);
    free(b.p);
    try_help();
    return 2;
}

/* cp's argmatch: an exact name or an unambiguous prefix of one; -1 after telling
 * what is wrong. `vals` gives each name's value (names with the same value are
 * synonyms, never ambiguous). */
static int argmatch(const char *arg, const char *opt, const char *const *names, const int *vals) {
    int found = -1, ambiguous = 0;
    size_t n = strlen(arg);
    for (int i = 0; names[i]; i++) {
        if (!strcmp(arg, names[i])) return vals[i];
        if (n && !strncmp(arg, names[i], n)) {
            if (found < 0) found = i;
            else if (vals[found] != vals[i]) ambiguous = 1;
        }
    }
    if (found >= 0 && !ambiguous) return vals[found];
    struct sbuf b = {0};
    sb_puts(&b, prefix);
    sb_puts(&b, found >= 0 ? "ambiguous" : "invalid");
    sb_puts(&b, " argument ");
    sb_lquote(&b, arg);
    sb_puts(&b, " for ");
    sb_lquote(&b, opt);
    sb_puts(&b, "\nValid arguments are:");
    for (int i = 0; names[i]; i++) {
        if (i && vals[i] == vals[i - 1]) {
            sb_puts(&b, ", ");
        } else {
            sb_puts(&b, "\n  - ");
        }
        sb_lquote(&b, names[i]);
    }
    sb_putc(&b, '\n');
    fputs(b.p, stderr);
    free(b.p);
    try_help();
    return -1;
}

enum { PRESERVE_CONTEXT = 1 << 16 };

/* --preserve=LIST / --no-preserve=LIST. */
static int preserve_arg(const char *list, const char *opt, int on) {
    static const char *const names[] = {"mode", "timestamps", "ownership", "links", "context", "xattr", "all", NULL};
    static const int vals[] = {ZC_PRESERVE_MODE, ZC_PRESERVE_TIMESTAMPS, ZC_PRESERVE_OWNERSHIP,
                               ZC_PRESERVE_LINKS, PRESERVE_CONTEXT, ZC_PRESERVE_XATTRS,
                               ZC_PRESERVE_ALL | PRESERVE_CONTEXT};
    char *copy = xstrdup(list), *save = NULL;
    int rc = 0;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int v = argmatch(tok, opt, names, vals);
        if (v < 0) {
            rc = -1;
            break;
        }
        /* context: accepted, never acted on (SELinux labels are not copied). */
        v &= ZC_PRESERVE_ALL;
        if (v & ZC_PRESERVE_MODE) C.no_preserve_mode = !on;
        if (on) C.preserve |= (uint32_t)v;
        else C.preserve &= ~(uint32_t)v;
    }
    free(copy);
    return rc;
}

static int method_arg(const char *s) {
    for (uint32_t i = 0; i < ZC_METHOD_COUNT; i++)
        if (!strcmp(s, zc_method_name(i))) return (int)i;
    return -1;
}

/* The ZC_ENGINE_* value named `s` (zc_engine_name's names), or -1. */
static int engine_arg(const char *s) {
    for (uint32_t i = 0; zc_engine_name(i); i++)
        if (!strcmp(s, zc_engine_name(i))) return (int)i;
    return -1;
}

static void free_jobs(void) {
    for (size_t i = 0; i < njobs; i++) {
        for (size_t k = 0; k < jobs[i].nrepl; k++) free(jobs[i].repl[k].src), free(jobs[i].repl[k].dst);
        free(jobs[i].repl);
        free(jobs[i].dst);
    }
    free(jobs);
}
/* The operands cp_parse() leaves for cp_run(). */
static char **ops;
static int nops;

int cp_parse(int argc, char **argv, const struct cp_program *p) {
    prog = p;
    snprintf(prefix, sizeof prefix, "%s: ", p->name);
    enum {
        OPT_DIRECT = 256, OPT_NO_REFLINK, OPT_FSYNC, OPT_IN_PLACE, OPT_PROGRESS, OPT_VERSION,
        OPT_ENGINE, OPT_QUEUE_DEPTH, OPT_CHUNK_SIZE, OPT_PRESERVE, OPT_NO_PRESERVE, OPT_REFLINK,
        OPT_SPARSE, OPT_DEBUG, OPT_UNCACHED,
    };
    static const struct option longopts[] = {
        {"archive", no_argument, NULL, 'a'},
        {"force", no_argument, NULL, 'f'},
        {"interactive", no_argument, NULL, 'i'},
        {"dereference", no_argument, NULL, 'L'},
        {"no-clobber", no_argument, NULL, 'n'},
        {"no-dereference", no_argument, NULL, 'P'},
        {"preserve", optional_argument, NULL, OPT_PRESERVE},
        {"no-preserve", required_argument, NULL, OPT_NO_PRESERVE},
        {"recursive", no_argument, NULL, 'R'},
        {"reflink", optional_argument, NULL, OPT_REFLINK},
        {"sparse", required_argument, NULL, OPT_SPARSE},
        {"target-directory", required_argument, NULL, 't'},
        {"no-target-directory", no_argument, NULL, 'T'},
        {"update", no_argument, NULL, 'u'},
        {"verbose", no_argument, NULL, 'v'},
        {"one-file-system", no_argument, NULL, 'x'},
        {"debug", no_argument, NULL, OPT_DEBUG},
        {"method", required_argument, NULL, 'm'},
        {"direct", no_argument, NULL, OPT_DIRECT},
        {"uncached", no_argument, NULL, OPT_UNCACHED},
        {"no-reflink", no_argument, NULL, OPT_NO_REFLINK},
        {"fsync", no_argument, NULL, OPT_FSYNC},
        {"in-place", no_argument, NULL, OPT_IN_PLACE},
        {"jobs", required_argument, NULL, 'j'},
        {"quiet", no_argument, NULL, 'q'},
        {"progress", optional_argument, NULL, OPT_PROGRESS},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, OPT_VERSION},
        {"engine", required_argument, NULL, OPT_ENGINE},
        {"queue-depth", required_argument, NULL, OPT_QUEUE_DEPTH},
        {"chunk-size", required_argument, NULL, OPT_CHUNK_SIZE},
        {NULL, 0, NULL, 0},
    };
    static const char *const reflink_names[] = {"auto", "always", "never", NULL};
    static const int reflink_vals[] = {0, 1, 2};
    static const char *const sparse_names[] = {"never", "auto", "always", NULL};
    static const int sparse_vals[] = {0, 1, 2};
    /* For quoting decisions only: names print as cp prints them in this locale. */
    setlocale(LC_CTYPE, "");
    /* getopt's own messages name the program as cp's do. */
    argv[0] = (char *)p->name;
    memset(&C, 0, sizeof C);
    zc_options_init(&C.file);
    C.progress = -1;
    C.root = geteuid() == 0;
    int c;
    while ((c = getopt_long(argc, argv, "adfHiLnPpRrt:TuvxZm:qhj:", longopts, NULL)) != -1) {
        switch (c) {
        case 'a':
            C.deref = DEREF_NEVER;
            C.recursive = 1;
            C.preserve = ZC_PRESERVE_ALL;
            break;
        case 'd':
            C.deref = DEREF_NEVER;
            C.preserve |= ZC_PRESERVE_LINKS;
            break;
        case 'f': C.force = 1; break;
        case 'i': C.interactive = ASK_USER; break;
        case 'n': C.interactive = ASK_NEVER; break;
        case 'H': C.deref = DEREF_CMDLINE; break;
        case 'L': C.deref = DEREF_ALWAYS; break;
        case 'P': C.deref = DEREF_NEVER; break;
        case 'p': C.preserve |= ZC_PRESERVE_MODE | ZC_PRESERVE_OWNERSHIP | ZC_PRESERVE_TIMESTAMPS; break;
        case OPT_PRESERVE:
            if (!optarg) C.preserve |= ZC_PRESERVE_MODE | ZC_PRESERVE_OWNERSHIP | ZC_PRESERVE_TIMESTAMPS;
            else if (preserve_arg(optarg, "--preserve", 1)) return 2;
            break;
        case OPT_NO_PRESERVE:
            if (preserve_arg(optarg, "--no-preserve", 0)) return 2;
            break;
        case 'R':
        case 'r': C.recursive = 1; break;
        case OPT_REFLINK: {
            int v = optarg ? argmatch(optarg, "--reflink", reflink_names, reflink_vals) : 1;
            if (v < 0) return 2;
            C.file.flags &= ~(uint32_t)ZC_F_NO_REFLINK;
            if (C.file.method == ZC_METHOD_REFLINK) C.file.method = ZC_METHOD_AUTO;
            if (v == 1) C.file.method = ZC_METHOD_REFLINK;
            if (v == 2) C.file.flags |= ZC_F_NO_REFLINK;
            break;
        }
        case OPT_SPARSE: {
            int v = argmatch(optarg, "--sparse", sparse_names, sparse_vals);
            if (v < 0) return 2;
            /* auto and always both keep the source's holes; zcio does not look for
             * runs of zeros to punch new ones. */
            if (v == 0) C.file.flags |= ZC_F_NO_SPARSE;
            else C.file.flags &= ~(uint32_t)ZC_F_NO_SPARSE;
            break;
        }
        case 't':
            if (C.target_dir) {
                fprintf(stderr, "%smultiple target directories specified\n", prefix);
                return 2;
            }
            C.target_dir = optarg;
            break;
        case 'T': C.no_target_dir = 1; break;
        case 'u': C.update = 1; break;
        case 'v': C.verbose = 1; break;
        case 'x': C.one_fs = 1; break;
        case 'Z': break; /* SELinux labels are never set */
        case OPT_DEBUG: C.debug = C.verbose = 1; break;
        case 'm': {
            int m = method_arg(optarg);
            if (m < 0) {
                fprintf(stderr, "%sunknown method '%s'\n", prefix, optarg);
                try_help();
                return 2;
            }
            C.file.method = (uint32_t)m;
            break;
        }
        case OPT_DIRECT: C.file.method = ZC_METHOD_DIRECT; break;
        case OPT_UNCACHED: C.file.flags |= ZC_F_UNCACHED; break;
        case OPT_NO_REFLINK: C.file.flags |= ZC_F_NO_REFLINK; break;
        case OPT_FSYNC: C.file.flags |= ZC_F_FSYNC; break;
        case OPT_IN_PLACE: C.file.flags |= ZC_F_IN_PLACE; break;
        case 'j': {
            char *end = NULL;
            errno = 0;
            long v = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || v < 1 || v > MAX_JOBS) {
                fprintf(stderr, "%s--jobs takes a number from 1 to %d\n", prefix, MAX_JOBS);
                return 2;
            }
            C.jobs = (int)v;
            break;
        }
        case 'q': C.quiet = 1; break;
        case OPT_PROGRESS:
            if (!optarg || !strcmp(optarg, "always")) C.progress = 1;
            else if (!strcmp(optarg, "never")) C.progress = 0;
            else if (!strcmp(optarg, "auto")) C.progress = -1;
            else {
                fprintf(stderr, "%s--progress takes auto, always or never\n", prefix);
                return 2;
            }
            break;
        case OPT_ENGINE: {
            int e = engine_arg(optarg);
            if (e < 0) {
                fprintf(stderr, "%s--engine takes auto, io_uring, threads or sync\n", prefix);
                return 2;
            }
            C.file.engine = (uint32_t)e;
            break;
        }
        case OPT_QUEUE_DEPTH:
        case OPT_CHUNK_SIZE: {
            char *end = NULL;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg) {
                fprintf(stderr, "%snot a number: '%s'\n", prefix, optarg);
                return 2;
            }
            if (*end == 'k' || *end == 'K') v <<= 10, end++;
            else if (*end == 'm' || *end == 'M') v <<= 20, end++;
            if (*end) {
                fprintf(stderr, "%snot a number: '%s'\n", prefix, optarg);
                return 2;
            }
            if (c == OPT_QUEUE_DEPTH) {
                if (v > 4096) {
                    fprintf(stderr, "%squeue depth too large: %s\n", prefix, optarg);
                    return 2;
                }
                C.file.queue_depth = (uint32_t)v;
            } else {
                C.file.chunk_size = v;
            }
            break;
        }
        case 'h': usage(stdout); return 0;
        case OPT_VERSION: printf("%s (zcio) %s\n", p->name, zc_version()); return 0;
        default: try_help(); return 2;
        }
    }
    /* cp: without -r symlinks are followed; with it, not (unless -H or -L). */
    if (C.deref == DEREF_UNDEF) C.deref = C.recursive ? DEREF_NEVER : DEREF_ALWAYS;

    ops = argv + optind;
    nops = argc - optind;
    if (C.target_dir && C.no_target_dir) {
        fprintf(stderr, "%scannot combine --target-directory (-t) and --no-target-directory (-T)\n", prefix);
        return 2;
    }
    if (nops < (C.target_dir ? 1 : 2)) {
        if (nops == 0) return operand_error("missing file operand", NULL);
        return operand_error("missing destination file operand after ", ops[0]);
    }
    return -1;
}

void cp_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

int cp_run(void) {
    const char *target;
    int to_dir, nsrc;
    struct stat tst;
    if (C.target_dir) {
        target = C.target_dir;
        nsrc = nops;
        int e = stat(target, &tst) != 0 ? errno : S_ISDIR(tst.st_mode) ? 0 : ENOTDIR;
        if (e) {
            say(e, "target directory %q", target);
            return 2;
        }
        to_dir = 1;
    } else if (C.no_target_dir) {
        if (nops > 2) return operand_error("extra operand ", ops[2]);
        target = ops[1];
        nsrc = 1;
        to_dir = 0;
    } else {
        target = ops[nops - 1];
        nsrc = nops - 1;
        int e = stat(target, &tst) != 0 ? errno : S_ISDIR(tst.st_mode) ? 0 : ENOTDIR;
        to_dir = !e;
        if (nops > 2 && !to_dir) {
            say(e, "target %q", target);
            return 2;
        }
    }

    P.on = C.progress == 1 || (C.progress == -1 && isatty(STDERR_FILENO));
    cp_signals();

    /* Each source checked, and the questions asked, in order, before any copy. */
    int failed = 0;
    for (int i = 0; i < nsrc && !interrupted; i++) failed |= plan(ops[i], target, to_dir);
    if (interrupted) {
        free_jobs();
        return 130;
    }

    struct worker workers[MAX_JOBS];
    memset(workers, 0, sizeof workers);
    for (int i = 0; i < MAX_JOBS; i++) atomic_init(&workers[i].cur, 0);
    P.workers = workers;
    for (size_t i = 0; i < njobs; i++) {
        if (jobs[i].kind == J_TREE) {
            P.trees_left++;
        } else if (jobs[i].kind == J_FILE) {
            P.nfiles++;
            P.file_bytes += jobs[i].st.st_size > 0 ? (uint64_t)jobs[i].st.st_size : 0;
        }
    }
    P.multi = njobs > 1 || P.trees_left > 0;
    P.start = now();
    int rc = 0;
    for (size_t i = 0; i < njobs && rc != 130 && !interrupted;) {
        if (jobs[i].kind != J_FILE) {
            rc = jobs[i].kind == J_TREE ? prog->run_tree(&jobs[i], workers) : run_link(&jobs[i], workers);
            if (rc == 1) failed = 1;
            i++;
            continue;
        }
        size_t end = i;
        while (end < njobs && jobs[end].kind == J_FILE) end++;
        rc = run_files(i, end, workers);
        if (rc == 1) failed = 1;
        i = end;
    }
    if (interrupted) rc = 130;
    pthread_mutex_lock(&out_lock);
    if (P.on && rc != 130) {
        bar_draw();
        bar_clear();
        double secs = now() - P.start;
        char b[32], r[32];
        human(b, sizeof b, (double)R.bytes);
        human(r, sizeof r, secs > 0 ? (double)R.bytes / secs : 0);
        fprintf(stderr, "%scopied %llu file%s", prefix, (unsigned long long)R.files, R.files == 1 ? "" : "s");
        if (R.dirs) fprintf(stderr, " and %llu director%s", (unsigned long long)R.dirs, R.dirs == 1 ? "y" : "ies");
        fprintf(stderr, " (%s) in %.2f s, %s/s%s\n", b, secs, r, failed ? "; some failed" : "");
    }
    bar_clear();
    pthread_mutex_unlock(&out_lock);
    free_jobs();
    if (rc == 130) return 130;
    return failed ? 1 : 0;
}
