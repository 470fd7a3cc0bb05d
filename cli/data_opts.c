/* --delimiter, --header and the verbose data line (see data_opts.h). */
#include "data_opts.h"

#include "internal.h"

#include <string.h>
#include <strings.h>

int cli_parse_delimiter(const char *text, char *out)
{
    if (strcmp(text, "auto") == 0) {
        *out = 0;
        return 0;
    }
    if (strcmp(text, "tab") == 0 || strcmp(text, "\\t") == 0 || strcmp(text, "\t") == 0) {
        *out = '\t';
        return 0;
    }
    if (strlen(text) != 1 || text[0] == '"' || text[0] == '\n' || text[0] == '\r') return -1;
    *out = text[0];
    return 0;
}

const char *cli_delimiter_problem(const char *text)
{
    static char buf[96];
    if (strlen(text) != 1)
        snprintf(buf, sizeof buf, "'%.40s' is not one byte, tab or auto", text);
    else if (text[0] == '"')
        snprintf(buf, sizeof buf, "'\"' cannot be the delimiter: it quotes cells");
    else
        snprintf(buf, sizeof buf, "a line break cannot be the delimiter");
    return buf;
}

int cli_parse_header(const char *text, int *out)
{
    if (strcmp(text, "yes") == 0)
        *out = 1;
    else if (strcmp(text, "no") == 0)
        *out = 0;
    else if (strcmp(text, "auto") == 0)
        *out = -1;
    else
        return -1;
    return 0;
}

void cli_print_data_info(FILE *out, const char *source, const nb_data_info *info)
{
    if (!info->format[0]) return; /* a built-in set */
    char q[512], why[4 * sizeof info->header_why];
    fprintf(out, "data: %s: %s%s", nb_escape(q, sizeof q, source),
            strcmp(info->format, "csv") == 0 ? "CSV" : "IDX", info->gzip ? " (gzip)" : "");
    if (strcmp(info->format, "csv") == 0) {
        char d[16], one[8];
        if (info->delimiter == '\t')
            strcpy(d, "tab");
        else /* a byte typed with --delimiter: escaped like the rest */
            snprintf(d, sizeof d, "'%s'", nb_escape_len(one, sizeof one, &info->delimiter, 1));
        /* The reasons quote file content: the library escapes it, and a
         * caller's info is escaped here too. */
        fprintf(out, ", delimiter %s (%s),", d, nb_escape(why, sizeof why, info->delimiter_why));
        fprintf(out, " header %s (%s)", info->header ? "yes" : "no",
                nb_escape(why, sizeof why, info->header_why));
        if (info->label_column >= 0)
            fprintf(out, ", label column %d (0-based)", info->label_column);
    }
    fputc('\n', out);
}
