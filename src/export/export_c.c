/* nb_model_export_c: a model as PREFIX.h and PREFIX.c (docs/export.md).
 * The identifier prefix is checked and the whole text of both files made
 * in memory before anything is written; then the pair is written through
 * the atomic writer as one set: on an error neither file has changed. */
#include "export_internal.h"
#include "nn/model_internal.h"

#include <ctype.h>
#include <string.h>

nb_export_options nb_export_defaults(void)
{
    return (nb_export_options){.name = NULL, .int8 = 0, .keep = NULL};
}

/* The file name part of path: after the last '/'. */
static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

nb_status nb_export_check_name(const char *name)
{
    char q[NB_ESCAPE_SIZE];
    if (!name || !name[0])
        return nb_error(NB_ERR_ARGUMENT, "the identifier prefix is empty: name one");
    size_t n = strlen(name);
    const char *why = NULL;
    if (n >= NB_NAME_MAX)
        why = "it is longer than 63 characters";
    else if (!isalpha((unsigned char)name[0]) || (unsigned char)name[0] >= 0x80)
        why = "it must start with a letter (A-Z, a-z)";
    for (size_t i = 1; !why && i < n; i++)
        if ((unsigned char)name[i] >= 0x80 || !(isalnum((unsigned char)name[i]) || name[i] == '_'))
            why = "it may hold only letters, digits and underscores";
    if (!why) return NB_OK;
    return nb_error(NB_ERR_ARGUMENT, "the identifier prefix \"%s\" is not a C identifier: %s",
                    nb_escape(q, sizeof q, name), why);
}

/* The writer of one file: its text. */
static nb_status write_text(FILE *f, const void *user)
{
    const ex_text *t = user;
    return fwrite(t->s, 1, t->len, f) == t->len ? NB_OK : nb_error(NB_ERR_IO, "cannot write");
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b) + 1;
    char *s = nb_malloc(n + m);
    if (s) memcpy(s, a, n), memcpy(s + n, b, m);
    return s;
}

/* The files may not replace the model (or another file the caller names),
 * nor be the same file as each other. */
static nb_status check_paths(char *const paths[2], const char *keep)
{
    char q[NB_ESCAPE_SIZE], r[NB_ESCAPE_SIZE];
    for (int i = 0; i < 2; i++)
        if (keep && nb_files_collide(paths[i], keep))
            return nb_error(NB_ERR_ARGUMENT,
                            "the output \"%s\" is the model file \"%s\": the export would "
                            "replace its input",
                            nb_escape(q, sizeof q, paths[i]), nb_escape(r, sizeof r, keep));
    if (nb_files_collide(paths[0], paths[1]))
        return nb_error(NB_ERR_ARGUMENT, "\"%s\" and \"%s\" are the same file",
                        nb_escape(q, sizeof q, paths[0]), nb_escape(r, sizeof r, paths[1]));
    return NB_OK;
}

/* The header's file name goes into an #include line as it is, where no
 * escape exists: a quote, backslash, control character or "??" (a C99
 * trigraph such as ??= would turn into another character) cannot be. */
static nb_status check_header_name(const char *header)
{
    for (const char *s = header; *s; s++)
        if (*s == '"' || *s == '\\' || (unsigned char)*s < 0x20 || *s == 0x7f ||
            (s[0] == '?' && s[1] == '?')) {
            char q[NB_ESCAPE_SIZE];
            return nb_error(NB_ERR_ARGUMENT,
                            "the file name \"%s\" cannot be #included: it holds a quote, "
                            "backslash, control character or \"??\"",
                            nb_escape(q, sizeof q, header));
        }
    return NB_OK;
}

nb_status nb_model_export_c(const nb_model *m, const char *prefix_path,
                            const nb_export_options *options)
{
    if (!m) return nb_error(NB_ERR_ARGUMENT, "exporting a model: no model");
    if (!prefix_path || !prefix_path[0] || !base_name(prefix_path)[0])
        return nb_error(NB_ERR_ARGUMENT,
                        "exporting a model: no output prefix (a path without .h or .c, e.g. "
                        "\"out/fashion\")");
    nb_export_options opt = options ? *options : nb_export_defaults();
    const char *name = opt.name ? opt.name : base_name(prefix_path);
    nb_status st = nb_export_check_name(name);
    if (st != NB_OK) {
        if (opt.name) return st;
        return nb_error_prefix(st,
                               "exporting to \"%s\" (the prefix comes from the file name; "
                               "name another)",
                               prefix_path);
    }
    char *paths[2] = {join(prefix_path, ".h"), join(prefix_path, ".c")};
    ex_plan plan;
    ex_text text[2] = {{0}, {0}};
    memset(&plan, 0, sizeof plan);
    if (!paths[0] || !paths[1]) st = nb_error(NB_ERR_MEMORY, "out of memory");
    if (st == NB_OK) st = check_paths(paths, opt.keep);
    if (st == NB_OK) st = check_header_name(base_name(paths[0]));
    if (st == NB_OK) st = ex_plan_make(m, opt.int8, &plan);
    if (st == NB_OK)
        st = ex_emit_model(&plan, m->graph, name, base_name(paths[0]), &text[0], &text[1]);
    if (st == NB_OK) {
        const char *const files[2] = {paths[0], paths[1]};
        const void *const users[2] = {&text[0], &text[1]};
        int which = 0;
        st = nb_write_atomic_all(2, files, write_text, users, &which);
        if (st != NB_OK) {
            char q[NB_ESCAPE_SIZE];
            /* Whatever stopped the writing (a name too long, a full disk) is
             * an output error, told apart from a model that cannot export. */
            st = nb_error_prefix(st == NB_ERR_MEMORY ? st : NB_ERR_IO, "writing \"%s\"",
                                 nb_escape(q, sizeof q, files[which]));
        }
    }
    ex_plan_free(&plan);
    ex_text_free(&text[0]);
    ex_text_free(&text[1]);
    nb_free(paths[0]);
    nb_free(paths[1]);
    return st == NB_OK ? NB_OK : nb_error_prefix(st, "exporting the model as C");
}
